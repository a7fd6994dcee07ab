import { useCallback, useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  ButtonRow,
  DescriptionList,
  DescriptionListItem,
  EmptyState,
  ErrorState,
  Flex,
  Input,
  Link,
  List,
  LoadingSpinner,
  StatusTag,
  Text,
  hubspot,
  useExtensionActions,
  useExtensionContext,
} from '@hubspot/ui-extensions';

import { errorMessage, fetchCompanyCard, runCompanyAction } from './lib/backend';
import { COMPANY_CARD_PROPERTIES, readRecordProperties } from './lib/properties';
import { formatTimestamp } from './lib/format';
import type {
  CardAction,
  CardBillwerkCustomer,
  CardEntity,
  CardLastSync,
  CardProblem,
  CompanyCardPayload,
} from './lib/types';

hubspot.extend<'crm.record.tab'>(() => <CompanyCard />);

type StatusTagVariant = 'success' | 'danger' | 'warning' | 'default';

const STATUS_TAG_VARIANTS: Readonly<Record<string, StatusTagVariant>> = {
  imported: 'success',
  linked: 'success',
  invalid: 'danger',
  pending: 'warning',
};

export const statusTagVariant = (status: string): StatusTagVariant =>
  STATUS_TAG_VARIANTS[status] ?? 'default';

const SYNC_STATUS_LABELS: Readonly<Record<string, string>> = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  running: 'Running',
  queued: 'Queued',
};

export const lastSyncLine = (lastSync: CardLastSync | null): string => {
  if (!lastSync) {
    return 'Last sync: never';
  }
  const status = SYNC_STATUS_LABELS[lastSync.status] ?? lastSync.status;
  const message = lastSync.message ? ` – ${lastSync.message}` : '';
  return `Last sync: ${status}, ${formatTimestamp(lastSync.at)}${message}`;
};

type LoadState =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'ready'; payload: CompanyCardPayload };

/** A second step before an action is posted: fill in its input, or confirm it. */
type PendingStep = { action: CardAction; value: string; showValidation: boolean };

export const CompanyCard = () => {
  const context = useExtensionContext<'crm.record.tab'>();
  const actions = useExtensionActions<'crm.record.tab'>();
  const objectId = String(context.crm.objectId);

  const [state, setState] = useState<LoadState>({ kind: 'loading' });
  const [pending, setPending] = useState<PendingStep | null>(null);
  const [busyActionId, setBusyActionId] = useState<string | null>(null);
  // Only the newest request may update the card (a slow GET must not overwrite an action's answer).
  const requestSeq = useRef(0);
  const mounted = useRef(true);
  // load must not change when HubSpot hands over a new actions object.
  const actionsRef = useRef(actions);
  actionsRef.current = actions;

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const load = useCallback(async () => {
    const seq = ++requestSeq.current;
    setState({ kind: 'loading' });
    try {
      // The company's properties as the record page has them: the backend need not read HubSpot.
      const properties = await readRecordProperties(
        (names) => actionsRef.current.fetchCrmObjectProperties(names),
        COMPANY_CARD_PROPERTIES,
        objectId,
      );
      const payload = await fetchCompanyCard(objectId, { properties });
      if (mounted.current && seq === requestSeq.current) {
        setState({ kind: 'ready', payload });
      }
    } catch (error) {
      if (mounted.current && seq === requestSeq.current) {
        setState({ kind: 'failed', message: errorMessage(error) });
      }
    }
  }, [objectId]);

  useEffect(() => {
    void load();
  }, [load]);

  const post = async (action: CardAction, body: Record<string, string>) => {
    const seq = ++requestSeq.current;
    setBusyActionId(action.id);
    try {
      const payload = await runCompanyAction(objectId, action.id, body);
      if (!mounted.current) {
        return;
      }
      if (seq === requestSeq.current) {
        setState({ kind: 'ready', payload });
      }
      setPending(null);
      actions.addAlert({ type: 'success', message: payload.message ?? `${action.label}: done.` });
      // The backend wrote billwerk_* properties on the company; let the record page show them.
      actions.refreshObjectProperties();
    } catch (error) {
      if (mounted.current) {
        actions.addAlert({ type: 'danger', title: action.label, message: errorMessage(error) });
      }
    } finally {
      if (mounted.current) {
        setBusyActionId(null);
      }
    }
  };

  const start = (action: CardAction) => {
    if (action.input || action.confirm) {
      setPending({ action, value: '', showValidation: false });
      return;
    }
    setPending(null);
    void post(action, {});
  };

  const submitPending = () => {
    if (!pending) {
      return;
    }
    const { action } = pending;
    if (action.input) {
      const value = pending.value.trim();
      if (value === '') {
        setPending({ ...pending, showValidation: true });
        return;
      }
      void post(action, { [action.input]: value });
      return;
    }
    void post(action, {});
  };

  if (state.kind === 'loading') {
    return <LoadingSpinner label="Loading billwerk data…" layout="centered" />;
  }

  if (state.kind === 'failed') {
    return (
      <ErrorState title="Could not load the billwerk data for this company">
        <Text>{state.message}</Text>
        <Button onClick={() => void load()}>Try again</Button>
      </ErrorState>
    );
  }

  const { payload } = state;
  const busy = busyActionId !== null;

  return (
    <Flex direction="column" gap="md">
      <Flex direction="row" gap="sm" align="center">
        <Text format={{ fontWeight: 'demibold' }}>billwerk status</Text>
        <StatusTag variant={statusTagVariant(payload.status)}>{payload.statusLabel}</StatusTag>
      </Flex>

      {payload.status === 'not_connected' ? (
        <NotConnected />
      ) : (
        <>
          <Details billwerk={payload.billwerk} entity={payload.entity} lastSync={payload.lastSync} />
          <Problems problems={payload.errors} />
        </>
      )}

      {pending && (
        <PendingStepView
          step={pending}
          busy={busy}
          onChange={(value) => setPending({ ...pending, value, showValidation: false })}
          onSubmit={submitPending}
          onCancel={() => setPending(null)}
        />
      )}

      {payload.actions.length > 0 && (
        <ButtonRow>
          {payload.actions.map((action, index) => (
            <Button
              key={action.id}
              testId={`action-${action.id}`}
              variant={index === 0 ? 'primary' : 'secondary'}
              disabled={busy || pending !== null}
              onClick={() => start(action)}
            >
              {action.label}
            </Button>
          ))}
        </ButtonRow>
      )}

      {busy && <LoadingSpinner label="Working…" size="xs" />}
    </Flex>
  );
};

const NotConnected = () => (
  <EmptyState title="billwerk is not connected yet" imageName="integrations" layout="vertical">
    <Text>
      This HubSpot account is not connected to a billwerk account. An admin must connect billwerk in
      the connector settings before companies can be imported to or linked with billwerk customers.
    </Text>
  </EmptyState>
);

const Details = ({
  billwerk,
  entity,
  lastSync,
}: {
  billwerk: CardBillwerkCustomer | null;
  entity: CardEntity | null;
  lastSync: CardLastSync | null;
}) => (
  <Flex direction="column" gap="xs">
    <DescriptionList direction="row">
      <DescriptionListItem label="billwerk customer">
        {billwerk ? (
          <Link href={billwerk.url} testId="billwerk-customer-link">
            {`${billwerk.customerName} (${billwerk.customerId})`}
          </Link>
        ) : (
          <Text>Not linked</Text>
        )}
      </DescriptionListItem>
      <DescriptionListItem label="Entity">
        <Text>{entity ? `${entity.name} (${entity.id})` : '–'}</Text>
      </DescriptionListItem>
    </DescriptionList>
    <Text variant="microcopy" testId="last-sync">
      {lastSyncLine(lastSync)}
    </Text>
  </Flex>
);

const Problems = ({ problems }: { problems: CardProblem[] }) => {
  if (problems.length === 0) {
    return null;
  }
  return (
    <Flex direction="column" gap="xs">
      <Alert title="Fix these in HubSpot before the company can go to billwerk" variant="danger" />
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

const PendingStepView = ({
  step,
  busy,
  onChange,
  onSubmit,
  onCancel,
}: {
  step: PendingStep;
  busy: boolean;
  onChange: (value: string) => void;
  onSubmit: () => void;
  onCancel: () => void;
}) => {
  const { action } = step;
  return (
    <Flex direction="column" gap="sm">
      {action.confirm && (
        <Alert title="Please confirm" variant="warning">
          <Text testId="confirm-question">{action.confirm}</Text>
        </Alert>
      )}
      {action.input && (
        <Input
          name={action.input}
          label={inputLabel(action.input)}
          required
          value={step.value}
          onInput={onChange}
          onChange={onChange}
          error={step.showValidation}
          validationMessage={step.showValidation ? `Enter the ${inputLabel(action.input)}.` : undefined}
        />
      )}
      <ButtonRow>
        <Button
          testId="pending-submit"
          variant={action.input ? 'primary' : 'destructive'}
          disabled={busy}
          onClick={onSubmit}
        >
          {action.input ? action.label : `Yes, ${lowerFirst(action.label)}`}
        </Button>
        <Button testId="pending-cancel" variant="secondary" disabled={busy} onClick={onCancel}>
          Cancel
        </Button>
      </ButtonRow>
    </Flex>
  );
};

const INPUT_LABELS: Readonly<Record<string, string>> = {
  billwerkCustomerId: 'billwerk customer ID',
};

const inputLabel = (input: string): string => INPUT_LABELS[input] ?? input;

const lowerFirst = (text: string): string => text.charAt(0).toLowerCase() + text.slice(1);
