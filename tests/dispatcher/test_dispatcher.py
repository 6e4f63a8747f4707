"""The dispatcher against the real registry sandbox: filed exactly once, whatever the registry does."""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.typedefs import Handler

from config.settings import DispatchSettings
from gateway import outbox
from gateway.dispatcher import Dispatcher, load_record
from gateway.messages import RawMessage, utcnow
from gateway.records import Body, Complaint, FollowUp, Outcome, Reference
from gateway.registry.lapor import LaporClient
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.tables import dispatch_job
from normalizers import twilio
from tests.dispatcher.fast_settings import FAST
from tests.dispatcher.outbox_state import (
    complaint_rows,
    drain,
    expire_leases,
    jobs,
    make_complaints,
    records,
    replies,
)
from tests.dispatcher.sim_harness import TOKEN, SimHandle, StartSim
from tests.pipeline.twilio_raws import PHONE, SHORT_CODE, numbered_raws, twilio_form, twilio_raw

# Characters of the GSM 03.38 basic table that take one septet each (a deliberately small subset).
GSM7_ONE_SEPTET = set(string.ascii_letters + string.digits + " .,:;#!?-/()'\"@&%+=*<>_\n")


@asynccontextmanager
async def client(sim: SimHandle, token: str = TOKEN) -> AsyncIterator[LaporClient]:
    """A LaporClient for `sim`."""
    lapor = LaporClient(base_url=sim.url, token=token, timeout_seconds=5.0)
    try:
        yield lapor
    finally:
        await lapor.aclose()


def dispatcher(db: Database, lapor: LaporClient, settings: DispatchSettings = FAST, worker: str = "w1") -> Dispatcher:
    """A dispatcher with small, fast retry settings."""
    return Dispatcher(db, lapor, settings, worker_id=worker)


async def test_filing_stores_the_answer_and_enqueues_one_short_ack(
    db: Database, sim: SimHandle, lapor: LaporClient
) -> None:
    ids = await make_complaints(db, numbered_raws(3))
    worker = dispatcher(db, lapor)
    await drain(worker, db)

    rows, stored = await complaint_rows(db), await records(db)
    tracking_ids = {rows[cid].tracking_id for cid in ids}
    assert None not in tracking_ids and len(tracking_ids) == 3
    for cid in ids:
        record = stored[cid]
        assert record.external.tracking_id == rows[cid].tracking_id
        assert rows[cid].status == record.status == "baru"
        assert [(c.status, c.source) for c in record.status_history] == [("received", "gateway"), ("baru", "registry")]
    assert {(job.state, job.attempts, job.last_error) for job in await jobs(db)} == {("done", 1, None)}

    acks = await replies(db)
    assert sorted(ack.complaint_id for ack in acks) == sorted(ids)
    for ack in acks:
        tracking_id = rows[ack.complaint_id].tracking_id
        assert (ack.kind, ack.channel, ack.state, ack.sender) == ("ack", "twilio", "pending", SHORT_CODE)
        assert f"#{tracking_id}" in ack.text
        assert len(ack.text) <= 160 and set(ack.text) <= GSM7_ONE_SEPTET, ack.text
        assert ack.address.startswith("+62812")

    items = await sim.items()
    assert sorted(item["tracking_id"] for item in items) == sorted(tracking_ids)
    # Nothing is left to do: another pass sends nothing and enqueues nothing.
    posts = len(sim.posts())
    assert await worker.dispatch_pending() == 0
    assert len(sim.posts()) == posts and len(await replies(db)) == 3


@pytest.mark.parametrize(
    "faults",
    [{"fail_rate": 0.5}, {"fail_after_commit_rate": 0.5}, {"fail_rate": 0.3, "fail_after_commit_rate": 0.3}],
    ids=["fail-before-work", "fail-after-commit", "both"],
)
async def test_flaky_registry_files_everything_exactly_once(
    db: Database, start_sim: StartSim, faults: dict[str, float]
) -> None:
    sim = await start_sim(**faults)
    ids = await make_complaints(db, numbered_raws(20))
    async with client(sim) as lapor:
        await drain(dispatcher(db, lapor, FAST.model_copy(update={"max_attempts": 40})), db, timeout=40)

    assert sum(1 for seen in sim.posts() if seen.status == 503) > 0, "the faults did happen"
    items = await sim.items()
    filed_ids = [item["external_refs"]["gateway_id"] for item in items]
    assert sorted(filed_ids) == sorted(ids), "every complaint filed, none twice"
    rows = await complaint_rows(db)
    assert sorted(rows[cid].tracking_id for cid in ids) == sorted(item["tracking_id"] for item in items)
    assert {job.state for job in await jobs(db)} == {"done"}
    assert len(await replies(db)) == 20
    # Every retry of a job carried the same key.
    keys_by_job: dict[str, set[str | None]] = {}
    for seen in sim.posts():
        keys_by_job.setdefault(str(seen.idempotency_key).split(":", 1)[-1], set()).add(seen.idempotency_key)
    assert set(keys_by_job) == set(ids)


async def test_retry_after_is_honoured_without_a_hot_loop(db: Database, start_sim: StartSim) -> None:
    sim = await start_sim(throttle_every=2)  # every second request: 429 with Retry-After: 1
    await make_complaints(db, numbered_raws(2))
    async with client(sim) as lapor:
        await drain(dispatcher(db, lapor), db)
    posts = sim.posts()
    assert [seen.status for seen in posts].count(429) == 1
    assert len(posts) == 3, f"one retry, no hot loop: {[(p.status, p.idempotency_key) for p in posts]}"
    throttled = next(seen for seen in posts if seen.status == 429)
    (retried,) = [seen for seen in posts if seen.idempotency_key == throttled.idempotency_key and seen is not throttled]
    assert retried.at - throttled.at >= 1.0, "retried before Retry-After had passed"
    assert retried.status == 201
    assert len(await sim.items()) == 2


def long_throttle(seconds: int) -> Any:
    """A front middleware: the first POST /complaints gets 429 with a long Retry-After."""
    answered = False

    @web.middleware
    async def throttle(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal answered
        if request.method == "POST" and not answered:
            answered = True
            return web.json_response({"error": "rate_limited", "detail": "slow down"}, status=429,
                                     headers={"Retry-After": str(seconds)})
        return await handler(request)

    return throttle


async def test_long_retry_after_puts_the_job_back_instead_of_sleeping_on_it(
    db: Database, start_sim: StartSim
) -> None:
    sim = await start_sim(front=[long_throttle(30)])
    await make_complaints(db, numbered_raws(1))
    async with client(sim) as lapor:
        worker = dispatcher(db, lapor)
        before = utcnow()
        assert await worker.dispatch_pending() == 1
        (job,) = await jobs(db)
        assert (job.state, job.attempts) == ("pending", 1)
        assert "429" in job.last_error
        assert job.next_attempt_at >= before + timedelta(seconds=29)
        assert await worker.dispatch_pending() == 0, "not claimed again before Retry-After"
        assert len(sim.posts()) == 1
        # Once the time has come (moved forward here rather than waited for), it is filed.
        async with db.begin() as connection:
            await connection.execute(sa.update(dispatch_job).values(next_attempt_at=utcnow()))
        await drain(worker, db)
    assert [seen.status for seen in sim.posts()] == [429, 201]


def refusing_body(raw: RawMessage) -> Outcome:
    """The Twilio normalizer, but the record has no title and no text: the registry refuses it (422)."""
    outcome = twilio.normalize(raw)
    assert isinstance(outcome, Complaint)
    return outcome.model_copy(update={"title": "", "body": Body(text="", language=None)})


@pytest.mark.parametrize(
    ("token", "normalizers", "status"),
    [(TOKEN, {"twilio": refusing_body}, "422"), (" ", None, "401"), ("wrong-token", None, "403")],
    ids=["422-invalid-field", "401-no-credentials", "403-wrong-token"],
)
async def test_permanent_and_configuration_failures_are_dead_letters_not_retries(
    db: Database, sim: SimHandle, token: str, normalizers: Any, status: str
) -> None:
    (cid,) = await make_complaints(db, numbered_raws(1), normalizers)
    async with client(sim, token) as lapor:
        worker = dispatcher(db, lapor)
        assert await worker.dispatch_pending() == 1
        await asyncio.sleep(FAST.backoff_max_seconds)
        assert await worker.dispatch_pending() == 0
    (job,) = await jobs(db)
    assert (job.state, job.attempts) == ("dead", 1)
    assert f"HTTP {status}" in job.last_error
    assert TOKEN not in job.last_error and "wrong-token" not in job.last_error
    assert len(sim.posts()) == 1, "a permanent failure is not retried"
    assert (await complaint_rows(db))[cid].tracking_id is None
    assert await replies(db) == []


async def test_media_only_message_is_filed(db: Database, sim: SimHandle, lapor: LaporClient) -> None:
    # A photo of a pothole with no text is a complaint like any other (issue 2, point 3: MMS).
    payload = twilio_form("MMphoto", "", NumMedia="1", MediaContentType0="image/jpeg",
                          MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")
    (cid,) = await make_complaints(db, [twilio_raw("MMphoto", payload=payload)])
    await drain(dispatcher(db, lapor), db)
    (job,) = await jobs(db)
    assert job.state == "done", job.last_error
    assert (await complaint_rows(db))[cid].tracking_id is not None


async def test_retry_cap_makes_a_dead_letter_that_an_operator_can_bring_back(
    db: Database, start_sim: StartSim
) -> None:
    sim = await start_sim(fail_rate=1.0)
    (cid,) = await make_complaints(db, numbered_raws(1))
    settings = FAST.model_copy(update={"max_attempts": 4, "attempts_per_claim": 2})
    async with client(sim) as lapor:
        worker = dispatcher(db, lapor, settings)
        await drain(worker, db)
        (job,) = await jobs(db)
        assert (job.state, job.attempts) == ("dead", 4)
        assert "503" in job.last_error
        assert len(sim.posts()) == 4
        assert await replies(db) == []

        sim.calm()
        assert await outbox.retry(db, "dispatch") == 1
        (job,) = await jobs(db)
        assert (job.state, job.attempts) == ("pending", 0)
        await drain(worker, db)
    (job,) = await jobs(db)
    assert (job.state, job.last_error) == ("done", None)
    assert len(await sim.items()) == 1
    assert (await complaint_rows(db))[cid].tracking_id is not None
    assert len(await replies(db)) == 1
    assert await outbox.retry(db, "dispatch") == 0, "nothing dead is left"


@pytest.mark.parametrize("sent_before_crash", [False, True], ids=["crash-before-send", "crash-after-send"])
async def test_in_flight_job_of_a_crashed_worker_is_recovered_and_filed_once(
    db: Database, sim: SimHandle, lapor: LaporClient, sent_before_crash: bool
) -> None:
    (cid,) = await make_complaints(db, numbered_raws(1))
    lease = timedelta(seconds=FAST.lease_seconds)
    # The crashed worker: it claims the job as the dispatcher does, maybe files it, and dies.
    (job,) = await claim(
        db, dispatch_job, ready=dispatch_job.c.state == "pending", order_by=dispatch_job.c.next_attempt_at,
        limit=1, values={"state": "in_flight", "locked_until": utcnow() + lease, "locked_by": "crashed"},
    )
    first_answer = None
    if sent_before_crash:
        async with db.connect() as connection:
            record = await load_record(connection, cid)
        first_answer = await lapor.file(record, idempotency_key=job.idempotency_key)

    worker = dispatcher(db, lapor, worker="w2")
    assert await worker.dispatch_pending() == 0, "a live lease is respected"
    await expire_leases(db, dispatch_job)
    await drain(worker, db)

    (job,) = await jobs(db)
    assert (job.state, job.locked_by) == ("done", "w2")
    items = await sim.items()
    assert len(items) == 1, "filed once"
    tracking_id = (await complaint_rows(db))[cid].tracking_id
    assert tracking_id == items[0]["tracking_id"]
    if first_answer is not None:
        assert tracking_id == first_answer.tracking_id
    assert len(await replies(db)) == 1


def linking_to_parent(raw: RawMessage) -> Outcome:
    """The Twilio normalizer, plus a reference to the complaint named in meta["parent"] (as email threading does)."""
    outcome = twilio.normalize(raw)
    parent = raw.meta.get("parent")
    if parent and isinstance(outcome, Complaint):
        return FollowUp(references=(Reference(kind="complaint_id", value=parent),), record=outcome)
    return outcome


async def test_follow_up_waits_for_its_parent_and_then_goes_to_the_followups_endpoint(
    db: Database, sim: SimHandle, lapor: LaporClient
) -> None:
    normalizers = {"twilio": linking_to_parent}
    (parent_id,) = await make_complaints(db, [twilio_raw("SMparent")], normalizers)
    async with db.begin() as connection:  # the parent is not filed yet: held for review
        await connection.execute(sa.update(dispatch_job).values(state="held"))
    (child_id,) = await make_complaints(
        db, [twilio_raw("SMchild", "jalan masih rusak, tambah parah", meta={"parent": parent_id})], normalizers
    )
    assert (await records(db))[child_id].thread.parent_id == parent_id

    worker = dispatcher(db, lapor)
    assert await worker.dispatch_pending() == 1
    child_job = next(job for job in await jobs(db) if job.complaint_id == child_id)
    assert (child_job.kind, child_job.state) == ("follow_up", "pending")
    assert "parent_not_filed" in child_job.last_error
    assert sim.posts("/followups") == [] and sim.posts() == []

    assert await outbox.retry(db, "dispatch", states=("held",)) == 1
    await drain(worker, db)
    assert {job.state for job in await jobs(db)} == {"done"}
    tracking_id = (await complaint_rows(db))[parent_id].tracking_id
    assert [seen.path for seen in sim.posts("/followups")] == [f"/complaints/{tracking_id}/followups"]
    filed = await sim.complaint(str(tracking_id))
    assert len(filed["followups"]) == 1
    texts = {reply.complaint_id: reply.text for reply in await replies(db)}
    assert f"#{tracking_id}" in texts[parent_id] and f"#{tracking_id}" in texts[child_id]
    assert texts[parent_id] != texts[child_id]


async def test_follow_up_by_tracking_id_reaches_the_registry(
    db: Database, sim: SimHandle, lapor: LaporClient
) -> None:
    (parent_id,) = await make_complaints(db, [twilio_raw("SMfirst")])
    worker = dispatcher(db, lapor)
    await drain(worker, db)
    tracking_id = (await complaint_rows(db))[parent_id].tracking_id
    follow_up = twilio_raw("SMsecond", f"#{tracking_id} sudah dua minggu belum ada tindakan", sender="0812-3456-7890")
    (child_id,) = await make_complaints(db, [follow_up])
    await drain(worker, db)
    child = (await complaint_rows(db))[child_id]
    assert (child.relation, child.parent_id) == ("follow_up", parent_id)
    assert len(await sim.items()) == 1, "a follow-up is not a second complaint"
    assert len((await sim.complaint(str(tracking_id)))["followups"]) == 1
    child_ack = next(reply for reply in await replies(db) if reply.complaint_id == child_id)
    assert f"#{tracking_id}" in child_ack.text and child_ack.address == PHONE
