"""`lapor-gateway escalations export`: the consented Ombudsman RI escalations as one JSON batch.

gateway/cli.py mounts it with the storage's repository factory:
`app.add_typer(lifecycle.escalations_app(open_repository), name="escalations")`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings, load_settings
from gateway.errors import ConfigurationError
from gateway.lifecycle.escalation import EscalationExport, build_export
from gateway.lifecycle.repository import EscalationRepository
from gateway.messages import utcnow

RepositoryFactory = Callable[[Settings], AbstractAsyncContextManager[EscalationRepository]]


async def export_escalations(
    repository: EscalationRepository,
    *,
    include_exported: bool,
    mark: bool,
    now: datetime,
    write: Callable[[str], None],
) -> EscalationExport:
    """Build the batch, hand its JSON to `write`, and only then mark its escalations exported."""
    cases = await repository.consented(include_exported=include_exported)
    batch = build_export(cases, generated_at=now)
    write(batch.model_dump_json(indent=2) + "\n")
    if mark and batch.items:
        await repository.mark_exported([item.complaint_id for item in batch.items], now)
    return batch


def _write_atomically(path: Path, text: str) -> None:
    # A half-written batch must never be picked up by the Ombudsman integration.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def escalations_app(open_repository: RepositoryFactory) -> typer.Typer:
    """The `escalations` command group, bound to a way of opening the repository."""
    app = typer.Typer(no_args_is_help=True, help="Complaints the reporter agreed to take to Ombudsman RI.")

    @app.callback()
    def escalations() -> None:
        """Complaints the reporter agreed to take to Ombudsman RI."""
        # A callback keeps `export` a subcommand even while it is the group's only command.

    @app.command("export")
    def export(
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (default: stdout).")] = None,
        config: Annotated[
            Path | None, typer.Option("--config", "-c", help="TOML file (default: $LAPOR_GATEWAY_CONFIG).")
        ] = None,
        include_exported: Annotated[
            bool, typer.Option("--include-exported", help="Also list escalations exported before.")
        ] = False,
        mark: Annotated[bool, typer.Option("--mark/--no-mark", help="Mark the listed escalations as exported.")] = True,
    ) -> None:
        """Write the consented escalations as JSON (schema lapor-gateway.escalations/v1)."""
        try:
            settings = load_settings(config)
        except ConfigurationError as exc:
            typer.echo(f"configuration error: {exc.reason}: {exc.detail}", err=True)
            raise typer.Exit(2) from None

        def write(text: str) -> None:
            if out is None:
                sys.stdout.write(text)
            else:
                _write_atomically(out, text)

        async def run() -> EscalationExport:
            async with open_repository(settings) as repository:
                return await export_escalations(
                    repository, include_exported=include_exported, mark=mark, now=utcnow(), write=write
                )

        batch = asyncio.run(run())
        if out is not None:
            typer.echo(f"{batch.count} escalation(s) written to {out}", err=True)

    return app
