"""What the admin commands share: the --config option, loaded settings and a migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from config.settings import Settings, load_settings
from gateway import logs
from gateway.errors import ConfigurationError
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file (default: $LAPOR_GATEWAY_CONFIG).")
]
err = Console(stderr=True, soft_wrap=True)


def fail(exc: ConfigurationError, code: int = 2) -> typer.Exit:
    """Print a configuration error (reason and detail, never a value) and return the exit to raise."""
    err.print(f"[red]error:[/red] {escape(exc.reason)}: {escape(exc.detail)}", highlight=False)
    return typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    """Load the settings, configure logging, and migrate the database the commands write to."""
    try:
        settings = load_settings(config)
    except ConfigurationError as exc:
        raise fail(exc) from None
    logs.configure(level="warning", fmt=settings.logging.format)
    upgrade(settings.database.url)
    return settings


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A Database for one command, disposed afterwards."""
    db = Database(settings.database.url)
    try:
        yield db
    finally:
        await db.dispose()


def run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work(db)` to completion; configuration errors become a clean exit with status 2."""

    async def main() -> T:
        async with database(settings) as db:
            return await work(db)

    try:
        return asyncio.run(main())
    except ConfigurationError as exc:
        raise fail(exc) from None
