"""Operator review of suspected spam: nothing is deleted, nothing held is acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.intel.spam import SPAM_FLAG
from gateway.intel.spam_review import CONFIRMED_FLAG, RELEASED_FLAG, is_held, may_acknowledge, review
from gateway.records import Body, Complaint, RawRef, Reporter

AT = datetime(2026, 11, 2, tzinfo=UTC)


def _record(*flags: str) -> Complaint:
    return Complaint(
        id="C1", channel="twilio", received_at=AT, raw=RawRef(ids=("r",), sha256=("0" * 64,)),
        reporter=Reporter(identity="+628120000"), title="t", body=Body(text="pinjaman dana"), dedup_key="d",
        flags=flags,
    )


@pytest.mark.parametrize(
    ("flags", "held", "acknowledge"),
    [((), False, True), ((SPAM_FLAG,), True, False), ((RELEASED_FLAG,), False, True),
     ((SPAM_FLAG, CONFIRMED_FLAG), False, False)],
    ids=["clean", "suspected", "released", "confirmed"],
)
def test_states(flags: tuple[str, ...], held: bool, acknowledge: bool) -> None:
    record = _record(*flags)
    assert is_held(record) is held
    assert may_acknowledge(record) is acknowledge


def test_release_and_confirm_keep_the_record() -> None:
    released = review(_record(SPAM_FLAG), "release", operator="ops", at=AT)
    assert released.flags == (RELEASED_FLAG,) and released.body.text == "pinjaman dana"
    assert released.status_history[-1].status == "spam_released"
    confirmed = review(_record(SPAM_FLAG), "confirm", operator="ops", at=AT)
    assert confirmed.status == "spam" and CONFIRMED_FLAG in confirmed.flags and SPAM_FLAG in confirmed.flags


@pytest.mark.parametrize("flags", [(), (SPAM_FLAG, CONFIRMED_FLAG)], ids=["never-suspected", "already-reviewed"])
def test_review_refuses_records_not_held(flags: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="not held"):
        review(_record(*flags), "release", operator="ops", at=AT)
