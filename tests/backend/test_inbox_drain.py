"""Issue 12: billwerk hooks are worked off by a drain job, a chunk at a time — one job for a storm,
none lost when a row arrives while a drain works, a lost drain swept up, a bad row failing alone —
and a batch of contract runs takes its members' jobs off the queue."""
import random

import pytest
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from backend.extensions import db
from backend.flows import contract_updates
from backend.jobs import get_queue, inbox
from backend.jobs.inbox import drain_inbox, process_inbox_event, sweep_inbox
from backend.jobs.leases import Lease
from backend.models import ContractLink, ContractState, InboxEvent, SyncRun
from tests.helpers import ROOT_ENTITY, basic, body, connected_portal

BW_PATH = "/api/webhook/billwerk/events"
USER, PASSWORD = "hubwerk-drain", "pw-drain-" + "x" * 20
CONTRACTS = ["c" * 23 + str(i) for i in range(3)]


@pytest.fixture
def held(ctx):
    portal, account = connected_portal(username=USER, password=PASSWORD)
    db.session.add_all(ContractLink(portal_id=portal.id, entity_id=ROOT_ENTITY, hubspot_deal_id=str(900 + i),
                                    billwerk_contract_id=contract_id) for i, contract_id in enumerate(CONTRACTS))
    db.session.commit()
    return portal


def hook(event: str, contract_id: str, **extra) -> dict:
    return {"Event": event, "EntityId": ROOT_ENTITY, "ContractId": contract_id, **extra}


def send(client, payload: dict, **headers):
    answer = client.post(BW_PATH, data=body(payload), headers=basic(USER, PASSWORD) | headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["inbox_id"]


def burst(contract_id: str, n: int = 10) -> list[dict]:
    kinds = ["ContractChanged", "PaymentEscalated", "InvoiceCreated", "PaymentEscalationReset", "ContractDataChanged"]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out.append(hook(kind, contract_id, **({"InvoiceId": f"{i:024x}"} if kind == "InvoiceCreated" else {})))
    return out


def rows():
    db.session.expire_all()
    return db.session.execute(db.select(InboxEvent).order_by(InboxEvent.id)).scalars().all()


def work_default(redis):
    SimpleWorker([get_queue("high"), get_queue("default")], connection=redis).work(burst=True)


@pytest.fixture
def batch_only(monkeypatch):
    """The drain must work its chunks through the batch handler: falling back row by row fails the test."""
    def row_by_row(inbox_id):
        raise AssertionError(f"row {inbox_id} was worked alone: the batch path failed")

    monkeypatch.setattr(inbox, "process_inbox_event", row_by_row)


def test_a_storm_of_hooks_is_one_drain_job_and_one_run_per_contract(held, client, redis, batch_only):
    for contract_id in CONTRACTS:
        for payload in burst(contract_id):
            send(client, payload)
    assert get_queue("default").count == 1          # one drain for 30 hooks, not 30 jobs
    work_default(redis)
    assert {r.status for r in rows()} == {"processed"}
    runs = db.session.execute(db.select(SyncRun).where(SyncRun.flow == contract_updates.FLOW)).scalars().all()
    assert sorted(r.object_id for r in runs) == sorted(CONTRACTS) and {r.status for r in runs} == {"queued"}
    states = ContractState.for_contracts(held.id, CONTRACTS)
    assert all(s.escalated_at and s.reset_at and s.invoice_hint == f"{7:024x}" for s in states.values())


def test_a_chunk_notes_the_same_facts_as_hooks_one_by_one(held, client, redis, monkeypatch):
    """The batched path and the single-hook path give the same contract state, whatever the order."""
    payloads = burst(CONTRACTS[0], 20)
    random.Random(7).shuffle(payloads)
    ids = [send(client, p, **({"X-Retry-Count": str(i % 3)} if i % 4 == 0 else {})) for i, p in enumerate(payloads)]
    for event_id in ids:                         # one by one, as before the drain
        assert process_inbox_event(event_id) == "processed"
    single = ContractState.for_contracts(held.id, [CONTRACTS[0]])[CONTRACTS[0]]
    one_by_one = (single.escalated_at, single.reset_at, single.invoice_hint)
    db.session.execute(db.delete(ContractState))
    db.session.execute(db.update(InboxEvent).values(status="received", processed_at=None))
    db.session.commit()
    monkeypatch.setattr(inbox, "process_inbox_event", lambda inbox_id: pytest.fail("the batch path failed"))
    drain_inbox("billwerk_webhook")
    db.session.expire_all()
    batched = ContractState.for_contracts(held.id, [CONTRACTS[0]])[CONTRACTS[0]]
    assert (batched.escalated_at, batched.reset_at, batched.invoice_hint) == one_by_one
    assert {r.status for r in rows()} == {"processed"}


def test_a_hook_stored_while_a_drain_works_gets_the_next_drain(held, client, redis, monkeypatch):
    """The hardest moment: a hook stored after the drain's last look at the inbox, before it lets go."""
    send(client, hook("ContractChanged", CONTRACTS[0]))
    late: list[int] = []

    class LateArrival(Lease):
        def release(self):
            if not late:
                late.append(send(client, hook("ContractChanged", CONTRACTS[1])))
            super().release()

    monkeypatch.setattr(inbox, "Lease", LateArrival)
    work_default(redis)
    assert late and [r.status for r in rows()] == ["processed", "processed"]


def test_unknown_contracts_and_bad_ids_are_ignored_with_the_reason(held, client, redis):
    send(client, hook("ContractChanged", "d" * 24))
    send(client, hook("InvoiceCreated", CONTRACTS[0], InvoiceId="not-an-id"))
    send(client, {"Event": "CustomerChanged", "EntityId": ROOT_ENTITY, "CustomerId": "e" * 24})
    work_default(redis)
    statuses = [(r.status, r.error) for r in rows()]
    assert statuses[0] == ("ignored", f"No deal holds billwerk contract {'d' * 24}; nothing to update.")
    assert statuses[1][0] == "ignored" and "not a billwerk id" in statuses[1][1]
    assert statuses[2][0] == "ignored" and "No handler for billwerk CustomerChanged" in statuses[2][1]


def test_one_bad_row_fails_alone(held, client, redis, monkeypatch):
    ids = [send(client, hook("ContractChanged", c)) for c in CONTRACTS]

    real = contract_updates.on_contract_event

    def one_bad(account, payload, event):
        if payload["ContractId"] == CONTRACTS[1]:
            raise ValueError("this one is bad")
        return real(account, payload, event)

    from backend.flows import billwerk_events
    monkeypatch.setitem(billwerk_events.EVENT_HANDLERS, "ContractChanged", one_bad)
    work_default(redis)
    by_id = {r.id: r for r in rows()}
    assert [by_id[i].status for i in ids] == ["processed", "failed", "processed"]
    assert "this one is bad" in by_id[ids[1]].error


def test_a_failing_batch_is_worked_row_by_row(held, client, redis, monkeypatch, caplog):
    ids = [send(client, hook("ContractChanged", c)) for c in CONTRACTS]
    real = contract_updates.on_contract_events

    def fails_for_a_chunk(account, items):
        if len(items) > 1:
            raise RuntimeError("the batch broke")
        return real(account, items)

    monkeypatch.setattr(contract_updates, "on_contract_events", fails_for_a_chunk)
    work_default(redis)
    by_id = {r.id: r for r in rows()}
    assert [by_id[i].status for i in ids] == ["processed"] * 3
    assert any(r.message == "inbox.batch.failed" for r in caplog.records)


def test_a_drain_hands_the_worker_back_and_queues_the_rest(held, client, redis, monkeypatch):
    monkeypatch.setattr(inbox, "DRAIN_CHUNK", 4)
    for payload in burst(CONTRACTS[0]):
        send(client, payload)
    redis.delete(inbox._drain_flag("billwerk_webhook"))
    counts = drain_inbox("billwerk_webhook", budget_s=0)
    assert counts == {"processed": 4}
    assert [r.status for r in rows()].count("received") == 6
    assert get_queue("default").count == 2          # the drain asked for by the hooks, and its successor
    work_default(redis)
    assert {r.status for r in rows()} == {"processed"}


def test_a_busy_drain_comes_back_in_a_second(held, client, redis):
    send(client, hook("ContractChanged", CONTRACTS[0]))
    other = Lease(redis, inbox._drain_lease("billwerk_webhook"), owner="inbox-drain")
    assert other.acquire()
    try:
        assert drain_inbox("billwerk_webhook") == {"busy": True}
        assert len(ScheduledJobRegistry(queue=get_queue("default")).get_job_ids()) == 1
        assert redis.exists(inbox._drain_flag("billwerk_webhook"))   # no new drains meanwhile
        assert sweep_inbox(older_than_s=0)["requeued"] == 0          # one is at work
    finally:
        other.release()
    assert rows()[0].status == "received"


def test_a_lost_drain_is_swept_up(held, client, redis):
    event_id = send(client, hook("ContractChanged", CONTRACTS[0]))
    get_queue("default").empty()                    # the drain job was lost …
    redis.delete(inbox._drain_flag("billwerk_webhook"))   # … and its flag expired
    assert sweep_inbox(older_than_s=0)["requeued"] == 1
    assert sweep_inbox(older_than_s=0)["requeued"] == 0  # one is waiting
    work_default(redis)
    assert db.session.get(InboxEvent, event_id).status == "processed"


def test_a_replayed_billwerk_row_is_drained(held, client, redis):
    event_id = send(client, hook("ContractChanged", CONTRACTS[0]))
    work_default(redis)
    row = db.session.get(InboxEvent, event_id)
    row.mark("failed", "as if it had failed")
    db.session.commit()
    inbox.replay_inbox_event(row)
    work_default(redis)
    assert db.session.get(InboxEvent, event_id).status == "processed"


def test_a_batch_takes_its_members_jobs_off_the_queue(held, redis, monkeypatch):
    """A contract run that takes 99 others along leaves no job behind for the worker to fork for."""
    executed: list[str] = []
    monkeypatch.setattr(contract_updates, "update_contracts",
                        lambda portal, account, hubspot, ids: executed.extend(ids) or
                        {c: contract_updates.Outcome.ok(unchanged=1) for c in ids})
    monkeypatch.setattr(contract_updates, "portal_context", lambda run, why: (held, None, None))
    for contract_id in CONTRACTS:
        contract_updates.start_run(contract_updates.FLOW, portal_id=held.id, object_type="contract",
                                   object_id=contract_id, queue="low")
    low = get_queue("low")
    assert low.count == 3
    worker = SimpleWorker([low], connection=redis)
    worker.work(burst=True, max_jobs=1)
    assert sorted(executed) == sorted(CONTRACTS)
    assert low.count == 0                           # the members' jobs are gone, not left to find their runs done
    runs = db.session.execute(db.select(SyncRun)).scalars().all()
    assert {r.status for r in runs} == {"succeeded"}


def test_the_waiting_rows_query_has_its_index(held):
    from sqlalchemy import inspect

    names = {ix["name"] for ix in inspect(db.engine).get_indexes("inbox_events")}
    assert "ix_inbox_events_waiting" in names



def test_a_drain_whose_process_died_is_taken_over_once_its_lease_lapses(held, client, redis):
    """kill -9 of the worker in the middle of a drain: the rows it had not marked are still
    ``received``; its lease lapses (nobody renews it) and the sweep queues a new drain."""
    event_id = send(client, hook("PaymentEscalated", CONTRACTS[0]))
    get_queue("default").empty()
    redis.delete(inbox._drain_flag("billwerk_webhook"))       # the dead drain had cleared it
    redis.set(inbox._drain_lease("billwerk_webhook"), "inbox-drain:dead", px=60_000)   # and held the lease
    assert sweep_inbox(older_than_s=0)["requeued"] == 0       # a holder: it may still be at work
    redis.delete(inbox._drain_lease("billwerk_webhook"))      # LEASE_S later nobody renewed it
    assert sweep_inbox(older_than_s=0)["requeued"] == 1
    work_default(redis)
    assert db.session.get(InboxEvent, event_id).status == "processed"


def test_a_backlog_of_other_rows_does_not_hide_billwerk_rows_from_the_sweep(held, client, redis):
    for n in range(3):
        db.session.add(InboxEvent(source="hubspot_webhook", portal_id=held.id, method="POST", path="/x", headers={},
                                  body=body([{"eventId": n}]).decode()))
    db.session.commit()
    event_id = send(client, hook("ContractChanged", CONTRACTS[0]))     # newest: beyond the limit below
    get_queue("default").empty()
    redis.delete(inbox._drain_flag("billwerk_webhook"))
    assert sweep_inbox(older_than_s=0, limit=2)["requeued"] == 3        # two row jobs and the drain
    assert redis.exists(inbox._drain_flag("billwerk_webhook"))
    assert db.session.get(InboxEvent, event_id).status == "received"
