"""The browser tests reuse the admin tests' fixtures (vault keys in the environment)."""

from tests.admin.conftest import restore_logging, vault, vault_key

__all__ = ["restore_logging", "vault", "vault_key"]
