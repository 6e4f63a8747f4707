"""The explicit table of normalizers, one per channel."""

from __future__ import annotations

from gateway.outcomes import Normalizer
from normalizers import twilio

NORMALIZERS: dict[str, Normalizer] = {
    "twilio": twilio.normalize,
}
