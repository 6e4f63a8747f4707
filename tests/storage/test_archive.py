"""The group-commit archive: every raw stored once, exactly as it arrived, or a loud failure."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from gateway.messages import RawMessage, Stored
from gateway.records import raw_id
from gateway.storage.archive import Archive, raw_values
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.raw_insert import COLUMNS, ArchiveUnavailable, PostgresRawWriter
from gateway.storage.tables import raw_message
from tests.pipeline.twilio_raws import numbered_raws, twilio_raw
from tests.support.ports import free_port
from tests.support.postgres import temporary_database
from tests.support.tcp_proxy import TcpProxy


async def stored_rows(db: Database) -> list[Any]:
    """Every raw_message row, by external id."""
    async with db.connect() as connection:
        return list((await connection.execute(sa.select(raw_message).order_by(raw_message.c.external_id))).all())


async def test_concurrent_burst_is_stored_once_in_shared_commits(db: Database) -> None:
    raws = numbered_raws(300)
    archive = Archive(db, max_batch=128)
    try:
        outcomes = await asyncio.gather(*(archive.submit(raw) for raw in raws))
    finally:
        await archive.close()
    assert outcomes == [Stored.NEW] * len(raws)
    rows = await stored_rows(db)
    assert [row.external_id for row in rows] == sorted(raw.external_id for raw in raws)
    # 300 submits at once share a handful of transactions instead of one fsync each.
    assert 1 <= archive.commits <= 10, f"{archive.commits} commits for one burst"


@pytest.mark.parametrize(
    ("waves", "expected"),
    [
        ([["SMa", "SMb"], ["SMa"]], [[Stored.NEW, Stored.NEW], [Stored.DUPLICATE]]),
        ([["SMa", "SMa", "SMa"]], [[Stored.NEW, Stored.DUPLICATE, Stored.DUPLICATE]]),
        ([["SMa", "SMb", "SMa"], ["SMb", "SMc"]], [[Stored.NEW, Stored.NEW, Stored.DUPLICATE],
                                                   [Stored.DUPLICATE, Stored.NEW]]),
    ],
    ids=["redelivered-later", "redelivered-within-one-batch", "mixed"],
)
async def test_redelivery_is_a_duplicate(db: Database, waves: list[list[str]], expected: list[list[Stored]]) -> None:
    archive = Archive(db)
    try:
        got = []
        for wave in waves:
            # gather: every copy of a wave is queued before the writer runs, so they share one batch.
            got.append(list(await asyncio.gather(*(archive.submit(twilio_raw(sid)) for sid in wave))))
    finally:
        await archive.close()
    assert got == expected
    distinct = sorted({sid for wave in waves for sid in wave})
    assert [row.external_id for row in await stored_rows(db)] == distinct


async def test_duplicate_keeps_the_first_payload_and_other_channels_are_separate(db: Database) -> None:
    first = twilio_raw("SMsame", "laporan pertama")
    second = twilio_raw("SMsame", "isi lain dengan id yang sama")
    other_channel = twilio_raw("SMsame", "kanal lain", channel="kannel")
    archive = Archive(db)
    try:
        assert await archive.submit(first) is Stored.NEW
        assert await archive.submit(second) is Stored.DUPLICATE
        assert await archive.submit(other_channel) is Stored.NEW
    finally:
        await archive.close()
    rows = {(row.channel, row.external_id): row for row in await stored_rows(db)}
    assert bytes(rows[("twilio", "SMsame")].payload) == first.payload
    assert bytes(rows[("kannel", "SMsame")].payload) == other_channel.payload


PAYLOADS = [
    b"Body=Jalan+rusak&From=%2B6281234567890",
    b"\x00\x01\x02\xff\xfe binary \x00 with NULs",
    b"Body=caf\xe9 latin-1, not UTF-8",
    b"line one\r\nline two\r\n\r\n  trailing spaces  \n",
    b"",
    ("Jalan rusak 🙏🏽 parah banget, tolong ya pak " * 40).encode(),
    bytes(range(256)) * 4096,
]


@pytest.mark.parametrize(
    "payload", PAYLOADS, ids=["form", "binary-nul", "latin1", "crlf-whitespace", "empty", "emoji", "one-mebibyte"]
)
async def test_payload_bytes_and_sha256_are_kept_exactly(db: Database, payload: bytes) -> None:
    received = datetime(2026, 11, 30, 23, 59, 59, 123456, tzinfo=UTC)
    raw = twilio_raw("SMexact", payload=payload, received_at=received, meta={"peer": "10.0.0.7"})
    archive = Archive(db)
    try:
        assert await archive.submit(raw) is Stored.NEW
    finally:
        await archive.close()
    (row,) = await stored_rows(db)
    assert bytes(row.payload) == payload
    assert row.sha256 == hashlib.sha256(payload).hexdigest()
    assert row.id == raw_id("twilio", "SMexact")
    assert row.received_at == received
    assert row.received_at.tzinfo is not None
    assert row.state == "received"


async def test_text_that_array_literals_escape_is_kept_exactly(db: Database) -> None:
    """Quotes, backslashes, braces, commas and NULL-looking text travel in the batch's arrays unchanged."""
    awkward = ['SM"quoted"', "SM\\back\\slash", "SM{braced,comma}", "NULL", "SM 'single' é 🙏"]
    raws = [twilio_raw(sid, meta={"sender": f"{sid} \"x\" {{}}", "peer": "::1"}) for sid in awkward]
    archive = Archive(db)
    try:
        assert await asyncio.gather(*(archive.submit(raw) for raw in raws)) == [Stored.NEW] * len(raws)
    finally:
        await archive.close()
    rows = {row.external_id: row for row in await stored_rows(db)}
    assert sorted(rows) == sorted(awkward)
    for raw in raws:
        row = rows[raw.external_id]
        assert row.id == raw_id("twilio", raw.external_id)
        assert json.loads(row.meta) == dict(raw.meta)


@pytest.mark.parametrize(
    ("meta", "flags"),
    [({}, ""), ({"signature": "invalid"}, "signature_unverified"), ({"flood": "1"}, "flood"),
     ({"signature": "invalid", "flood": "1"}, "signature_unverified,flood")],
    ids=["plain", "unsigned", "flood", "both"],
)
async def test_transport_flags_are_stored(db: Database, meta: dict[str, str], flags: str) -> None:
    archive = Archive(db)
    try:
        await archive.submit(twilio_raw("SMflags", meta=meta))
    finally:
        await archive.close()
    (row,) = await stored_rows(db)
    assert row.flags == flags


async def settle_failed_sqlite_connect() -> None:
    """Let aiosqlite's worker thread finish stopping after a failed connect.

    aiosqlite 0.22 stops the thread with a future nobody awaits; if the test's loop closes first,
    the thread reports "Event loop is closed" as an unhandled thread exception.
    """
    await asyncio.sleep(0.05)


async def _submit_to(url: str, raw: RawMessage) -> Stored:
    database = Database(url)
    archive = Archive(database)
    try:
        return await asyncio.wait_for(archive.submit(raw), timeout=20)
    finally:
        await archive.close()
        await database.dispose()


def sqlite_directory_in_place_of_the_file(tmp_path: Path) -> str:
    """A directory where the database file should be: SQLite cannot open it."""
    path = tmp_path / "gateway.db"
    path.mkdir()
    return f"sqlite+aiosqlite:///{path}"


def sqlite_read_only(tmp_path: Path) -> str:
    """A migrated database opened read-only (chmod does not stop root, SQLite's mode=ro does)."""
    path = tmp_path / "gateway.db"
    upgrade(f"sqlite:///{path}")
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"


@pytest.mark.parametrize(
    "make_url", [sqlite_directory_in_place_of_the_file, sqlite_read_only], ids=["path-is-a-directory", "read-only"]
)
async def test_unwritable_sqlite_is_an_error_not_a_success(tmp_path: Path, make_url: Callable[[Path], str]) -> None:
    url = make_url(tmp_path)
    with pytest.raises(ArchiveUnavailable):
        await _submit_to(url, twilio_raw("SMnodb"))
    await settle_failed_sqlite_connect()


@contextmanager
def unmigrated_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database without the schema."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}"
    else:
        with temporary_database() as url:
            yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_unmigrated_database_is_an_error_and_the_writer_survives_it(backend: str, tmp_path: Path) -> None:
    with unmigrated_url(backend, tmp_path) as url:
        await _unmigrated_then_migrated(url)


async def _unmigrated_then_migrated(url: str) -> None:
    database = Database(url)
    archive = Archive(database)
    try:
        with pytest.raises(ArchiveUnavailable):
            await asyncio.wait_for(archive.submit(twilio_raw("SMearly")), timeout=20)
        upgrade(url)
        # The same archive keeps working once the database is there: the failure did not kill its writer.
        assert await asyncio.wait_for(archive.submit(twilio_raw("SMearly")), timeout=20) is Stored.NEW
    finally:
        await archive.close()
        await database.dispose()


async def test_wrong_postgres_url_is_an_error_not_a_success() -> None:
    with temporary_database() as url:
        missing = url.rsplit("/", 1)[0] + "/lapor_test_does_not_exist"
    with pytest.raises(ArchiveUnavailable):
        await _submit_to(missing, twilio_raw("SMnodb"))


async def test_postgres_dropped_under_a_running_archive_is_an_error() -> None:
    with temporary_database() as url:
        upgrade(url)
        database = Database(url)
        archive = Archive(database)
        try:
            assert await archive.submit(twilio_raw("SMbefore")) is Stored.NEW
            dropped = url
        except BaseException:
            await archive.close()
            await database.dispose()
            raise
    # temporary_database dropped it WITH (FORCE): the pooled connection is gone, and so is the database.
    try:
        with pytest.raises(ArchiveUnavailable):
            await asyncio.wait_for(archive.submit(twilio_raw("SMafter")), timeout=20)
    finally:
        await archive.close()
        await database.dispose()
    assert dropped


async def test_postgres_that_stops_answering_is_an_error_within_the_timeout() -> None:
    """A half-open connection (no reset, no answer) must not hold acknowledgements: past the timeout the
    insert fails, and the edge spools instead of waiting forever."""
    proxy = TcpProxy(free_port(), "127.0.0.1", 5432)
    proxy.start()
    with temporary_database() as url:
        upgrade(url)
        database = Database(url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.listen_port}"))
        writer = PostgresRawWriter(database, timeout_seconds=1)
        try:
            first = twilio_raw("SManswered")
            assert await writer.insert([raw_values(first)]) == {raw_id(first.channel, first.external_id)}
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(ArchiveUnavailable):
                await asyncio.wait_for(writer.insert([raw_values(twilio_raw("SMstalled"))]), timeout=30)
            assert time.monotonic() - started < 5
        finally:
            await writer.close()
            await database.dispose()
            proxy.close()


async def test_close_finishes_the_batch_being_written() -> None:
    """Stopping the gateway while a batch waits for the database: its submitters get their answer."""
    with temporary_database() as url:
        upgrade(url)
        database = Database(url)
        archive = Archive(database)
        blocker = await psycopg.AsyncConnection.connect(url.replace("postgresql+psycopg", "postgresql"))
        try:
            # An uncommitted row with the same id: the batch holding SMheld waits for its transaction.
            columns = ", ".join(COLUMNS)
            await blocker.execute(f"INSERT INTO raw_message ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})",
                                  raw_values(twilio_raw("SMheld")))
            held = asyncio.create_task(archive.submit(twilio_raw("SMheld")))
            await asyncio.sleep(0.5)
            assert archive.busy and not archive.waiting  # written, not queued
            closing = asyncio.create_task(archive.close())
            await asyncio.sleep(0.2)
            assert not closing.done()  # it waits for the write rather than cancelling it
            await blocker.rollback()
            assert await asyncio.wait_for(held, timeout=5) == Stored.NEW
            await asyncio.wait_for(closing, timeout=5)
        finally:
            await blocker.close()
            await archive.close()
            await database.dispose()
