"""The email normalizer on the project's own fixtures: one row per case, failure rows included."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, Reference
from normalizers.email import normalize
from normalizers.email_attachments import MAX_ATTACHMENTS, attachment_blobs, sanitize_name
from normalizers.email_bounce import bounced_acks
from normalizers.email_charset import decode_text
from normalizers.email_parse import external_id
from normalizers.email_quotes import trim_reply
from normalizers.email_threading import subject_matches

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
RECEIVED = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)


def raw_of(payload: bytes, *, event: str = "message", meta: dict[str, str] | None = None) -> RawMessage:
    return RawMessage(
        channel="email",
        event=event,
        external_id=external_id(payload),
        received_at=RECEIVED,
        payload=payload,
        meta=meta or {},
    )


def fixture(name: str, **kwargs: object) -> RawMessage:
    return raw_of((FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


def complaint_of(outcome: object) -> Complaint:
    if isinstance(outcome, FollowUp):
        return outcome.record
    assert isinstance(outcome, Complaint), outcome
    return outcome


def test_plain_complaint_fields() -> None:
    outcome = normalize(fixture("complaint-plain.eml"))
    record = complaint_of(outcome)
    assert isinstance(outcome, Complaint)
    assert record.reporter.identity == "budi.santoso@example.id"
    assert record.reporter.email == "budi.santoso@example.id"
    assert record.reporter.name == "Budi Santoso"
    assert record.title == "Jalan rusak di Jl. Merdeka No. 5"
    assert record.body.text.startswith("Selamat pagi,")
    assert "Warga RT 03" not in record.body.text  # signature trimmed; the raw keeps it
    assert record.body.language == "id"
    assert record.reply_to is not None
    assert record.reply_to.address == "budi.santoso@example.id"
    assert record.reply_to.in_reply_to == "<complaint-plain-1@example.id>"
    assert record.reply_to.sender == "pengaduan@lapor.example.go.id"
    assert record.raw.sha256 == (hashlib.sha256((FIXTURES / "complaint-plain.eml").read_bytes()).hexdigest(),)


def test_markers_quotes_and_mobile_footer_trimmed() -> None:
    record = complaint_of(normalize(fixture("complaint-anonim-quoted.eml")))
    assert record.privacy.anonim and record.privacy.rahasia
    assert "#anonim" not in record.body.text and "#rahasia" not in record.title
    assert record.title == "Pungutan liar di kelurahan"
    assert "Silakan datang" not in record.body.text
    assert "Dikirim dari iPhone" not in record.body.text
    assert record.body.text.startswith("Petugas kelurahan meminta uang")


@pytest.mark.parametrize(
    ("name", "references", "title"),
    [
        (
            "reply-tagged.eml",
            (
                Reference(kind="tracking_id", value="1916449"),
                Reference(kind="message_id", value="<lapor-ack.01JDXYZ@lapor.example.go.id>"),
                Reference(kind="message_id", value="<complaint-plain-1@example.id>"),
            ),
            "Laporan Anda telah diterima",
        ),
        (
            "reply-untagged.eml",
            (Reference(kind="message_id", value="<lapor-ack.01JDXYZ@lapor.example.go.id>"),),
            "Laporan Anda telah diterima",
        ),
    ],
    ids=["subject-tag-and-ack-id", "ack-id-only"],
)
def test_replies_are_follow_ups(name: str, references: tuple[Reference, ...], title: str) -> None:
    outcome = normalize(fixture(name))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == references
    assert outcome.record.thread.references == references
    assert outcome.record.title == title
    assert "wrote:" not in outcome.record.body.text
    assert "Laporan Anda telah kami terima" not in outcome.record.body.text


def test_reply_to_any_message_carries_the_reference_for_the_pipeline() -> None:
    """A reporter replying to their own first mail: the pipeline resolves it, or keeps it unresolved."""
    payload = (FIXTURES / "complaint-plain.eml").read_bytes().replace(
        b"MIME-Version", b"In-Reply-To: <someone-else@example.org>\nMIME-Version", 1
    )
    outcome = normalize(raw_of(payload))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (Reference(kind="message_id", value="<someone-else@example.org>"),)
    assert outcome.record.thread.conversation_key == "<someone-else@example.org>"


@pytest.mark.parametrize(
    ("reply", "original", "matches"),
    [
        ("Re: [LAPOR #1916449] Jalan rusak", "[LAPOR #1916449] Jalan rusak", True),
        ("Balas: Jalan rusak di Jl. Merdeka", "Jalan rusak di Jl. Merdeka", True),
        ("RE: AW: jalan RUSAK", "Jalan rusak", True),
        ("Re: Lampu jalan mati", "[LAPOR #1916449] Jalan rusak", False),
        ("Re:", "Jalan rusak", False),
    ],
    ids=["tagged", "indonesian-prefix", "stacked-prefixes-case", "new-topic", "empty"],
)
def test_subject_matches(reply: str, original: str, matches: bool) -> None:
    assert subject_matches(reply, original) is matches


def test_html_only_converted_without_quote() -> None:
    record = complaint_of(normalize(fixture("html-only-gmail.eml")))
    assert "html_only" in record.flags
    assert "Gang Melati" in record.body.text and "<b>" not in record.body.text
    assert "kutipan" not in record.body.text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mislabelled-charset.eml", "café"),
        ("unknown-charset.eml", "Sampah menumpuk di pasar"),
    ],
    ids=["latin1-labelled-utf8", "unknown-charset"],
)
def test_charset_fallback(name: str, expected: str) -> None:
    record = complaint_of(normalize(fixture(name)))
    assert expected in record.body.text
    assert "charset_fallback" in record.flags


def test_encoded_headers_and_attachments() -> None:
    record = complaint_of(normalize(fixture("encoded-headers.eml")))
    assert record.reporter.name == "Wayan Sudársana"
    assert record.title == "Jembatan retak – mohon diperiksa"
    pdf, image = record.attachments
    assert pdf.media_type == "application/pdf"
    assert pdf.name == "passwd laporan é.pdf"  # RFC 2231 decoded, directories dropped
    assert pdf.sha256 == hashlib.sha256(b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n").hexdigest()
    assert pdf.size == 19
    assert pdf.state == "stored"
    assert image.media_type == "image/jpeg" and image.name is None  # inline image kept


@pytest.mark.parametrize(
    ("name", "reason", "detail"),
    [
        ("ooo-indonesian.eml", "auto_reply", "out-of-office subject"),
        ("ooo-english.eml", "auto_reply", "out-of-office subject"),
        ("auto-submitted.eml", "auto_reply", "Auto-Submitted: auto-replied"),
        ("x-autoreply.eml", "auto_reply", "X-Autoreply"),
        ("x-auto-response-suppress.eml", "auto_reply", "X-Auto-Response-Suppress"),
        ("precedence-junk.eml", "bulk_mail", "Precedence: junk"),
        ("null-return-path.eml", "null_return_path", ""),
        ("empty.eml", "empty_message", ""),
    ],
    ids=["ooo-id", "ooo-en", "auto-submitted", "x-autoreply", "x-ars", "precedence", "null-path", "empty"],
)
def test_machine_and_empty_mail_ignored(name: str, reason: str, detail: str) -> None:
    outcome = normalize(fixture(name))
    assert outcome == Ignored(reason=reason, detail=detail)


def test_auto_submitted_no_is_a_human() -> None:
    assert isinstance(normalize(fixture("auto-submitted-no.eml")), Complaint)


def test_envelope_null_sender_ignored() -> None:
    outcome = normalize(fixture("complaint-plain.eml", meta={"mail_from": "<>", "rcpt_tos": "a@b.id"}))
    assert outcome == Ignored(reason="null_return_path")


@pytest.mark.parametrize(
    ("name", "recipients", "ids", "ours", "kind"),
    [
        (
            "bounce-of-our-ack.eml",
            ["budi.santoso@example.id"],
            ["<lapor-ack.01JDXYZ@lapor.example.go.id>"],
            True,
            "dsn",
        ),
        (
            "bounce-nonstandard.eml",
            ["citizen@example.net"],
            ["<lapor-ack.01JDABC@lapor.example.go.id>"],
            True,
            "non_standard",
        ),
    ],
    ids=["dsn", "non-standard"],
)
def test_bounce_of_our_ack_names_message_and_recipient(
    name: str, recipients: list[str], ids: list[str], ours: bool, kind: str
) -> None:
    outcome = normalize(fixture(name))
    assert isinstance(outcome, Ignored) and outcome.reason == "bounce"
    detail = json.loads(outcome.detail)
    assert detail["recipients"] == recipients
    assert detail["bounced_message_ids"] == ids
    assert detail["ours"] is ours
    assert detail["kind"] == kind


def test_web_form_reporter_from_reply_to() -> None:
    record = complaint_of(normalize(fixture("web-form-reply-to.eml")))
    assert record.reporter.identity == "ani@example.id"
    assert "reporter_from_reply_to" in record.flags


def test_missing_message_id_uses_content_hash() -> None:
    payload = (FIXTURES / "no-message-id.eml").read_bytes()
    assert external_id(payload) == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert isinstance(normalize(raw_of(payload)), Complaint)


def test_sender_from_envelope_when_headers_have_none() -> None:
    record = complaint_of(normalize(fixture("no-sender.eml", meta={"mail_from": "<Warga@Example.ID>"})))
    assert record.reporter.identity == "warga@example.id"
    assert "reporter_from_envelope" in record.flags


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (fixture("no-sender.eml"), QuarantinedInput, "missing_sender"),
        (raw_of(b"   \r\n"), QuarantinedInput, "empty_payload"),
        (fixture("complaint-plain.eml", event="status"), UnsupportedEvent, "unsupported_event"),
    ],
    ids=["no-sender", "empty-payload", "unknown-event"],
)
def test_failures(raw: RawMessage, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as caught:
        normalize(raw)
    assert getattr(caught.value, "reason", None) == reason


def test_attachment_caps_list_the_rest_as_unavailable() -> None:
    message = EmailMessage()
    message["From"] = "Budi <budi@example.id>"
    message["To"] = "pengaduan@lapor.example.go.id"
    message["Subject"] = "Banyak foto"
    message["Message-ID"] = "<caps@example.id>"
    message.set_content("Foto-foto kerusakan terlampir.")
    for index in range(MAX_ATTACHMENTS + 3):
        message.add_attachment(bytes([index]) * 10, maintype="image", subtype="png", filename=f"f{index}.png")
    record = complaint_of(normalize(raw_of(message.as_bytes())))
    states = [attachment.state for attachment in record.attachments]
    assert states == ["stored"] * MAX_ATTACHMENTS + ["unavailable"] * 3
    assert "attachments_over_cap" in record.flags
    assert len(attachment_blobs(message.as_bytes())) == MAX_ATTACHMENTS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("foto\x00<1>.jpg", "foto__1_.jpg"),
        ("...", None),
        ("CON.txt", "_CON.txt"),
        ("", None),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
    ids=["unix-traversal", "windows-traversal", "control-and-reserved", "dots-only", "device-name", "empty", "long"],
)
def test_sanitize_name(name: str, expected: str | None) -> None:
    assert sanitize_name(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jalan rusak.\n\n-----Original Message-----\nFrom: x\nlama", "Jalan rusak."),
        ("Jalan rusak.\n\nFrom: Dinas <d@x.id>\nSent: Monday\nTo: me\nSubject: s\n\nlama", "Jalan rusak."),
        ("Jalan rusak.\n> kutipan\n> lagi", "Jalan rusak."),
        ("> hanya kutipan", "> hanya kutipan"),
        ("Jalan rusak.\n-- \nBudi", "Jalan rusak."),
        ("Jalan rusak di luar kantor camat.\nSent from my Android", "Jalan rusak di luar kantor camat."),
    ],
    ids=["outlook-separator", "outlook-header-block", "trailing-quote", "all-quote-kept", "signature", "footer"],
)
def test_trim_reply(text: str, expected: str) -> None:
    assert trim_reply(text) == expected


@pytest.mark.parametrize(
    ("data", "label", "text", "fallback"),
    [
        (b"caf\xc3\xa9", "utf-8", "café", False),
        (b"caf\xe9", "utf-8", "café", True),
        (b"caf\xc3\xa9", "iso-8859-1", "café", True),
        (b"caf\xe9", "iso-8859-1", "café", False),
        (b"\xc4\xe3\xba\xc3", "gb2312", "你好", False),
        (b"abc", "base64", "abc", True),
        (b"abc", "no-such-charset", "abc", True),
        (b"\x81\x8d\x8f", None, "\x81\x8d\x8f", True),
    ],
    ids=["utf8", "latin1-as-utf8", "utf8-as-latin1", "latin1", "gb2312", "non-text-codec", "unknown", "last-resort"],
)
def test_decode_text(data: bytes, label: str | None, text: str, fallback: bool) -> None:
    decoded = decode_text(data, label)
    assert (decoded.text, decoded.fallback) == (text, fallback)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Type: text/plain; a*\n",  # IndexError inside the stdlib parser itself
        b"Content-Type: multipart/mixed; boundary*0*=x; b*\n",
        b"Content-Type: text/plain; charset*=\n",
        b"Content-Disposition: attachment; filename*\n",
        b"Content-Type: text/plain; charset=\"\xff\xfe\"\n",
        b"Subject: =?no-such-charset?q?abc?= =?utf-8?b?!!!?=\n",
    ],
    ids=["ct-star-param", "ct-bad-continuation", "ct-empty-2231", "cd-star-param", "ct-8bit-charset", "bad-words"],
)
def test_hostile_headers_still_normalize(headers: bytes) -> None:
    payload = b"From: Budi <budi@example.id>\nMessage-ID: <h@example.id>\n" + headers + b"\nJalan rusak.\n"
    record = complaint_of(normalize(raw_of(payload)))
    assert record.reporter.identity == "budi@example.id"
    assert "Jalan rusak." in record.body.text


def test_huge_headers_cost_little() -> None:
    """The stdlib's header parsers are superlinear; a 2 MB encoded Subject must not stall the pipeline."""
    subject = " ".join(["=?utf-8?q?Jalan_rusak_parah?="] * 70_000)
    payload = f"From: Budi <budi@example.id>\nSubject: {subject}\nMessage-ID: <big@example.id>\n\nJalan rusak.\n"
    started = time.perf_counter()
    record = complaint_of(normalize(raw_of(payload.encode())))
    assert time.perf_counter() - started < 2.0
    assert record.title.startswith("Jalan rusak parah")


@pytest.mark.parametrize("name", ["encoded-headers.eml", "complaint-plain.eml"], ids=["two-files", "none"])
def test_attachment_blobs_match_the_record(name: str) -> None:
    payload = (FIXTURES / name).read_bytes()
    record = complaint_of(normalize(raw_of(payload)))
    blobs = attachment_blobs(payload)
    assert set(blobs) == {a.sha256 for a in record.attachments if a.state == "stored"}
    assert all(hashlib.sha256(data).hexdigest() == key for key, data in blobs.items())


@pytest.mark.parametrize(
    ("name", "replace", "reason", "acks"),
    [
        ("bounce-of-our-ack.eml", (b"", b""), "bounce", ("<lapor-ack.01JDXYZ@lapor.example.go.id>",)),
        ("bounce-of-our-ack.eml", (b"Action: failed", b"Action: delayed"), "delivery_delayed", ()),
        ("bounce-of-our-ack.eml", (b"<lapor-ack.01JDXYZ@", b"<someone-else@"), "bounce", ()),
        ("bounce-nonstandard.eml", (b"", b""), "bounce", ("<lapor-ack.01JDABC@lapor.example.go.id>",)),
        ("ooo-english.eml", (b"", b""), "auto_reply", ()),
    ],
    ids=["our-ack-failed", "delayed-is-not-a-bounce", "not-ours", "non-standard", "not-a-bounce"],
)
def test_bounced_acks(name: str, replace: tuple[bytes, bytes], reason: str, acks: tuple[str, ...]) -> None:
    payload = (FIXTURES / name).read_bytes().replace(*replace) if replace[0] else (FIXTURES / name).read_bytes()
    outcome = normalize(raw_of(payload))
    assert isinstance(outcome, Ignored) and outcome.reason == reason
    assert bounced_acks(outcome) == acks


def test_leading_tracking_id_in_the_body_is_a_follow_up() -> None:
    payload = (
        b"From: Budi <budi@example.id>\nTo: pengaduan@lapor.example.go.id\nSubject: Tambahan\n"
        b"Message-ID: <lead@example.id>\n\n#1916449 jalan masih rusak sampai hari ini\n"
    )
    outcome = normalize(raw_of(payload))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (Reference(kind="tracking_id", value="1916449"),)
    assert outcome.record.body.text == "jalan masih rusak sampai hari ini"
