import { hubspot } from '@hubspot/ui-extensions';

import { BACKEND_URL } from './config';
import type { DealCardPayload } from './deal-types';
import type { RecordProperties } from './properties';
import type { CompanyCardPayload } from './types';

/** HubSpot's default `hubspot.fetch` timeout; the backend answers card requests well within it. */
export const LOAD_TIMEOUT_MS = 15_000;
/** Actions may call billwerk synchronously before answering. HubSpot allows up to 120 000 ms. */
export const ACTION_TIMEOUT_MS = 30_000;
/** Extra wait on top of the timeout handed to HubSpot before the card gives up on its own. */
const CLIENT_GRACE_MS = 2_000;

/** An error the card can show: `code` is the backend's `error` field, `message` is for people. */
export class BackendError extends Error {
  readonly code: string;
  readonly status: number | null;

  constructor(code: string, message: string, status: number | null = null) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
    this.status = status;
  }
}

export const isBackendError = (value: unknown): value is BackendError =>
  value instanceof BackendError;

/** The message to show a person for anything thrown while talking to the backend. */
export const errorMessage = (error: unknown): string => {
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return 'Something went wrong while talking to the billwerk connector.';
};

const cardUrl = (objects: string, objectId: string | number, action?: string): string => {
  const base = `${BACKEND_URL.replace(/\/+$/, '')}/api/cards/${objects}/${encodeURIComponent(String(objectId))}`;
  return action === undefined ? base : `${base}/${encodeURIComponent(action)}`;
};

/** `${BACKEND_URL}/api/cards/companies/<id>[/<action>]`. HubSpot appends portalId, userId, userEmail. */
export const companyCardUrl = (objectId: string | number, action?: string): string =>
  cardUrl('companies', objectId, action);

/** `${BACKEND_URL}/api/cards/deals/<id>[/<action>]`. */
export const dealCardUrl = (objectId: string | number, action?: string): string =>
  cardUrl('deals', objectId, action);

export interface RequestOptions {
  timeoutMs?: number;
}

export interface ViewOptions extends RequestOptions {
  /**
   * The record's card properties as the record page has them (`readRecordProperties`): sent in
   * the body (`POST`, signed by HubSpot like the rest), so the backend need not read the record.
   * Without them the card asks with `GET` and the backend reads the record from HubSpot.
   */
  properties?: RecordProperties | null;
}

const viewInit = (properties: RecordProperties | null | undefined): FetchInit =>
  properties ? { method: 'POST', body: { properties } } : { method: 'GET' };

/** How a card's answers are recognised and completed. */
interface PayloadShape<T> {
  is: (value: unknown) => value is T;
  normalise: (payload: T) => T;
}

export const fetchCompanyCard = (
  objectId: string | number,
  options: ViewOptions = {},
): Promise<CompanyCardPayload> =>
  request(companyCardUrl(objectId), viewInit(options.properties), options.timeoutMs ?? LOAD_TIMEOUT_MS, COMPANY);

export const runCompanyAction = (
  objectId: string | number,
  action: string,
  body: Record<string, string> = {},
  options: RequestOptions = {},
): Promise<CompanyCardPayload> =>
  request(
    companyCardUrl(objectId, action),
    { method: 'POST', body },
    options.timeoutMs ?? ACTION_TIMEOUT_MS,
    COMPANY,
  );

export const fetchDealCard = (
  objectId: string | number,
  options: ViewOptions = {},
): Promise<DealCardPayload> =>
  request(dealCardUrl(objectId), viewInit(options.properties), options.timeoutMs ?? LOAD_TIMEOUT_MS, DEAL);

/** `replay` takes `{ runId }`; the other deal actions take no body. */
export const runDealAction = (
  objectId: string | number,
  action: string,
  body: Record<string, string> = {},
  options: RequestOptions = {},
): Promise<DealCardPayload> =>
  request(
    dealCardUrl(objectId, action),
    { method: 'POST', body },
    options.timeoutMs ?? ACTION_TIMEOUT_MS,
    DEAL,
  );

type FetchInit = { method: 'GET' } | { method: 'POST'; body: Record<string, unknown> };

// No auth here: HubSpot signs every hubspot.fetch request itself (signature v3) and adds the
// portal and user as query parameters; the backend trusts only those.
const request = async <T>(
  url: string,
  init: FetchInit,
  timeoutMs: number,
  shape: PayloadShape<T>,
): Promise<T> => {
  let response: Response;
  try {
    response = await withTimeout(hubspot.fetch(url, { ...init, timeout: timeoutMs }), timeoutMs);
  } catch (error) {
    if (isBackendError(error)) {
      throw error;
    }
    throw new BackendError(
      'unreachable',
      `Could not reach the billwerk connector (${errorMessage(error)}). Try again in a moment.`,
    );
  }

  const body = await readJson(response);
  if (!response.ok) {
    throw toBackendError(response.status, body);
  }
  if (!shape.is(body)) {
    throw new BackendError(
      'bad_response',
      'The billwerk connector sent an answer the card does not understand.',
      response.status,
    );
  }
  return shape.normalise(body);
};

const withTimeout = <T>(promise: Promise<T>, timeoutMs: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new BackendError(
          'timeout',
          `The billwerk connector did not answer within ${Math.round(timeoutMs / 1000)} seconds. Try again.`,
        ),
      );
    }, timeoutMs + CLIENT_GRACE_MS);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

const readJson = async (response: Response): Promise<unknown> => {
  try {
    return (await response.json()) as unknown;
  } catch {
    return undefined;
  }
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const toBackendError = (status: number, body: unknown): BackendError => {
  if (isRecord(body) && typeof body.message === 'string' && body.message.trim() !== '') {
    const code = typeof body.error === 'string' ? body.error : `http_${status}`;
    return new BackendError(code, body.message, status);
  }
  if (status === 429) {
    return new BackendError('rate_limited', 'Too many requests right now. Try again in a moment.', status);
  }
  return new BackendError(
    `http_${status}`,
    `The billwerk connector answered with HTTP ${status}. Try again later.`,
    status,
  );
};

const isCompanyCardPayload = (value: unknown): value is CompanyCardPayload =>
  isRecord(value) &&
  isRecord(value.company) &&
  typeof value.status === 'string' &&
  (value.actions === undefined || Array.isArray(value.actions)) &&
  (value.errors === undefined || Array.isArray(value.errors));

// The backend always sends every key; tolerate older answers that leave the empty ones out.
const normaliseCompany = (payload: CompanyCardPayload): CompanyCardPayload => ({
  ...payload,
  statusLabel: payload.statusLabel ?? payload.status,
  entity: payload.entity ?? null,
  billwerk: payload.billwerk ?? null,
  errors: payload.errors ?? [],
  lastSync: payload.lastSync ?? null,
  actions: payload.actions ?? [],
});

const COMPANY: PayloadShape<CompanyCardPayload> = {
  is: isCompanyCardPayload,
  normalise: normaliseCompany,
};

const isDealCardPayload = (value: unknown): value is DealCardPayload =>
  isRecord(value) &&
  isRecord(value.deal) &&
  typeof value.status === 'string' &&
  (value.actions === undefined || Array.isArray(value.actions)) &&
  (value.problems === undefined || Array.isArray(value.problems)) &&
  (value.runs === undefined || Array.isArray(value.runs)) &&
  (value.preview === undefined || value.preview === null || isDealPreview(value.preview));

// A preview without its lines or totals cannot be drawn as a table; refuse it as a whole.
const isDealPreview = (value: unknown): boolean =>
  isRecord(value) &&
  Array.isArray(value.lines) &&
  isRecord(value.firstInvoice) &&
  typeof value.currency === 'string';

const EMPTY_STATE = { state: null, label: '', message: '' };

const normaliseDeal = (payload: DealCardPayload): DealCardPayload => ({
  ...payload,
  statusLabel: payload.statusLabel ?? payload.status,
  validation: payload.validation ?? EMPTY_STATE,
  apply: payload.apply ?? EMPTY_STATE,
  syncStopped: payload.syncStopped ?? false,
  entity: payload.entity ?? null,
  company: payload.company ?? null,
  problems: payload.problems ?? [],
  preview: payload.preview
    ? {
        ...payload.preview,
        recurring: payload.preview.recurring ?? [],
        warnings: payload.preview.warnings ?? [],
        nextTotalGross: payload.preview.nextTotalGross ?? null,
        nextTotalGrossDate: payload.preview.nextTotalGrossDate ?? null,
      }
    : null,
  upgrade: payload.upgrade ?? null,
  billing: payload.billing ?? null,
  runs: payload.runs ?? [],
  actions: payload.actions ?? [],
  busy: payload.busy === true,
});

const DEAL: PayloadShape<DealCardPayload> = { is: isDealCardPayload, normalise: normaliseDeal };
