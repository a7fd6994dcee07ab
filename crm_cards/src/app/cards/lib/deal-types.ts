/**
 * Shapes of `GET /api/cards/deals/<id>` and `POST /api/cards/deals/<id>/<action>`.
 *
 * This file is the one definition the deal card (crm_cards) and the backend
 * (backend/flows/deal_card.py) are built against. Money is a number in the contract's currency
 * (not cents); dates are ISO strings (`YYYY-MM-DD` for calendar dates, full ISO-8601 for moments).
 * Fields the backend cannot know yet are `null`, never missing.
 */
import type { CardAction, CardEntity, CardProblem } from './types';

export type DealStatus =
  | 'not_connected' // the portal has no billwerk connection
  | 'no_cart' // no line item with a billwerk product yet
  | 'draft' // a cart, never validated
  | 'validating' // a validation run is queued or running
  | 'invalid'
  | 'valid'
  | 'outdated' // was valid, the cart or its inputs changed since
  | 'applying' // contract creation / up-/downgrade execution queued or running
  | 'applied'
  | 'apply_failed'
  | 'sync_stopped'; // the contract moved to a newer (up-/downgrade) deal

export type DealType = 'signup' | 'signup_existing' | 'upgrade';

export interface DealCardDeal {
  id: string;
  name: string;
  url: string;
  stage: string | null;
  closedWon: boolean;
  type: DealType | null;
  typeLabel: string;
  /** Up-/downgrade deals: the deal they came from. */
  originDealId: string | null;
  originDealUrl: string | null;
}

export interface DealCardState {
  /** The HubSpot enumeration value (`request`, `valid`, `invalid`, `outdated` / `request`, `applied`, `failed`). */
  state: string | null;
  label: string;
  /** One reason a line. */
  message: string;
}

export interface DealCardCompany {
  id: string;
  name: string;
  url: string;
  billwerkCustomerId: string | null;
  customerUrl: string | null;
}

export interface PreviewLine {
  kind: 'plan_variant' | 'component' | 'discount' | 'other';
  description: string;
  quantity: number;
  /** billwerk's price per unit. */
  unitPrice: number;
  /** billwerk's line total (net). */
  total: number;
  /** ISO-8601 period of a recurring line (`P1M`), else null. */
  period: string | null;
}

export interface RecurringFee {
  /** ISO-8601 period, e.g. `P1M`, `P1Y`. */
  period: string;
  /** Human label, e.g. "per month". */
  label: string;
  net: number;
  gross: number | null;
}

export interface DealPreview {
  /** When billwerk answered. */
  at: string;
  /** The cart or its inputs changed since this preview. */
  outdated: boolean;
  currency: string;
  lines: PreviewLine[];
  firstInvoice: { net: number; vat: number; gross: number };
  recurring: RecurringFee[];
  nextTotalGross: number | null;
  nextTotalGrossDate: string | null;
  /** Price differences between line items and billwerk, an ignored payment term, etc. */
  warnings: string[];
}

export interface ContractSnapshot {
  planVariant: string;
  components: { name: string; quantity: number }[];
  recurring: RecurringFee[];
}

/** Up-/downgrade deals: today's contract against the previewed one. */
export interface UpgradeComparison {
  before: ContractSnapshot;
  after: ContractSnapshot;
  /** after minus before, net, per period of the plan. */
  differencePerPeriod: number;
  period: string;
  periodLabel: string;
}

export interface BillingHealth {
  contractId: string;
  contractUrl: string;
  customerId: string | null;
  customerUrl: string | null;
  lifecycleStatus: string | null;
  balance: number | null;
  currency: string | null;
  billedUntil: string | null;
  endDate: string | null;
  paymentEscalated: boolean;
  paymentProvider: string | null;
  paymentMethod: string | null;
  lastInvoiceId: string | null;
  /** When the connector last read the contract from billwerk. */
  updatedAt: string | null;
}

export interface CardRun {
  id: string;
  /** Machine name, e.g. `validate_deal`. */
  flow: string;
  /** Human name, e.g. "Validation". */
  label: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted' | (string & {});
  at: string;
  message: string | null;
  /** A failed run can be replayed with the `replay` action (body `{"runId": id}`). */
  replayable: boolean;
}

export interface DealCardPayload {
  deal: DealCardDeal;
  status: DealStatus | (string & {});
  statusLabel: string;
  validation: DealCardState;
  apply: DealCardState;
  syncStopped: boolean;
  entity: CardEntity | null;
  company: DealCardCompany | null;
  /** Why the deal is invalid, each with a link to the record to fix (deal, line item, company, contact). */
  problems: CardProblem[];
  preview: DealPreview | null;
  upgrade: UpgradeComparison | null;
  billing: BillingHealth | null;
  runs: CardRun[];
  /** Ids: `request-validation`, `create-contract`, `create-upgrade-deal`, `execute-upgrade`, `refresh`;
   * `replay` is offered per failed run instead (see CardRun). `confirm` is set for actions that
   * create something in billwerk. */
  actions: CardAction[];
  /** A run for this deal is queued or running: the card polls GET until it is false. */
  busy: boolean;
  /** Only on POST responses: what the action did, for the success alert. */
  message?: string;
  /** Only on POST responses that started a run. */
  runId?: string | null;
}
