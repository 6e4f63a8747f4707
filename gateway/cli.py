"""`lapor-gateway`: serve, replay, ingest, registry-sim, db, channels, outbox, stats, check-config."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from config.settings import Settings, channel_config, load_settings
from gateway import logs
from gateway.commands import admin as admin_commands
from gateway.commands import channels as channel_commands
from gateway.commands import lifecycle as lifecycle_commands
from gateway.commands import registry_sim
from gateway.commands.twilio_sim import twilio_sim
from gateway.errors import ConfigurationError
from gateway.outbox import Queue, list_entries, retry
from gateway.pipeline import Pipeline
from gateway.replay import ReplayFilter, count_stored, dry_run_files, ingest_files, replay_stored
from gateway.runtime import Role, enabled_channels, intel_enricher, serve_forever
from gateway.stats import DEADLINE_STATES, channel_stats, deadline_states, deadline_table
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from gateway.storage.dispositions import dispositions_source
from gateway.storage.lifecycle_store import open_lifecycle_store
from gateway.storage.migrate import upgrade
from gateway.storage.spam_store import open_spam_store
from normalizers.registry import NORMALIZERS


class _Commands(TyperGroup):
    """The command tree; `routing` and `spam` are built on first use."""

    # They import scikit-learn (1-2 s), which the simulators and every other command would pay at each start.

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), "routing", "spam"]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in ("routing", "spam"):
            return super().get_command(ctx, name)
        from gateway.commands import routing

        group = routing.routing_app(dispositions_source) if name == "routing" else routing.spam_app(open_spam_store)
        command = typer.main.get_command(group)
        command.name = name
        return command


app = typer.Typer(cls=_Commands, no_args_is_help=True, help="lapor-gateway: citizens' channels to SP4N-LAPOR!")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
outbox_app = typer.Typer(no_args_is_help=True, help="Dispatch and reply outboxes.")
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")
app.add_typer(channel_commands.app, name="channels")
app.add_typer(admin_commands.app, name="admin")
app.add_typer(admin_commands.keys_app, name="keys")
app.add_typer(registry_sim.app, name="registry-sim")
app.command("twilio-sim")(twilio_sim)
app.add_typer(lifecycle_commands.escalations_app(open_lifecycle_store), name="escalations")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file (default: $LAPOR_GATEWAY_CONFIG).")
]
err = Console(stderr=True)


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.reason}: {exc.detail}")
        raise typer.Exit(2) from None
    logs.configure(level=settings.logging.level, fmt=settings.logging.format)
    return settings


@app.command()
def serve(
    config: ConfigOption = None,
    role: Annotated[str, typer.Option(help="all | ingest | dispatch")] = "all",
) -> None:
    """Run the gateway: migrate, then serve channels, normalize, dispatch and reply."""
    if role not in ("all", "ingest", "dispatch"):
        raise typer.BadParameter("all, ingest or dispatch", param_hint="--role")
    settings = _settings(config)
    checked: Role = "all" if role == "all" else "ingest" if role == "ingest" else "dispatch"
    try:
        # uvloop: the same asyncio API, ~7% more acknowledgements per CPU second on the webhook path.
        uvloop.run(serve_forever(settings, role=checked))
    except ConfigurationError as exc:
        err.print(f"[red]cannot start:[/red] {exc.reason}: {exc.detail}")
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Migrate the database to the newest schema."""
    settings = _settings(config)
    upgrade(settings.database.url)
    typer.echo("database is up to date")


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-12-01T00:00:00+07:00")
    return parsed


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, disable=not err.is_terminal, transient=True,
    )


@app.command()
def replay(
    files: Annotated[list[Path] | None, typer.Argument(help="Raw files to normalize (with --dry-run).")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel; required with FILES.")] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601 with zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601 with zone).")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Raw id or provider id; repeatable.")] = None,
    state: Annotated[list[str] | None, typer.Option(help="Only raws in this state; repeatable.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Normalize and print, store nothing.")] = False,
    config: ConfigOption = None,
) -> None:
    """Re-run stored raw messages (or files, with --dry-run) through normalization; one JSON line each."""
    if files:
        if not dry_run or not channel:
            raise typer.BadParameter("files are replayed with --dry-run --channel C")
        logs.configure(level="warning")
        try:
            for line in dry_run_files(channel, files, NORMALIZERS):
                typer.echo(line)
        except ConfigurationError as exc:
            raise typer.BadParameter(exc.detail, param_hint="--channel") from None
        return
    settings = _settings(config)
    selection = ReplayFilter(channel=channel, since=_parse_time(since), until=_parse_time(until),
                             ids=tuple(ids or ()), states=tuple(state or ()))

    async def run() -> dict[str, int]:
        db = Database(settings.database.url)
        # The same enrichment as live traffic, so a replay reproduces what the pipeline would have stored.
        pipeline = Pipeline(db, NORMALIZERS, enrich=intel_enricher(settings.intel),
                            lifecycle=settings.lifecycle if settings.lifecycle.enabled else None)
        try:
            total = await count_stored(db, selection)
            with _progress(total) as progress:
                task = progress.add_task("replay", total=total)
                return await replay_stored(
                    db, pipeline, selection, dry_run=dry_run, normalizers=NORMALIZERS,
                    emit=lambda line: typer.echo(json.dumps(line, ensure_ascii=False)),
                    advance=lambda n: progress.advance(task, n),
                )
        finally:
            await db.dispose()

    if not dry_run:
        upgrade(settings.database.url)
    counts = asyncio.run(run())
    err.print("replayed: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing selected"))


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Raw files (email: .eml, twilio: form body, x: JSON).")],
    channel: Annotated[str, typer.Option(help="The channel the files came from.")],
    config: ConfigOption = None,
) -> None:
    """Import raw files as if they had just been received (a running gateway processes them)."""
    settings = _settings(config)
    upgrade(settings.database.url)

    async def run() -> dict[str, int]:
        db = Database(settings.database.url)
        archive = Archive(db)
        try:
            return await ingest_files(channel, files, archive)
        finally:
            await archive.close()
            await db.dispose()

    try:
        counts = asyncio.run(run())
    except ConfigurationError as exc:
        raise typer.BadParameter(exc.detail, param_hint="--channel") from None
    typer.echo(json.dumps(counts))


@outbox_app.command("list")
def outbox_list(
    queue: Annotated[str, typer.Option(help="dispatch | reply")] = "dispatch",
    state: Annotated[list[str] | None, typer.Option(help="States to show (default: dead, pending, held).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    config: ConfigOption = None,
) -> None:
    """What waits in an outbox, and why dead letters died."""
    settings = _settings(config)
    checked: Queue = "reply" if queue == "reply" else "dispatch"
    states = tuple(state or ("dead", "pending", "held", "in_flight", "sending"))

    async def run() -> list[dict[str, object]]:
        db = Database(settings.database.url)
        try:
            return await list_entries(db, checked, states=states, limit=limit)
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    table = Table("id", "state", "kind", "attempts", "next attempt", "last error")
    for row in rows:
        table.add_row(str(row["id"]), str(row["state"]), str(row.get("kind", "")), str(row["attempts"]),
                      str(row["next_attempt_at"]), str(row["last_error"] or ""))
    Console().print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Entries to retry (default: every dead letter).")] = None,
    queue: Annotated[str, typer.Option(help="dispatch | reply")] = "dispatch",
    held: Annotated[bool, typer.Option("--held", help="Release held entries (suspected spam, floods).")] = False,
    config: ConfigOption = None,
) -> None:
    """Bring dead letters (or held entries) back into the outbox with a fresh attempt budget."""
    settings = _settings(config)
    checked: Queue = "reply" if queue == "reply" else "dispatch"

    async def run() -> int:
        db = Database(settings.database.url)
        try:
            return await retry(db, checked, ids=tuple(ids or ()), states=("held",) if held else ("dead",))
        finally:
            await db.dispose()

    typer.echo(f"{asyncio.run(run())} entries back in the {checked} outbox")


@app.command()
def stats(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Per channel: received, complaints, follow-ups, duplicates, ignored, quarantined, dispatched, dead;
    then open complaints by deadline state (on time, due soon, breached) per channel and agency."""
    settings = _settings(config)

    async def run() -> tuple[dict[str, dict[str, object]], dict[str, dict[str, dict[str, int]]]]:
        db = Database(settings.database.url)
        try:
            channels = {name: dict(vars(value)) for name, value in (await channel_stats(db)).items()}
            deadlines = deadline_table(await deadline_states(db, due_soon=settings.lifecycle.due_soon))
            return channels, deadlines
        finally:
            await db.dispose()

    result, deadlines = asyncio.run(run())
    if as_json:
        for name, agencies in deadlines.items():
            result.setdefault(name, {})["deadlines"] = agencies
        typer.echo(json.dumps(result))
        return
    columns = ("received", "complaints", "follow_ups", "duplicates_linked", "ignored", "quarantined", "pending",
               "held", "dispatched", "dead")
    table = Table("channel", *(column.removesuffix("_linked") for column in columns))
    for name, values in sorted(result.items()):
        table.add_row(name, *(str(values[column]) for column in columns))
    Console().print(table)
    open_table = Table("channel", "agency", *(state.replace("_", " ") for state in DEADLINE_STATES),
                       title="Open complaints by deadline")
    for name, agencies in deadlines.items():
        for agency, states in agencies.items():
            open_table.add_row(name, agency, *(str(states[state]) for state in DEADLINE_STATES))
    Console().print(open_table)


@app.command("check-config")
def check_config(config: ConfigOption = None) -> None:
    """Load and validate the settings and every channel section; secrets are not printed."""
    from channels.registry import CHANNELS

    settings = _settings(config)
    try:
        for name in settings.channels:
            if name not in CHANNELS:
                raise ConfigurationError("unknown channel", detail=f"[channels.{name}]")
            channel_config(settings, name, CHANNELS[name].config_model)
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.reason}: {exc.detail}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps({
        "database": settings.database.url.split("://", 1)[0],
        "registry": {"kind": settings.registry.kind, "url": settings.registry.url},
        "server": settings.server.base_url,
        "channels_enabled": enabled_channels(settings),
    }))


@app.command("demo-sms")
def demo_sms(
    body: Annotated[str, typer.Option(help="The SMS text.")] = "Jalan di depan SDN 3 rusak parah, mohon diperbaiki",
    sender: Annotated[str, typer.Option("--from", help="Sender number.")] = "+6281234567890",
    config: ConfigOption = None,
) -> None:
    """Print a curl command that sends a correctly signed test SMS to this gateway's Twilio webhook."""
    import shlex
    import time
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    settings = _settings(config)
    token = str(settings.channel("twilio").get("auth_token", ""))
    if not token:
        err.print("[red]channels.twilio.auth_token is not set[/red]")
        raise typer.Exit(2)
    params = {"MessageSid": f"SMdemo{int(time.time() * 1000)}", "AccountSid": "ACdemo", "From": sender,
              "To": "1708", "Body": body, "NumMedia": "0"}
    url = f"{settings.server.base_url}/c/twilio/receive"
    signature = RequestValidator(token).compute_signature(url, params)
    typer.echo(" ".join([
        "curl", "-sS", "-X", "POST", shlex.quote(f"http://{settings.server.host}:{settings.server.port}"
                                                 "/c/twilio/receive"),
        "-H", shlex.quote(f"X-Twilio-Signature: {signature}"),
        "--data", shlex.quote(urlencode(params)),
    ]))


def main() -> None:
    """Console entry point."""
    try:
        app()
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc.reason}: {exc.detail}")
        sys.exit(2)
