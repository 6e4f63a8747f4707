"""Parsing RFC 5322 bytes safely: the message, its headers, its Message-ID and addresses.

The stdlib parser never raises on bad input, but reading a header through `policy.default`
can (IndexError, ValueError and friends from `_header_value_parser` on hostile input), so
every header is read through `header()` which falls back to the raw, undecoded value.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import re
from collections.abc import Callable
from email.header import decode_header, make_header
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import collapse_rfc2231_value, getaddresses, parseaddr
from typing import Any

from gateway.errors import QuarantinedInput
from normalizers.email_charset import repair_surrogates

EXTERNAL_ID_MAX = 255  # raw_message.external_id column width
HEADER_MAX = 4096  # longest header value we look at (long-header.eml folds 210 KB into Subject)

STRUCTURED_MAX = 8192  # characters of a header value handed to the stdlib's structured parsers
MAX_DEPTH = 30  # MIME nesting we follow; deeper parts are not looked at
MAX_PARTS = 1000  # parts we look at in one message
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:[ \t]*((?:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*))", re.I | re.M)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_ANGLE_ID = re.compile(r"<([^<>\s]{1,250})>")
_WHITESPACE = re.compile(r"\s+")


class LenientPolicy(EmailPolicy):
    """`policy.default`, except that a header its parser cannot read degrades instead of raising.

    The structured header parsers raise IndexError and friends on hostile values (found by
    the mutation test), and the feed parser reads Content-Type through them while parsing.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """The structured header; failing that, its first `;` segment; failing that, unstructured."""
        if not hasattr(value, "name") and len(value) > STRUCTURED_MAX:
            # The structured parsers are superlinear: a 200 KB Subject costs a second of CPU.
            value = value[:STRUCTURED_MAX]
        attempts: list[Callable[[], Any]] = [lambda: super(LenientPolicy, self).header_fetch_parse(name, value)]
        if name.lower().startswith("content-") and ";" in value:
            head = value.split(";", 1)[0]
            attempts.append(lambda: super(LenientPolicy, self).header_fetch_parse(name, head))
        attempts.append(lambda: _UNSTRUCTURED(name, "".join(value.splitlines())))
        for attempt in attempts:
            with contextlib.suppress(Exception):  # see the class docstring
                return attempt()
        return value  # even the unstructured parser failed; the raw text still reads


_UNSTRUCTURED = HeaderRegistry(default_class=UnstructuredHeader, use_default_map=False)
LENIENT = LenientPolicy()


def parse(payload: bytes) -> EmailMessage:
    """Parse RFC 5322 bytes with `policy.default` made lenient; pathological nesting is quarantined."""
    try:
        message = email.message_from_bytes(payload, policy=LENIENT)
    except RecursionError as exc:
        raise QuarantinedInput("mime_too_deep") from exc
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """One header decoded (RFC 2047), whitespace folded; '' when absent or unreadable."""
    raw = _raw_value(message, name)
    if raw is None:
        return ""
    if _has_surrogates(raw):
        # Raw 8-bit bytes in a header (RFC 6532, or just broken): decode them ourselves.
        value = repair_surrogates(decode_words(raw))
    else:
        try:
            value = str(message.get(name, ""))
        except Exception:  # policy.default header parsing crashes on some hostile values
            value = decode_words(raw)
    return _WHITESPACE.sub(" ", value[:HEADER_MAX]).strip()


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _raw_value(message: Message, name: str) -> str | None:
    """The first value of a header exactly as parsed, before any decoding."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)[: HEADER_MAX * 4]
    return None


def walk(message: Message, *, max_depth: int = MAX_DEPTH, max_parts: int = MAX_PARTS) -> list[Message]:
    """Every part, depth first like Message.walk(), bounded in depth and count.

    An attached message (message/rfc822) is one part: what it contains is not ours to read.
    """
    found: list[Message] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and len(found) < max_parts:
        part, depth = stack.pop()
        found.append(part)
        if depth >= max_depth or part.get_content_maintype() != "multipart":
            continue
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))
    return found


def content_param(part: Message, name: str) -> str:
    """A Content-Type parameter (RFC 2231 collapsed), '' when absent or malformed."""
    try:
        value = part.get_param(name, header="content-type")
        if value is None:
            return ""
        return str(collapse_rfc2231_value(value))
    except Exception:  # malformed parameter lists and RFC 2231 values with unknown charsets
        return ""


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently; undecodable words stay as written."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # unknown charsets and broken base64 inside encoded words
        return value


def message_ids(value: str) -> tuple[str, ...]:
    """The `<id>` tokens of a Message-ID, In-Reply-To or References value, in order, deduplicated."""
    seen: dict[str, None] = {}
    for match in _ANGLE_ID.finditer(value):
        seen.setdefault(f"<{match.group(1)}>", None)
    return tuple(seen)


def external_id(payload: bytes) -> str:
    """The dedup key of a raw email: its Message-ID, or a content hash when it has none.

    Reads only the header block with a regular expression, so the SMTP server can compute it
    before answering without parsing the whole message.
    """
    end = _HEADER_END.search(payload)
    head = payload[: end.start()] if end else payload[:65536]
    match = _MESSAGE_ID.search(head)
    if match:
        value = match.group(1).decode("utf-8", "replace")
        ids = message_ids(_WHITESPACE.sub("", value))
        if ids and len(ids[0]) <= EXTERNAL_ID_MAX:
            return ids[0]
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def address(message: Message, name: str) -> tuple[str, str] | None:
    """(display name, lower-cased address) of the first address in a header, or None."""
    parsed = _parsed_address(message, name)
    if parsed is not None:
        return parsed
    raw = _raw_value(message, name)
    if raw is None:
        return None
    raw = repair_surrogates(decode_words(raw))
    name_part, addr = parseaddr(raw)
    if "@" not in addr:
        found = getaddresses([raw])
        addr = next((a for _n, a in found if "@" in a), "")
    if "@" not in addr:
        return None
    return name_part.strip(), addr.strip().lower()


def _parsed_address(message: Message, name: str) -> tuple[str, str] | None:
    """The first address as policy.default parses it, or None when that fails."""
    try:
        addresses = getattr(message.get(name), "addresses", None)
        first = addresses[0] if addresses else None
        if not isinstance(first, Address) or "@" not in first.addr_spec:
            return None
        return repair_surrogates(first.display_name).strip(), repair_surrogates(first.addr_spec).strip().lower()
    except Exception:  # policy.default address parser crashes on some hostile values
        return None


def envelope_sender(mail_from: str) -> str:
    """The envelope MAIL FROM without angle brackets, lower-cased ('' for the null path)."""
    return mail_from.strip().strip("<>").strip().lower()
