"""Which replies thread onto a complaint: an e-mail Message-ID only under the same subject, the tag always."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from channels.telegram_updates import update_raw
from gateway.messages import RawMessage, utcnow
from gateway.pipeline import Pipeline
from gateway.records import Reference
from gateway.storage.db import Database
from gateway.storage.tables import reply
from normalizers.email_parse import external_id
from normalizers.registry import NORMALIZERS
from tests.pipeline.test_pipeline import process_all, read_back, set_tracking_id
from tests.pipeline.twilio_raws import archive_all

CITIZEN = "budi.santoso@example.id"
FIRST_ID = "<keluhan-1@warga.example.id>"
ACK_ID = "<lapor-ack.01JDXYZACK0000000000000001@lapor.example.go.id>"
SUBJECT = "Jalan berlubang di Jl. Sukajadi"
TRACKING_ID = "1916449"
TELEGRAM = Path(__file__).parents[1] / "fixtures" / "telegram"


def mail(message_id: str, subject: str, body: str, *, in_reply_to: str | None = None) -> RawMessage:
    """An e-mail as the SMTP channel archives it."""
    threading = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    payload = (
        f"From: Budi Santoso <{CITIZEN}>\r\nTo: pengaduan@lapor.example.go.id\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n{threading}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()
    return RawMessage("email", "message", external_id(payload), utcnow(), payload,
                      {"mail_from": CITIZEN, "rcpt_tos": "pengaduan@lapor.example.go.id"})


async def record_sent_ack(db: Database, complaint_id: str) -> None:
    """The acknowledgement of a complaint as the reply outbox leaves it once the relay took it."""
    now = utcnow()
    async with db.begin() as connection:
        await connection.execute(sa.insert(reply).values(
            id="01JDXYZACK0000000000000001", dedup=f"ack:{complaint_id}", complaint_id=complaint_id,
            channel="email", kind="ack", address=CITIZEN, subject=f"[LAPOR #{TRACKING_ID}] {SUBJECT}",
            text="Laporan Anda sudah kami terima.", in_reply_to=FIRST_ID, state="sent", next_attempt_at=now,
            provider_id=ACK_ID, created_at=now, sent_at=now,
        ))


@pytest.fixture
def pipeline(db: Database) -> Pipeline:
    """The pipeline with the real normalizer table."""
    return Pipeline(db, NORMALIZERS, batch_size=50)


ANSWER = "Sudah dua minggu belum diperbaiki."
NEW_PROBLEM = "Lampu jalan di gang kami mati sejak Senin."
# (id, the reply's subject, the Message-ID it answers, threaded onto the first complaint?)
REPLIES: list[tuple[str, str, str, bool]] = [
    ("ack-same-subject", f"Re: {SUBJECT}", ACK_ID, True),
    ("ack-same-subject-forwarded", f"Fwd: RE: {SUBJECT}", ACK_ID, True),
    ("ack-other-subject", "Lampu jalan mati", ACK_ID, False),
    ("own-mail-same-subject", f"Re: {SUBJECT}", FIRST_ID, True),
    ("own-mail-other-subject", "Re: Lampu jalan mati", FIRST_ID, False),
    ("tag-other-subject", f"[LAPOR #{TRACKING_ID}] Lampu jalan mati", ACK_ID, True),
]


@pytest.mark.parametrize(("subject", "answers", "threaded"), [row[1:] for row in REPLIES],
                         ids=[row[0] for row in REPLIES])
async def test_a_mail_reply_threads_only_under_its_subject_or_our_tag(
    db: Database, pipeline: Pipeline, subject: str, answers: str, threaded: bool
) -> None:
    await archive_all(db, [mail(FIRST_ID, SUBJECT, "Jalan di depan rumah saya berlubang besar.")])
    await process_all(pipeline)
    first_id = await set_tracking_id(db, FIRST_ID, TRACKING_ID)
    await record_sent_ack(db, first_id)

    body = ANSWER if threaded else NEW_PROBLEM
    await archive_all(db, [mail("<balasan-2@warga.example.id>", subject, body, in_reply_to=answers)])
    await process_all(pipeline)
    stored = await read_back(db)
    record = stored.record("<balasan-2@warga.example.id>")
    if threaded:
        assert (record.thread.relation, record.thread.parent_id) == ("follow_up", first_id)
        assert record.thread.unresolved == ()
        assert {job.kind for job in stored.jobs} == {"file", "follow_up"}
    else:
        # An old thread reused for a new problem: a second complaint, the Message-ID kept unresolved.
        assert (record.thread.relation, record.thread.parent_id) == ("new", None)
        assert record.thread.unresolved == (Reference(kind="message_id", value=answers),)
        assert [job.kind for job in stored.jobs] == ["file", "file"]


def telegram_raw(name: str, **changes: object) -> RawMessage:
    """A Telegram update from the fixtures as the channel archives it, with message fields changed."""
    update = json.loads((TELEGRAM / name).read_text())
    update["message"].update(changes)
    payload = json.dumps(update).encode()
    return update_raw(update, payload, utcnow(), {"transport": "webhook"})


async def test_a_chat_reply_threads_whatever_it_says(db: Database, pipeline: Pipeline) -> None:
    # Telegram's reply-to is a "message_id" reference too, but an explicit answer with no subject to compare.
    first = telegram_raw("message_text.json")
    answer = telegram_raw("message_reply.json", reply_to_message={"message_id": 101, "chat": {"id": 555001234}})
    await archive_all(db, [first])
    await process_all(pipeline)
    await archive_all(db, [answer])
    await process_all(pipeline)
    stored = await read_back(db)
    record = stored.record(answer.external_id)
    first_id = stored.raws[first.external_id].complaint_id
    assert (record.thread.relation, record.thread.parent_id) == ("follow_up", first_id)
