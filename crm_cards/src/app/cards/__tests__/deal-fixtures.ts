import type { CardRun, DealCardPayload, DealPreview } from '../lib/deal-types';

export const DEAL_ID = '7001';
const PORTAL = '100001';
const HUBSPOT = `https://app.hubspot.com/contacts/${PORTAL}/record`;
const BILLWERK = 'https://sandbox.billwerk.com/#';
export const DEAL_URL = `${HUBSPOT}/0-3/${DEAL_ID}`;
export const COMPANY_URL = `${HUBSPOT}/0-2/9001`;
export const LINE_ITEM_URL = `${HUBSPOT}/0-8/8101`;
export const CUSTOMER_ID = '64a1b2c3d4e5f60718293a4b';
export const CONTRACT_ID = '65b2c3d4e5f60718293a4b5c';
export const CUSTOMER_URL = `${BILLWERK}/customers/${CUSTOMER_ID}`;
export const CONTRACT_URL = `${BILLWERK}/contracts/${CONTRACT_ID}`;

export const REQUEST_VALIDATION = { id: 'request-validation', label: 'Validate' };
export const CREATE_CONTRACT = {
  id: 'create-contract',
  label: 'Create contract',
  confirm: 'Create the billwerk contract for "ACME – Pro plan" and commit its order? billwerk starts billing ACME GmbH.',
};
export const CREATE_UPGRADE_DEAL = {
  id: 'create-upgrade-deal',
  label: 'Start up-/downgrade',
  confirm: 'Create an up-/downgrade deal for "ACME – Pro plan"?',
};
export const EXECUTE_UPGRADE = {
  id: 'execute-upgrade',
  label: 'Execute up-/downgrade',
  confirm: 'Change contract 65b2c3d4e5f60718293a4b5c in billwerk as previewed?',
};
export const REFRESH = { id: 'refresh', label: 'Refresh' };

const NO_STATE = { state: null, label: '', message: '' };

/** A deal with a cart that was never validated (the backend's GET answer). */
export const draftPayload = (overrides: Partial<DealCardPayload> = {}): DealCardPayload => ({
  deal: {
    id: DEAL_ID,
    name: 'ACME – Pro plan',
    url: DEAL_URL,
    stage: 'contractsent',
    closedWon: false,
    type: 'signup',
    typeLabel: 'New customer',
    originDealId: null,
    originDealUrl: null,
  },
  status: 'draft',
  statusLabel: 'Not validated yet',
  validation: NO_STATE,
  apply: NO_STATE,
  syncStopped: false,
  entity: { id: '5f0000000000000000000001', name: 'Sandbox GmbH' },
  company: { id: '9001', name: 'ACME GmbH', url: COMPANY_URL, billwerkCustomerId: null, customerUrl: null },
  problems: [],
  preview: null,
  upgrade: null,
  billing: null,
  runs: [],
  actions: [REQUEST_VALIDATION, REFRESH],
  busy: false,
  ...overrides,
});

export const notConnectedPayload = (): DealCardPayload =>
  draftPayload({
    status: 'not_connected',
    statusLabel: 'billwerk not connected',
    entity: null,
    actions: [REFRESH],
  });

export const noCartPayload = (): DealCardPayload =>
  draftPayload({ status: 'no_cart', statusLabel: 'No billwerk products', actions: [REFRESH] });

const VALIDATION_RUN: CardRun = {
  id: '311',
  flow: 'validate_deal',
  label: 'Validation',
  status: 'succeeded',
  at: '2026-12-01T09:15:00Z',
  message: 'Valid',
  replayable: false,
};

export const invalidPayload = (): DealCardPayload =>
  draftPayload({
    status: 'invalid',
    statusLabel: 'Invalid',
    validation: {
      state: 'invalid',
      label: 'Invalid',
      message: 'Line item "Consulting" has no billwerk product; the company has no postal code',
    },
    problems: [
      { field: 'line_item:8101', message: 'Line item "Consulting" has no billwerk product.', url: LINE_ITEM_URL },
      { field: 'zip', message: 'The company has no postal code.', url: COMPANY_URL },
    ],
    runs: [{ ...VALIDATION_RUN, status: 'succeeded', message: 'Invalid: 2 problems' }],
  });

export const PREVIEW: DealPreview = {
  at: '2026-12-01T09:15:00Z',
  outdated: false,
  currency: 'EUR',
  lines: [
    { kind: 'plan_variant', description: 'Pro (monthly)', quantity: 1, unitPrice: 49, total: 49, period: 'P1M' },
    { kind: 'component', description: 'Additional seats', quantity: 5, unitPrice: 8.5, total: 42.5, period: 'P1M' },
    { kind: 'component', description: 'Setup fee', quantity: 1, unitPrice: 1250, total: 1250, period: null },
    { kind: 'discount', description: 'Launch discount 10 %', quantity: 1, unitPrice: -9.15, total: -9.15, period: 'P1M' },
  ],
  firstInvoice: { net: 1332.35, vat: 253.15, gross: 1585.5 },
  recurring: [{ period: 'P1M', label: 'per month', net: 82.35, gross: 98 }],
  nextTotalGross: 98,
  nextTotalGrossDate: '2027-01-01',
  warnings: ['Line item "Additional seats" costs 8.00 EUR in HubSpot; billwerk charges 8.50 EUR.'],
};

export const validPayload = (overrides: Partial<DealCardPayload> = {}): DealCardPayload =>
  draftPayload({
    deal: { ...draftPayload().deal, stage: 'closedwon', closedWon: true },
    status: 'valid',
    statusLabel: 'Valid',
    validation: { state: 'valid', label: 'Valid', message: '' },
    preview: PREVIEW,
    runs: [VALIDATION_RUN],
    actions: [CREATE_CONTRACT, REQUEST_VALIDATION, REFRESH],
    ...overrides,
  });

export const outdatedPayload = (): DealCardPayload =>
  validPayload({
    status: 'outdated',
    statusLabel: 'Outdated',
    validation: { state: 'outdated', label: 'Outdated', message: 'The cart changed after validation' },
    preview: { ...PREVIEW, outdated: true },
    actions: [REQUEST_VALIDATION, REFRESH],
  });

export const BILLING = {
  contractId: CONTRACT_ID,
  contractUrl: CONTRACT_URL,
  customerId: CUSTOMER_ID,
  customerUrl: CUSTOMER_URL,
  lifecycleStatus: 'Active',
  balance: -98,
  currency: 'EUR',
  billedUntil: '2027-01-01',
  endDate: null,
  paymentEscalated: false,
  paymentProvider: 'Stripe',
  paymentMethod: 'Credit card',
  lastInvoiceId: 'RE-2026-00042',
  updatedAt: '2026-12-01T10:02:00Z',
};

const APPLY_RUN: CardRun = {
  id: '312',
  flow: 'apply_deal',
  label: 'Contract creation',
  status: 'succeeded',
  at: '2026-12-01T10:00:00Z',
  message: 'Contract 65b2c3d4e5f60718293a4b5c created',
  replayable: false,
};

export const appliedPayload = (overrides: Partial<DealCardPayload> = {}): DealCardPayload =>
  validPayload({
    status: 'applied',
    statusLabel: 'Contract created',
    apply: { state: 'applied', label: 'Applied', message: '' },
    company: { ...draftPayload().company!, billwerkCustomerId: CUSTOMER_ID, customerUrl: CUSTOMER_URL },
    billing: BILLING,
    runs: [APPLY_RUN, VALIDATION_RUN],
    actions: [CREATE_UPGRADE_DEAL, REFRESH],
    ...overrides,
  });

export const escalatedPayload = (): DealCardPayload =>
  appliedPayload({ billing: { ...BILLING, paymentEscalated: true, balance: -294 } });

export const syncStoppedPayload = (): DealCardPayload =>
  appliedPayload({
    status: 'sync_stopped',
    statusLabel: 'Sync stopped',
    syncStopped: true,
    actions: [REFRESH],
  });

export const upgradePayload = (): DealCardPayload =>
  validPayload({
    deal: {
      ...draftPayload().deal,
      id: '7002',
      name: 'Up- / Downgrade deal for ACME – Pro plan',
      url: `${HUBSPOT}/0-3/7002`,
      type: 'upgrade',
      typeLabel: 'Up-/downgrade',
      originDealId: DEAL_ID,
      originDealUrl: DEAL_URL,
    },
    upgrade: {
      before: {
        planVariant: 'Pro (monthly)',
        components: [{ name: 'Additional seats', quantity: 5 }],
        recurring: [{ period: 'P1M', label: 'per month', net: 91.5, gross: 108.89 }],
      },
      after: {
        planVariant: 'Business (monthly)',
        components: [
          { name: 'Additional seats', quantity: 10 },
          { name: 'Priority support', quantity: 1 },
        ],
        recurring: [{ period: 'P1M', label: 'per month', net: 204, gross: 242.76 }],
      },
      differencePerPeriod: 112.5,
      period: 'P1M',
      periodLabel: 'per month',
    },
    billing: BILLING,
    actions: [EXECUTE_UPGRADE, REQUEST_VALIDATION, REFRESH],
  });

export const busyPayload = (overrides: Partial<DealCardPayload> = {}): DealCardPayload =>
  validPayload({
    status: 'applying',
    statusLabel: 'Creating contract…',
    apply: { state: 'request', label: 'Requested', message: '' },
    runs: [{ ...APPLY_RUN, status: 'running', message: null }, VALIDATION_RUN],
    busy: true,
    ...overrides,
  });

export const FAILED_RUN: CardRun = {
  id: '313',
  flow: 'apply_deal',
  label: 'Contract creation',
  status: 'failed',
  at: '2026-12-01T10:00:00Z',
  message: 'billwerk refused the order: PlanVariant 5f00000000000000000000aa is hidden',
  replayable: true,
};

export const applyFailedPayload = (): DealCardPayload =>
  validPayload({
    status: 'apply_failed',
    statusLabel: 'Contract creation failed',
    apply: { state: 'failed', label: 'Failed', message: FAILED_RUN.message! },
    runs: [FAILED_RUN, VALIDATION_RUN],
  });
