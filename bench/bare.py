"""The baseline: a bare aiohttp app answering POST /c/twilio/receive with the same empty TwiML and no work.

Run as `python -m bench.bare --port P`. It reads the body (any server must) but neither parses, checks,
nor stores it, so the gateway's figures divided by these are the cost of the gateway's own work.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def receive(request: web.Request) -> web.Response:
    """Read the body and answer as the gateway does."""
    await request.read()
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def health(_request: web.Request) -> web.Response:
    """Ready probe."""
    return web.Response(text="ok")


def app() -> web.Application:
    """The bare application."""
    application = web.Application()
    application.router.add_post("/c/twilio/receive", receive)
    application.router.add_get("/healthz", health)
    return application


def main() -> None:
    """Serve on 127.0.0.1:PORT until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The gateway serves on uvloop (gateway/cli.py); so does its baseline.
    web.run_app(app(), host="127.0.0.1", port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
