"""`lapor-gateway channels ...`, `admin token ...` and `keys ...` in-process, against the Twilio sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner, Result

from gateway.cli import app
from gateway.sandbox.twilio import TwilioSandbox
from tests.admin.threaded_server import serve_in_thread
from tests.support.ports import free_port

ACCOUNT = "ACcli00000000000000000000000000000"
TOKEN = "Cli-Twilio-Token-8d7c6b5a4f"
WRONG = "Wrong-Twilio-Token-1a2b3c4d"


@dataclass
class Cli:
    """Runs the CLI with a fresh database and vault key; remembers everything it printed."""

    env: dict[str, str]
    printed: list[str] = field(default_factory=list)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=stdin, env=self.env)
        self.printed.append(result.stdout + result.stderr)
        return result

    def show(self, name: str) -> dict[str, object]:
        result = self("channels", "show", name)
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert isinstance(shown, dict)
        return shown


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve_in_thread(TwilioSandbox(account_sid=ACCOUNT, auth_token=TOKEN).app()) as url:
        yield url


@pytest.fixture
def cli(tmp_path: Path, sandbox_url: str) -> Cli:
    cli = Cli({"LAPOR_GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gw.db'}",
               "LAPOR_GATEWAY_SECRET_KEYS": Fernet.generate_key().decode()})
    assert cli("channels", "set", "twilio", "account_sid", ACCOUNT).exit_code == 0
    assert cli("channels", "set", "twilio", "api_base_url", sandbox_url).exit_code == 0
    return cli


CLOSED = f"http://127.0.0.1:{free_port()}"

# (id, api_base_url: sandbox or closed port, secret typed in, extra args, exit code, printed, saved)
SET_SECRET = [
    ("ok", None, TOKEN, (), 0, "saved (ok)", True),
    ("invalid_auth", None, WRONG, (), 1, "invalid_auth", False),
    ("cannot_connect", CLOSED, TOKEN, (), 1, "cannot_connect", False),
    ("no_check_saves_unchecked", CLOSED, WRONG, ("--no-check",), 0, "saved (not checked)", True),
    ("empty", None, "", (), 2, "empty secret", False),
]


@pytest.mark.parametrize(("base_url", "secret", "extra", "code", "printed", "saved"),
                         [row[1:] for row in SET_SECRET], ids=[row[0] for row in SET_SECRET])
def test_set_secret_checks_with_the_provider_first(
    cli: Cli, base_url: str | None, secret: str, extra: tuple[str, ...], code: int, printed: str, saved: bool
) -> None:
    if base_url:
        assert cli("channels", "set", "twilio", "api_base_url", base_url).exit_code == 0
    result = cli("channels", "set-secret", "twilio", "auth_token", *extra, stdin=secret + "\n")
    assert result.exit_code == code, result.output
    assert printed in result.stdout + result.stderr
    assert cli.show("twilio")["secrets"] == {"auth_token": "set" if saved else "not set"}
    assert not any(secret and secret in text for text in cli.printed)


def test_secret_in_argv_is_refused(cli: Cli) -> None:
    result = cli("channels", "set-secret", "twilio", "auth_token", TOKEN)
    assert result.exit_code == 2
    assert cli.show("twilio")["secrets"] == {"auth_token": "not set"}


def test_set_secret_refuses_a_plain_setting_before_reading(cli: Cli) -> None:
    result = cli("channels", "set-secret", "twilio", "account_sid", stdin="ACother\n")
    assert result.exit_code == 2 and "not a secret setting" in result.stderr


def test_channels_test_answers_each_outcome(cli: Cli) -> None:
    assert cli("channels", "set-secret", "twilio", "auth_token", stdin=TOKEN).exit_code == 0
    outcomes = []
    for base_url, token in ((None, None), (None, WRONG), (CLOSED, None)):
        if token:
            cli("channels", "set-secret", "twilio", "auth_token", "--no-check", stdin=token)
        if base_url:
            cli("channels", "set", "twilio", "api_base_url", base_url)
        result = cli("channels", "test", "twilio")
        outcomes.append((result.stdout.strip(), result.exit_code))
    assert outcomes == [("ok", 0), ("invalid_auth", 1), ("cannot_connect", 1)]
    listed = [json.loads(line) for line in cli("channels", "list", "--json").stdout.splitlines()]
    twilio = next(item for item in listed if item["name"] == "twilio")
    assert twilio["credential_check"]["result"] == "cannot_connect"
    assert not any(TOKEN in text or WRONG in text for text in cli.printed)


def test_enable_disable_set_and_show(cli: Cli) -> None:
    assert cli("channels", "enable", "twilio").exit_code == 0
    assert cli("channels", "set", "twilio", "timeout_seconds", "2.5").exit_code == 0
    shown = cli.show("twilio")
    assert shown["enabled"] is True
    settings = shown["settings"]
    assert isinstance(settings, dict) and settings["timeout_seconds"] == 2.5
    assert shown["origins"] == {"enabled": "database", "account_sid": "database", "auth_token": "default",
                                "api_base_url": "database", "signature": "default", "from_number": "default",
                                "timeout_seconds": "database"}
    assert cli("channels", "disable", "twilio").exit_code == 0
    assert cli.show("twilio")["enabled"] is False
    assert cli("channels", "unset", "twilio", "timeout_seconds").exit_code == 0
    assert cli.show("twilio")["settings"]["timeout_seconds"] == 10.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("channels", "show", "nope"), "nope"), (("channels", "enable", "pigeon"), "pigeon"),
     (("channels", "set", "twilio", "signature", "sometimes"), "signature"),
     (("channels", "set", "twilio", "auth_token", "visible"), "set-secret"),
     (("admin", "token", "create", "--role", "root"), "viewer, operator, admin")],
    ids=["show_unknown", "enable_unknown", "invalid_value", "secret_via_set", "unknown_role"],
)
def test_refusals_exit_2(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_token_create_prints_the_token_once(cli: Cli) -> None:
    created = cli("admin", "token", "create", "--role", "operator", "--name", "ops-desk")
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert token.startswith("lgw_") and len(token) > 40
    listed = cli("admin", "token", "list")
    assert "ops-desk" in listed.stdout and "operator" in listed.stdout and token not in listed.stdout
    token_id = created.stderr.split()[1]
    assert cli("admin", "token", "revoke", token_id).exit_code == 0
    assert cli("admin", "token", "revoke", token_id).exit_code == 1


def test_keys_rotate(cli: Cli) -> None:
    assert cli("channels", "set-secret", "twilio", "auth_token", "--no-check", stdin=TOKEN).exit_code == 0
    new = cli("keys", "generate").stdout.strip()
    cli.env["LAPOR_GATEWAY_SECRET_KEYS"] = f"{new},{cli.env['LAPOR_GATEWAY_SECRET_KEYS']}"
    result = cli("keys", "rotate")
    assert result.exit_code == 0 and "1 secrets re-encrypted" in result.stdout
    cli.env["LAPOR_GATEWAY_SECRET_KEYS"] = new
    assert cli("channels", "test", "twilio").stdout.strip() == "ok"
