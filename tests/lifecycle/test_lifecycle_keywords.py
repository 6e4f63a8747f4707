"""STOP/BERHENTI/MULAI and YA replies, and what handling them stores and answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from channels.base import OutgoingReply
from gateway.lifecycle.escalation import Escalation, PendingOffer, consent_targets, is_consent
from gateway.lifecycle.inbound import InboundText, handle_keyword
from gateway.lifecycle.optout import UpdatesKeyword, is_opt_out, updates_keyword
from gateway.lifecycle.settings import LifecycleSettings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", UpdatesKeyword.STOP),
        ("stop", UpdatesKeyword.STOP),
        ("  Berhenti. ", UpdatesKeyword.STOP),
        ("BERHENTI!", UpdatesKeyword.STOP),
        ("#1916449 STOP", UpdatesKeyword.STOP),
        ("MULAI", UpdatesKeyword.START),
        ("start", UpdatesKeyword.START),
        ("stop pungli di kelurahan", None),
        ("berhenti kerja sejak pabrik tutup", None),
        ("jangan stop", None),
        ("", None),
        ("YA", None),
    ],
    ids=[
        "stop",
        "stop-lower",
        "berhenti-dot",
        "berhenti-bang",
        "with-reference",
        "mulai",
        "start",
        "complaint-with-stop",
        "complaint-with-berhenti",
        "two-words",
        "empty",
        "consent-is-not-stop",
    ],
)
def test_updates_keyword(text: str, expected: UpdatesKeyword | None) -> None:
    assert updates_keyword(text) is expected
    assert is_opt_out(text) is (expected is UpdatesKeyword.STOP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YA", True),
        ("ya", True),
        ("Iya!", True),
        ("setuju.", True),
        ("#1916449 YA", True),
        ("ya tapi nanti", False),
        ("tidak", False),
        ("STOP", False),
        ("", False),
    ],
    ids=["ya", "ya-lower", "iya", "setuju", "with-reference", "ya-sentence", "tidak", "stop", "empty"],
)
def test_is_consent(text: str, expected: bool) -> None:
    assert is_consent(text) is expected


NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


def offer(cid: str, tracking: str, *, days_ago: float = 1, state: str = "offered") -> PendingOffer:
    escalation = Escalation(complaint_id=cid, state=state, offered_at=NOW - timedelta(days=days_ago))  # type: ignore[arg-type]
    return PendingOffer(escalation=escalation, tracking_id=tracking)


OFFERS = [
    offer("c1", "111"),
    offer("c2", "222"),
    offer("c3", "333", days_ago=45),
    offer("c4", "444", state="consented"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YA", ["c1", "c2"]),
        ("YA #222", ["c2"]),
        ("#333 ya", []),  # the offer is older than the 30-day window
        ("#444 YA", []),  # already consented
        ("#999 YA", []),
        ("tidak", []),
    ],
    ids=["all-open", "named", "expired", "already-consented", "unknown-reference", "not-consent"],
)
def test_consent_targets(text: str, expected: list[str]) -> None:
    chosen = consent_targets(text, OFFERS, now=NOW, window_days=30)
    assert [o.escalation.complaint_id for o in chosen] == expected


class MemoryKeywords:
    """Opt-outs and offers in memory, implementing OptOutRepository and ConsentRepository."""

    def __init__(self, offers: Sequence[PendingOffer] = ()) -> None:
        self.opted_out: dict[tuple[str, str], bool] = {}
        self.offers = list(offers)
        self.consented: list[Escalation] = []
        self.outbox: list[OutgoingReply] = []

    async def set_opt_out(self, channel: str, address: str, *, opted_out: bool, at: datetime) -> None:
        self.opted_out[(channel, address)] = opted_out

    async def is_opted_out(self, channel: str, address: str) -> bool:
        return self.opted_out.get((channel, address), False)

    async def pending_offers(self, channel: str, address: str) -> Sequence[PendingOffer]:
        return self.offers

    async def record_consent(self, escalations: Sequence[Escalation], replies: Sequence[OutgoingReply]) -> None:
        self.consented += escalations
        self.outbox += replies


def inbound(text: str) -> InboundText:
    return InboundText(message_id="SM1", channel="twilio", address="+6281234567890", text=text, received_at=NOW)


async def test_stop_then_start() -> None:
    repo = MemoryKeywords()
    stopped = await handle_keyword(inbound("BERHENTI"), optouts=repo, consents=repo, settings=LifecycleSettings())
    assert stopped is not None and stopped[0].reason == "opt_out"
    assert await repo.is_opted_out("twilio", "+6281234567890")
    assert stopped[1][0].address == "+6281234567890" and "MULAI" in stopped[1][0].text
    started = await handle_keyword(inbound("mulai"), optouts=repo, consents=repo, settings=LifecycleSettings())
    assert started is not None and started[0].reason == "opt_in"
    assert not await repo.is_opted_out("twilio", "+6281234567890")


async def test_consent_records_and_confirms() -> None:
    repo = MemoryKeywords(OFFERS)
    outcome = await handle_keyword(inbound("Ya"), optouts=repo, consents=repo, settings=LifecycleSettings())
    assert outcome is not None
    assert outcome[0].reason == "escalation_consent" and outcome[0].complaints == 2
    assert [(e.complaint_id, e.state, e.consented_at) for e in repo.consented] == [
        ("c1", "consented", NOW),
        ("c2", "consented", NOW),
    ]
    assert {r.tracking_id for r in repo.outbox} == {"111", "222"}
    assert all("Ombudsman RI" in r.text for r in repo.outbox)
    assert len({r.id for r in repo.outbox}) == 2


@pytest.mark.parametrize(
    ("text", "offers"),
    [("YA", []), ("jalan rusak lagi", OFFERS), ("stop pungli", [])],
    ids=["ya-without-offer", "ordinary-text", "complaint-mentioning-stop"],
)
async def test_not_a_command(text: str, offers: list[PendingOffer]) -> None:
    repo = MemoryKeywords(offers)
    assert await handle_keyword(inbound(text), optouts=repo, consents=repo, settings=LifecycleSettings()) is None
    assert repo.consented == [] and repo.opted_out == {}
