import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Button,
  EmptyState,
  ErrorState,
  Input,
  Link,
  LoadingSpinner,
  StatusTag,
  Text,
  hubspot,
} from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import type { InputProps } from '@hubspot/ui-extensions';
import type { RenderedElementNode } from '@hubspot/ui-extensions/testing';

import { CompanyCard } from '../CompanyCard';
import { BACKEND_URL } from '../lib/config';
import { COMPANY_CARD_PROPERTIES } from '../lib/properties';
import type { CompanyCardPayload } from '../lib/types';
import {
  COMPANY_ID,
  COMPANY_URL,
  IMPORT,
  LINK,
  PUSH_UPDATE,
  REFRESH,
  UNLINK,
  invalidPayload,
  linkedPayload,
  notConnectedPayload,
  readyPayload,
} from './fixtures';
import { mockBackend, posted } from './backend-mock';
import type { Reply } from './backend-mock';

const CARD_URL = `${BACKEND_URL}/api/cards/companies/${COMPANY_ID}`;

const setup = () => {
  const renderer = createRenderer('crm.record.tab');
  renderer.mocks.context.crm.objectId = Number(COMPANY_ID);
  renderer.mocks.context.crm.objectTypeId = '0-2';
  renderer.render(<CompanyCard />);
  return renderer;
};

type Renderer = ReturnType<typeof setup>;

const waitForStatus = (r: Renderer, label: string) =>
  r.waitFor(() => expect(r.find(StatusTag).text).toBe(label));

const actionButton = (r: Renderer, actionId: string) => r.findByTestId(Button, `action-${actionId}`);

const typeInto = (input: RenderedElementNode<InputProps>, value: string) => {
  // trigger() passes its argument straight to the handler; its typing expects the handler type.
  (input.trigger as (event: string, arg: unknown) => void)('onInput', value);
};

/** `.text` of a rendered node holds only its own text children; this joins every Text on the card. */
const allText = (r: Renderer) => r.findAll(Text).map((node) => node.text ?? '').join('\n');

describe('CompanyCard', () => {
  beforeEach(() => {
    vi.restoreAllMocks();
  });

  it("sends the company's properties as the record page has them; GET when it cannot read them", async () => {
    const record = { hs_object_id: COMPANY_ID, name: 'ACME GmbH', city: 'Berlin' };
    const { calls } = mockBackend({ json: linkedPayload() }, { json: linkedPayload() });
    const r = createRenderer('crm.record.tab');
    r.mocks.context.crm.objectId = Number(COMPANY_ID);
    r.mocks.actions.fetchCrmObjectProperties.willCall(async () => record);
    r.render(<CompanyCard />);
    await waitForStatus(r, 'Linked');
    expect(r.mocks.actions.fetchCrmObjectProperties.calls).toEqual([[[...COMPANY_CARD_PROPERTIES, 'hs_object_id']]]);
    const properties = { ...Object.fromEntries(COMPANY_CARD_PROPERTIES.map((name) => [name, null])), ...record };
    expect(calls).toEqual([{ url: CARD_URL, method: 'POST', body: { properties }, timeout: 15_000 }]);

    const other = createRenderer('crm.record.tab');
    other.mocks.context.crm.objectId = Number(COMPANY_ID);
    other.mocks.actions.fetchCrmObjectProperties.willCall(async () => {
      throw new Error('no properties here');
    });
    other.render(<CompanyCard />);
    await waitForStatus(other, 'Linked');
    expect(calls[1]).toEqual({ url: CARD_URL, method: 'GET', body: undefined, timeout: 15_000 });
  });

  it('shows a spinner while loading, then the company', async () => {
    let answer: (reply: Reply) => void = () => undefined;
    const { calls } = mockBackend(new Promise<Reply>((resolve) => (answer = resolve)));
    const r = setup();

    expect(r.find(LoadingSpinner).props.label).toMatch(/loading/i);
    expect(r.maybeFind(StatusTag)).toBeNull();

    answer({ json: linkedPayload() });
    await waitForStatus(r, 'Linked');

    expect(r.maybeFind(LoadingSpinner)).toBeNull();
    expect(calls).toEqual([{ url: CARD_URL, method: 'GET', body: undefined, timeout: 15_000 }]);
    const customer = r.findByTestId(Link, 'billwerk-customer-link');
    expect(customer.props.href).toBe('https://app.billwerk.com/#/customers/64a1b2c3d4e5f60718293a4b');
    expect(customer.text).toBe('ACME GmbH (64a1b2c3d4e5f60718293a4b)');
    expect(allText(r)).toContain('Sandbox GmbH (5f0000000000000000000001)');
    expect(r.findByTestId(Text, 'last-sync').text).toBe(
      'Last sync: Succeeded, 2026-11-21 10:00 UTC – Customer linked',
    );
    expect(r.findAll(Button).map((button) => button.text)).toEqual([
      PUSH_UPDATE.label,
      UNLINK.label,
      REFRESH.label,
    ]);
  });

  it('says when the company has no billwerk customer and never synced', async () => {
    mockBackend({ json: readyPayload() });
    const r = setup();
    await waitForStatus(r, 'Ready to import');

    expect(r.maybeFindByTestId(Link, 'billwerk-customer-link')).toBeNull();
    expect(allText(r)).toContain('Not linked');
    expect(r.findByTestId(Text, 'last-sync').text).toBe('Last sync: never');
  });

  it.each([
    ['imported', 'Imported', 'success'],
    ['linked', 'Linked', 'success'],
    ['invalid', 'Needs fixing', 'danger'],
    ['pending', 'Pending', 'warning'],
    ['ready', 'Ready to import', 'default'],
    ['not_imported', 'Not imported', 'default'],
    ['not_connected', 'billwerk not connected', 'default'],
    ['something_new', 'Something new', 'default'],
  ])('tags status %s as %s with variant %s', async (status, statusLabel, variant) => {
    mockBackend({ json: readyPayload({ status, statusLabel }) });
    const r = setup();
    await waitForStatus(r, statusLabel);

    expect(r.find(StatusTag).props.variant).toBe(variant);
  });

  it('lists each problem with a link to the HubSpot record', async () => {
    mockBackend({ json: invalidPayload() });
    const r = setup();
    await waitForStatus(r, 'Needs fixing');

    const first = r.findByTestId(Text, 'problem-0');
    expect(first.text).toContain('Postal code is missing');
    expect(first.find(Link).text).toBe('Open in HubSpot');
    expect(first.find(Link).props.href).toBe(COMPANY_URL);

    const second = r.findByTestId(Text, 'problem-1');
    expect(second.text).toContain('Country "UK" is not valid; use "GB"');
    expect(second.find(Link).props.href).toBe(`${COMPANY_URL}?tab=address`);

    expect(r.findAll(Link, { href: COMPANY_URL })).toHaveLength(1);
    expect(r.findByTestId(Text, 'last-sync').text).toBe(
      'Last sync: Failed, 2026-11-21 09:30 UTC – Address incomplete',
    );
  });

  it('explains that an admin must connect billwerk when the portal is not connected', async () => {
    mockBackend({ json: notConnectedPayload() });
    const r = setup();
    await waitForStatus(r, 'billwerk not connected');

    const empty = r.find(EmptyState);
    expect(empty.props.title).toMatch(/not connected/i);
    expect(empty.find(Text).text).toMatch(/admin must connect billwerk in the connector settings/);
    expect(r.maybeFind(Link)).toBeNull();
    expect(r.findAll(Button).map((button) => button.text)).toEqual([REFRESH.label]);
  });

  it('shows the backend message in an ErrorState and retries on "Try again"', async () => {
    const { calls } = mockBackend(
      {
        status: 404,
        json: { error: 'portal_not_installed', message: 'Install the billwerk connector app first.' },
      },
      { json: readyPayload() },
    );
    const r = setup();
    await r.waitFor(() => expect(r.find(ErrorState).find(Text).text).toContain('Install the billwerk connector app first.'));

    r.find(ErrorState).find(Button, (node) => node.text === 'Try again').trigger('onClick');
    await waitForStatus(r, 'Ready to import');

    expect(r.maybeFind(ErrorState)).toBeNull();
    expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual([
      `GET ${CARD_URL}`,
      `GET ${CARD_URL}`,
    ]);
  });

  it('shows a readable error when the backend cannot be reached', async () => {
    vi.spyOn(hubspot, 'fetch').mockRejectedValue(new Error('Network request failed'));
    const r = setup();

    await r.waitFor(() =>
      expect(r.find(ErrorState).find(Text).text).toContain('Could not reach the billwerk connector'),
    );
  });

  describe('actions', () => {
    it.each([
      { action: IMPORT, before: readyPayload(), message: 'Import queued' },
      { action: REFRESH, before: readyPayload(), message: 'Refreshed' },
      { action: PUSH_UPDATE, before: linkedPayload(), message: 'Customer update queued' },
    ])('posts $action.id to its own path and alerts the message', async ({ action, before, message }) => {
      const after = { ...linkedPayload({ status: 'pending', statusLabel: 'Pending' }), message };
      const { calls } = mockBackend({ json: before }, { json: after });
      const r = setup();
      await waitForStatus(r, before.statusLabel);

      actionButton(r, action.id).trigger('onClick');
      await waitForStatus(r, 'Pending');

      expect(posted(calls)).toEqual([
        { url: `${CARD_URL}/${action.id}`, method: 'POST', body: {}, timeout: 30_000 },
      ]);
      expect(r.mocks.actions.addAlert.calls).toEqual([[{ type: 'success', message }]]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });

    it('re-renders from the action response', async () => {
      const after: CompanyCardPayload = { ...linkedPayload(), message: 'Import queued' };
      mockBackend({ json: invalidPayload() }, { json: after });
      const r = setup();
      await waitForStatus(r, 'Needs fixing');
      expect(r.maybeFindByTestId(Text, 'problem-0')).not.toBeNull();

      actionButton(r, IMPORT.id).trigger('onClick');
      await waitForStatus(r, 'Linked');

      expect(r.find(StatusTag).props.variant).toBe('success');
      expect(r.maybeFindByTestId(Text, 'problem-0')).toBeNull();
      expect(r.findByTestId(Link, 'billwerk-customer-link').text).toContain('64a1b2c3d4e5f60718293a4b');
    });

    it('link asks for the billwerk customer id and sends it', async () => {
      const after: CompanyCardPayload = { ...linkedPayload(), message: 'Linked to billwerk customer' };
      const { calls } = mockBackend({ json: readyPayload() }, { json: after });
      const r = setup();
      await waitForStatus(r, 'Ready to import');
      expect(r.maybeFind(Input)).toBeNull();

      actionButton(r, LINK.id).trigger('onClick');
      const input = r.find(Input);
      expect(input.props.name).toBe('billwerkCustomerId');
      expect(input.props.label).toBe('billwerk customer ID');
      expect(posted(calls)).toHaveLength(0);

      typeInto(input, '  64a1b2c3d4e5f60718293a4b ');
      r.findByTestId(Button, 'pending-submit').trigger('onClick');
      await waitForStatus(r, 'Linked');

      expect(posted(calls)).toEqual([
        {
          url: `${CARD_URL}/link`,
          method: 'POST',
          body: { billwerkCustomerId: '64a1b2c3d4e5f60718293a4b' },
          timeout: 30_000,
        },
      ]);
      expect(r.maybeFind(Input)).toBeNull();
      expect(r.mocks.actions.addAlert.calls).toEqual([
        [{ type: 'success', message: 'Linked to billwerk customer' }],
      ]);
    });

    it('link refuses an empty customer id without posting', async () => {
      const { calls } = mockBackend({ json: readyPayload() });
      const r = setup();
      await waitForStatus(r, 'Ready to import');

      actionButton(r, LINK.id).trigger('onClick');
      r.findByTestId(Button, 'pending-submit').trigger('onClick');

      expect(r.find(Input).props.error).toBe(true);
      expect(r.find(Input).props.validationMessage).toBe('Enter the billwerk customer ID.');
      expect(posted(calls)).toHaveLength(0);

      r.findByTestId(Button, 'pending-cancel').trigger('onClick');
      expect(r.maybeFind(Input)).toBeNull();
      expect(actionButton(r, LINK.id).props.disabled).toBe(false);
    });

    it('unlink asks for confirmation and posts only after "Yes"', async () => {
      const after: CompanyCardPayload = {
        ...readyPayload({ status: 'not_imported', statusLabel: 'Not imported' }),
        message: 'Unlinked',
      };
      const { calls } = mockBackend({ json: linkedPayload() }, { json: after });
      const r = setup();
      await waitForStatus(r, 'Linked');

      actionButton(r, UNLINK.id).trigger('onClick');
      expect(r.findByTestId(Text, 'confirm-question').text).toBe(UNLINK.confirm);
      expect(posted(calls)).toHaveLength(0);
      expect(actionButton(r, UNLINK.id).props.disabled).toBe(true);

      const yes = r.findByTestId(Button, 'pending-submit');
      expect(yes.text).toBe('Yes, unlink');
      yes.trigger('onClick');
      await waitForStatus(r, 'Not imported');

      expect(posted(calls)).toEqual([
        { url: `${CARD_URL}/unlink`, method: 'POST', body: {}, timeout: 30_000 },
      ]);
      expect(r.maybeFindByTestId(Text, 'confirm-question')).toBeNull();
      expect(r.mocks.actions.addAlert.calls).toEqual([[{ type: 'success', message: 'Unlinked' }]]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });

    it('unlink does nothing when the confirmation is cancelled', async () => {
      const { calls } = mockBackend({ json: linkedPayload() });
      const r = setup();
      await waitForStatus(r, 'Linked');

      actionButton(r, UNLINK.id).trigger('onClick');
      r.findByTestId(Button, 'pending-cancel').trigger('onClick');

      expect(r.maybeFindByTestId(Text, 'confirm-question')).toBeNull();
      expect(posted(calls)).toHaveLength(0);
      expect(r.mocks.actions.addAlert.callCount).toBe(0);
    });

    it('alerts the backend error and keeps the card when an action fails', async () => {
      mockBackend(
        { json: readyPayload() },
        {
          status: 409,
          json: { error: 'already_linked', message: 'Another company is linked to this customer.' },
        },
      );
      const r = setup();
      await waitForStatus(r, 'Ready to import');

      actionButton(r, IMPORT.id).trigger('onClick');
      await r.waitFor(() => expect(r.mocks.actions.addAlert.callCount).toBe(1));

      expect(r.mocks.actions.addAlert.calls[0]).toEqual([
        {
          type: 'danger',
          title: IMPORT.label,
          message: 'Another company is linked to this customer.',
        },
      ]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(0);
      await r.waitFor(() => expect(actionButton(r, IMPORT.id).props.disabled).toBe(false));
      expect(r.find(StatusTag).text).toBe('Ready to import');
    });

    it('disables the buttons while an action is running', async () => {
      let answer: (reply: Reply) => void = () => undefined;
      mockBackend(
        { json: readyPayload() },
        new Promise<Reply>((resolve) => (answer = resolve)),
      );
      const r = setup();
      await waitForStatus(r, 'Ready to import');

      actionButton(r, IMPORT.id).trigger('onClick');
      await r.waitFor(() => expect(actionButton(r, REFRESH.id).props.disabled).toBe(true));
      expect(r.findAll(LoadingSpinner)).toHaveLength(1);

      answer({ json: { ...readyPayload({ status: 'pending', statusLabel: 'Pending' }), message: 'Import queued' } });
      await waitForStatus(r, 'Pending');
      expect(actionButton(r, REFRESH.id).props.disabled).toBe(false);
    });
  });
});
