"""The registry client the settings ask for."""

from __future__ import annotations

import aiohttp

from config.settings import RegistrySettings
from gateway.errors import ConfigurationError
from gateway.registry.base import RegistryClient
from gateway.registry.lapor import LaporClient
from gateway.registry.open311 import Open311Client
from gateway.registry.webhook import WebhookClient


def make_registry(settings: RegistrySettings, *, session: aiohttp.ClientSession | None = None) -> RegistryClient:
    """LAPOR! contract, Open311 GeoReport v2 or a signed webhook, by `registry.kind`."""
    if settings.kind == "lapor":
        return LaporClient.from_settings(settings, session=session)
    if settings.kind == "open311":
        return Open311Client.from_settings(settings, session=session)
    if settings.kind == "webhook":
        return WebhookClient.from_settings(settings, session=session)
    raise ConfigurationError("registry kind not available", detail=settings.kind)
