"""The media worker against a local media server: stored, or unavailable with the complaint kept."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web

from config.settings import MediaSettings
from gateway.media import MediaWorker
from gateway.messages import utcnow
from gateway.records import Attachment, Body, Complaint, RawRef, Reporter
from gateway.storage.db import Database
from gateway.storage.tables import complaint
from tests.social_e2e.stack import jpeg, serve

PHOTO = jpeg("media-worker")
MAX_BYTES = 50_000
TIMEOUT = 1.0


def media_app() -> web.Application:
    async def photo(_: web.Request) -> web.Response:
        return web.Response(body=PHOTO, content_type="image/jpeg")

    async def big(_: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to refuse up front
        await response.prepare(_)
        for _chunk in range(10):
            await response.write(b"x" * 10_000)
        await response.write_eof()
        return response

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(TIMEOUT * 2)
        return web.Response(body=PHOTO)

    async def gone(_: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/photo.jpg", photo)
    app.router.add_get("/big.bin", big)
    app.router.add_get("/slow.jpg", slow)
    app.router.add_get("/gone.jpg", gone)
    return app


@pytest.fixture
async def media_url() -> AsyncIterator[str]:
    runner, url = await serve(media_app())
    yield url
    await runner.cleanup()


def record_with(*attachments: Attachment) -> Complaint:
    now = utcnow()
    return Complaint(id="01HMEDIA000000000000000000", channel="sms-http", received_at=now,
                     raw=RawRef(ids=("r",), sha256=("s",)), reporter=Reporter(identity="x:1"), title="Foto",
                     body=Body(text="Foto jalan rusak"), attachments=attachments, dedup_key="d")


async def store(db: Database, record: Complaint) -> None:
    now = utcnow()
    async with db.begin() as connection:
        await connection.execute(sa.insert(complaint).values(
            id=record.id, channel=record.channel, received_at=now, raw_id="r", reporter_identity="x:1",
            dedup_key="d", record=record.model_dump_json(), created_at=now, updated_at=now))


@pytest.mark.parametrize(
    ("path", "state"),
    [
        ("/photo.jpg", "stored"),
        ("/big.bin", "unavailable"),
        ("/slow.jpg", "unavailable"),
        ("/gone.jpg", "unavailable"),
        ("ftp://127.0.0.1/photo.jpg", "unavailable"),
        ("telegram-file:AgAC-no-channel", "unavailable"),
    ],
    ids=["stored", "over-size-cap", "timeout", "http-404", "not-http", "provider-reference-without-channel"],
)
async def test_one_attachment(sqlite_url: str, tmp_path: Path, media_url: str, path: str, state: str) -> None:
    db = Database(sqlite_url)
    url = path if ":" in path else media_url + path
    record = record_with(Attachment(media_type="image/jpeg", url=url))
    await store(db, record)
    worker = MediaWorker(db, {}, MediaSettings(directory=str(tmp_path / "media"), max_bytes=MAX_BYTES,
                                               timeout_seconds=TIMEOUT, allow_private_addresses=True))
    started = time.monotonic()
    try:
        updated = await worker.prepare(record)
    finally:
        await worker.close()
    assert time.monotonic() - started < TIMEOUT * 3
    [attachment] = updated.attachments
    assert attachment.state == state
    async with db.connect() as connection:
        saved = Complaint.model_validate_json((await connection.execute(sa.select(complaint.c.record))).scalar_one())
    await db.dispose()
    assert saved == updated
    if state == "stored":
        digest = hashlib.sha256(PHOTO).hexdigest()
        assert (attachment.sha256, attachment.size) == (digest, len(PHOTO))
        assert (tmp_path / "media" / digest[:2] / digest[2:4] / digest).read_bytes() == PHOTO
    else:
        assert attachment.sha256 is None


async def test_private_addresses_refused_by_default_and_others_untouched(sqlite_url: str, tmp_path: Path,
                                                                         media_url: str) -> None:
    db = Database(sqlite_url)
    kept = Attachment(media_type="application/pdf", sha256="a" * 64, size=3, state="stored")
    record = record_with(Attachment(media_type="image/jpeg", url=media_url + "/photo.jpg"), kept)
    await store(db, record)
    worker = MediaWorker(db, {}, MediaSettings(directory=str(tmp_path / "media")))
    try:
        updated = await worker.prepare(record)
        again = await worker.prepare(updated)
    finally:
        await worker.close()
        await db.dispose()
    assert [a.state for a in updated.attachments] == ["unavailable", "stored"]
    assert updated.attachments[1] == kept
    assert again == updated
    assert not (tmp_path / "media").exists()


async def test_record_without_referenced_attachments_is_not_rewritten(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    record = record_with()
    worker = MediaWorker(db, {}, MediaSettings(directory=str(tmp_path / "media")))
    # Not even stored: a record with nothing to fetch never touches the database.
    assert await worker.prepare(record) is record
    await worker.close()
    await db.dispose()
