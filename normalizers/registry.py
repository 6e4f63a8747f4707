"""The explicit table of normalizers, one per channel."""

from __future__ import annotations

from gateway.outcomes import Normalizer
from normalizers import email as email_normalizer
from normalizers import jasmin, kannel, meta, smssync, telegram, twilio, x

NORMALIZERS: dict[str, Normalizer] = {
    "twilio": twilio.normalize,
    "kannel": kannel.normalize,
    "jasmin": jasmin.normalize,
    "smssync": smssync.normalize,
    "x": x.normalize,
    "meta": meta.normalize,
    "telegram": telegram.normalize,
    "email": email_normalizer.normalize,
    "imap": email_normalizer.normalize,
}
