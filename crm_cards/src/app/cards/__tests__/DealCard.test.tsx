import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  Alert,
  Button,
  EmptyState,
  ErrorState,
  Heading,
  Link,
  LoadingSpinner,
  StatusTag,
  TableCell,
  TableRow,
  Text,
} from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';

import { DealCard, WATCHED_PROPERTIES } from '../DealCard';
import type { DealCardProps } from '../DealCard';
import { BACKEND_URL } from '../lib/config';
import { DEAL_CARD_PROPERTIES } from '../lib/properties';
import type { DealCardPayload } from '../lib/deal-types';
import { mockBackend, posted } from './backend-mock';
import type { Reply } from './backend-mock';
import {
  COMPANY_URL,
  CONTRACT_URL,
  CREATE_CONTRACT,
  CREATE_UPGRADE_DEAL,
  CUSTOMER_URL,
  DEAL_ID,
  DEAL_URL,
  EXECUTE_UPGRADE,
  FAILED_RUN,
  LINE_ITEM_URL,
  REFRESH,
  REQUEST_VALIDATION,
  appliedPayload,
  applyFailedPayload,
  busyPayload,
  draftPayload,
  escalatedPayload,
  invalidPayload,
  noCartPayload,
  notConnectedPayload,
  outdatedPayload,
  syncStoppedPayload,
  upgradePayload,
  validPayload,
} from './deal-fixtures';

const CARD_URL = `${BACKEND_URL}/api/cards/deals/${DEAL_ID}`;
const GET = { url: CARD_URL, method: 'GET', body: undefined, timeout: 15_000 };
/** The deal as the record page has it (what fetchCrmObjectProperties gives). */
const RECORD = { hs_object_id: DEAL_ID, dealname: 'ACME – Pro', dealstage: 'closedwon', billwerk_validation: 'valid' };
const SENT = {
  ...Object.fromEntries(DEAL_CARD_PROPERTIES.map((name) => [name, null])),
  ...RECORD,
};
const VIEW = { url: CARD_URL, method: 'POST', body: { properties: SENT }, timeout: 15_000 };
/** Lets pending promises and timers run (waitFor only re-checks when the card renders). */
const settle = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

const setup = (props: DealCardProps = {}) => {
  const renderer = createRenderer('crm.record.tab');
  renderer.mocks.context.crm.objectId = Number(DEAL_ID);
  renderer.mocks.context.crm.objectTypeId = '0-3';
  renderer.render(<DealCard pollIntervalMs={5} {...props} />);
  return renderer;
};

type Renderer = ReturnType<typeof setup>;

const waitForStatus = (r: Renderer, label: string) =>
  r.waitFor(() => expect(r.findAll(StatusTag)[0]?.text).toBe(label));

const statusTag = (r: Renderer) => r.findAll(StatusTag)[0]!;
const actionButton = (r: Renderer, actionId: string) => r.findByTestId(Button, `action-${actionId}`);
const buttonLabels = (r: Renderer) => r.findAll(Button).map((button) => button.text);
const textOf = (r: Renderer, testId: string) => r.findByTestId(Text, testId).text;
const allText = (r: Renderer) => r.findAll(Text).map((node) => node.text ?? '').join('\n');
const cells = (r: Renderer, rowTestId: string) =>
  r.findByTestId(TableRow, rowTestId).findAll(TableCell).map((cell) => cell.text ?? '');

const show = async (payload: DealCardPayload, props: DealCardProps = {}) => {
  const backend = mockBackend({ json: payload });
  const r = setup(props);
  await waitForStatus(r, payload.statusLabel);
  return { r, ...backend };
};

describe('DealCard', () => {
  beforeEach(() => {
    vi.restoreAllMocks();
  });

  describe('states', () => {
    it('shows a spinner while loading, then the deal', async () => {
      let answer: (reply: Reply) => void = () => undefined;
      const { calls } = mockBackend(new Promise<Reply>((resolve) => (answer = resolve)));
      const r = setup();

      expect(r.find(LoadingSpinner).props.label).toMatch(/loading/i);
      expect(r.maybeFind(StatusTag)).toBeNull();

      answer({ json: draftPayload() });
      await waitForStatus(r, 'Not validated yet');

      expect(r.maybeFind(LoadingSpinner)).toBeNull();
      expect(calls).toEqual([GET]);
      expect(statusTag(r).props.variant).toBe('default');
      expect(r.findByTestId(Link, 'company-link').props.href).toBe(COMPANY_URL);
      expect(allText(r)).toContain('No billwerk customer linked yet');
      expect(allText(r)).toContain('Sandbox GmbH (5f0000000000000000000001)');
      expect(allText(r)).toContain('New customer');
      expect(buttonLabels(r)).toEqual([REQUEST_VALIDATION.label, REFRESH.label]);
      // Nothing to show yet: no preview, no billing, no runs.
      expect(r.maybeFindByTestId(TableRow, 'preview-line-0')).toBeNull();
      expect(r.maybeFind(Heading)).toBeNull();
    });

    it('not connected: says an admin must connect billwerk, offers only Refresh', async () => {
      const { r } = await show(notConnectedPayload());

      const empty = r.find(EmptyState);
      expect(empty.props.title).toMatch(/not connected/i);
      expect(empty.find(Text).text).toMatch(/admin must connect billwerk in the connector settings/);
      expect(r.maybeFind(Link)).toBeNull();
      expect(buttonLabels(r)).toEqual([REFRESH.label]);
    });

    it('no cart: explains which line items the deal needs', async () => {
      const { r } = await show(noCartPayload());

      expect(r.find(EmptyState).props.title).toBe('No billwerk products on this deal');
      expect(textOf(r, 'no-cart')).toMatch(/exactly one plan variant/);
      expect(buttonLabels(r)).toEqual([REFRESH.label]);
    });

    it('invalid: a danger tag, the reason, and each problem with a link to the record to fix', async () => {
      const { r } = await show(invalidPayload());

      expect(statusTag(r).props.variant).toBe('danger');
      expect(textOf(r, 'validation-line')).toBe(
        'Validation: Invalid – Line item "Consulting" has no billwerk product; the company has no postal code',
      );
      const first = r.findByTestId(Text, 'problem-0');
      expect(first.text).toContain('Line item "Consulting" has no billwerk product.');
      expect(first.find(Link).props.href).toBe(LINE_ITEM_URL);
      expect(first.find(Link).text).toBe('Open in HubSpot');
      const second = r.findByTestId(Text, 'problem-1');
      expect(second.text).toContain('The company has no postal code.');
      expect(second.find(Link).props.href).toBe(COMPANY_URL);
      expect(r.find(Alert, { variant: 'danger' }).props.title).toMatch(/Fix these in HubSpot/);
    });

    it('valid: the preview table, first invoice net / VAT / gross, recurring fee and warnings', async () => {
      const { r } = await show(validPayload());

      expect(statusTag(r).props.variant).toBe('success');
      expect(textOf(r, 'validation-line')).toBe('Validation: Valid');
      expect(r.maybeFindByTestId(Alert, 'preview-outdated')).toBeNull();
      expect(r.findAll(Heading).map((h) => h.text)).toContain('What the customer will pay');
      expect(textOf(r, 'preview-at')).toBe('billwerk preview of 2026-12-01 09:15 UTC');

      expect(cells(r, 'preview-line-0')).toEqual(['Pro (monthly)', '1', '49.00 EUR / month', '49.00 EUR']);
      expect(cells(r, 'preview-line-1')).toEqual(['Additional seats', '5', '8.50 EUR / month', '42.50 EUR']);
      expect(cells(r, 'preview-line-2')).toEqual(['Setup fee', '1', '1,250.00 EUR', '1,250.00 EUR']);
      expect(cells(r, 'preview-line-3')).toEqual(['Launch discount 10 %', '1', '-9.15 EUR / month', '-9.15 EUR']);
      expect(r.maybeFindByTestId(TableRow, 'preview-line-4')).toBeNull();

      expect(textOf(r, 'first-invoice-net')).toBe('1,332.35 EUR');
      expect(textOf(r, 'first-invoice-vat')).toBe('253.15 EUR');
      expect(textOf(r, 'first-invoice-gross')).toBe('1,585.50 EUR');
      expect(textOf(r, 'recurring-0')).toBe('82.35 EUR net per month (98.00 EUR gross)');
      expect(textOf(r, 'next-invoice')).toBe('Next invoice: 98.00 EUR gross on 2027-01-01');
      expect(r.findByTestId(Alert, 'preview-warnings').props.variant).toBe('warning');
      expect(textOf(r, 'warning-0')).toBe(
        'Line item "Additional seats" costs 8.00 EUR in HubSpot; billwerk charges 8.50 EUR.',
      );
      expect(buttonLabels(r)).toEqual([CREATE_CONTRACT.label, REQUEST_VALIDATION.label, REFRESH.label]);
      expect(actionButton(r, CREATE_CONTRACT.id).props.variant).toBe('primary');
    });

    it('outdated: the old preview is marked outdated in plain words', async () => {
      const { r } = await show(outdatedPayload());

      expect(statusTag(r).props.variant).toBe('warning');
      expect(textOf(r, 'validation-line')).toBe('Validation: Outdated – The cart changed after validation');
      const outdated = r.findByTestId(Alert, 'preview-outdated');
      expect(outdated.props.title).toBe('Outdated');
      expect(outdated.find(Text).text).toMatch(/may be wrong\. Validate the deal again/);
      expect(r.findAll(Heading).map((h) => h.text)).toContain('What the customer would pay (outdated)');
      // The figures stay visible, marked as old.
      expect(textOf(r, 'first-invoice-gross')).toBe('1,585.50 EUR');
      expect(buttonLabels(r)).not.toContain(CREATE_CONTRACT.label);
    });

    it('applied: billing health with links into billwerk', async () => {
      const { r } = await show(appliedPayload());

      expect(statusTag(r).props.variant).toBe('success');
      expect(textOf(r, 'apply-line')).toBe('Contract: Applied');
      expect(textOf(r, 'billing-lifecycle')).toBe('Active');
      expect(textOf(r, 'billing-balance')).toBe('-98.00 EUR');
      expect(textOf(r, 'billing-billed-until')).toBe('2027-01-01');
      expect(textOf(r, 'billing-end-date')).toBe('Not ending');
      expect(textOf(r, 'billing-payment')).toBe('Stripe / Credit card');
      expect(textOf(r, 'billing-last-invoice')).toBe('RE-2026-00042');
      expect(textOf(r, 'billing-updated')).toBe('Read from billwerk 2026-12-01 10:02 UTC');
      expect(r.findByTestId(Link, 'contract-link').props.href).toBe(CONTRACT_URL);
      expect(r.findByTestId(Link, 'contract-link').text).toBe('Contract 65b2c3d4e5f60718293a4b5c in billwerk');
      expect(r.findByTestId(Link, 'customer-link').props.href).toBe(CUSTOMER_URL);
      expect(r.findByTestId(Link, 'company-customer-link').props.href).toBe(CUSTOMER_URL);
      expect(r.maybeFindByTestId(StatusTag, 'payment-escalated')).toBeNull();
      expect(buttonLabels(r)).toEqual([CREATE_UPGRADE_DEAL.label, REFRESH.label]);
    });

    it('escalated: a danger tag on the billing health', async () => {
      const { r } = await show(escalatedPayload());

      const tag = r.findByTestId(StatusTag, 'payment-escalated');
      expect(tag.props.variant).toBe('danger');
      expect(tag.text).toBe('Payment escalated');
      expect(textOf(r, 'billing-balance')).toBe('-294.00 EUR');
    });

    it('sync stopped: says the contract moved on and this deal is written no more', async () => {
      const { r } = await show(syncStoppedPayload());

      expect(statusTag(r).props.variant).toBe('info');
      const alert = r.findByTestId(Alert, 'sync-stopped');
      expect(alert.props.title).toBe('Sync stopped');
      expect(alert.find(Text).text).toMatch(/receives no more contract updates/);
      expect(buttonLabels(r)).toEqual([REFRESH.label]);
    });

    it('up-/downgrade: today against after the change, the difference, the origin deal', async () => {
      const { r } = await show(upgradePayload());

      expect(cells(r, 'upgrade-Plan variant')).toEqual(['Plan variant', 'Pro (monthly)', 'Business (monthly)']);
      expect(cells(r, 'upgrade-Components')).toEqual([
        'Components',
        'Additional seats × 5',
        'Additional seats × 10, Priority support × 1',
      ]);
      expect(cells(r, 'upgrade-Recurring fee (net)')).toEqual([
        'Recurring fee (net)',
        '91.50 EUR per month',
        '204.00 EUR per month',
      ]);
      expect(textOf(r, 'upgrade-difference')).toBe('Difference: +112.50 EUR net per month');
      expect(r.findByTestId(Link, 'origin-deal-link').props.href).toBe(DEAL_URL);
      expect(allText(r)).toContain('Up-/downgrade');
      expect(buttonLabels(r)[0]).toBe(EXECUTE_UPGRADE.label);
    });

    it('tags a status it does not know with the default variant', async () => {
      const { r } = await show(draftPayload({ status: 'something_new', statusLabel: 'Something new' }));
      expect(statusTag(r).props.variant).toBe('default');
    });

    it('shows the backend message in an ErrorState and retries on "Try again"', async () => {
      const { calls } = mockBackend(
        { status: 404, json: { error: 'portal_not_installed', message: 'Install the billwerk connector app first.' } },
        { json: draftPayload() },
      );
      const r = setup();
      await r.waitFor(() =>
        expect(r.find(ErrorState).find(Text).text).toContain('Install the billwerk connector app first.'),
      );
      expect(r.find(ErrorState).props.title).toMatch(/this deal/);

      r.find(ErrorState).find(Button).trigger('onClick');
      await waitForStatus(r, 'Not validated yet');
      expect(calls).toEqual([GET, GET]);
    });

    it('refuses an answer it does not understand', async () => {
      mockBackend({ json: { ...validPayload(), preview: { at: 'x' } } });
      const r = setup();
      await r.waitFor(() => expect(r.find(ErrorState).find(Text).text).toMatch(/does not understand/));
    });
  });

  describe('when the record changes', () => {
    const propertiesChanged = (r: Renderer, error?: { message: string }) => {
      const [properties, callback] = r.mocks.actions.onCrmPropertiesUpdate.calls[0] as unknown as [
        string[],
        (properties: Record<string, string>, error?: { message: string }) => void,
      ];
      expect(properties).toEqual(WATCHED_PROPERTIES);
      callback({ dealstage: 'closedwon' }, error);
    };

    it('reloads quietly when a watched deal property changes', async () => {
      let answer: (reply: Reply) => void = () => undefined;
      const { calls } = mockBackend({ json: draftPayload() }, new Promise<Reply>((resolve) => (answer = resolve)));
      const r = setup();
      await waitForStatus(r, 'Not validated yet');
      expect(r.mocks.actions.onCrmPropertiesUpdate.callCount).toBe(1);
      expect(WATCHED_PROPERTIES).toEqual(expect.arrayContaining(['dealstage', 'amount', 'billwerk_validation']));

      propertiesChanged(r);
      // a second change while the reload is on its way asks nothing more
      propertiesChanged(r);
      // the card keeps what it shows meanwhile: no spinner
      expect(r.maybeFind(LoadingSpinner)).toBeNull();
      expect(statusTag(r).text).toBe('Not validated yet');

      answer({ json: outdatedPayload() });
      await waitForStatus(r, 'Outdated');
      expect(calls).toEqual([GET, GET]);
      expect(r.mocks.actions.onCrmPropertiesUpdate.callCount).toBe(1);
    });

    it('ignores an update HubSpot reports as failed, and a reload the backend does not answer', async () => {
      const { calls } = mockBackend(
        { json: validPayload() },
        { status: 502, json: { error: 'bad_gateway', message: 'Try again.' } },
      );
      const r = setup();
      await waitForStatus(r, 'Valid');

      propertiesChanged(r, { message: 'could not read the properties' });
      expect(calls).toEqual([GET]);

      propertiesChanged(r);
      await settle();
      expect(calls).toEqual([GET, GET]);
      expect(statusTag(r).text).toBe('Valid');
      expect(r.maybeFind(ErrorState)).toBeNull();
    });
  });

  describe('what a view sends', () => {
    const withRecord = (read: (names: string[] | '*') => Promise<Record<string, string>>) => {
      const renderer = createRenderer('crm.record.tab');
      renderer.mocks.context.crm.objectId = Number(DEAL_ID);
      renderer.mocks.context.crm.objectTypeId = '0-3';
      renderer.mocks.actions.fetchCrmObjectProperties.willCall(read);
      return renderer;
    };

    it("sends the deal's properties as the record page has them, so the backend need not read HubSpot", async () => {
      const { calls } = mockBackend({ json: validPayload() });
      const r = withRecord(async () => RECORD);
      r.render(<DealCard pollIntervalMs={5} />);
      await waitForStatus(r, 'Valid');
      expect(r.mocks.actions.fetchCrmObjectProperties.calls).toEqual([[[...DEAL_CARD_PROPERTIES, 'hs_object_id']]]);
      // every card property is named; those the page left out are null
      expect(calls).toEqual([VIEW]);
    });

    it('asks with GET when the page cannot give the properties, or gives another record', async () => {
      for (const read of [
        async () => {
          throw new Error('not available');
        },
        async () => ({ ...RECORD, hs_object_id: '999' }),
        async () => ({}),
      ]) {
        vi.restoreAllMocks();
        const { calls } = mockBackend({ json: validPayload() });
        const r = withRecord(read);
        r.render(<DealCard pollIntervalMs={5} />);
        await waitForStatus(r, 'Valid');
        expect(calls).toEqual([GET]);
      }
    });

    it('reloads after a property change with the fresh properties, polls a running deal with GET', async () => {
      let stage = 'appointmentscheduled';
      const { calls } = mockBackend({ json: draftPayload() }, { json: busyPayload() }, { json: validPayload() });
      const r = withRecord(async () => ({ ...RECORD, dealstage: stage }));
      r.render(<DealCard pollIntervalMs={5} />);
      await waitForStatus(r, 'Not validated yet');
      stage = 'closedwon';
      const [, callback] = r.mocks.actions.onCrmPropertiesUpdate.calls[0] as unknown as [
        string[],
        (properties: Record<string, string>) => void,
      ];
      callback({ dealstage: stage });
      await waitForStatus(r, 'Valid');
      expect(calls.map((call) => call.method)).toEqual(['POST', 'POST', 'GET']);
      expect(calls[0]!.body).toEqual({ properties: { ...SENT, dealstage: 'appointmentscheduled' } });
      expect(calls[1]!.body).toEqual({ properties: { ...SENT, dealstage: 'closedwon' } });
      // the run wrote the deal in HubSpot: the poll lets the backend read it, then the page refreshes
      expect(calls[2]).toEqual(GET);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });
  });

  describe('actions', () => {
    it('posts an action without confirmation at once, alerts its message and refreshes the record', async () => {
      const after = { ...draftPayload({ status: 'validating', statusLabel: 'Validating…' }), message: 'Validation queued' };
      const { calls } = mockBackend({ json: draftPayload() }, { json: after });
      const r = setup();
      await waitForStatus(r, 'Not validated yet');

      actionButton(r, REQUEST_VALIDATION.id).trigger('onClick');
      await waitForStatus(r, 'Validating…');

      expect(calls).toEqual([GET, { url: `${CARD_URL}/request-validation`, method: 'POST', body: {}, timeout: 30_000 }]);
      expect(r.mocks.actions.addAlert.calls).toEqual([[{ type: 'success', message: 'Validation queued' }]]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });

    it.each([
      { action: CREATE_CONTRACT, before: validPayload() },
      { action: CREATE_UPGRADE_DEAL, before: appliedPayload() },
      { action: EXECUTE_UPGRADE, before: upgradePayload() },
    ])('$action.id asks for confirmation and posts only after "Yes"', async ({ action, before }) => {
      const after = { ...before, statusLabel: 'After', message: 'Done' };
      const { calls } = mockBackend({ json: before }, { json: after });
      const r = setup();
      await waitForStatus(r, before.statusLabel);

      actionButton(r, action.id).trigger('onClick');
      expect(textOf(r, 'confirm-question')).toBe(action.confirm);
      expect(posted(calls)).toHaveLength(0);
      expect(actionButton(r, action.id).props.disabled).toBe(true);

      const yes = r.findByTestId(Button, 'confirm-yes');
      expect(yes.text).toBe(`Yes, ${action.label.charAt(0).toLowerCase()}${action.label.slice(1)}`);
      yes.trigger('onClick');
      await waitForStatus(r, 'After');

      expect(posted(calls)).toEqual([{ url: `${CARD_URL}/${action.id}`, method: 'POST', body: {}, timeout: 30_000 }]);
      expect(r.maybeFindByTestId(Text, 'confirm-question')).toBeNull();
      expect(r.mocks.actions.addAlert.calls).toEqual([[{ type: 'success', message: 'Done' }]]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });

    it('posts nothing when the confirmation is cancelled', async () => {
      const { r, calls } = await show(validPayload());

      actionButton(r, CREATE_CONTRACT.id).trigger('onClick');
      r.findByTestId(Button, 'confirm-cancel').trigger('onClick');

      expect(r.maybeFindByTestId(Text, 'confirm-question')).toBeNull();
      expect(posted(calls)).toHaveLength(0);
      expect(actionButton(r, CREATE_CONTRACT.id).props.disabled).toBe(false);
    });

    it('action busy: buttons are disabled while posting, then the card polls until the run is done', async () => {
      let answer: (reply: Reply) => void = () => undefined;
      const { calls } = mockBackend(
        { json: draftPayload() },
        new Promise<Reply>((resolve) => (answer = resolve)),
        { json: busyPayload({ status: 'validating', statusLabel: 'Validating…' }) },
        { json: validPayload() },
      );
      const r = setup();
      await waitForStatus(r, 'Not validated yet');

      actionButton(r, REQUEST_VALIDATION.id).trigger('onClick');
      await r.waitFor(() => expect(actionButton(r, REFRESH.id).props.disabled).toBe(true));
      expect(r.find(LoadingSpinner).props.label).toBe('Validate…');

      answer({ json: { ...busyPayload({ status: 'validating', statusLabel: 'Validating…' }), message: 'Validation queued' } });
      await waitForStatus(r, 'Validating…');
      // busy on the server: actions that start something wait, Refresh stays available
      expect(actionButton(r, REQUEST_VALIDATION.id).props.disabled).toBe(true);
      expect(actionButton(r, REFRESH.id).props.disabled).toBe(false);
      expect(r.findAll(LoadingSpinner).map((s) => s.props.label)).toContain('billwerk is working on this deal…');

      await waitForStatus(r, 'Valid');
      expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual([
        `GET ${CARD_URL}`,
        `POST ${CARD_URL}/request-validation`,
        `GET ${CARD_URL}`,
        `GET ${CARD_URL}`,
      ]);
      expect(r.maybeFind(LoadingSpinner)).toBeNull();
      expect(actionButton(r, CREATE_CONTRACT.id).props.disabled).toBe(false);
      // once after the POST, once when the run had written its properties
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(2);
    });

    it('polls a deal that is already busy when the card opens, and keeps going after a failed poll', async () => {
      const { calls } = mockBackend(
        { json: busyPayload() },
        { status: 503, json: { error: 'unavailable', message: 'Try again.' } },
        { json: appliedPayload() },
      );
      const r = setup();
      await waitForStatus(r, 'Creating contract…');
      expect(actionButton(r, CREATE_CONTRACT.id).props.disabled).toBe(true);

      await waitForStatus(r, 'Contract created');
      expect(calls).toEqual([GET, GET, GET]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(1);
    });

    it('stops polling after the limit and says so', async () => {
      const { calls } = mockBackend({ json: busyPayload() }, { json: busyPayload() }, { json: busyPayload() });
      const r = setup({ pollIntervalMs: 5, pollLimitMs: 0 });
      await waitForStatus(r, 'Creating contract…');

      await r.waitFor(() => expect(textOf(r, 'poll-gave-up')).toMatch(/use Refresh to look again/));
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(calls).toEqual([GET]);
    });

    it('action failed: the backend error as an alert and on the card, the buttons usable again', async () => {
      mockBackend(
        { json: validPayload() },
        { status: 409, json: { error: 'deal_outdated', message: 'The cart changed; validate the deal again first.' } },
      );
      const r = setup();
      await waitForStatus(r, 'Valid');

      actionButton(r, CREATE_CONTRACT.id).trigger('onClick');
      r.findByTestId(Button, 'confirm-yes').trigger('onClick');
      await r.waitFor(() => expect(r.mocks.actions.addAlert.callCount).toBe(1));

      expect(r.mocks.actions.addAlert.calls[0]).toEqual([
        { type: 'danger', title: CREATE_CONTRACT.label, message: 'The cart changed; validate the deal again first.' },
      ]);
      const failure = r.findByTestId(Alert, 'action-failure');
      expect(failure.props.title).toBe('Create contract failed');
      expect(failure.find(Text).text).toBe('The cart changed; validate the deal again first.');
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(0);
      await r.waitFor(() => expect(r.findByTestId(Button, 'confirm-yes').props.disabled).toBe(false));
      r.findByTestId(Button, 'confirm-cancel').trigger('onClick');
      expect(actionButton(r, CREATE_CONTRACT.id).props.disabled).toBe(false);
      expect(statusTag(r).text).toBe('Valid');
    });

    it('lists the recent runs and replays a failed one', async () => {
      const after = { ...busyPayload(), message: 'Replay queued' };
      const { calls } = mockBackend({ json: applyFailedPayload() }, { json: after }, { json: appliedPayload() });
      const r = setup();
      await waitForStatus(r, 'Contract creation failed');

      expect(statusTag(r).props.variant).toBe('danger');
      expect(textOf(r, 'apply-line')).toBe(`Contract: Failed – ${FAILED_RUN.message}`);
      const failedRow = r.findByTestId(TableRow, `run-${FAILED_RUN.id}`);
      expect(failedRow.find(StatusTag).text).toBe('Failed');
      expect(failedRow.find(StatusTag).props.variant).toBe('danger');
      expect(failedRow.findAll(Text).map((t) => t.text)).toEqual(['Contract creation', FAILED_RUN.message]);
      expect(r.findByTestId(TableRow, 'run-311').find(StatusTag).text).toBe('Succeeded');
      // only the failed run can be replayed
      expect(r.maybeFindByTestId(Button, 'replay-311')).toBeNull();

      r.findByTestId(Button, `replay-${FAILED_RUN.id}`).trigger('onClick');
      await waitForStatus(r, 'Contract created');

      expect(posted(calls)).toEqual([
        { url: `${CARD_URL}/replay`, method: 'POST', body: { runId: FAILED_RUN.id }, timeout: 30_000 },
      ]);
      expect(r.mocks.actions.addAlert.calls).toEqual([[{ type: 'success', message: 'Replay queued' }]]);
      expect(r.mocks.actions.refreshObjectProperties.callCount).toBe(2);
    });
  });
});
