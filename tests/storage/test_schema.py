"""Migrations, the SQLite pragmas, cursors and delivery statuses on both databases."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.messages import Stored, utcnow
from gateway.replay import ReplayFilter
from gateway.storage.archive import Archive, raw_row
from gateway.storage.cursors import DatabaseCursors, DatabaseDeliveries
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from gateway.storage.tables import metadata, raw_message, reply
from tests.pipeline.twilio_raws import twilio_raw
from tests.support.postgres import temporary_database

TABLES = {"raw_message", "complaint", "dispatch_job", "reply", "channel_cursor", "reporter_preference"}


async def table_names(db: Database) -> set[str]:
    """Tables the database holds."""
    async with db.connect() as connection:
        return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def test_upgrade_creates_every_table_and_is_repeatable(database_url: str) -> None:
    upgrade(database_url)  # the fixture migrated already: a second upgrade is a no-op
    db = Database(database_url)
    try:
        assert TABLES <= await table_names(db)
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    "url_form",
    ["sqlite+aiosqlite:///{path}", "sqlite:///{path}"],
    ids=["async-driver", "plain-sqlite"],
)
async def test_upgrade_on_a_fresh_nested_path_uses_wal(tmp_path: Path, url_form: str) -> None:
    path = tmp_path / "var" / "deep" / "gateway.db"
    url = url_form.format(path=path)
    upgrade(url)
    assert path.is_file()
    db = Database(url)
    try:
        assert TABLES <= await table_names(db)
        async with db.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        assert str(mode).lower() == "wal"
        assert await db.ping()
    finally:
        await db.dispose()


async def test_ping_is_false_when_the_database_is_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    path.mkdir()
    db = Database(f"sqlite:///{path}")
    try:
        assert not await db.ping()
    finally:
        await db.dispose()
    await asyncio.sleep(0.05)  # aiosqlite's worker thread stops after a failed connect; let it finish


async def test_cursor_values_are_stored_and_replaced(db: Database) -> None:
    cursors = DatabaseCursors(db)
    assert await cursors.get("x", "since_id") is None
    await cursors.set("x", "since_id", "100")
    await cursors.set("x", "since_id", "250")
    await cursors.set("email", "since_id", "7")
    assert await cursors.get("x", "since_id") == "250"
    assert await cursors.get("email", "since_id") == "7"


@pytest.mark.parametrize(
    ("channel", "provider_id", "known"),
    [("twilio", "SMours", True), ("twilio", "SMsomeone-else", False), ("x", "SMours", False)],
    ids=["ours", "unknown-id", "other-channel"],
)
async def test_delivery_status_is_recorded_only_for_our_replies(
    db: Database, channel: str, provider_id: str, known: bool
) -> None:
    now = utcnow()
    async with db.begin() as connection:
        await connection.execute(sa.insert(reply).values(
            id="r1", dedup="ack:c1", channel="twilio", kind="ack", address="+6281234567890", text="ok",
            state="sent", next_attempt_at=now, created_at=now, provider_id="SMours",
        ))
    assert await DatabaseDeliveries(db).record_delivery(channel, provider_id, "undelivered", "30003") is known
    async with db.connect() as connection:
        row = (await connection.execute(sa.select(reply))).one()
    assert (row.delivery_status, row.last_error) == (("undelivered", "30003") if known else (None, None))


def _raw_message_differences(sync: sa.Connection) -> list[str]:
    context = MigrationContext.configure(sync, opts={"compare_type": True})
    return [str(diff) for diff in compare_metadata(context, metadata) if "raw_message" in str(diff)]


async def test_raw_message_is_deduplicated_by_its_primary_key_alone(db: Database) -> None:
    async with db.connect() as connection:
        assert await connection.run_sync(_raw_message_differences) == []
        unique = await connection.run_sync(lambda sync: sa.inspect(sync).get_unique_constraints("raw_message"))
    # A second random-order index on every acknowledged message cost a third of each group commit's pages.
    assert unique == []
    archive = Archive(db)
    try:
        first = await archive.submit(twilio_raw("SMonce"))
        again = await archive.submit(twilio_raw("SMonce"))
    finally:
        await archive.close()
    assert (first, again) == (Stored.NEW, Stored.DUPLICATE)


async def test_lookups_by_external_id_use_the_primary_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    db = Database(url)
    try:
        query = sa.select(raw_message.c.id).where(ReplayFilter(ids=("SMknown",)).where())
        async with db.connect() as connection:
            compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(row[-1]) for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    finally:
        await db.dispose()
    assert "sqlite_autoindex_raw_message_1" in plan, plan  # the primary key's index, not a scan of the table
    assert "SCAN raw_message" not in plan, plan


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_upgrade_from_0003_keeps_every_raw_message(tmp_path: Path, backend: str) -> None:
    with contextlib.ExitStack() as stack:
        url = (f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}" if backend == "sqlite"
               else stack.enter_context(temporary_database()))
        upgrade(url, "0003_lifecycle")
        db = Database(url)
        try:
            async with db.begin() as connection:
                await connection.execute(sa.insert(raw_message), [raw_row(twilio_raw(f"SM{n}")) for n in range(3)])
            upgrade(url)
            archive = Archive(db)
            try:
                outcomes = await asyncio.gather(*(archive.submit(twilio_raw(sid)) for sid in ("SM1", "SM3")))
            finally:
                await archive.close()
            async with db.connect() as connection:
                stored = sorted((await connection.execute(sa.select(raw_message.c.external_id))).scalars())
        finally:
            await db.dispose()
    assert outcomes == [Stored.DUPLICATE, Stored.NEW]
    assert stored == ["SM0", "SM1", "SM2", "SM3"]
