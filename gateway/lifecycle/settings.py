"""The `[lifecycle]` settings section: legal deadlines, calendar, status polling, escalation, duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Zone = Literal["WIB", "WITA", "WIT"]


class PollStep(BaseModel):
    """Poll a complaint every `every_minutes` while it is younger than `until_age_hours`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    until_age_hours: float = Field(gt=0)
    every_minutes: float = Field(gt=0)


def _default_poll_schedule() -> tuple[PollStep, ...]:
    # Most registry activity (verification, disposition) happens in the first working days;
    # an old complaint changes rarely, so it is polled rarely.
    return (
        PollStep(until_age_hours=24, every_minutes=5),
        PollStep(until_age_hours=24 * 7, every_minutes=30),
        PollStep(until_age_hours=24 * 30, every_minutes=120),
    )


class LifecycleSettings(BaseModel):
    """Deadlines (defaults from the SP4N-LAPOR! rules), calendar, polling, escalation and duplicates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Verification and disposition by the registry, in working days after receipt.
    verify_working_days: int = Field(default=3, ge=0)
    # The agency's follow-up plan, in working days after disposition.
    plan_working_days: int = Field(default=5, ge=0)
    # A response the reporter does not answer closes after this many working days.
    close_working_days: int = Field(default=10, ge=0)
    # An unresolved complaint may go to Ombudsman RI after this many calendar days.
    escalation_calendar_days: int = Field(default=60, ge=1)
    # True: cuti bersama (collective leave) days are not working days, like public holidays.
    skip_cuti_bersama: bool = True
    default_timezone: Zone = "WIB"
    due_soon_hours: float = Field(default=24.0, ge=0)
    poll_schedule: tuple[PollStep, ...] = Field(default_factory=_default_poll_schedule)
    # Interval for complaints older than the last step of poll_schedule.
    poll_oldest_every_minutes: float = Field(default=360.0, gt=0)
    # After a failed poll, wait this long before trying again (doubles per failure, capped at the oldest interval).
    poll_retry_minutes: float = Field(default=5.0, gt=0)
    sync_batch_size: int = Field(default=50, ge=1)
    sync_concurrency: int = Field(default=4, ge=1)
    sync_idle_seconds: float = Field(default=30.0, gt=0)
    notify_reporter: bool = True
    # How long a reporter has to answer YA to the Ombudsman offer.
    consent_window_days: int = Field(default=30, ge=1)
    duplicate_window_hours: float = Field(default=72.0, ge=0)
    duplicate_similarity: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _schedule_ascends(self) -> LifecycleSettings:
        ages = [step.until_age_hours for step in self.poll_schedule]
        if ages != sorted(ages) or len(set(ages)) != len(ages):
            raise ValueError("poll_schedule must list steps by strictly increasing until_age_hours")
        return self

    @property
    def due_soon(self) -> timedelta:
        """How close to a deadline counts as due soon."""
        return timedelta(hours=self.due_soon_hours)

    @property
    def duplicate_window(self) -> timedelta:
        """How far back an earlier complaint can be the original of a duplicate."""
        return timedelta(hours=self.duplicate_window_hours)

    @property
    def consent_window(self) -> timedelta:
        """How long a YA answer to the escalation offer counts."""
        return timedelta(days=self.consent_window_days)
