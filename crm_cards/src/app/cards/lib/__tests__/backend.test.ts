import { afterEach, describe, expect, it, vi } from 'vitest';
import { hubspot } from '@hubspot/ui-extensions';

import {
  ACTION_TIMEOUT_MS,
  BackendError,
  LOAD_TIMEOUT_MS,
  companyCardUrl,
  dealCardUrl,
  errorMessage,
  fetchCompanyCard,
  fetchDealCard,
  runCompanyAction,
  runDealAction,
} from '../backend';
import { BACKEND_URL } from '../config';
import { linkedPayload, readyPayload } from '../../__tests__/fixtures';
import { PREVIEW, applyFailedPayload, draftPayload, validPayload } from '../../__tests__/deal-fixtures';

const respond = (status: number, body: string) =>
  vi.spyOn(hubspot, 'fetch').mockResolvedValue(
    new Response(body, { status, headers: { 'content-type': 'application/json' } }),
  );

const rejection = async (promise: Promise<unknown>): Promise<BackendError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BackendError);
    return error as BackendError;
  }
  throw new Error('expected the promise to reject');
};

describe('companyCardUrl', () => {
  it('builds the card and action URLs from BACKEND_URL', () => {
    expect(companyCardUrl(123)).toBe(`${BACKEND_URL}/api/cards/companies/123`);
    expect(companyCardUrl('123', 'push-update')).toBe(
      `${BACKEND_URL}/api/cards/companies/123/push-update`,
    );
  });

  it('escapes path segments', () => {
    expect(companyCardUrl('1/2', 'a b')).toBe(`${BACKEND_URL}/api/cards/companies/1%2F2/a%20b`);
  });
});

describe('fetchCompanyCard', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('POSTs the record properties it is given, signed by HubSpot like any call', async () => {
    const spy = vi.spyOn(hubspot, 'fetch').mockImplementation(
      async () => new Response(JSON.stringify(linkedPayload()), { status: 200 }),
    );
    const properties = { hs_object_id: '123', name: 'ACME GmbH' };

    await fetchCompanyCard(123, { properties });
    await fetchCompanyCard(123, { properties: null });
    await fetchDealCard(7001, { properties: { hs_object_id: '7001', dealname: null } }).catch(() => undefined);

    expect(spy.mock.calls).toEqual([
      [`${BACKEND_URL}/api/cards/companies/123`, { method: 'POST', body: { properties }, timeout: LOAD_TIMEOUT_MS }],
      [`${BACKEND_URL}/api/cards/companies/123`, { method: 'GET', timeout: LOAD_TIMEOUT_MS }],
      [
        `${BACKEND_URL}/api/cards/deals/7001`,
        { method: 'POST', body: { properties: { hs_object_id: '7001', dealname: null } }, timeout: LOAD_TIMEOUT_MS },
      ],
    ]);
  });

  it('GETs the card with a timeout and no auth of its own', async () => {
    const spy = respond(200, JSON.stringify(linkedPayload()));

    await expect(fetchCompanyCard(123)).resolves.toEqual(linkedPayload());

    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy).toHaveBeenCalledWith(`${BACKEND_URL}/api/cards/companies/123`, {
      method: 'GET',
      timeout: LOAD_TIMEOUT_MS,
    });
  });

  it('fills in keys an older backend left out', async () => {
    const { errors: _errors, lastSync: _lastSync, ...partial } = readyPayload();
    respond(200, JSON.stringify(partial));

    const payload = await fetchCompanyCard(1);
    expect(payload.errors).toEqual([]);
    expect(payload.lastSync).toBeNull();
  });

  it('turns {"error","message"} answers into a BackendError with the message', async () => {
    respond(
      404,
      JSON.stringify({ error: 'portal_not_installed', message: 'Install the app first.' }),
    );

    const error = await rejection(fetchCompanyCard(1));
    expect(error.code).toBe('portal_not_installed');
    expect(error.message).toBe('Install the app first.');
    expect(error.status).toBe(404);
    expect(errorMessage(error)).toBe('Install the app first.');
  });

  it('explains a non-JSON error answer by its status', async () => {
    respond(502, '<html>Bad gateway</html>');

    const error = await rejection(fetchCompanyCard(1));
    expect(error.code).toBe('http_502');
    expect(error.message).toMatch(/HTTP 502/);
  });

  it('rejects a 200 answer that is not a card payload', async () => {
    respond(200, JSON.stringify({ hello: 'world' }));

    const error = await rejection(fetchCompanyCard(1));
    expect(error.code).toBe('bad_response');
  });

  it('reports a failed hubspot.fetch as unreachable', async () => {
    vi.spyOn(hubspot, 'fetch').mockRejectedValue(new Error('Request timed out'));

    const error = await rejection(fetchCompanyCard(1));
    expect(error.code).toBe('unreachable');
    expect(error.message).toContain('Request timed out');
  });

  it('gives up by itself when hubspot.fetch never settles', async () => {
    vi.useFakeTimers();
    vi.spyOn(hubspot, 'fetch').mockReturnValue(new Promise<Response>(() => undefined));

    const pending = rejection(fetchCompanyCard(1, { timeoutMs: 1_000 }));
    await vi.advanceTimersByTimeAsync(5_000);

    const error = await pending;
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/did not answer within 1 seconds/);
  });
});

describe('runCompanyAction', () => {
  it('POSTs the body as JSON object to the action path', async () => {
    const spy = respond(200, JSON.stringify({ ...linkedPayload(), message: 'Linked' }));

    const payload = await runCompanyAction(77, 'link', { billwerkCustomerId: '64ab' });

    expect(payload.message).toBe('Linked');
    expect(spy).toHaveBeenCalledWith(`${BACKEND_URL}/api/cards/companies/77/link`, {
      method: 'POST',
      body: { billwerkCustomerId: '64ab' },
      timeout: ACTION_TIMEOUT_MS,
    });
  });

  it('sends an empty object when the action has no input', async () => {
    const spy = respond(200, JSON.stringify(readyPayload()));

    await runCompanyAction(77, 'refresh');

    expect(spy).toHaveBeenCalledWith(`${BACKEND_URL}/api/cards/companies/77/refresh`, {
      method: 'POST',
      body: {},
      timeout: ACTION_TIMEOUT_MS,
    });
  });
});

describe('deal card requests', () => {
  it('builds the deal card and action URLs from BACKEND_URL', () => {
    expect(dealCardUrl(7001)).toBe(`${BACKEND_URL}/api/cards/deals/7001`);
    expect(dealCardUrl('7001', 'create-contract')).toBe(`${BACKEND_URL}/api/cards/deals/7001/create-contract`);
  });

  it('GETs the deal card and returns the payload as sent', async () => {
    const spy = respond(200, JSON.stringify(validPayload()));

    await expect(fetchDealCard(7001)).resolves.toEqual(validPayload());
    expect(spy).toHaveBeenCalledWith(`${BACKEND_URL}/api/cards/deals/7001`, {
      method: 'GET',
      timeout: LOAD_TIMEOUT_MS,
    });
  });

  it('POSTs replay with the run id', async () => {
    const spy = respond(200, JSON.stringify({ ...applyFailedPayload(), message: 'Replay queued', runId: '314' }));

    const payload = await runDealAction(7001, 'replay', { runId: '313' });

    expect(payload.runId).toBe('314');
    expect(spy).toHaveBeenCalledWith(`${BACKEND_URL}/api/cards/deals/7001/replay`, {
      method: 'POST',
      body: { runId: '313' },
      timeout: ACTION_TIMEOUT_MS,
    });
  });

  it('fills in keys an older backend left out, and never reads a missing busy as busy', async () => {
    const { problems: _p, runs: _r, busy: _b, upgrade: _u, ...partial } = draftPayload();
    const { warnings: _w, recurring: _rec, ...preview } = PREVIEW;
    respond(200, JSON.stringify({ ...partial, preview }));

    const payload = await fetchDealCard(1);
    expect(payload.problems).toEqual([]);
    expect(payload.runs).toEqual([]);
    expect(payload.upgrade).toBeNull();
    expect(payload.busy).toBe(false);
    expect(payload.preview?.warnings).toEqual([]);
    expect(payload.preview?.recurring).toEqual([]);
  });

  it.each([
    ['no deal', { ...draftPayload(), deal: undefined }],
    ['a preview without lines', { ...validPayload(), preview: { ...PREVIEW, lines: undefined } }],
    ['runs that are not a list', { ...draftPayload(), runs: {} }],
  ])('rejects an answer with %s', async (_case, body) => {
    respond(200, JSON.stringify(body));

    const error = await rejection(fetchDealCard(1));
    expect(error.code).toBe('bad_response');
  });
});
