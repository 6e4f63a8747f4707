"""Every real message of ../shared/corpus/email-* through the email normalizer: none crashes, none is lost.

One row per file: the outcome, and the reason (ignored, quarantined) or the reporter identity
(complaint, follow_up). A file added to the corpus without a row fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.registry import CHANNELS
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored
from normalizers.email import normalize
from normalizers.email_parse import external_id
from normalizers.registry import NORMALIZERS

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
FOLDERS = ("email-cpython-testdata", "email-mailgun-flanker", "email-spamscope-mail-parser")
RECEIVED = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)

TABLE = [
    ("email-cpython-testdata/msg_02.txt", "ignored", "list_mail"),
    ("email-cpython-testdata/msg_03.txt", "complaint", "bbb@ddd.com"),
    ("email-cpython-testdata/msg_05.txt", "ignored", "bounce"),
    ("email-cpython-testdata/msg_07.txt", "complaint", "barry@digicool.com"),
    ("email-cpython-testdata/msg_08.txt", "complaint", "barry@python.org"),
    ("email-cpython-testdata/msg_10.txt", "complaint", "barry@python.org"),
    ("email-cpython-testdata/msg_15.txt", "complaint", "xx@xx.dk"),
    ("email-cpython-testdata/msg_16.txt", "ignored", "bounce"),
    ("email-cpython-testdata/msg_22.txt", "complaint", "b@example.com"),
    ("email-cpython-testdata/msg_25.txt", "ignored", "bounce"),
    ("email-cpython-testdata/msg_29.txt", "complaint", "bbb@ddd.com"),
    ("email-cpython-testdata/msg_31.txt", "complaint", "aperson@dom.ain"),
    ("email-cpython-testdata/msg_32.txt", "ignored", "bulk_mail"),
    ("email-cpython-testdata/msg_35.txt", "complaint", "aperson@dom.ain"),
    ("email-cpython-testdata/msg_36.txt", "complaint", "internet-drafts@ietf.org"),
    ("email-cpython-testdata/msg_40.txt", "quarantined", "missing_sender"),
    ("email-cpython-testdata/msg_41.txt", "complaint", "xxx@example.com"),
    ("email-cpython-testdata/msg_43.txt", "ignored", "bounce"),
    ("email-cpython-testdata/msg_45.txt", "complaint", "foo@bar.baz"),
    ("email-cpython-testdata/msg_46.txt", "complaint", "sender@example.net"),
    ("email-cpython-testdata/msg_47.txt", "complaint", "arthur@example.example"),
    ("email-mailgun-flanker/attached-pdf.eml", "quarantined", "missing_sender"),
    ("email-mailgun-flanker/bilingual-simple.eml", "complaint", "hello@example.com"),
    ("email-mailgun-flanker/bounce__delayed.eml", "ignored", "bounce"),
    ("email-mailgun-flanker/bounce__gmail-invalid-address.eml", "ignored", "bounce"),
    ("email-mailgun-flanker/bounce__mailbox-full.eml", "ignored", "bounce"),
    ("email-mailgun-flanker/bounce__office365.eml", "ignored", "bounce"),
    ("email-mailgun-flanker/complaints__aol.eml", "ignored", "abuse_report"),
    ("email-mailgun-flanker/complaints__yahoo.eml", "ignored", "abuse_report"),
    ("email-mailgun-flanker/disposition-notification.eml", "ignored", "read_receipt"),
    ("email-mailgun-flanker/enclosed-bad-encoding.eml", "complaint", "bob@example.net"),
    ("email-mailgun-flanker/enclosed-broken.eml", "complaint", "bob@example.net"),
    ("email-mailgun-flanker/encoded-header.eml", "complaint", "foo.bar@example.com"),
    ("email-mailgun-flanker/false-multipart.eml", "complaint", "broken.mime@notreallymultipart.com"),
    ("email-mailgun-flanker/from-encoding.eml", "ignored", "bulk_mail"),
    ("email-mailgun-flanker/iphone.eml", "complaint", "someone@somewhere.com"),
    ("email-mailgun-flanker/long-header.eml", "complaint", "bob@example.com"),
    ("email-mailgun-flanker/long-links.eml", "complaint", "postmaster@example.com"),
    ("email-mailgun-flanker/mailformed-headers.eml", "complaint", "headers@gmail.com"),
    ("email-mailgun-flanker/missing-boundaries.eml", "complaint", "me@example.com"),
    ("email-mailgun-flanker/missing-final-boundary.eml", "complaint", "me@example.com"),
    ("email-mailgun-flanker/no-ctype.eml", "complaint", "bob@marley.com"),
    ("email-mailgun-flanker/outlook-express.eml", "complaint", "bob@example.com"),
    ("email-mailgun-flanker/quoted-printable.eml", "complaint", "bob@example.com"),
    ("email-mailgun-flanker/russian-attachment-yahoo.eml", "complaint", "mailboxaddr1234567@yahoo.com"),
    ("email-mailgun-flanker/signed.eml", "complaint", "sender@example.dom"),
    ("email-mailgun-flanker/spam__broken-ctype.eml", "complaint", "hello@example.com"),
    ("email-mailgun-flanker/spam__broken-headers.eml", "complaint", "admin@advertise-bz.cn"),
    ("email-mailgun-flanker/torture-part.eml", "complaint", "mrc@cac.washington.edu"),
    ("email-spamscope-mail-parser/mail_malformed_1", "complaint", "femucca@tin.it"),
    ("email-spamscope-mail-parser/mail_malformed_2", "ignored", "bounce"),
    ("email-spamscope-mail-parser/mail_malformed_3", "complaint", "smgsiso@yahoo.com.mx"),
    ("email-spamscope-mail-parser/mail_outlook_1", "quarantined", "missing_sender"),
    ("email-spamscope-mail-parser/mail_test_10", "complaint", "nicoletta_bernasconi@it.ibm.com"),
    ("email-spamscope-mail-parser/mail_test_12", "complaint", "baoguan@hotmail.com"),
    ("email-spamscope-mail-parser/mail_test_13", "complaint", "info@continuityinsights.com"),
    ("email-spamscope-mail-parser/mail_test_14", "complaint", "example@example.com"),
    ("email-spamscope-mail-parser/mail_test_17", "complaint", "notificaccion-clientes@bbva.mx"),
    ("email-spamscope-mail-parser/mail_test_18", "complaint", "comma.name@example.com"),
    ("email-spamscope-mail-parser/mail_test_19", "complaint", "alice@example.com"),
    ("email-spamscope-mail-parser/mail_test_2", "complaint", "meteo@regione.vda.it"),
    ("email-spamscope-mail-parser/mail_test_5", "ignored", "bulk_mail"),
    ("email-spamscope-mail-parser/mail_test_6", "ignored", "no_reply_sender"),
    ("email-spamscope-mail-parser/mail_test_9", "complaint", "zyb@sgis.com.cn"),
]


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"corpus missing at {CORPUS}")
        pytest.skip(f"corpus missing at {CORPUS}")
    return CORPUS


def outcome_of(path: Path) -> tuple[str, str]:
    """(outcome, reason or reporter identity) of one raw email file."""
    payload = path.read_bytes()
    raw = RawMessage(
        channel="email", event="message", external_id=external_id(payload), received_at=RECEIVED, payload=payload
    )
    try:
        result = normalize(raw)
    except (QuarantinedInput, UnsupportedEvent) as exc:
        return "quarantined", exc.reason
    if isinstance(result, Ignored):
        return "ignored", result.reason
    if isinstance(result, FollowUp):
        return "follow_up", result.record.reporter.identity
    assert isinstance(result, Complaint)
    assert result.title and result.body.text, "a complaint always has a title and a body"
    return "complaint", result.reporter.identity


@pytest.mark.parametrize(("name", "outcome", "detail"), TABLE, ids=[row[0].split("/", 1)[1] for row in TABLE])
def test_corpus_message(name: str, outcome: str, detail: str) -> None:
    assert outcome_of(corpus_or_skip() / name) == (outcome, detail)


def test_every_corpus_file_has_a_row() -> None:
    root = corpus_or_skip()
    files = {
        f"{folder}/{path.name}"
        for folder in FOLDERS
        for path in (root / folder).iterdir()
        if path.is_file() and path.name != "MANIFEST.md"
    }
    assert files == {row[0] for row in TABLE}


def test_replay_dry_run_gives_the_same_table() -> None:
    """The operator's path: `lapor-gateway replay --dry-run --channel email FILE...`, one JSON line each."""
    root = corpus_or_skip()
    if "email" not in CHANNELS or "email" not in NORMALIZERS:
        pytest.skip("the email channel is not in channels/registry.py and normalizers/registry.py yet")
    cli = Path(sys.executable).parent / "lapor-gateway"
    files = [str(root / name) for name, _outcome, _detail in TABLE]
    done = subprocess.run(
        [str(cli), "replay", "--dry-run", "--channel", "email", *files],
        capture_output=True, text=True, timeout=120, check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [line["source"] for line in lines] == files  # none lost
    got = []
    for line in lines:
        record = line["record"] or {}
        detail = line["reason"] if line["outcome"] in ("ignored", "quarantined") else record["reporter"]["identity"]
        got.append((line["outcome"], detail))
    assert got == [(outcome, detail) for _name, outcome, detail in TABLE]
