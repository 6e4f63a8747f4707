"""What the social webhooks share: a capped body read, HMAC checks in constant time, JSON parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from aiohttp import web

from gateway.errors import RejectedInput

JsonObject = dict[str, object]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw request body, refused with 413 beyond `limit` bytes (before reading it all)."""
    if request.content_length is not None and request.content_length > limit:
        raise RejectedInput("body_too_large", detail=str(request.content_length), status=413)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise RejectedInput("body_too_large", detail=f">{limit}", status=413)
    return body


def hmac_sha256(secret: str, message: bytes) -> bytes:
    """HMAC-SHA256 of `message` keyed with `secret`."""
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def check_prefixed_signature(header: str | None, expected: str) -> None:
    """Compare a `sha256=...` signature header in constant time; 403 when missing or wrong."""
    if not header:
        raise RejectedInput("missing_signature", status=403)
    if not hmac.compare_digest(header.strip().encode(), expected.encode()):
        raise RejectedInput("bad_signature", status=403)


def sha256_hex_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>` as Meta signs webhook bodies."""
    return "sha256=" + hmac_sha256(secret, body).hex()


def sha256_base64_signature(secret: str, body: bytes) -> str:
    """`sha256=<base64>` as X signs webhook bodies and answers CRC challenges."""
    return "sha256=" + base64.b64encode(hmac_sha256(secret, body)).decode()


def parse_object(body: bytes) -> JsonObject | None:
    """The body as a JSON object, or None when it is not one (kept then as an unknown event)."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def dump(value: object) -> bytes:
    """Canonical JSON bytes for a payload the channel sliced out of a larger delivery."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def body_digest(body: bytes) -> str:
    """The sha256 of a body, used as the external id of input that has no provider id."""
    return hashlib.sha256(body).hexdigest()

