"""`lapor-gateway twilio-sim`: the local Twilio Messages API stand-in."""

from __future__ import annotations

from typing import Annotated

import typer
from aiohttp import web

from gateway.sandbox.twilio import TwilioSandbox


def twilio_sim(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8091,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    account_sid: Annotated[str, typer.Option(help="Account SID it accepts.")] = "ACsandbox",
    auth_token: Annotated[str, typer.Option(help="Auth token it accepts.", envvar="TWILIO_SIM_TOKEN")] = "",
) -> None:
    """Serve a local Twilio Messages API (sent messages at GET /sandbox/messages)."""
    if not auth_token:
        raise typer.BadParameter("--auth-token is required", param_hint="--auth-token")
    sandbox = TwilioSandbox(account_sid=account_sid, auth_token=auth_token)
    typer.echo(f"twilio sandbox on http://{host}:{port} (GET /sandbox/messages lists what was sent)")
    web.run_app(sandbox.app(), host=host, port=port, print=None, access_log=None)
