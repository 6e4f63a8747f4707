"""Schema migrations (alembic), run by `lapor-gateway db upgrade` and on `serve` start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway.storage.db import ensure_sqlite_directory, sync_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An alembic Config for the database at `url`, without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs with escaped characters need %% .
    config.set_main_option("sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`."""
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


def revise(url: str, message: str) -> None:
    """Autogenerate a new revision against the database at `url` (for developers)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
