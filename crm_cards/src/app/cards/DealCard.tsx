import { useCallback, useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  ButtonRow,
  DescriptionList,
  DescriptionListItem,
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  Link,
  List,
  LoadingSpinner,
  StatusTag,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
  hubspot,
  useExtensionActions,
  useExtensionContext,
} from '@hubspot/ui-extensions';

import { errorMessage, fetchDealCard, runDealAction } from './lib/backend';
import { DEAL_CARD_PROPERTIES, readRecordProperties } from './lib/properties';
import type {
  BillingHealth,
  CardRun,
  ContractSnapshot,
  DealCardPayload,
  DealCardState,
  DealPreview,
  PreviewLine,
  RecurringFee,
  UpgradeComparison,
} from './lib/deal-types';
import { formatDate, formatDifference, formatMoney, formatTimestamp, periodNoun } from './lib/format';
import type { CardAction, CardProblem } from './lib/types';

hubspot.extend<'crm.record.tab'>(() => <DealCard />);

/** How often the card asks again while a run for the deal is queued or running. */
export const POLL_INTERVAL_MS = 3_000;
/** After this long the card stops asking by itself; Refresh asks again. */
export const POLL_LIMIT_MS = 5 * 60_000;
/**
 * Deal properties whose change (by the rep on the record, or by a flow) changes what the card
 * shows. `amount` follows the line items, so it also stands for a changed cart.
 */
export const WATCHED_PROPERTIES = [
  'dealstage',
  'pipeline',
  'closedate',
  'amount',
  'billwerk_deal_type',
  'billwerk_validation',
  'billwerk_apply_changes',
  'billwerk_entity',
  'billwerk_start_date',
  'billwerk_payment_term_days',
  'billwerk_upgrade_deal',
  'billwerk_contract_id',
  'billwerk_sync_stopped',
];

type TagVariant = 'success' | 'danger' | 'warning' | 'info' | 'default';

const STATUS_TAG_VARIANTS: Readonly<Record<string, TagVariant>> = {
  valid: 'success',
  applied: 'success',
  invalid: 'danger',
  apply_failed: 'danger',
  outdated: 'warning',
  validating: 'warning',
  applying: 'warning',
  sync_stopped: 'info',
};

export const dealStatusVariant = (status: string): TagVariant => STATUS_TAG_VARIANTS[status] ?? 'default';

const RUN_TAG_VARIANTS: Readonly<Record<string, TagVariant>> = {
  succeeded: 'success',
  failed: 'danger',
  interrupted: 'danger',
  running: 'warning',
  queued: 'warning',
};

const RUN_STATUS_LABELS: Readonly<Record<string, string>> = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  interrupted: 'Interrupted',
  running: 'Running',
  queued: 'Queued',
  skipped: 'Nothing to do',
};

type LoadState =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'ready'; payload: DealCardPayload };

/** What the card is posting: an action of the deal, or the replay of one run. */
type Posting = { key: string; label: string };

export interface DealCardProps {
  pollIntervalMs?: number;
  pollLimitMs?: number;
}

export const DealCard = ({
  pollIntervalMs = POLL_INTERVAL_MS,
  pollLimitMs = POLL_LIMIT_MS,
}: DealCardProps) => {
  const context = useExtensionContext<'crm.record.tab'>();
  const actions = useExtensionActions<'crm.record.tab'>();
  const objectId = String(context.crm.objectId);

  const [state, setState] = useState<LoadState>({ kind: 'loading' });
  const [confirming, setConfirming] = useState<CardAction | null>(null);
  const [posting, setPosting] = useState<Posting | null>(null);
  const [failure, setFailure] = useState<{ label: string; message: string } | null>(null);
  const [pollTick, setPollTick] = useState(0);
  const [pollGaveUp, setPollGaveUp] = useState(false);
  // Only the newest request may update the card (a slow poll must not overwrite an action's answer).
  const requestSeq = useRef(0);
  const mounted = useRef(true);
  // Set while the card waits for a run; when the run ends its properties are on the record.
  const pollingSince = useRef<number | null>(null);
  // The effects below must not restart when HubSpot hands over a new actions object.
  const actionsRef = useRef(actions);
  actionsRef.current = actions;

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  // A view sends the deal's properties as the record page has them, so the backend answers from
  // its database alone. Polls while a run is under way do not: the run writes the deal in
  // HubSpot, and the page learns of it only later, so the backend reads the deal itself.
  const view = useCallback(async () => {
    const properties = await readRecordProperties(
      (names) => actionsRef.current.fetchCrmObjectProperties(names),
      DEAL_CARD_PROPERTIES,
      objectId,
    );
    return fetchDealCard(objectId, { properties });
  }, [objectId]);

  const load = useCallback(async () => {
    const seq = ++requestSeq.current;
    setState({ kind: 'loading' });
    try {
      const payload = await view();
      if (mounted.current && seq === requestSeq.current) {
        setState({ kind: 'ready', payload });
      }
    } catch (error) {
      if (mounted.current && seq === requestSeq.current) {
        setState({ kind: 'failed', message: errorMessage(error) });
      }
    }
  }, [view]);

  useEffect(() => {
    void load();
  }, [load]);

  // Reloads without the spinner, keeping what the card shows if the backend does not answer.
  const quietReloading = useRef(false);
  const reloadQuietly = useRef<() => Promise<void>>(async () => undefined);
  reloadQuietly.current = async () => {
    if (quietReloading.current) {
      return;
    }
    quietReloading.current = true;
    const seq = ++requestSeq.current;
    try {
      const payload = await view();
      if (mounted.current && seq === requestSeq.current) {
        setState({ kind: 'ready', payload });
      }
    } catch {
      // the next change or Refresh asks again
    } finally {
      quietReloading.current = false;
    }
  };

  // HubSpot offers no way to unsubscribe: subscribe once per card.
  const watching = useRef(false);
  useEffect(() => {
    if (watching.current) {
      return;
    }
    watching.current = true;
    actionsRef.current.onCrmPropertiesUpdate(WATCHED_PROPERTIES, (_properties, error) => {
      if (!error && mounted.current) {
        void reloadQuietly.current();
      }
    });
  }, []);

  const busyOnServer = state.kind === 'ready' && state.payload.busy;

  useEffect(() => {
    if (!busyOnServer) {
      if (pollingSince.current !== null) {
        pollingSince.current = null;
        // The run wrote billwerk_* properties on the deal; let the record page show them.
        actionsRef.current.refreshObjectProperties();
      }
      return undefined;
    }
    if (pollingSince.current === null) {
      pollingSince.current = Date.now();
      setPollGaveUp(false);
    }
    if (Date.now() - pollingSince.current >= pollLimitMs) {
      setPollGaveUp(true);
      return undefined;
    }
    const timer = setTimeout(() => {
      const seq = ++requestSeq.current;
      fetchDealCard(objectId).then(
        (payload) => {
          if (mounted.current && seq === requestSeq.current) {
            setState({ kind: 'ready', payload });
          }
        },
        // A failed poll keeps what the card shows; the next tick asks again.
        () => undefined,
      ).finally(() => {
        if (mounted.current) {
          setPollTick((tick) => tick + 1);
        }
      });
    }, pollIntervalMs);
    return () => clearTimeout(timer);
  }, [busyOnServer, pollTick, objectId, pollIntervalMs, pollLimitMs]);

  const post = async (posted: Posting, actionId: string, body: Record<string, string>) => {
    const seq = ++requestSeq.current;
    setPosting(posted);
    setFailure(null);
    try {
      const payload = await runDealAction(objectId, actionId, body);
      if (!mounted.current) {
        return;
      }
      if (seq === requestSeq.current) {
        setState({ kind: 'ready', payload });
      }
      setConfirming(null);
      actions.addAlert({ type: 'success', message: payload.message ?? `${posted.label}: done.` });
      actions.refreshObjectProperties();
    } catch (error) {
      if (mounted.current) {
        const message = errorMessage(error);
        setFailure({ label: posted.label, message });
        actions.addAlert({ type: 'danger', title: posted.label, message });
      }
    } finally {
      if (mounted.current) {
        setPosting(null);
      }
    }
  };

  const start = (action: CardAction) => {
    if (action.confirm) {
      setConfirming(action);
      return;
    }
    setConfirming(null);
    void post({ key: action.id, label: action.label }, action.id, {});
  };

  const replay = (run: CardRun) =>
    void post({ key: `replay-${run.id}`, label: `Replay ${run.label}` }, 'replay', { runId: run.id });

  if (state.kind === 'loading') {
    return <LoadingSpinner label="Loading billwerk data…" layout="centered" />;
  }

  if (state.kind === 'failed') {
    return (
      <ErrorState title="Could not load the billwerk data for this deal">
        <Text>{state.message}</Text>
        <Button onClick={() => void load()}>Try again</Button>
      </ErrorState>
    );
  }

  const { payload } = state;
  const locked = posting !== null || payload.busy;

  return (
    <Flex direction="column" gap="md">
      <StatusLine payload={payload} />

      {payload.status === 'not_connected' ? (
        <NotConnected />
      ) : (
        <>
          <DealDetails payload={payload} />
          {payload.status === 'no_cart' && <NoCart />}
          <Problems problems={payload.problems} />
          {payload.upgrade && <Upgrade upgrade={payload.upgrade} currency={payload.preview?.currency ?? payload.billing?.currency ?? null} />}
          {payload.preview && <Preview preview={payload.preview} />}
          {payload.billing && <Billing billing={payload.billing} />}
        </>
      )}

      {payload.busy && (
        <Flex direction="column" gap="xs">
          <LoadingSpinner label="billwerk is working on this deal…" size="xs" />
          {pollGaveUp && (
            <Text variant="microcopy" testId="poll-gave-up">
              This takes longer than usual. The card stopped checking; use Refresh to look again.
            </Text>
          )}
        </Flex>
      )}

      {failure && (
        <Alert title={`${failure.label} failed`} variant="danger" testId="action-failure">
          <Text>{failure.message}</Text>
        </Alert>
      )}

      {confirming && (
        <Confirm
          action={confirming}
          busy={posting !== null}
          onConfirm={() => void post({ key: confirming.id, label: confirming.label }, confirming.id, {})}
          onCancel={() => setConfirming(null)}
        />
      )}

      {payload.actions.length > 0 && (
        <ButtonRow>
          {payload.actions.map((action, index) => (
            <Button
              key={action.id}
              testId={`action-${action.id}`}
              variant={index === 0 ? 'primary' : 'secondary'}
              // Refresh stays usable while a run is busy: it is how a rep looks again.
              disabled={posting !== null || confirming !== null || (payload.busy && action.id !== 'refresh')}
              onClick={() => start(action)}
            >
              {action.label}
            </Button>
          ))}
        </ButtonRow>
      )}

      {posting && <LoadingSpinner label={`${posting.label}…`} size="xs" />}

      <Runs runs={payload.runs} locked={locked} onReplay={replay} />
    </Flex>
  );
};

const stateLine = (title: string, state: DealCardState): string | null => {
  if (!state.state && !state.label && !state.message) {
    return null;
  }
  const label = state.label || state.state || '';
  return state.message ? `${title}: ${label} – ${state.message}` : `${title}: ${label}`;
};

const StatusLine = ({ payload }: { payload: DealCardPayload }) => {
  const validation = stateLine('Validation', payload.validation);
  const apply = stateLine('Contract', payload.apply);
  return (
    <Flex direction="column" gap="xs">
      <Flex direction="row" gap="sm" align="center">
        <Text format={{ fontWeight: 'demibold' }}>billwerk status</Text>
        <StatusTag variant={dealStatusVariant(payload.status)}>{payload.statusLabel}</StatusTag>
      </Flex>
      {validation && <Text testId="validation-line">{validation}</Text>}
      {apply && <Text testId="apply-line">{apply}</Text>}
      {payload.syncStopped && (
        <Alert title="Sync stopped" variant="info" testId="sync-stopped">
          <Text>
            The contract moved to the up-/downgrade deal made from this deal. This deal keeps what it
            showed last and receives no more contract updates.
          </Text>
        </Alert>
      )}
    </Flex>
  );
};

const NotConnected = () => (
  <EmptyState title="billwerk is not connected yet" imageName="integrations" layout="vertical">
    <Text>
      This HubSpot account is not connected to a billwerk account. An admin must connect billwerk in
      the connector settings before deals can be validated or turned into contracts.
    </Text>
  </EmptyState>
);

const NoCart = () => (
  <EmptyState title="No billwerk products on this deal" imageName="productsShoppingCart" layout="vertical">
    <Text testId="no-cart">
      Add line items whose products come from billwerk: exactly one plan variant, and any components
      and discounts. Then validate the deal to see what the customer will pay.
    </Text>
  </EmptyState>
);

const DealDetails = ({ payload }: { payload: DealCardPayload }) => {
  const { deal, company, entity } = payload;
  return (
    <DescriptionList direction="row">
      <DescriptionListItem label="Deal type">
        <Text>{deal.typeLabel || '–'}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Entity">
        <Text>{entity ? `${entity.name} (${entity.id})` : '–'}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Company">
        {company ? (
          <Flex direction="column" gap="flush">
            <Link href={company.url} testId="company-link">
              {company.name}
            </Link>
            {company.billwerkCustomerId && company.customerUrl ? (
              <Link href={company.customerUrl} testId="company-customer-link">
                {`billwerk customer ${company.billwerkCustomerId}`}
              </Link>
            ) : (
              <Text variant="microcopy">No billwerk customer linked yet</Text>
            )}
          </Flex>
        ) : (
          <Text>No company associated</Text>
        )}
      </DescriptionListItem>
      {deal.originDealId && (
        <DescriptionListItem label="Up-/downgrade of">
          {deal.originDealUrl ? (
            <Link href={deal.originDealUrl} testId="origin-deal-link">
              {`Deal ${deal.originDealId}`}
            </Link>
          ) : (
            <Text>{`Deal ${deal.originDealId}`}</Text>
          )}
        </DescriptionListItem>
      )}
    </DescriptionList>
  );
};

const Problems = ({ problems }: { problems: CardProblem[] }) => {
  if (problems.length === 0) {
    return null;
  }
  return (
    <Flex direction="column" gap="xs">
      <Alert title="Fix these in HubSpot before the deal can go to billwerk" variant="danger" />
      <List variant="unordered-styled">
        {problems.map((problem, index) => (
          <Text key={`${problem.field}-${index}`} testId={`problem-${index}`}>
            {`${problem.message} `}
            <Link href={problem.url}>Open in HubSpot</Link>
          </Text>
        ))}
      </List>
    </Flex>
  );
};

const perPeriod = (period: string | null): string => (period ? ` / ${periodNoun(period)}` : '');

const feeLine = (fee: RecurringFee, currency: string): string => {
  const label = fee.label || `per ${periodNoun(fee.period)}`;
  const gross = fee.gross === null ? '' : ` (${formatMoney(fee.gross, currency)} gross)`;
  return `${formatMoney(fee.net, currency)} net ${label}${gross}`;
};

const Preview = ({ preview }: { preview: DealPreview }) => {
  const { currency } = preview;
  return (
    <Flex direction="column" gap="sm">
      <Divider />
      <Heading>{preview.outdated ? 'What the customer would pay (outdated)' : 'What the customer will pay'}</Heading>
      {preview.outdated && (
        <Alert title="Outdated" variant="warning" testId="preview-outdated">
          <Text>
            The cart or its inputs changed after this preview, so these figures may be wrong. Validate
            the deal again before creating the contract.
          </Text>
        </Alert>
      )}
      <Text variant="microcopy" testId="preview-at">{`billwerk preview of ${formatTimestamp(preview.at)}`}</Text>
      <Table bordered flush testId="preview-table">
        <TableHead>
          <TableRow>
            <TableHeader>Line</TableHeader>
            <TableHeader align="right">Quantity</TableHeader>
            <TableHeader align="right">billwerk price</TableHeader>
            <TableHeader align="right">Total</TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {preview.lines.map((line: PreviewLine, index: number) => (
            <TableRow key={`${line.description}-${index}`} testId={`preview-line-${index}`}>
              <TableCell>{line.description}</TableCell>
              <TableCell align="right">{String(line.quantity)}</TableCell>
              <TableCell align="right">{`${formatMoney(line.unitPrice, currency)}${perPeriod(line.period)}`}</TableCell>
              <TableCell align="right">{formatMoney(line.total, currency)}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <DescriptionList direction="row">
        <DescriptionListItem label="First invoice net">
          <Text testId="first-invoice-net">{formatMoney(preview.firstInvoice.net, currency)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="VAT">
          <Text testId="first-invoice-vat">{formatMoney(preview.firstInvoice.vat, currency)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="First invoice gross">
          <Text testId="first-invoice-gross">{formatMoney(preview.firstInvoice.gross, currency)}</Text>
        </DescriptionListItem>
      </DescriptionList>
      {preview.recurring.length > 0 && (
        <Flex direction="column" gap="flush">
          <Text format={{ fontWeight: 'demibold' }}>Recurring fee</Text>
          {preview.recurring.map((fee, index) => (
            <Text key={`${fee.period}-${index}`} testId={`recurring-${index}`}>
              {feeLine(fee, currency)}
            </Text>
          ))}
        </Flex>
      )}
      {preview.nextTotalGross !== null && (
        <Text testId="next-invoice">
          {`Next invoice: ${formatMoney(preview.nextTotalGross, currency)} gross${
            preview.nextTotalGrossDate ? ` on ${formatDate(preview.nextTotalGrossDate)}` : ''
          }`}
        </Text>
      )}
      {preview.warnings.length > 0 && (
        <Alert title="Check before creating the contract" variant="warning" testId="preview-warnings">
          <List variant="unordered-styled">
            {preview.warnings.map((warning, index) => (
              <Text key={`${warning}-${index}`} testId={`warning-${index}`}>
                {warning}
              </Text>
            ))}
          </List>
        </Alert>
      )}
    </Flex>
  );
};

const componentsText = (snapshot: ContractSnapshot): string =>
  snapshot.components.length === 0
    ? 'none'
    : snapshot.components.map((component) => `${component.name} × ${component.quantity}`).join(', ');

const feesText = (snapshot: ContractSnapshot, currency: string | null): string =>
  snapshot.recurring.length === 0
    ? '–'
    : snapshot.recurring
        .map((fee) => `${formatMoney(fee.net, currency)} ${fee.label || `per ${periodNoun(fee.period)}`}`)
        .join(', ');

const Upgrade = ({ upgrade, currency }: { upgrade: UpgradeComparison; currency: string | null }) => {
  const rows: Array<[string, string, string]> = [
    ['Plan variant', upgrade.before.planVariant, upgrade.after.planVariant],
    ['Components', componentsText(upgrade.before), componentsText(upgrade.after)],
    ['Recurring fee (net)', feesText(upgrade.before, currency), feesText(upgrade.after, currency)],
  ];
  const periodLabel = upgrade.periodLabel || `per ${periodNoun(upgrade.period)}`;
  return (
    <Flex direction="column" gap="sm">
      <Divider />
      <Heading>Up-/downgrade: before and after</Heading>
      <Table bordered flush testId="upgrade-table">
        <TableHead>
          <TableRow>
            <TableHeader> </TableHeader>
            <TableHeader>Today</TableHeader>
            <TableHeader>After the change</TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {rows.map(([label, before, after]) => (
            <TableRow key={label} testId={`upgrade-${label}`}>
              <TableCell>{label}</TableCell>
              <TableCell>{before}</TableCell>
              <TableCell>{after}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Text testId="upgrade-difference">
        {`Difference: ${formatDifference(upgrade.differencePerPeriod, currency)} net ${periodLabel}`}
      </Text>
    </Flex>
  );
};

const Billing = ({ billing }: { billing: BillingHealth }) => {
  const payment = [billing.paymentProvider, billing.paymentMethod].filter(Boolean).join(' / ');
  return (
    <Flex direction="column" gap="sm">
      <Divider />
      <Flex direction="row" gap="sm" align="center">
        <Heading inline>Billing</Heading>
        {billing.paymentEscalated && (
          <StatusTag variant="danger" testId="payment-escalated">
            Payment escalated
          </StatusTag>
        )}
      </Flex>
      <DescriptionList direction="row">
        <DescriptionListItem label="Lifecycle">
          <Text testId="billing-lifecycle">{billing.lifecycleStatus ?? '–'}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Balance">
          <Text testId="billing-balance">{formatMoney(billing.balance, billing.currency)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Billed until">
          <Text testId="billing-billed-until">{formatDate(billing.billedUntil)}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="End date">
          <Text testId="billing-end-date">{billing.endDate ? formatDate(billing.endDate) : 'Not ending'}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Payment">
          <Text testId="billing-payment">{payment || '–'}</Text>
        </DescriptionListItem>
        <DescriptionListItem label="Last invoice">
          <Text testId="billing-last-invoice">{billing.lastInvoiceId ?? '–'}</Text>
        </DescriptionListItem>
      </DescriptionList>
      <Flex direction="row" gap="md">
        <Link href={billing.contractUrl} testId="contract-link">
          {`Contract ${billing.contractId} in billwerk`}
        </Link>
        {billing.customerUrl && (
          <Link href={billing.customerUrl} testId="customer-link">
            {billing.customerId ? `Customer ${billing.customerId} in billwerk` : 'Customer in billwerk'}
          </Link>
        )}
      </Flex>
      {billing.updatedAt && (
        <Text variant="microcopy" testId="billing-updated">{`Read from billwerk ${formatTimestamp(billing.updatedAt)}`}</Text>
      )}
    </Flex>
  );
};

const Runs = ({
  runs,
  locked,
  onReplay,
}: {
  runs: CardRun[];
  locked: boolean;
  onReplay: (run: CardRun) => void;
}) => {
  if (runs.length === 0) {
    return null;
  }
  return (
    <Flex direction="column" gap="sm">
      <Divider />
      <Heading>Recent runs</Heading>
      <Table bordered flush density="condensed" testId="runs-table">
        <TableHead>
          <TableRow>
            <TableHeader>Run</TableHeader>
            <TableHeader>Outcome</TableHeader>
            <TableHeader>When</TableHeader>
            <TableHeader> </TableHeader>
          </TableRow>
        </TableHead>
        <TableBody>
          {runs.map((run) => (
            <TableRow key={run.id} testId={`run-${run.id}`}>
              <TableCell>
                <Text>{run.label}</Text>
                {run.message && <Text variant="microcopy">{run.message}</Text>}
              </TableCell>
              <TableCell>
                <StatusTag variant={RUN_TAG_VARIANTS[run.status] ?? 'default'}>
                  {RUN_STATUS_LABELS[run.status] ?? run.status}
                </StatusTag>
              </TableCell>
              <TableCell>{formatTimestamp(run.at)}</TableCell>
              <TableCell>
                {run.replayable && (
                  <Button size="xs" testId={`replay-${run.id}`} disabled={locked} onClick={() => onReplay(run)}>
                    Replay
                  </Button>
                )}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Flex>
  );
};

const Confirm = ({
  action,
  busy,
  onConfirm,
  onCancel,
}: {
  action: CardAction;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) => (
  <Flex direction="column" gap="sm">
    <Alert title="Please confirm" variant="warning">
      <Text testId="confirm-question">{action.confirm}</Text>
    </Alert>
    <ButtonRow>
      <Button testId="confirm-yes" variant="primary" disabled={busy} onClick={onConfirm}>
        {`Yes, ${lowerFirst(action.label)}`}
      </Button>
      <Button testId="confirm-cancel" variant="secondary" disabled={busy} onClick={onCancel}>
        Cancel
      </Button>
    </ButtonRow>
  </Flex>
);

const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1);
