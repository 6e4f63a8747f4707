"""The Kannel channel over real HTTP: get-url/post-url in, sendsms out to a fake Kannel, DLRs back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError
from yarl import URL

from channels import concat
from channels.base import ChannelContext, CredentialCheck, OutgoingReply
from channels.kannel import KannelChannel, KannelConfig
from channels.sms_encoding import segment_count
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.messages import utcnow
from gateway.pipeline import Pipeline, raw_from_row
from gateway.records import Complaint
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from gateway.storage.tables import complaint as complaint_table
from gateway.storage.tables import raw_message
from normalizers.kannel import normalize
from normalizers.registry import NORMALIZERS
from tests.channels.social_doubles import (
    MemoryCursors,
    MemoryDeliveries,
    RecordingSink,
    captured_logs,
    channel_app,
    leaked,
)
from tests.fakes.fake_kannel import FakeKannelState, build_app, fire_dlr
from tests.support.ports import closed_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kannel"
SECRET = "kannel-test-secret"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").strip()


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    channel: KannelChannel
    sink: RecordingSink
    deliveries: MemoryDeliveries
    fake: FakeKannelState

    async def get(self, path: str) -> ClientResponse:
        """GET with the query exactly as Kannel encodes it (yarl would otherwise normalize %2C to ',')."""
        base = str(self.client.make_url("/")).rstrip("/")
        return await self.client.session.get(URL(base + path, encoded=True))


async def start(fake_url: str, fake: FakeKannelState, **overrides: object) -> tuple[Env, TestServer]:
    settings: dict[str, object] = {
        "enabled": True,
        "secret": SECRET,
        "sendsms_url": f"{fake_url}/cgi-bin/sendsms",
        "username": fake.username,
        "password": fake.password,
        **overrides,
    }
    config = KannelConfig.model_validate(settings)
    sink, deliveries = RecordingSink(), MemoryDeliveries()
    context = ChannelContext(sink=sink, public_url="http://unset", cursors=MemoryCursors(), deliveries=deliveries)
    channel = KannelChannel(config=config, context=context)
    server = TestServer(channel_app(channel))
    client = TestClient(server)
    await client.start_server()
    channel.context = replace(context, public_url=str(server.make_url("")).rstrip("/"))
    return Env(client, channel, sink, deliveries, fake), server


@pytest.fixture
async def fake_kannel() -> AsyncIterator[tuple[str, FakeKannelState]]:
    state = FakeKannelState()
    server = TestServer(build_app(state))
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), state
    await server.close()


@pytest.fixture
async def env(fake_kannel: tuple[str, FakeKannelState]) -> AsyncIterator[Env]:
    url, state = fake_kannel
    environment, _server = await start(url, state)
    yield environment
    await environment.client.close()


@pytest.mark.parametrize(
    ("query", "status", "event"),
    [
        (f"secret={SECRET}&" + fixture("mo_gsm.query"), 200, "message"),
        (f"secret={SECRET}&" + fixture("mo_ucs2.query"), 200, "message"),
        (f"secret={SECRET}&" + fixture("mo_binary.query"), 200, "message"),
        (f"secret={SECRET}&" + fixture("mo_part2_of_3.query"), 200, concat.PART_EVENT),
        (f"secret={SECRET}&" + fixture("mo_missing_from.query"), 200, "message"),
        ("secret=wrong-secret-value&" + fixture("mo_gsm.query"), 403, None),
        (fixture("mo_gsm.query"), 403, None),
        (f"secret={SECRET}", 400, None),
    ],
    ids=["gsm", "ucs2", "binary", "part", "missing-from-kept-for-quarantine", "bad-secret", "no-secret", "empty"],
)
async def test_get_url(env: Env, query: str, status: int, event: str | None) -> None:
    response = await env.get(f"/c/kannel/receive?{query}")
    assert response.status == status
    assert (await response.text()) == "" or status != 200  # nothing is sent back to the citizen
    if event is None:
        assert env.sink.stored == []
        return
    [raw] = env.sink.stored
    assert raw.event == event
    assert b"secret" not in raw.payload and SECRET.encode() not in raw.payload
    assert raw.payload == query.split("&", 1)[1].encode()


async def test_part_carries_its_concat_position(env: Env) -> None:
    await env.get(f"/c/kannel/receive?secret={SECRET}&" + fixture("mo_part2_of_3.query"))
    [raw] = env.sink.stored
    assert raw.meta[concat.KEY] == "+6281234567899|1708|42|3"
    assert (raw.meta[concat.TOTAL], raw.meta[concat.SEQ]) == ("3", "2")


async def test_duplicate_message_id_is_stored_once(env: Env) -> None:
    for _ in range(2):
        response = await env.get(f"/c/kannel/receive?secret={SECRET}&" + fixture("mo_gsm.query"))
        assert response.status == 200
    assert len(env.sink.stored) == 1 and env.sink.duplicates == 1
    assert env.sink.stored[0].external_id == "6f1c9e0a-3b55-4d0e-9a51-2f4c8d7e1a01"


async def test_without_message_id_a_redelivery_is_still_a_duplicate(env: Env) -> None:
    for _ in range(2):
        await env.get(f"/c/kannel/receive?secret={SECRET}&" + fixture("mo_no_id.query"))
    assert len(env.sink.stored) == 1 and env.sink.stored[0].external_id.startswith("sha256:")


async def test_parts_out_of_order_are_each_kept_then_reassembled(env: Env) -> None:
    for seq in (3, 1, 2):
        response = await env.get(f"/c/kannel/receive?secret={SECRET}&" + fixture(f"mo_part{seq}_of_3.query"))
        assert response.status == 200
    assert [raw.event for raw in env.sink.stored] == [concat.PART_EVENT] * 3
    [group] = concat.ready_groups(env.sink.stored, utcnow(), timedelta(seconds=120))
    assert group.complete
    outcome = normalize(concat.assemble(group.parts))
    assert isinstance(outcome, Complaint)
    assert outcome.body.text == (FIXTURES / "long_text.txt").read_text(encoding="utf-8")


async def test_post_url(env: Env) -> None:
    text = "Pohon tumbang 🌳 menutup jalan"
    response = await env.client.post(
        f"/c/kannel/receive?secret={SECRET}&id=5b0e-post",
        data=text.encode("utf-16-be"),
        headers={
            "Content-Type": 'text/plain; charset="UTF-16BE"',
            "X-Kannel-From": "+6281200000001",
            "X-Kannel-To": "1708",
            "X-Kannel-Time": "2026-12-01 06:00:00",
            "X-Kannel-Coding": "2",
            "X-Kannel-UDH": "050003070201",
        },
    )
    assert response.status == 200
    [raw] = env.sink.stored
    assert raw.external_id == "5b0e-post" and raw.event == concat.PART_EVENT
    assert raw.meta["query"] == "id=5b0e-post"
    outcome = normalize(raw)
    assert isinstance(outcome, Complaint) and outcome.body.text == text and "incomplete" in outcome.flags


@pytest.mark.parametrize(
    ("allowed", "secret", "status"),
    [(("10.0.0.0/8",), SECRET, 403), (("127.0.0.1",), None, 200), (("127.0.0.0/8", "::1"), SECRET, 200)],
    ids=["outside-allowlist", "allowlist-only", "allowlist-and-secret"],
)
async def test_source_address_allowlist(
    fake_kannel: tuple[str, FakeKannelState], allowed: tuple[str, ...], secret: str | None, status: int
) -> None:
    url, state = fake_kannel
    environment, _ = await start(url, state, allowed_addresses=allowed, secret=secret)
    try:
        response = await environment.get(f"/c/kannel/receive?secret={SECRET}&" + fixture("mo_gsm.query"))
        assert response.status == status
        assert len(environment.sink.stored) == (1 if status == 200 else 0)
    finally:
        await environment.client.close()


@pytest.mark.parametrize(
    ("query", "status", "recorded"),
    [
        (f"secret={SECRET}&" + fixture("dlr_delivered.query"), 200, ("01JDLR0000000000000000000A", "delivered")),
        (f"secret={SECRET}&reply=01JDLR0000000000000000000A&type=16", 200, ("01JDLR0000000000000000000A", "failed")),
        (f"secret={SECRET}&reply=01JDLR0000000000000000000A&type=8", 200, ("01JDLR0000000000000000000A", "sent")),
        ("secret=nope-nope-nope&" + fixture("dlr_delivered.query"), 403, None),
        (f"secret={SECRET}&type=1", 400, None),
    ],
    ids=["delivered", "smsc-reject", "smsc-accepted", "bad-secret", "missing-reply"],
)
async def test_delivery_reports(env: Env, query: str, status: int, recorded: tuple[str, str] | None) -> None:
    response = await env.get(f"/c/kannel/status?{query}")
    assert response.status == status
    if recorded is None:
        assert env.deliveries.recorded == [] and env.sink.stored == []
        return
    assert [(r[1], r[2]) for r in env.deliveries.recorded] == [recorded]
    assert env.deliveries.recorded[0][3] == ("dlr type 16" if recorded[1] == "failed" else "")
    assert [raw.event for raw in env.sink.stored] == ["status"]


def reply(text: str, *, kind: str = "ack", reply_id: str = "01JREPLY0000000000000000AA") -> OutgoingReply:
    return OutgoingReply(id=reply_id, channel="kannel", address="+6281234567890", text=text, kind=kind)


@pytest.mark.parametrize(
    ("text", "coding", "charset", "encoded"),
    [
        ("LAPOR!: Laporan Anda diterima, nomor #1916449.", b"0", b"UTF-8", "utf-8"),
        ("LAPOR!: Laporan diterima 👍 #1916449", b"2", b"UTF-16BE", "utf-16-be"),
        ("Harga {resmi} €0", b"0", b"UTF-8", "utf-8"),
    ],
    ids=["gsm7", "ucs2", "gsm7-extension"],
)
async def test_send_picks_the_alphabet(env: Env, text: str, coding: bytes, charset: bytes, encoded: str) -> None:
    result = await env.channel.send(reply(text))
    assert result.provider_id == "01JREPLY0000000000000000AA"
    [params] = env.fake.requests
    assert params["text"] == text.encode(encoded)
    assert (params["coding"], params["charset"]) == (coding, charset)
    assert params["from"] == b"1708" and params["to"] == b"+6281234567890"
    assert params["dlr-mask"] == b"31"
    assert b"/c/kannel/status?reply=01JREPLY0000000000000000AA&type=%d" in params["dlr-url"]


async def test_acknowledgement_is_one_segment(env: Env) -> None:
    await env.channel.send(reply("Laporan Anda diterima dan sedang diproses oleh dinas terkait. " * 5))
    text = env.fake.requests[0]["text"].decode()
    assert segment_count(text) == 1 and text.endswith("...")


async def test_status_update_is_not_cut(env: Env) -> None:
    long_text = "Status laporan #1916449 berubah menjadi diproses. " * 5
    await env.channel.send(reply(long_text, kind="status"))
    assert env.fake.requests[0]["text"].decode() == long_text


async def test_dlr_round_trip(env: Env) -> None:
    await env.channel.send(reply("LAPOR!: Laporan Anda diterima, nomor #1916449."))
    assert await fire_dlr(env.fake.requests[0], 1) == 200
    assert env.deliveries.recorded == [("kannel", "01JREPLY0000000000000000AA", "delivered", "")]


@pytest.mark.parametrize(
    ("target", "password", "fail_with", "error"),
    [
        ("fake", "not-the-password", None, ConfigurationError),
        ("fake", None, 503, TransientFailure),
        ("fake", None, 400, PermanentFailure),
        ("closed", None, None, TransientFailure),
    ],
    ids=["wrong-password", "temporal-failure", "refused", "unreachable"],
)
async def test_send_failures(
    fake_kannel: tuple[str, FakeKannelState],
    target: str,
    password: str | None,
    fail_with: int | None,
    error: type[Exception],
) -> None:
    url, state = fake_kannel
    state.fail_with = fail_with
    base = url if target == "fake" else closed_url()
    overrides: dict[str, object] = {"password": password} if password else {}
    environment, _ = await start(base, state, **overrides)
    try:
        with pytest.raises(error):
            await environment.channel.send(reply("Halo"))
    finally:
        await environment.client.close()


@pytest.mark.parametrize(
    ("target", "password", "expected"),
    [
        ("fake", None, CredentialCheck.OK),
        ("fake", "not-the-password", CredentialCheck.INVALID_AUTH),
        ("closed", None, CredentialCheck.CANNOT_CONNECT),
    ],
    ids=["ok", "invalid-auth", "cannot-connect"],
)
async def test_check_credentials(
    fake_kannel: tuple[str, FakeKannelState], target: str, password: str | None, expected: CredentialCheck
) -> None:
    url, state = fake_kannel
    base = url if target == "fake" else closed_url()
    overrides: dict[str, object] = {"password": password} if password else {}
    environment, _ = await start(base, state, **overrides)
    try:
        assert await environment.channel.check_credentials() is expected
        assert state.requests == []  # checking never sends an SMS
    finally:
        await environment.client.close()


@pytest.mark.parametrize(
    "settings",
    [{"secret": "short"}, {"secret": "has spaces in it!"}, {"secret": "ünïcode-secret-value"}],
    ids=["too-short", "spaces", "non-ascii"],
)
def test_secret_must_be_url_safe(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KannelConfig.model_validate(settings)


def test_enabled_without_any_authentication_fails_loudly() -> None:
    context = ChannelContext(
        sink=RecordingSink(), public_url="http://x", cursors=MemoryCursors(), deliveries=MemoryDeliveries()
    )
    with pytest.raises(ConfigurationError):
        KannelChannel(config=KannelConfig(enabled=True), context=context)


async def test_secrets_never_reach_the_logs(env: Env) -> None:
    with captured_logs() as lines:
        await env.get(f"/c/kannel/receive?secret={SECRET}&" + fixture("mo_gsm.query"))
        await env.get("/c/kannel/receive?secret=wrong-secret-value&" + fixture("mo_gsm.query"))
        await env.channel.send(reply("LAPOR!: Laporan Anda diterima."))
        await env.channel.check_credentials()
    # aiohttp's access log belongs to the test servers; the gateway runs with access_log=None.
    ours = [line for line in lines if not line.startswith("aiohttp.access")]
    assert ours, "nothing was logged: the test would prove nothing"
    assert leaked(ours, [*env.channel.secrets(), "wrong-secret-value"]) == []
    assert SECRET in env.channel.secrets()


async def test_parts_through_the_real_archive(sqlite_url: str, fake_kannel: tuple[str, FakeKannelState]) -> None:
    """Each part is its own archived row; the rows, grouped and assembled, give one complaint (the pipeline hook)."""
    database = Database(sqlite_url)
    archive = Archive(database)
    url, state = fake_kannel
    environment, _ = await start(url, state)
    environment.channel.context = replace(environment.channel.context, sink=archive)
    try:
        for seq in (2, 3, 2, 1):  # part 2 is redelivered
            query = fixture(f"mo_part{seq}_of_3.query")
            response = await environment.get(f"/c/kannel/receive?secret={SECRET}&{query}")
            assert response.status == 200
        async with database.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(raw_message).where(raw_message.c.event == concat.PART_EVENT)
                    .order_by(raw_message.c.received_at)
                )
            ).all()
        assert len(rows) == 3
        stored = [raw_from_row(row) for row in rows]
        [group] = concat.ready_groups(stored, utcnow(), timedelta(seconds=120))
        outcome = normalize(concat.assemble(group.parts))
        assert isinstance(outcome, Complaint)
        assert outcome.body.text == (FIXTURES / "long_text.txt").read_text(encoding="utf-8")
        assert set(outcome.raw.ids) == {row.id for row in rows}
    finally:
        await environment.client.close()
        await archive.close()
        await database.dispose()


async def _parts_through_the_pipeline(
    sqlite_url: str, fake_kannel: tuple[str, FakeKannelState], seqs: tuple[int, ...], *, window: float
) -> tuple[list[sa.Row[object]], list[sa.Row[object]]]:
    database = Database(sqlite_url)
    archive = Archive(database)
    url, state = fake_kannel
    environment, _ = await start(url, state)
    environment.channel.context = replace(environment.channel.context, sink=archive)
    pipeline = Pipeline(database, NORMALIZERS, concat_window_seconds=window)
    try:
        for seq in seqs:
            response = await environment.get(f"/c/kannel/receive?secret={SECRET}&{fixture(f'mo_part{seq}_of_3.query')}")
            assert response.status == 200
        await pipeline.process_parts()
        async with database.connect() as connection:
            raws = list((await connection.execute(sa.select(raw_message))).all())
            records = list((await connection.execute(sa.select(complaint_table))).all())
        return raws, records
    finally:
        await environment.client.close()
        await archive.close()
        await database.dispose()


async def test_pipeline_reassembles_parts_into_one_complaint(
    sqlite_url: str, fake_kannel: tuple[str, FakeKannelState]
) -> None:
    raws, records = await _parts_through_the_pipeline(sqlite_url, fake_kannel, (3, 1, 2, 2), window=120)
    assert len(raws) == 3, "every part is archived once"
    [record_row] = records
    record = Complaint.model_validate_json(record_row.record)
    assert record.body.text == (FIXTURES / "long_text.txt").read_text(encoding="utf-8")
    assert "incomplete" not in record.flags
    assert {raw.state for raw in raws} == {"normalized"} and {raw.complaint_id for raw in raws} == {record.id}


async def test_pipeline_waits_for_missing_parts_then_files_what_arrived(
    sqlite_url: str, fake_kannel: tuple[str, FakeKannelState]
) -> None:
    raws, records = await _parts_through_the_pipeline(sqlite_url, fake_kannel, (1, 3), window=120)
    assert records == [] and {raw.state for raw in raws} == {"received"}, "within the window: wait"
    raws, records = await _parts_through_the_pipeline(sqlite_url, fake_kannel, (), window=0)
    [record_row] = records
    record = Complaint.model_validate_json(record_row.record)
    assert "incomplete" in record.flags
    assert {raw.complaint_id for raw in raws} == {record.id}
