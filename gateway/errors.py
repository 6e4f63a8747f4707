"""One family of errors; only the HTTP/SMTP edge turns them into status codes."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class RejectedInput(GatewayError):
    """Input refused at the edge (bad signature, malformed body): nothing stored, a 4xx answer."""

    def __init__(self, reason: str, *, detail: str = "", status: int = 400) -> None:
        super().__init__(reason, detail=detail)
        self.status = status


class IgnoredInput(GatewayError):
    """Known input that is deliberately not a complaint (a receipt, an auto-reply)."""


class UnsupportedEvent(GatewayError):
    """Input the channel does not declare: kept and quarantined, never dropped."""


class QuarantinedInput(GatewayError):
    """Stored input that cannot be normalized: kept with its reason for an operator."""


class TransientFailure(GatewayError):
    """A failure worth retrying, optionally not before `retry_after` seconds."""

    def __init__(self, reason: str, *, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason, detail=detail)
        self.retry_after = retry_after


class PermanentFailure(GatewayError):
    """A failure that retrying cannot fix; the job becomes a dead letter."""


class ConfigurationError(GatewayError):
    """The gateway is set up wrongly (bad credentials, unknown key): an operator must act."""
