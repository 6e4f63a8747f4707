"""The best text body of an email: text/plain preferred, HTML-only converted with inscriptis."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

import lxml.html  # type: ignore[import-untyped]
from inscriptis.html_engine import Inscriptis
from lxml.etree import ParserError  # type: ignore[import-untyped]

from normalizers.email_charset import Decoded, decode_text
from normalizers.email_parse import parse

# Quoted originals in HTML replies, removed before conversion: Gmail, Outlook, Apple Mail,
# Thunderbird and Yahoo each mark them differently.
_HTML_QUOTES = (
    "//blockquote",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' yahoo_quoted ')]",
    "//*[@id='divRplyFwdMsg']",
    "//*[@id='appendonsend']",
    "//*[@class='moz-cite-prefix']",
)
_TAG = re.compile(r"<[^>]*>")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOUNDARY_LINE = re.compile(r"^--(\S{1,70}?)(?:--)?[ \t]*$", re.MULTILINE)
_NUL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class BodyText:
    """The chosen body text and how it was obtained."""

    text: str
    html_only: bool = False
    charset_fallback: bool = False
    parts: tuple[Message, ...] = ()


def part_bytes(part: Message) -> bytes:
    """The transfer-decoded content of a leaf part; b'' when it cannot be decoded at all."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken base64/quoted-printable raise from deep inside the stdlib
        return b""
    return data if isinstance(data, bytes) else b""


def part_text(part: Message) -> Decoded:
    """A text part as str, decoded with its declared charset or a fallback."""
    try:
        label = part.get_content_charset()
    except Exception:  # a malformed Content-Type parameter list
        label = None
    return decode_text(part_bytes(part), label)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body with quoted originals left out."""
    html = _NUL.sub("", _XML_DECLARATION.sub("", html, count=1)).strip()
    if not html:
        return ""
    try:
        tree = lxml.html.document_fromstring(html)
        for path in _HTML_QUOTES:
            for element in tree.xpath(path):
                parent = element.getparent()
                if parent is not None:
                    parent.remove(element)
        return str(Inscriptis(tree).get_text())
    except (ParserError, ValueError):
        return _TAG.sub(" ", html)


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or bool(part.get_filename())
    except Exception:  # RFC 2231 parameters that do not decode
        return True


def _inline_text_siblings(message: EmailMessage, chosen: Message) -> list[Message]:
    """Text/plain parts beside the chosen one in a multipart/mixed (iPhone splits text around photos)."""
    for container in _containers(message):
        children = container.get_payload()
        if isinstance(children, list) and any(child is chosen for child in children):
            if container.get_content_subtype() != "mixed":
                return [chosen]
            return [
                child
                for child in children
                if isinstance(child, Message)
                and child.get_content_type() == "text/plain"
                and not _is_attachment(child)
            ]
    return [chosen]


def _containers(message: Message, depth: int = 0) -> list[Message]:
    if depth > 20 or not message.is_multipart():
        return []
    found = [message]
    payload = message.get_payload()
    if isinstance(payload, list):
        for child in payload:
            if isinstance(child, Message):
                found.extend(_containers(child, depth + 1))
    return found


def _no_body(message: EmailMessage) -> bool:
    try:
        return message.get_body(preferencelist=("plain", "html")) is None
    except Exception:  # see select_body
        return True


def select_body(message: EmailMessage) -> BodyText:
    """The text the author wrote, from the best body part the message has."""
    try:
        chosen = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # get_body walks headers of every part; hostile ones can raise
        chosen = None
    if chosen is None:
        return _fallback_body(message)
    if chosen.get_content_type() == "text/html":
        decoded = part_text(chosen)
        return BodyText(
            html_to_text(decoded.text), html_only=True, charset_fallback=decoded.fallback, parts=(chosen,)
        )
    parts = tuple(_inline_text_siblings(message, chosen))
    texts = [part_text(part) for part in parts]
    text = "\n\n".join(part.text.strip() for part in texts if part.text.strip())
    return BodyText(text, charset_fallback=any(part.fallback for part in texts), parts=parts)


def _fallback_body(message: EmailMessage, depth: int = 0) -> BodyText:
    """A message with no text part get_body accepts: a broken multipart, a bare forward."""
    payload = message.get_payload()
    if message.get_content_type() == "message/rfc822" and isinstance(payload, list) and depth < 3:
        # A whole message that is one forwarded message (GroupWise forwards like this).
        inner = payload[0] if payload else None
        if isinstance(inner, EmailMessage):
            return _fallback_body(inner, depth + 1) if _no_body(inner) else select_body(inner)
    if isinstance(payload, str) and message.get_content_maintype() == "multipart" and depth < 3:
        repaired = _repair_boundary(payload)
        if repaired is not None and not _no_body(repaired):
            return select_body(repaired)
    if isinstance(payload, str) and message.get_content_maintype() in ("multipart", "text"):
        # A multipart whose boundary never appears is, to the parser, one string (RFC 2046 §5.1.1).
        decoded = decode_text(payload.encode("utf-8", "surrogateescape"), "utf-8")
        return BodyText(decoded.text, charset_fallback=True)
    return BodyText("")


def _repair_boundary(payload: str) -> EmailMessage | None:
    """Re-parse a multipart whose declared boundary never appears, with the one its body uses."""
    match = _BOUNDARY_LINE.search(payload)
    if match is None:
        return None
    boundary = match.group(1).replace('"', "")
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'.encode()
    return parse(head + payload.encode("utf-8", "surrogateescape"))
