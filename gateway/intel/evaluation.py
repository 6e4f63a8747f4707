"""Time-ordered evaluation of a router model, with the rules as the baseline it must beat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sklearn.metrics import f1_score

from gateway.errors import ConfigurationError
from gateway.intel.matching import for_matching
from gateway.intel.router import Example, RouterModel, parse_time
from gateway.intel.routing_rules import RoutingRules


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What `routing evaluate` prints; `auto_*` use the model's calibrated threshold even in shadow mode."""

    test_from: str
    examples: int
    accuracy: float
    macro_f1: float
    top3: float
    threshold: float
    auto_share: float
    auto_precision: float
    shadow: bool
    rules_accuracy: float
    rules_confident_share: float
    rules_confident_precision: float
    gateway_routed_share: float
    gateway_routed_precision: float


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def evaluate(
    model: RouterModel,
    examples: Sequence[Example],
    *,
    rules: RoutingRules | None,
    rules_min_confidence: float = 0.7,
    test_from: datetime | None = None,
) -> Evaluation:
    """Score the model on the examples after its training data (or after `test_from`), never before."""
    start = test_from or parse_time(model.header.trained_until)
    test = [e for e in examples if (e.received_at >= start if test_from else e.received_at > start)]
    if not test:
        raise ConfigurationError("no examples after the training cutoff", detail=f"cutoff {start.isoformat()}")
    predictions = model.predict_many([e.text for e in test])
    truth = [e.agency for e in test]
    predicted = [p.agency for p in predictions]
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    threshold = model.header.threshold
    auto = [p.confidence >= threshold for p in predictions]
    auto_correct = sum(a and c for a, c in zip(auto, correct, strict=True))
    top3 = sum(t in {a for a, _ in p.top} for p, t in zip(predictions, truth, strict=True))

    rules_correct = rules_confident = rules_confident_correct = 0
    routed = routed_correct = 0
    for example, prediction, is_auto in zip(test, predictions, auto, strict=True):
        decision = rules.decide(for_matching(example.text)) if rules is not None else None
        rules_correct += decision is not None and decision.agency == example.agency
        confident = decision is not None and decision.confidence >= rules_min_confidence
        rules_confident += confident
        rules_confident_correct += confident and decision is not None and decision.agency == example.agency
        # What enrich would do with this model: auto-route when active and sure, else confident rules.
        if is_auto and not model.header.shadow:
            routed += 1
            routed_correct += prediction.agency == example.agency
        elif confident and decision is not None:
            routed += 1
            routed_correct += decision.agency == example.agency

    labels = sorted(set(truth) | set(predicted))
    return Evaluation(
        test_from=start.isoformat(),
        examples=len(test),
        accuracy=_ratio(sum(correct), len(test)),
        macro_f1=round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4),
        top3=_ratio(top3, len(test)),
        threshold=threshold,
        auto_share=_ratio(sum(auto), len(test)),
        auto_precision=_ratio(auto_correct, sum(auto)),
        shadow=model.header.shadow,
        rules_accuracy=_ratio(rules_correct, len(test)),
        rules_confident_share=_ratio(rules_confident, len(test)),
        rules_confident_precision=_ratio(rules_confident_correct, rules_confident),
        gateway_routed_share=_ratio(routed, len(test)),
        gateway_routed_precision=_ratio(routed_correct, routed),
    )
