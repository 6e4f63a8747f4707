"""`lapor-gateway registry-sim`: serve the registry sandbox, and move its complaints along their lifecycle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.registry.sim import build_sim_app, serve_sim
from gateway.registry.sim_store import STATUSES, SimStore, UnknownComplaint

DEFAULT_DB = Path("var/registry-sim.db")

app = typer.Typer(
    name="registry-sim",
    help="The registry sandbox: serves docs/registry-api.yaml from its own SQLite file.",
    # `lapor-gateway registry-sim --port P --token T` serves; subcommands are the lifecycle tools.
    invoke_without_command=True,
    no_args_is_help=False,
)

DbOption = Annotated[Path, typer.Option("--db", help="The sandbox's SQLite file.")]


@app.callback()
def main(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port, printed).")] = 8090,
    token: Annotated[
        str | None, typer.Option(help="Bearer token clients must send.", envvar="REGISTRY_SIM_TOKEN")
    ] = None,
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    fail_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Fraction answered 503 before any work.")] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Delay before each answer.")] = 0,
    throttle_every: Annotated[int, typer.Option(min=0, help="Answer every Nth request 429, Retry-After: 1.")] = 0,
    fail_after_commit_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of stored POSTs answered 503 anyway.")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault dice, for reproducible runs.")] = None,
) -> None:
    """Serve the registry sandbox (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if not token:
        raise typer.BadParameter("--token is required to serve", param_hint="--token")
    sim = build_sim_app(
        db_path=db,
        token=token,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        throttle_every=throttle_every,
        fail_after_commit_rate=fail_after_commit_rate,
        seed=seed,
    )
    asyncio.run(serve_sim(sim, host=host, port=port))


@app.command("set-status")
def set_status(
    tracking_id: Annotated[str, typer.Argument(help="The complaint's tracking ID.")],
    status: Annotated[str, typer.Argument(help=f"One of: {', '.join(STATUSES)}.")],
    db: DbOption = DEFAULT_DB,
    agency: Annotated[str | None, typer.Option(help="Route the complaint to this agency.")] = None,
    category: Annotated[str | None, typer.Option(help="Set the category.")] = None,
    classification: Annotated[str | None, typer.Option(help="Re-classify the complaint.")] = None,
) -> None:
    """Move a complaint to a new status (works while the sandbox is serving)."""
    if status not in STATUSES:
        raise typer.BadParameter(f"one of {', '.join(STATUSES)}", param_hint="STATUS")
    store = _open(db)
    try:
        view = store.set_status(tracking_id, status, agency=agency, category=category, classification=classification)
    except UnknownComplaint:
        typer.echo(f"no complaint {tracking_id} in {db}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(json.dumps({"tracking_id": view["tracking_id"], "status": view["status"]}))


@app.command("respond")
def respond(
    tracking_id: Annotated[str, typer.Argument(help="The complaint's tracking ID.")],
    text: Annotated[str, typer.Argument(help="The agency's answer.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Add an agency response to a complaint (works while the sandbox is serving)."""
    if not text.strip():
        raise typer.BadParameter("must not be empty", param_hint="TEXT")
    store = _open(db)
    try:
        response = store.respond(tracking_id, text)
    except UnknownComplaint:
        typer.echo(f"no complaint {tracking_id} in {db}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(json.dumps({"tracking_id": tracking_id.removeprefix("#"), "response_id": response["id"]}))


def _open(db: Path) -> SimStore:
    if not db.exists():
        typer.echo(f"no sandbox database at {db}", err=True)
        raise typer.Exit(1)
    return SimStore(db)


if __name__ == "__main__":
    app(prog_name="registry-sim")
