"""tweepy's AsyncClient with a configurable API host and without secrets in its debug logs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from tweepy.asynchronous import AsyncClient
from yarl import URL

if TYPE_CHECKING:
    from channels.x import XConfig

X_API = URL("https://api.twitter.com")
# tweepy and oauthlib log whole requests at DEBUG, Authorization header and OAuth token included:
# https://github.com/tweepy/tweepy/blob/v4.14.0/tweepy/asynchronous/client.py (AsyncBaseClient.request)
_CHATTY_LOGGERS = ("tweepy.client", "tweepy.asynchronous.client", "oauthlib.oauth1.rfc5849")


class _DropRequestDumps(logging.Filter):
    """Drop the library debug records that echo credentials; keep warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_FILTER = _DropRequestDumps()


def silence_credential_dumps() -> None:
    """Install the filter once on the loggers that write credentials (filters do not inherit)."""
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class RebasedSession:
    """Stands in for tweepy's aiohttp session and sends its requests to another base URL.

    tweepy builds `"https://api.twitter.com" + route` itself and only calls `session.request(...)`;
    the OAuth 1.0a signature stays computed over the api.twitter.com URL, as the real API expects.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = URL(base_url.rstrip("/"))

    @property
    def closed(self) -> bool:
        """Whether the underlying session is closed."""
        return self._session.closed

    def rebase(self, url: str | URL) -> URL:
        """The same request path and query on the configured base URL."""
        original = url if isinstance(url, URL) else URL(url)
        if self._base == X_API:
            return original
        # raw_path_qs keeps tweepy's exact (signed) percent-encoding of the query.
        return URL(str(self._base) + original.raw_path_qs, encoded=True)

    def request(self, method: str, url: str | URL, **kwargs: Any) -> aiohttp.client._RequestContextManager:
        """Forward one request, rebased; the signature tweepy calls."""
        return self._session.request(method, self.rebase(url), **kwargs)


def make_client(config: XConfig, session: aiohttp.ClientSession) -> AsyncClient:
    """An AsyncClient with the configured credentials, raising on rate limits instead of sleeping."""
    silence_credential_dumps()
    client = AsyncClient(
        bearer_token=config.bearer_token or None,
        consumer_key=config.consumer_key or None,
        consumer_secret=config.consumer_secret or None,
        access_token=config.access_token or None,
        access_token_secret=config.access_token_secret or None,
        return_type=dict,
        # We wait ourselves, bounded and cancellable (tenacity with a stop condition).
        wait_on_rate_limit=False,
    )
    client.session = RebasedSession(session, config.api_base_url)
    return client
