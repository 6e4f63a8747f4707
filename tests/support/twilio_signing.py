"""Signing webhook bodies the way Twilio does, with the real twilio library."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator


def sign_form(token: str, url: str, body: bytes) -> str:
    """X-Twilio-Signature for a form body POSTed to `url`."""
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)

    class _Multi(dict[str, list[str]]):
        def getall(self, key: str) -> list[str]:
            return self[key]

    return str(RequestValidator(token).compute_signature(url, _Multi(params)))


def form_body(fields: Mapping[str, str]) -> bytes:
    """A form-encoded body, as Twilio sends it."""
    return urlencode(dict(fields)).encode()
