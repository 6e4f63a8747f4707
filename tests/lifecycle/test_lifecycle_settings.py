"""The `[lifecycle]` section: the legal defaults, and refusals of bad values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from gateway.lifecycle.settings import LifecycleSettings


def test_defaults_are_the_legal_deadlines() -> None:
    settings = LifecycleSettings()
    assert (
        settings.verify_working_days,
        settings.plan_working_days,
        settings.close_working_days,
        settings.escalation_calendar_days,
    ) == (3, 5, 10, 60)
    assert settings.default_timezone == "WIB" and settings.skip_cuti_bersama is True
    assert settings.due_soon == timedelta(hours=24)
    assert [s.until_age_hours for s in settings.poll_schedule] == [24, 168, 720]


@pytest.mark.parametrize(
    "values",
    [
        {"verify_working_days": -1},
        {"escalation_calendar_days": 0},
        {"default_timezone": "UTC"},
        {"duplicate_similarity": 1.5},
        {"unknown_key": 1},
        {"poll_schedule": [{"until_age_hours": 48, "every_minutes": 5}, {"until_age_hours": 24, "every_minutes": 30}]},
        {"poll_schedule": [{"until_age_hours": 24, "every_minutes": 0}]},
    ],
    ids=[
        "negative-days",
        "zero-escalation",
        "unknown-zone",
        "similarity-above-1",
        "unknown-key",
        "schedule-not-ascending",
        "zero-interval",
    ],
)
def test_refuses(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LifecycleSettings.model_validate(values)


def test_from_toml_shaped_data() -> None:
    settings = LifecycleSettings.model_validate(
        {
            "skip_cuti_bersama": False,
            "default_timezone": "WITA",
            "poll_schedule": [{"until_age_hours": 12, "every_minutes": 1}],
        }
    )
    assert settings.skip_cuti_bersama is False and settings.default_timezone == "WITA"
    assert settings.poll_schedule[0].every_minutes == 1
