"""The `[intel]` settings section as the gateway reads it, and what it switches on in the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from config.settings import load_settings
from gateway.errors import ConfigurationError
from gateway.intel.settings import IntelSettings
from gateway.pipeline import Pipeline
from gateway.runtime import PROJECT_DIR, intel_enricher, routing_rules_path
from gateway.storage.db import Database
from gateway.storage.tables import complaint, dispatch_job
from normalizers.registry import NORMALIZERS
from tests.intel_e2e.corpus_rows import held_out_spam
from tests.pipeline.twilio_raws import archive_all, twilio_raw


@pytest.mark.parametrize(
    ("environment", "enabled", "jurisdiction"),
    [
        ({}, True, "32.73"),
        ({"LAPOR_GATEWAY_INTEL__ENABLED": "false"}, False, "32.73"),
        ({"LAPOR_GATEWAY_INTEL__JURISDICTION": "32.04"}, True, "32.04"),
    ],
    ids=["defaults-kota-bandung", "disabled", "other-jurisdiction"],
)
def test_intel_section_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], enabled: bool, jurisdiction: str
) -> None:
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    intel = load_settings().intel
    assert (intel.enabled, intel.jurisdiction) == (enabled, jurisdiction)
    assert (intel_enricher(intel) is None) is not enabled


def test_unknown_intel_keys_are_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[intel]\njurisdiction = "32.73"\nthreshold = 2\n', encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_settings(config)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("config/routing.yaml", PROJECT_DIR / "config" / "routing.yaml"),  # not in the working directory
        ("rules/local.yaml", Path("rules/local.yaml")),  # present in the working directory
        ("/nowhere/routing.yaml", Path("/nowhere/routing.yaml")),  # absolute: taken as given
        ("missing.yaml", Path("missing.yaml")),  # nowhere: left for the loader to report
    ],
    ids=["shipped-example", "working-directory", "absolute", "missing"],
)
def test_rules_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured: str, expected: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "local.yaml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert routing_rules_path(IntelSettings(routing_rules=configured)) == expected


def test_a_missing_rules_file_stops_the_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError):
        intel_enricher(IntelSettings(routing_rules="missing.yaml"))


@pytest.mark.parametrize(
    ("enabled", "job_state", "agency"),
    [(True, "held", None), (False, "pending", None)],
    ids=["enabled-holds-spam", "disabled-files-as-is"],
)
async def test_spam_with_intel_on_and_off(db: Database, enabled: bool, job_state: str, agency: str | None) -> None:
    pipeline = Pipeline(db, NORMALIZERS, enrich=intel_enricher(IntelSettings(enabled=enabled)))
    await archive_all(db, [twilio_raw("SMwiring-spam", held_out_spam("loan/16.txt"))])
    assert await pipeline.process_pending() == 1
    async with db.connect() as connection:
        row = (await connection.execute(
            sa.select(dispatch_job.c.state, complaint.c.record, complaint.c.agency)
            .join(complaint, complaint.c.id == dispatch_job.c.complaint_id)
        )).one()
    assert row.state == job_state and row.agency == agency
    assert ('"suspected_spam"' in row.record) is enabled
    assert ('"insights":[]' in row.record) is not enabled
