"""The HTTP edge: channel webhooks under /c/<name>/, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from gateway import metrics
from gateway.errors import GatewayError, RejectedInput
from gateway.storage.raw_insert import ArchiveUnavailable

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def edge_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the gateway's error family into status codes; nothing else does."""
    try:
        response = await handler(request)
    except RejectedInput as exc:
        response = web.Response(status=exc.status, text=exc.reason)
    except ArchiveUnavailable:
        # Not stored, so not acknowledged: the provider will redeliver.
        log.warning("edge.archive_unavailable", path=request.path)
        response = web.Response(status=503, text="temporarily unavailable", headers={"Retry-After": "5"})
    except GatewayError as exc:
        log.warning("edge.error", path=request.path, reason=exc.reason)
        response = web.Response(status=500, text="internal error")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def metrics_handler(_request: web.Request) -> web.Response:
    """Prometheus exposition."""
    return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")
