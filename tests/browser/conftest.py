"""The browser tests reuse the admin tests' fixtures (vault keys in the environment)."""

from tests.admin.conftest import vault, vault_key

__all__ = ["vault", "vault_key"]
