import type { CompanyCardPayload } from '../lib/types';

export const COMPANY_ID = '9001';
const PORTAL = '100001';
export const COMPANY_URL = `https://app.hubspot.com/contacts/${PORTAL}/record/0-2/${COMPANY_ID}`;

export const IMPORT = { id: 'import', label: 'Import to billwerk' };
export const REFRESH = { id: 'refresh', label: 'Refresh' };
export const LINK = { id: 'link', label: 'Link to billwerk customer', input: 'billwerkCustomerId' };
export const UNLINK = {
  id: 'unlink',
  label: 'Unlink',
  confirm: 'Unlink this company from billwerk customer 64a1b2c3d4e5f60718293a4b?',
};
export const PUSH_UPDATE = { id: 'push-update', label: 'Update billwerk customer' };

/** A company that is ready to import (the backend's GET answer). */
export const readyPayload = (overrides: Partial<CompanyCardPayload> = {}): CompanyCardPayload => ({
  company: { id: COMPANY_ID, name: 'ACME GmbH', url: COMPANY_URL },
  status: 'ready',
  statusLabel: 'Ready to import',
  entity: { id: '5f0000000000000000000001', name: 'Sandbox GmbH' },
  billwerk: null,
  errors: [],
  lastSync: null,
  actions: [IMPORT, LINK, REFRESH],
  ...overrides,
});

export const linkedPayload = (overrides: Partial<CompanyCardPayload> = {}): CompanyCardPayload =>
  readyPayload({
    status: 'linked',
    statusLabel: 'Linked',
    billwerk: {
      customerId: '64a1b2c3d4e5f60718293a4b',
      customerName: 'ACME GmbH',
      url: 'https://app.billwerk.com/#/customers/64a1b2c3d4e5f60718293a4b',
    },
    lastSync: { status: 'succeeded', at: '2026-11-21T10:00:00Z', message: 'Customer linked' },
    actions: [PUSH_UPDATE, UNLINK, REFRESH],
    ...overrides,
  });

export const invalidPayload = (): CompanyCardPayload =>
  readyPayload({
    status: 'invalid',
    statusLabel: 'Needs fixing',
    errors: [
      { field: 'zip', message: 'Postal code is missing', url: COMPANY_URL },
      { field: 'country', message: 'Country "UK" is not valid; use "GB"', url: `${COMPANY_URL}?tab=address` },
    ],
    lastSync: { status: 'failed', at: '2026-11-21T09:30:00Z', message: 'Address incomplete' },
    actions: [IMPORT, LINK, REFRESH],
  });

export const notConnectedPayload = (): CompanyCardPayload =>
  readyPayload({
    status: 'not_connected',
    statusLabel: 'billwerk not connected',
    entity: null,
    actions: [REFRESH],
  });
