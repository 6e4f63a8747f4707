"""For every secret of every registered channel: stored encrypted, shown only as "set", redacted from logs,
absent from the audit trail, metrics and error messages."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from channels.base import ChannelContext
from channels.registry import CHANNELS
from config.settings import Settings, channel_config
from gateway import logs, metrics
from gateway.admin.audit import recent
from gateway.admin.channel_store import ChannelStore, secret_fields, validate_channel
from gateway.admin.checks import CheckOnly
from gateway.admin.tables import channel_setting
from gateway.cli import app
from gateway.errors import ConfigurationError
from gateway.storage.db import Database

SECRETS = [(name, key) for name, cls in CHANNELS.items() for key in sorted(secret_fields(cls.config_model))]


def test_every_channel_declares_its_secrets() -> None:
    # A channel whose credentials do not look like secrets would escape everything below.
    assert {name for name, _ in SECRETS} == set(CHANNELS)


def _takes_mapping(name: str, key: str) -> bool:
    return "dict" in str(CHANNELS[name].config_model.model_fields[key].annotation)


def marker(name: str, key: str) -> str:
    """A distinctive value that every channel's validators accept (URL-safe, long enough)."""
    return f"Leak-{name}-{key.replace('_', '-')}-Q7w8E9r0T1"


@pytest.mark.parametrize(("name", "key"), SECRETS, ids=[f"{n}.{k}" for n, k in SECRETS])
def test_secret_never_leaks(tmp_path: Path, name: str, key: str) -> None:
    value = marker(name, key)
    typed = json.dumps({"alice": value}) if _takes_mapping(name, key) else value
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    env = {"LAPOR_GATEWAY_DATABASE__URL": url, "LAPOR_GATEWAY_SECRET_KEYS": Fernet.generate_key().decode()}
    runner = CliRunner()
    printed: list[str] = []
    for args, stdin in ((["channels", "set-secret", name, key, "--no-check"], typed + "\n"),
                        (["channels", "show", name], None), (["channels", "list", "--json"], None)):
        result = runner.invoke(app, args, input=stdin, env=env)
        assert result.exit_code == 0, result.output
        printed.append(result.stdout + result.stderr)
    shown = json.loads(printed[1])
    assert shown["secrets"][key] == "set"
    assert not any(value in text for text in printed), "a secret in CLI output"

    async def stored() -> tuple[list[Any], list[dict[str, Any]], Settings]:
        db = Database(url)
        try:
            async with db.connect() as connection:
                rows = list((await connection.execute(sa.select(channel_setting))).all())
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("LAPOR_GATEWAY_SECRET_KEYS", env["LAPOR_GATEWAY_SECRET_KEYS"])
                effective = await ChannelStore(db).effective(Settings())
            return rows, await recent(db), effective
        finally:
            await db.dispose()

    rows, trail, effective = asyncio.run(stored())
    assert [row.secret for row in rows] == [True] and value not in rows[0].value, "not encrypted at rest"
    assert trail[0]["action"] == "channel.set_secret" and value not in json.dumps(trail)

    # The channel built from the stored value hands it to the log redactor.
    unused = CheckOnly()
    channel = CHANNELS[name](config=validate_channel(effective, name), context=ChannelContext(
        sink=unused, public_url="http://127.0.0.1", cursors=unused, deliveries=unused))
    assert value in channel.secrets()
    stream = io.StringIO()
    logs.configure(level="debug", stream=stream)
    logs.REDACTOR.add_secrets(channel.secrets())
    structlog.get_logger("leak-test").warning("provider.refused", detail=f"401 for {value}", url=f"https://x/{value}")
    assert "provider.refused" in stream.getvalue() and value not in stream.getvalue()
    assert value.encode() not in metrics.render()

    # Errors about the channel's settings name keys and rules, never values.
    wrong_type: object = [value] if _takes_mapping(name, key) else {"nested": value}
    for section in ({key: wrong_type}, {key: value, "enabled": "perhaps"}):
        broken = Settings(channels={name: section})
        with pytest.raises(ConfigurationError) as ours:
            validate_channel(broken, name)
        with pytest.raises(ConfigurationError) as core:
            channel_config(broken, name, CHANNELS[name].config_model)
        for caught in (ours, core):
            assert value not in str(caught.value) and value not in caught.value.detail
