"""The credential vault: channel secrets encrypted at rest with Fernet keys from the environment.

Keys come from LAPOR_GATEWAY_SECRET_KEYS, comma-separated, newest first: MultiFernet encrypts with
the first and decrypts with any, so a new key is put in front, `lapor-gateway keys rotate` re-encrypts
everything under it, and the old key can then be dropped.
https://cryptography.io/en/latest/fernet/#cryptography.fernet.MultiFernet
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import ConfigurationError

SECRET_KEYS_ENV = "LAPOR_GATEWAY_SECRET_KEYS"  # noqa: S105 - the variable name, not a key

# Setting names that hold credentials: auth_token, bot_token, app_secret, password, api_key, and
# the email channel's auth_users (user name -> SMTP AUTH password).
_SECRET_NAME = re.compile(r"(?:token|secret|password|passwd|api_key|auth_users)$", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """True for setting names that hold credentials (…token, …secret, …password, api_key, auth_users)."""
    return bool(_SECRET_NAME.search(name))


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


class Vault:
    """Encrypts and decrypts secret values; encryption always uses the newest key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError(
                "no secret keys",
                detail=f"set {SECRET_KEYS_ENV} (generate one with `lapor-gateway keys generate`)",
            )
        try:
            self._fernets = [Fernet(key.encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError):
            # The message never includes the key itself.
            raise ConfigurationError(
                "invalid secret key", detail=f"every key in {SECRET_KEYS_ENV} must be a Fernet key"
            ) from None
        self._multi = MultiFernet(self._fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Vault:
        """The vault configured by LAPOR_GATEWAY_SECRET_KEYS."""
        value = (environ if environ is not None else os.environ).get(SECRET_KEYS_ENV, "")
        return cls([key.strip() for key in value.split(",") if key.strip()])

    def encrypt(self, value: str) -> str:
        """Ciphertext of `value` under the newest key."""
        return self._multi.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plain value; a ConfigurationError when no configured key opens it."""
        try:
            return self._multi.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise ConfigurationError(
                "cannot decrypt a stored secret",
                detail=f"the key that encrypted it is not in {SECRET_KEYS_ENV}",
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret re-encrypted under the newest key."""
        try:
            return self._multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise ConfigurationError(
                "cannot decrypt a stored secret",
                detail=f"the key that encrypted it is not in {SECRET_KEYS_ENV}",
            ) from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the newest key opens `ciphertext` (rotation has nothing to do)."""
        try:
            self._fernets[0].decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True
