"""Storage tests take their databases from migrated templates (see migrated_copies)."""

from tests.storage.migrated_copies import database_url, postgres_template, sqlite_template

__all__ = ["database_url", "postgres_template", "sqlite_template"]
