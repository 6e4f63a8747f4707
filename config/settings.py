"""Settings schema and loader: defaults < TOML file < LAPOR_GATEWAY_<SECTION>__<KEY> environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.vault import looks_secret
from gateway.errors import ConfigurationError
from gateway.intel.settings import IntelSettings
from gateway.lifecycle.settings import LifecycleSettings

CONFIG_ENV = "LAPOR_GATEWAY_CONFIG"
ENV_PREFIX = "LAPOR_GATEWAY_"


class Section(BaseModel):
    """A settings section: frozen, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(Section):
    """The HTTP edge."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    max_body_bytes: int = 1_048_576

    @property
    def base_url(self) -> str:
        """The URL providers call us on; signatures are checked against it."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class DatabaseSettings(Section):
    """Where the archive, records and outboxes live."""

    url: str = "sqlite+aiosqlite:///var/gateway.db"
    spool_dir: str = "var/spool"
    pool_size: int = 10


class RegistrySettings(Section):
    """The registry complaints are filed with."""

    kind: Literal["lapor", "open311", "webhook"] = "lapor"
    url: str = "http://127.0.0.1:8090"
    token: SecretStr = SecretStr("sandbox-token")
    timeout_seconds: float = 10.0
    api_key: SecretStr | None = None
    jurisdiction_id: str | None = None
    service_codes: dict[str, str] = Field(default_factory=dict)
    default_service_code: str | None = None
    signing_secret: SecretStr | None = None
    # Open311 only: attribute[...] values per service_code, an address for complaints without one,
    # and whether #rahasia complaints may be filed on a (public) GeoReport v2 server.
    service_attributes: dict[str, dict[str, str]] = Field(default_factory=dict)
    default_address_string: str | None = None
    file_confidential: bool = False


class DispatchSettings(Section):
    """The outbox: how hard and how often to retry."""

    max_attempts: int = 8
    attempts_per_claim: int = 3
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 300.0
    lease_seconds: float = 60.0
    batch_size: int = 20
    concurrency: int = 8
    poll_seconds: float = 1.0


class IngestSettings(Section):
    """Accepting messages: per-sender flood control, group commit, and where normalization runs."""

    sender_rate_per_minute: int = 30
    group_commit_max: int = 256
    concat_window_seconds: float = 120.0
    # "process": the pipeline runs in a child process at a lower CPU priority (`pipeline_nice`), so that
    # normalizing a backlog never delays an acknowledgement. "inline": on the ingest process's own loop.
    pipeline: Literal["process", "inline"] = "process"
    pipeline_nice: int = Field(default=10, ge=0, le=19)


class LoggingSettings(Section):
    """Structured logs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class MediaSettings(Section):
    """Background download of attachments before filing (gateway.media)."""

    directory: str = "var/media"
    max_bytes: int = Field(default=16_777_216, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    # Provider media URLs are public; loopback and private addresses are refused (SSRF).
    # Only tests against local stand-ins turn this on.
    allow_private_addresses: bool = False


class AdminSettings(Section):
    """The admin API and web console (gateway.admin)."""

    console: bool = True
    session_minutes: int = Field(default=480, gt=0)
    reload_seconds: float = Field(default=3.0, gt=0)


class Settings(BaseSettings):
    """Every setting of the gateway, frozen once loaded."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    registry: RegistrySettings = RegistrySettings()
    dispatch: DispatchSettings = DispatchSettings()
    ingest: IngestSettings = IngestSettings()
    logging: LoggingSettings = LoggingSettings()
    admin: AdminSettings = AdminSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    intel: IntelSettings = IntelSettings()
    media: MediaSettings = MediaSettings()
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init_settings carries the TOML file (see load_settings): environment wins over it.
        return (env_settings, init_settings)

    def channel(self, name: str) -> dict[str, Any]:
        """The raw settings of one channel (validated by the channel's own model)."""
        return dict(self.channels.get(name, {}))


C = TypeVar("C", bound=BaseModel)


def channel_config(settings: Settings, name: str, model: type[C]) -> C:
    """Validate one channel's section against its model, failing loudly on unknown keys."""
    try:
        return model.model_validate(settings.channel(name))
    except ValidationError as exc:
        # Without input values: a rejected value may be a secret.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise ConfigurationError("invalid channel settings", detail=f"[channels.{name}]: {problems}") from None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load settings from defaults, the TOML file (argument or LAPOR_GATEWAY_CONFIG) and the environment."""
    file = path or os.environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    if file:
        try:
            data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError("config file not found", detail=str(file)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError("config file is not valid TOML", detail=f"{file}: {exc}") from exc
        _refuse_plain_secrets(data, str(file))
    _refuse_unknown_environment()
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigurationError("invalid settings", detail=str(exc)) from exc


def _refuse_plain_secrets(data: dict[str, Any], file: str, path: tuple[str, ...] = ()) -> None:
    """Credentials never sit in plain text in the file: the vault or the environment holds them."""
    for key, value in data.items():
        where = (*path, key)
        if looks_secret(key) and value not in ("", None, {}):
            env = ENV_PREFIX + "__".join(part.upper() for part in where)
            hint = (f"store it with `lapor-gateway channels set-secret {where[1]} {key}` or set {env}"
                    if len(where) == 3 and where[0] == "channels" else f"set {env}")
            raise ConfigurationError("plain secret in the config file",
                                     detail=f"{file}: {'.'.join(where)}: remove it and {hint}")
        if isinstance(value, dict):
            _refuse_plain_secrets(value, file, where)


def _refuse_unknown_environment() -> None:
    """pydantic-settings ignores unknown prefixed variables; a typo there must fail, not vanish."""
    known = set(Settings.model_fields) | {"config", "secret_keys"}
    for key in os.environ:
        if key.upper().startswith(ENV_PREFIX):
            section = key[len(ENV_PREFIX):].split("__", 1)[0].lower()
            if section not in known:
                raise ConfigurationError("unknown setting in environment", detail=key)
