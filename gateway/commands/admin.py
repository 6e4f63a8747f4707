"""`lapor-gateway admin token create|list|revoke` and `lapor-gateway keys generate|rotate`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from config.vault import generate_key
from gateway.admin.audit import cli_actor
from gateway.admin.channel_store import ChannelStore
from gateway.admin.cli_context import ConfigOption, err, run, settings_from
from gateway.admin.tokens import create_token, list_tokens, parse_role, revoke_token

app = typer.Typer(no_args_is_help=True, help="Admin API and console access.")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens with a role: viewer, operator or admin.")
app.add_typer(token_app, name="token")
keys_app = typer.Typer(no_args_is_help=True, help="The keys that encrypt stored secrets (LAPOR_GATEWAY_SECRET_KEYS).")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer (read) | operator (retry, replay) | admin (change channels).")],
    name: Annotated[str, typer.Option(help="Who or what holds the token (shown in the audit trail).")] = "admin",
    config: ConfigOption = None,
) -> None:
    """Create a token and print it once; only its hash is stored."""
    try:
        checked = parse_role(role)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    settings = settings_from(config)
    info, token = run(settings, lambda db: create_token(db, role=checked, name=name, actor=cli_actor()))
    err.print(f"token {info.id} ({info.role}, {info.name}); it is shown once, store it now:")
    typer.echo(token)


@token_app.command("list")
def token_list(config: ConfigOption = None) -> None:
    """Every token's id, name, role, creation, last use and revocation (never the token)."""
    settings = settings_from(config)
    table = Table("id", "name", "role", "created", "last used", "revoked")
    for info in run(settings, list_tokens):
        table.add_row(info.id, info.name, info.role, info.created_at.isoformat(timespec="seconds"),
                      info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "-",
                      info.revoked_at.isoformat(timespec="seconds") if info.revoked_at else "-")
    Console(width=200).print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id.")], config: ConfigOption = None) -> None:
    """Revoke a token; its console sessions end with it."""
    settings = settings_from(config)
    if not run(settings, lambda db: revoke_token(db, token_id, actor=cli_actor())):
        err.print(f"no active token {token_id}")
        raise typer.Exit(1)
    typer.echo(f"token {token_id} revoked")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key; put it first in LAPOR_GATEWAY_SECRET_KEYS, then run `keys rotate`."""
    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption = None) -> None:
    """Re-encrypt every stored secret under the newest (first) key of LAPOR_GATEWAY_SECRET_KEYS."""
    settings = settings_from(config)
    changed = run(settings, lambda db: ChannelStore(db).rotate(actor=cli_actor()))
    typer.echo(f"{changed} secrets re-encrypted under the newest key")
