"""Attachments of an email: described content-addressed, names sanitized, count and size capped."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email.message import Message

from gateway.records import Attachment
from normalizers.email_body import part_bytes, select_body
from normalizers.email_charset import repair_surrogates
from normalizers.email_parse import parse, walk

MAX_ATTACHMENTS = 20  # described as available; more are listed as unavailable
MAX_TOTAL_BYTES = 25 * 1024 * 1024  # what mail providers allow per message
MAX_LISTED = 100  # beyond this an attachment is not even listed, only flagged
NAME_MAX_BYTES = 200

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# Windows device names cannot be file names on the machines operators open attachments on.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_CONTAINERS = frozenset({"multipart", "message"})
_REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/disposition-notification", "message/feedback-report"}
)


@dataclass(frozen=True, slots=True)
class Attachments:
    """The attachments found, and whether some were only listed or not listed at all."""

    items: tuple[Attachment, ...]
    over_cap: bool = False
    truncated: bool = False


def sanitize_name(name: str | None) -> str | None:
    """A file name without directories, control or reserved characters; None when nothing is left."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", repair_surrogates(name))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").rstrip(". ")
    if not name:
        return None
    if _RESERVED.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > NAME_MAX_BYTES:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:16] if dot and stem else ""
        keep = NAME_MAX_BYTES - len(extension.encode("utf-8")) - 1
        stem = (stem if extension else name).encode("utf-8")[:keep].decode("utf-8", "ignore")
        name = f"{stem}.{extension}" if extension else stem
    return name


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # RFC 2231 values in unknown charsets, malformed parameter lists
        return None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # a malformed Content-Disposition header
        return "attachment"


def is_attachment(part: Message, body_parts: tuple[Message, ...]) -> bool:
    """A leaf part that is a file rather than the text of the message."""
    if any(part is body for body in body_parts):
        return False
    media_type = part.get_content_type()
    if part.get_content_maintype() in _CONTAINERS and media_type != "message/rfc822":
        return False
    if media_type in _REPORT_PARTS:
        return False
    if part.get_content_maintype() == "text":
        return _disposition(part) == "attachment" or _filename(part) is not None
    return True


def _content(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes()
            except Exception:  # serialising a broken inner message can fail in the generator
                return b""
        return b""
    return part_bytes(part)


def describe_attachments(message: Message, body_parts: tuple[Message, ...]) -> Attachments:
    """Every file in the message (inline images included), in order, within the caps."""
    items: list[Attachment] = []
    total = 0
    over_cap = truncated = False
    for part in walk(message)[1:] if message.is_multipart() else [message]:
        if not is_attachment(part, body_parts):
            continue
        if len(items) >= MAX_LISTED:
            truncated = True
            break
        data = _content(part)
        total += len(data)
        available = len(items) < MAX_ATTACHMENTS and total <= MAX_TOTAL_BYTES
        over_cap = over_cap or not available
        items.append(
            Attachment(
                media_type=part.get_content_type(),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                name=sanitize_name(_filename(part)),
                # The bytes are inside the raw message, which the archive keeps; see attachment_blobs().
                state="stored" if available else "unavailable",
            )
        )
    return Attachments(tuple(items), over_cap=over_cap, truncated=truncated)


def attachment_blobs(payload: bytes) -> dict[str, bytes]:
    """The content of every available attachment of a raw email by sha256, for a content-addressed store.

    The same selection as the record's attachments: an Attachment with state "stored" has its
    bytes here under its sha256; "unavailable" ones (over the caps) are left out.
    """
    message = parse(payload)
    body_parts = select_body(message).parts
    blobs: dict[str, bytes] = {}
    total = count = 0
    for part in walk(message)[1:] if message.is_multipart() else [message]:
        if not is_attachment(part, body_parts):
            continue
        count += 1
        if count > MAX_ATTACHMENTS:
            break
        data = _content(part)
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            break
        blobs[hashlib.sha256(data).hexdigest()] = data
    return blobs
