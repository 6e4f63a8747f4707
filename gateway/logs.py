"""Structured JSON logs in which secrets never appear and personal data (NIK/KK, phones, e-mails) is masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from gateway.intel.pii import mask_pii

REDACTED = "[redacted]"


class Redactor:
    """Replaces known secret values and masks personal data in every field.

    The masking is gateway.intel.pii's (the same rules as admin listings): NIK/KK and other 16-digit
    numbers, phone numbers, e-mail addresses, bank accounts and any run of 10 or more digits.
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values to redact wherever they appear (tokens, passwords, app secrets)."""
        self._secrets.update(secret for secret in secrets if secret and len(secret) >= 4)

    def scrub(self, text: str) -> str:
        """The text with secrets removed and personal data masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return mask_pii(text)

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = self.scrub(value)
            elif value is not None and not isinstance(value, int | float | bool):
                event[key] = self.scrub(str(value))
        return event


REDACTOR = Redactor()


def configure(*, level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    """Route structlog and stdlib logging through one redacting JSON renderer."""
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        REDACTOR,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Client libraries log request URLs and headers at INFO/DEBUG; keep them quiet. Database drivers log
    # every statement with its parameters at DEBUG: whole complaint records, names and message text included.
    for noisy in ("twilio", "aiohttp.access", "tweepy", "urllib3", "mail.log", "sqlalchemy.engine", "aiosqlite",
                  "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
