"""The one entry point of the text pipeline: a complaint in, the same complaint with its insights out.

The stored text is never rewritten. Every result sits beside the record as an Insight with its
confidence and who decided it; the record's classification, location region codes, target agency and
flags are set only from those results.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.intel.classify import classify
from gateway.intel.context import IntelContext
from gateway.intel.gazetteer import RegionMatch, is_precise
from gateway.intel.matching import MatchText, for_matching
from gateway.intel.router import Prediction
from gateway.intel.routing_rules import RuleDecision
from gateway.intel.spam import SPAM_FLAG, score_spam
from gateway.records import Complaint, Insight, Location, Target

__all__ = ["INSIGHT_KINDS", "IntelContext", "enrich", "needs_kelurahan"]

# Every insight kind this module writes; re-running enrich replaces exactly these.
INSIGHT_KINDS = frozenset({
    "classification", "region", "ask_kelurahan", "spam", "agency", "agency_suggestion", "agency_shadow",
})


def enrich(complaint: Complaint, *, context: IntelContext) -> Complaint:
    """Classify, locate, route and spam-check a complaint; returns a new record."""
    if not context.settings.enabled:
        return complaint
    text = complaint.body.text
    matched = for_matching(text, context.lexicon)
    insights: list[Insight] = [i for i in complaint.insights if i.kind not in INSIGHT_KINDS]
    update: dict[str, object] = {}

    klass = classify(text, matched)
    update["classification"] = klass.value
    insights.append(Insight(
        kind="classification", value=klass.value, confidence=klass.confidence, decided_by=klass.decided_by,
        detail={"cues": ", ".join(klass.cues[:6])} if klass.cues else {},
    ))

    region = _locate(complaint, context)
    if region is not None:
        insights.append(_region_insight(region))
        if not (complaint.location and complaint.location.region_codes):
            base = complaint.location or Location()
            update["location"] = base.model_copy(update={
                "region_codes": region.region_codes, "level": region.level, "confidence": region.confidence,
            })
    if context.settings.ask_kelurahan and complaint.reply_to is not None and not is_precise(region):
        insights.append(Insight(
            kind="ask_kelurahan", value="true", confidence=1.0, decided_by="rule",
            detail={"reason": "ambiguous" if region is not None and region.ambiguous else
                    "no kelurahan named" if region is not None else "no region named"},
        ))

    verdict = score_spam(text)
    suspected = verdict.score >= context.settings.spam_threshold
    if suspected:
        insights.append(Insight(
            kind="spam", value="suspected", confidence=min(1.0, round(verdict.score / 2, 3)), decided_by="rule",
            detail={"score": str(verdict.score), "cues": ", ".join(verdict.cues)},
        ))
        if SPAM_FLAG not in complaint.flags:
            update["flags"] = (*complaint.flags, SPAM_FLAG)

    # On a re-run, a target this module set earlier is not the channel's: decide it afresh.
    given = complaint if not any(i.kind == "agency" for i in complaint.insights) else complaint.model_copy(
        update={"target": Target()}
    )
    target, routing = _route(given, matched, region, context)
    insights.extend(routing)
    if target is not None:
        update["target"] = target
    elif given is not complaint:
        update["target"] = Target()
    update["insights"] = tuple(insights)
    return complaint.model_copy(update=update)


def needs_kelurahan(complaint: Complaint) -> bool:
    """Whether the acknowledgement should ask the reporter for their kelurahan."""
    return any(i.kind == "ask_kelurahan" for i in complaint.insights)


def _locate(complaint: Complaint, context: IntelContext) -> RegionMatch | None:
    parts = [complaint.body.text]
    if complaint.location is not None and complaint.location.text:
        parts.append(complaint.location.text)
    return context.gazetteer.resolve("\n".join(parts))


def _region_insight(region: RegionMatch) -> Insight:
    detail = {"name": region.name, "level": region.level, "mentions": ", ".join(region.mentions)}
    if region.rt:
        detail["rt"] = region.rt
    if region.rw:
        detail["rw"] = region.rw
    if region.ambiguous:
        detail["ambiguous"] = "true"
    return Insight(kind="region", value=region.code, confidence=region.confidence, decided_by="rule", detail=detail)


def _route(
    complaint: Complaint,
    matched: MatchText,
    region: RegionMatch | None,
    context: IntelContext,
) -> tuple[Target | None, list[Insight]]:
    """Model auto-routing above its calibrated threshold, else confident rules, else top-3 suggestions."""
    agencies = context.rules.agencies
    decision = context.rules.decide(
        matched, category=complaint.target.category, region_code=region.code if region else None,
    )
    prediction = context.model.predict(complaint.body.text) if context.model is not None else None
    threshold = context.auto_threshold()
    insights: list[Insight] = []
    if prediction is not None and threshold is None:
        insights.append(Insight(
            kind="agency_shadow", value=prediction.agency, confidence=prediction.confidence, decided_by="model",
            detail={"shadow": "true", "threshold": str(context.model.header.threshold) if context.model else ""},
        ))
    if complaint.target.agency:
        return None, insights  # the channel or the reporter already named the agency
    if prediction is not None and threshold is not None and prediction.confidence >= threshold:
        if prediction.agency in agencies:
            insights.append(_agency_insight(prediction.agency, prediction.confidence, "model", context,
                                            {"threshold": str(threshold)}))
            return _target(complaint, prediction.agency, decision, context), insights
    if decision is not None and decision.confidence >= context.settings.rules_min_confidence:
        insights.append(_agency_insight(decision.agency, decision.confidence, "rule", context,
                                        {"rule": decision.rule, "hits": ", ".join(decision.hits[:6])}))
        return _target(complaint, decision.agency, decision, context), insights
    insights.extend(_suggestions(prediction, decision, context))
    return None, insights


def _target(complaint: Complaint, agency: str, decision: RuleDecision | None, context: IntelContext) -> Target:
    category = complaint.target.category
    if category is None and decision is not None and decision.agency == agency:
        category = decision.category
    return Target(agency=context.rules.agencies[agency].registry_id, category=category)


def _agency_insight(
    agency: str, confidence: float, by: str, context: IntelContext, extra: dict[str, str],
) -> Insight:
    detail = {"registry_id": context.rules.agencies[agency].registry_id, **{k: v for k, v in extra.items() if v}}
    decided_by = "model" if by == "model" else "rule"
    return Insight(kind="agency", value=agency, confidence=confidence, decided_by=decided_by, detail=detail)


def _suggestions(
    prediction: Prediction | None, decision: RuleDecision | None, context: IntelContext,
) -> Iterable[Insight]:
    """The top 3 for the registry's triage: the model's when there is one, else the rules' ranking."""
    ranked: list[tuple[str, float, str]] = []
    if prediction is not None:
        ranked = [(agency, score, "model") for agency, score in prediction.top]
    elif decision is not None:
        ranked = [(decision.agency, decision.confidence, "rule")]
        ranked += [(agency, score, "rule") for agency, score in decision.alternatives]
    out: list[Insight] = []
    for rank, (agency, score, by) in enumerate(ranked[:3], 1):
        if agency not in context.rules.agencies:
            continue
        out.append(Insight(
            kind="agency_suggestion", value=agency, confidence=score, decided_by="model" if by == "model" else "rule",
            detail={"rank": str(rank), "registry_id": context.rules.agencies[agency].registry_id},
        ))
    return out
