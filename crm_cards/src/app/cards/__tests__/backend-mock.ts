import { vi } from 'vitest';
import { hubspot } from '@hubspot/ui-extensions';

type FetchOptions = Parameters<typeof hubspot.fetch>[1];

export interface Call {
  url: string;
  method: string;
  body: unknown;
  timeout: number | undefined;
}

export interface Reply {
  status?: number;
  json: unknown;
}

const jsonResponse = ({ status = 200, json }: Reply): Response =>
  new Response(JSON.stringify(json), { status, headers: { 'content-type': 'application/json' } });

/**
 * Replaces hubspot.fetch (there is no built-in mock for it). Each call takes the next reply;
 * a reply may be a promise to hold the card in its loading state.
 */
export const mockBackend = (...replies: Array<Reply | Promise<Reply>>) => {
  const calls: Call[] = [];
  const spy = vi
    .spyOn(hubspot, 'fetch')
    .mockImplementation(async (resource: string | URL, options?: FetchOptions) => {
      calls.push({
        url: String(resource),
        method: options?.method ?? 'GET',
        body: options?.body,
        timeout: options?.timeout,
      });
      const reply = replies.shift();
      if (!reply) {
        throw new Error(`unexpected hubspot.fetch ${String(resource)}`);
      }
      return jsonResponse(await reply);
    });
  return { calls, spy, replies };
};

export const posted = (calls: Call[]) => calls.filter((call) => call.method === 'POST');
