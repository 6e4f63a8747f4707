"""enrich(): one record in, a new record out with class, region, agency, spam flag and insights."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.intel.context import IntelContext, shared_context
from gateway.intel.enrich import enrich, needs_kelurahan
from gateway.intel.router import RouterModel, load_model
from gateway.intel.settings import IntelSettings
from gateway.intel.spam import SPAM_FLAG
from gateway.records import Body, Complaint, Insight, Location, RawRef, ReplyRoute, Reporter, Target
from tests.intel.conftest import RULES


def _complaint(text: str, *, reply: bool = True, **extra: object) -> Complaint:
    return Complaint(
        id="01J0000000000000000000TEST",
        channel="twilio",
        received_at=datetime(2026, 11, 5, 3, 0, tzinfo=UTC),
        raw=RawRef(ids=("raw-1",), sha256=("0" * 64,)),
        reporter=Reporter(identity="+6281200000001", phone="+6281200000001"),
        title=text[:40],
        body=Body(text=text, language="id"),
        dedup_key="dedup-1",
        reply_to=ReplyRoute(channel="twilio", address="+6281200000001") if reply else None,
        **extra,
    )


def _kinds(record: Complaint) -> dict[str, list[Insight]]:
    out: dict[str, list[Insight]] = {}
    for insight in record.insights:
        out.setdefault(insight.kind, []).append(insight)
    return out


def test_full_enrichment_keeps_text_and_returns_new_record(context: IntelContext) -> None:
    text = "PJU mati di Kel. Cipaganti RT 05/RW 03 Kec. Coblong, gelap bgt udah seminggu"
    original = _complaint(text)
    record = enrich(original, context=context)
    assert record is not original and original.insights == ()
    assert record.body.text == text and record.title == original.title
    assert record.classification == "pengaduan"
    assert record.location is not None and record.location.region_codes[-1] == "32.73.02.1001"
    assert record.location.level == "kelurahan"
    assert record.target.agency == "EXAMPLE-3273-DISHUB"
    assert record.target.category == "penerangan_jalan_umum"
    kinds = _kinds(record)
    assert kinds["agency"][0].decided_by == "rule" and kinds["agency"][0].value == "dishub"
    assert kinds["region"][0].detail["rt"] == "5"
    assert kinds["agency_shadow"][0].decided_by == "model"
    assert not needs_kelurahan(record)
    assert SPAM_FLAG not in record.flags


@pytest.mark.parametrize(
    ("text", "reply", "asks"),
    [
        ("jalan rusak parah, tolong diperbaiki", True, True),
        ("jalan rusak parah, tolong diperbaiki", False, False),
        ("jalan rusak di kecamatan coblong", True, True),
        ("jalan rusak di jl. dago", True, True),
        ("jalan rusak di kelurahan dago", True, False),
    ],
    ids=["nothing-named", "no-reply-route", "only-kecamatan", "only-street", "kelurahan-named"],
)
def test_ask_for_kelurahan(rules_only_context: IntelContext, text: str, reply: bool, asks: bool) -> None:
    assert needs_kelurahan(enrich(_complaint(text, reply=reply), context=rules_only_context)) is asks


def test_reporter_marker_wins(rules_only_context: IntelContext) -> None:
    record = enrich(_complaint("#aspirasi jalan rusak berlubang di kelurahan dago"), context=rules_only_context)
    assert record.classification == "aspirasi"
    assert _kinds(record)["classification"][0].decided_by == "reporter"


def test_spam_is_flagged_not_dropped(rules_only_context: IntelContext) -> None:
    text = "Selamat no anda mendapatkan hadiah cek tunai Rp100jt PIN:AB12CD3 klik bit.ly/hadiah-resmi"
    record = enrich(_complaint(text), context=rules_only_context)
    assert SPAM_FLAG in record.flags
    assert _kinds(record)["spam"][0].decided_by == "rule"
    assert record.body.text == text


def test_unsure_rules_leave_target_and_suggest(rules_only_context: IntelContext) -> None:
    record = enrich(_complaint("sampah menumpuk di got sehingga banjir di jalan"), context=rules_only_context)
    assert record.target.agency is None
    suggestions = _kinds(record)["agency_suggestion"]
    assert 1 <= len(suggestions) <= 3
    assert [s.detail["rank"] for s in suggestions] == [str(i) for i in range(1, len(suggestions) + 1)]


def test_no_rule_and_no_model_leaves_it_to_the_registry(rules_only_context: IntelContext) -> None:
    record = enrich(_complaint("halo selamat pagi"), context=rules_only_context)
    assert record.target == Target()
    assert "agency" not in _kinds(record) and "agency_suggestion" not in _kinds(record)


def test_active_model_auto_routes(model_path: Path) -> None:
    base = IntelContext.from_settings(IntelSettings(routing_rules=str(RULES)))
    loaded = load_model(model_path)
    active = RouterModel(replace(loaded.header, shadow=False, threshold=0.5), loaded.pipeline)
    context = replace(base, model=active)
    record = enrich(_complaint("air pdam di kelurahan sekeloa tidak mengalir sudah 3 hari"), context=context)
    agency = _kinds(record)["agency"][0]
    assert agency.decided_by == "model" and agency.value == "pdam"
    assert record.target.agency == "EXAMPLE-3273-TIRTAWENING"
    assert "agency_shadow" not in _kinds(record)


def test_existing_agency_and_region_codes_are_kept(rules_only_context: IntelContext) -> None:
    given = _complaint(
        "PJU mati di kelurahan dago",
        target=Target(agency="REG-1", category="lampu"),
        location=Location(text="dekat ITB", region_codes=("32.73.02",)),
    )
    record = enrich(given, context=rules_only_context)
    assert record.target == given.target
    assert record.location == given.location
    assert "region" in _kinds(record)


def test_rerun_replaces_its_own_insights(rules_only_context: IntelContext) -> None:
    other = Insight(kind="duplicate_of", value="x", confidence=1.0, decided_by="rule")
    once = enrich(_complaint("jalan rusak di kelurahan dago", insights=(other,)), context=rules_only_context)
    twice = enrich(once, context=rules_only_context)
    assert twice.insights == once.insights
    assert other in twice.insights


def test_disabled_returns_the_same_record() -> None:
    context = IntelContext.from_settings(IntelSettings(routing_rules=str(RULES), enabled=False))
    record = _complaint("jalan rusak")
    assert enrich(record, context=context) is record


def test_shared_context_is_built_once() -> None:
    settings = IntelSettings(routing_rules=str(RULES))
    assert shared_context(settings) is shared_context(IntelSettings(routing_rules=str(RULES)))
