/** Shapes of `GET /api/cards/companies/<id>` and `POST /api/cards/companies/<id>/<action>`. */

export type CompanyStatus =
  | 'not_connected'
  | 'not_imported'
  | 'ready'
  | 'invalid'
  | 'pending'
  | 'imported'
  | 'linked';

export type SyncStatus = 'succeeded' | 'failed' | 'running' | 'queued';

export interface CardCompany {
  id: string;
  name: string;
  url: string;
}

export interface CardEntity {
  id: string;
  name: string;
}

export interface CardBillwerkCustomer {
  customerId: string;
  customerName: string;
  url: string;
}

export interface CardProblem {
  field: string;
  message: string;
  url: string;
}

export interface CardLastSync {
  status: SyncStatus;
  at: string;
  message?: string | null;
}

export interface CardAction {
  id: string;
  label: string;
  /** Name of the body field the user must fill in (e.g. `billwerkCustomerId` for `link`). */
  input?: string;
  /** Question to confirm before the action is posted. */
  confirm?: string;
}

export interface CompanyCardPayload {
  company: CardCompany;
  /** A status the card does not know yet is shown with the default tag. */
  status: CompanyStatus | (string & {});
  statusLabel: string;
  entity: CardEntity | null;
  billwerk: CardBillwerkCustomer | null;
  errors: CardProblem[];
  lastSync: CardLastSync | null;
  actions: CardAction[];
  /** Only on POST responses: what the action did, for the success alert. */
  message?: string;
}
