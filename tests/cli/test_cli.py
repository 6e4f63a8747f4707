"""The operator interface of DESIGN.md, run as the real `lapor-gateway` console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.console import Console
from tests.pipeline.twilio_raws import PHONE, twilio_form
from tests.support.corpus import corpus_dir

LINE_KEYS = {"source", "outcome", "reason", "record"}


def write(folder: Path, name: str, payload: bytes) -> Path:
    """A raw file as an operator would have archived it."""
    path = folder / name
    path.write_bytes(payload)
    return path


def test_dry_run_over_the_real_corpus_prints_one_json_line_per_file(console: Console) -> None:
    files = sorted(corpus_dir("twilio-webhooks").glob("*.txt"))
    assert files, "the corpus has Twilio webhook bodies"
    lines = console.json_lines("replay", "--dry-run", "--channel", "twilio", *map(str, files))
    assert [line["source"] for line in lines] == [str(path) for path in files]
    for line in lines:
        assert set(line) == LINE_KEYS
        assert line["outcome"] in {"complaint", "follow_up", "ignored", "quarantined"}
        if line["outcome"] in {"complaint", "follow_up"}:
            assert line["reason"] is None and line["record"]["channel"] == "twilio"
        else:
            assert line["reason"] and line["record"] is None
    assert not console.database.exists(), "a dry run over files stores nothing"


DRY_RUN_CASES = [
    ("complaint.txt", twilio_form("SMd1", "Sampah menumpuk di pasar, bau sekali"), "complaint", None),
    ("follow-up.txt", twilio_form("SMd2", "#1916449 sampah masih ada"), "follow_up", None),
    ("empty.txt", twilio_form("SMd3", ""), "ignored", "empty_message"),
    ("stop.txt", twilio_form("SMd4", "STOP"), "ignored", "opt_out"),
    ("latin1.txt", b"MessageSid=SMd5&From=%2B6281234567890&Body=caf\xe9", "quarantined", "malformed_form_body"),
    ("no-from.txt", twilio_form("SMd6", "jalan rusak", sender=""), "quarantined", "missing_field"),
]


def test_dry_run_outcomes_for_each_kind_of_file(console: Console, tmp_path: Path) -> None:
    files = [write(tmp_path, name, payload) for name, payload, _, _ in DRY_RUN_CASES]
    lines = console.json_lines("replay", "--dry-run", "--channel", "twilio", *map(str, files))
    got = [(Path(line["source"]).name, line["outcome"], (line["reason"] or "").split(":")[0] or None)
           for line in lines]
    assert got == [(name, outcome, reason) for name, _, outcome, reason in DRY_RUN_CASES]
    follow_up = lines[1]["record"]
    assert follow_up["references"] == [{"kind": "tracking_id", "value": "1916449"}]


@pytest.mark.parametrize(
    "args",
    [["replay", "--dry-run", "FILE"], ["replay", "--channel", "twilio", "FILE"],
     ["replay", "--dry-run", "--channel", "pigeon", "FILE"]],
    ids=["no-channel", "files-without-dry-run", "unknown-channel"],
)
def test_replay_of_files_refuses_what_it_cannot_do(console: Console, tmp_path: Path, args: list[str]) -> None:
    path = write(tmp_path, "sms.txt", twilio_form("SMx", "jalan rusak"))
    done = console.run(*[str(path) if arg == "FILE" else arg for arg in args])
    assert done.returncode == 2, done.stdout + done.stderr
    assert not console.database.exists()


def test_ingest_replay_outbox_and_stats(console: Console, tmp_path: Path) -> None:
    complaint = write(tmp_path, "complaint.txt", twilio_form("SMi1", "Jembatan di Desa Sukamaju retak, bahaya"))
    stop = write(tmp_path, "stop.txt", twilio_form("SMi2", "BERHENTI"))

    assert json.loads(console.ok("ingest", "--channel", "twilio", str(complaint), str(stop))) == {
        "new": 2, "duplicate": 0}
    assert json.loads(console.ok("ingest", "--channel", "twilio", str(complaint))) == {"new": 0, "duplicate": 1}
    assert console.query("SELECT external_id, state FROM raw_message ORDER BY external_id") == [
        ("SMi1", "received"), ("SMi2", "received")]

    first = console.json_lines("replay", "--channel", "twilio")
    second = console.json_lines("replay", "--channel", "twilio")
    assert [set(line) for line in first] == [LINE_KEYS, LINE_KEYS]
    assert sorted(line["outcome"] for line in first) == ["complaint", "ignored"]
    assert [(line["source"], line["outcome"], line["reason"]) for line in second] == [
        (line["source"], line["outcome"], line["reason"]) for line in first]
    assert console.query("SELECT COUNT(*) FROM complaint") == [(1,)]
    assert console.query("SELECT kind, state FROM dispatch_job") == [("file", "pending")]

    listing = console.ok("outbox", "list", "--json")
    (entry,) = [json.loads(line) for line in listing.splitlines()]
    assert (entry["state"], entry["kind"], entry["channel"], entry["attempts"]) == ("pending", "file", "twilio", 0)
    assert PHONE not in listing and PHONE.removeprefix("+") not in listing, "no reporter numbers in listings"

    console.execute("UPDATE dispatch_job SET state = 'dead', attempts = 8, last_error = 'HTTP 422: invalid_field'")
    (dead,) = console.json_lines("outbox", "list", "--json", "--state", "dead")
    assert (dead["id"], dead["last_error"]) == (entry["id"], "HTTP 422: invalid_field")
    assert "1 entries back in the dispatch outbox" in console.ok("outbox", "retry")
    assert console.query("SELECT state, attempts FROM dispatch_job") == [("pending", 0)]

    stats = json.loads(console.ok("stats", "--json"))
    twilio = stats["twilio"]
    assert (twilio["received"], twilio["complaints"], twilio["ignored"], twilio["quarantined"]) == (2, 1, 1, 0)
    assert (twilio["dispatched"], twilio["dead"]) == (0, 0)


def test_db_upgrade_on_a_fresh_path(console: Console, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "nested" / "gateway.db"
    done = console.run("db", "upgrade", env={"LAPOR_GATEWAY_DATABASE__URL": f"sqlite:///{target}"})
    assert done.returncode == 0, done.stderr
    assert target.is_file()
    tables = {name for (name,) in Console(tmp_path, target).query("SELECT name FROM sqlite_master")}
    assert {"raw_message", "complaint", "dispatch_job", "reply"} <= tables


VALID_TOML = """
[server]
port = 8181

[channels.twilio]
enabled = true
account_sid = "AC0123456789abcdef0123456789abcdef"
"""
SECRET = {"LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN": "cli-secret-auth-token"}


@pytest.mark.parametrize(
    ("toml", "environment", "status"),
    [
        (VALID_TOML, {}, 0),
        (VALID_TOML + "\n[database]\nurll = \"sqlite:///x.db\"\n", {}, 2),
        (VALID_TOML.replace("account_sid", "acount_sid"), {}, 2),
        (VALID_TOML, {"LAPOR_GATEWAY_BOGUS": "1"}, 2),
        (VALID_TOML, {"LAPOR_GATEWAY_CHANNELS__PIGEON__ENABLED": "true"}, 2),
    ],
    ids=["valid", "unknown-toml-key", "unknown-channel-key", "unknown-env-variable", "unknown-channel"],
)
def test_check_config(console: Console, tmp_path: Path, toml: str, environment: dict[str, str], status: int) -> None:
    config = write(tmp_path, "gateway.toml", toml.encode())
    done = console.run("check-config", "--config", str(config), env={**SECRET, **environment})
    assert done.returncode == status, done.stdout + done.stderr
    assert "cli-secret-auth-token" not in done.stdout + done.stderr
    if status == 0:
        summary = json.loads(done.stdout)
        assert summary["server"] == "http://127.0.0.1:8181"
        assert "twilio" in summary["channels_enabled"]
