"""`lapor-gateway channels`: list, show, enable, disable, set, set-secret, unset, test.

Changes are stored in the database (secrets encrypted) and reach running gateways within seconds.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from channels.base import CredentialCheck
from channels.registry import CHANNELS
from config.settings import Settings
from gateway.admin.audit import cli_actor
from gateway.admin.channel_store import ChannelStore, channel_class_config, parse_value, secret_value
from gateway.admin.channel_view import ChannelView, describe
from gateway.admin.checks import check_channel
from gateway.admin.cli_context import ConfigOption, err, fail, run, settings_from
from gateway.errors import ConfigurationError
from gateway.storage.db import Database

app = typer.Typer(no_args_is_help=True, help="Channels and their credentials.")

NameArgument = Annotated[str, typer.Argument(help="The channel, e.g. twilio.")]


def _known(name: str) -> str:
    try:
        channel_class_config(name)
    except ConfigurationError as exc:
        raise typer.BadParameter(exc.detail, param_hint="NAME") from None
    return name


async def views(db: Database, settings: Settings) -> list[ChannelView]:
    """Every registered channel as the admin sees it."""
    store = ChannelStore(db)
    stored = await store.stored_keys()
    effective = await store.effective(settings) if stored else settings
    checks = await store.checks()
    return [describe(name, base=settings, effective=effective, stored=stored.get(name, set()),
                     check=checks.get(name)) for name in CHANNELS]


@app.command("list")
def list_channels(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Every known channel, whether it is enabled, and its last credential check."""
    settings = settings_from(config)
    result = run(settings, lambda db: views(db, settings))
    if as_json:
        for view in result:
            typer.echo(json.dumps(view.as_json()))
        return
    table = Table("channel", "enabled", "credentials", "checked at", "problem")
    for view in result:
        table.add_row(view.name, "enabled" if view.enabled else "disabled",
                      view.check.result if view.check else "-",
                      view.check.checked_at.isoformat(timespec="seconds") if view.check else "-",
                      escape(view.error or ""))
    Console(width=200).print(table)


@app.command("show")
def show(name: NameArgument, config: ConfigOption = None) -> None:
    """A channel's effective settings with their origin; secrets only as set / not set."""
    _known(name)
    settings = settings_from(config)
    view = next(view for view in run(settings, lambda db: views(db, settings)) if view.name == name)
    typer.echo(json.dumps(view.as_json(), indent=2, default=str))


def _enable(name: str, config: ConfigOption, enabled: bool) -> None:
    _known(name)
    settings = settings_from(config)
    run(settings, lambda db: ChannelStore(db).set_enabled(settings, name, enabled, actor=cli_actor()))
    typer.echo(f"{name} {'enabled' if enabled else 'disabled'}")


@app.command("enable")
def enable(name: NameArgument, config: ConfigOption = None) -> None:
    """Enable a channel (running gateways start it within seconds)."""
    _enable(name, config, True)


@app.command("disable")
def disable(name: NameArgument, config: ConfigOption = None) -> None:
    """Disable a channel (running gateways stop it within seconds)."""
    _enable(name, config, False)


@app.command("set")
def set_value(
    name: NameArgument,
    key: Annotated[str, typer.Argument(help="The setting, e.g. api_base_url.")],
    value: Annotated[str, typer.Argument(help="The value; JSON for lists, numbers and booleans.")],
    config: ConfigOption = None,
) -> None:
    """Store a (non-secret) channel setting in the database."""
    _known(name)
    settings = settings_from(config)
    run(settings, lambda db: ChannelStore(db).set_value(settings, name, key, parse_value(value), actor=cli_actor()))
    typer.echo(f"{name}.{key} saved")


@app.command("unset")
def unset(
    name: NameArgument,
    key: Annotated[str, typer.Argument(help="The setting to take out of the database.")],
    config: ConfigOption = None,
) -> None:
    """Remove a database value, so the file, the environment or the default applies again."""
    _known(name)
    settings = settings_from(config)
    removed = run(settings, lambda db: ChannelStore(db).unset(name, key, actor=cli_actor()))
    typer.echo(f"{name}.{key} {'removed' if removed else 'was not stored'}")


def read_secret(label: str) -> str:
    """The secret from a hidden prompt on a terminal, else from standard input; never from argv."""
    if sys.stdin.isatty():
        value = str(typer.prompt(label, hide_input=True, confirmation_prompt=True))
    else:
        value = sys.stdin.read().rstrip("\r\n")
    if not value:
        err.print("[red]error:[/red] empty secret; nothing saved")
        raise typer.Exit(2)
    return value


CHECK_ADVICE = {
    CredentialCheck.INVALID_AUTH: "the provider refused these credentials",
    CredentialCheck.CANNOT_CONNECT: "the provider could not be reached (use --no-check to save anyway)",
    CredentialCheck.UNKNOWN: "the provider gave an unexpected answer (use --no-check to save anyway)",
}


@app.command("set-secret")
def set_secret(
    name: NameArgument,
    key: Annotated[str, typer.Argument(help="The secret setting, e.g. auth_token.")],
    no_check: Annotated[bool, typer.Option("--no-check", help="Save without asking the provider first.")] = False,
    config: ConfigOption = None,
) -> None:
    """Store a secret (read from standard input or a hidden prompt), checked against the provider first."""
    _known(name)
    settings = settings_from(config)
    try:
        secret_value(name, key, "{}")  # refuse a key that is not a secret before asking for the value
    except ConfigurationError as exc:
        if exc.reason == "not a secret setting":
            raise fail(exc) from None
    text = read_secret(f"{name}.{key}")

    async def work(db: Database) -> CredentialCheck | None:
        store = ChannelStore(db)
        value = secret_value(name, key, text)
        candidate = await store.candidate(settings, name, key, value)
        result = None if no_check else await check_channel(candidate, name)
        if result is not None and result is not CredentialCheck.OK:
            return result
        await store.set_secret(settings, name, key, value, actor=cli_actor(),
                               check=None if result is None else str(result))
        if result is not None:
            await store.record_check(name, str(result))
        return result

    result = run(settings, work)
    if result is not None and result is not CredentialCheck.OK:
        err.print(f"[red]{result}[/red]: {CHECK_ADVICE[result]}; nothing saved")
        raise typer.Exit(1)
    typer.echo(f"{name}.{key} saved ({'not checked' if result is None else result})")


@app.command("test")
def test(name: NameArgument, config: ConfigOption = None) -> None:
    """Check the channel's credentials against its provider: ok, invalid_auth or cannot_connect."""
    _known(name)
    settings = settings_from(config)

    async def work(db: Database) -> CredentialCheck:
        store = ChannelStore(db)
        result = await check_channel(await store.effective(settings), name)
        await store.record_check(name, str(result))
        return result

    result = run(settings, work)
    typer.echo(str(result))
    if result is not CredentialCheck.OK:
        raise typer.Exit(1)
