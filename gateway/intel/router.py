"""The learned agency router: TF-IDF over word and character n-grams, a calibrated linear model.

Trained on the final dispositions the registry reports. A model starts in shadow mode and only
auto-routes when it beat the rules on the most recent month of its training data; even then only
above the calibrated confidence threshold chosen for the target precision. The file is a JSON header
line followed by a joblib pickle, so the header is checked before anything is unpickled.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from gateway.errors import ConfigurationError
from gateway.intel.linear_scorer import LinearScorer, UnsupportedPipeline
from gateway.intel.matching import for_matching
from gateway.intel.routing_rules import RoutingRules

MODEL_FORMAT = "lapor-gateway/agency-router"
MODEL_VERSION = 1
TARGET_PRECISION = 0.95
RECENT = timedelta(days=30)
_MIN_RECENT = 20
_MIN_AUTO = 5
_NEVER = 1.01
# Texts the fast scorer must reproduce exactly before it replaces scikit-learn's predict_proba.
_PROBES = ("", "jalan rusak berlubang", "penerangan jalan umum mati", "pdam tidak mengalir sudah 3 hari", "x")


@dataclass(frozen=True, slots=True)
class Example:
    """One final disposition: the text, the agency the registry settled on, and when it arrived."""

    text: str
    agency: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one text."""

    agency: str
    confidence: float
    auto: bool
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ModelHeader:
    """What the model file says about itself before it is unpickled."""

    format: str
    version: int
    sklearn_version: str
    trained_at: str
    trained_until: str
    examples: int
    classes: tuple[str, ...]
    threshold: float
    shadow: bool
    gate: dict[str, float]


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime ("Z" accepted)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_examples(path: str | Path) -> list[Example]:
    """Read JSON lines {"text", "agency", "received_at"}, sorted by time."""
    examples: list[Example] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(Example(str(row["text"]), str(row["agency"]), parse_time(str(row["received_at"]))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError("invalid training line", detail=f"{path}:{number}: {exc}") from exc
    return sorted(examples, key=lambda e: e.received_at)


def split_recent(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """Split time-ordered examples into older ones and the most recent month (at least a few examples)."""
    ordered = sorted(examples, key=lambda e: e.received_at)
    if not ordered:
        return [], []
    cutoff = ordered[-1].received_at - RECENT
    older = [e for e in ordered if e.received_at <= cutoff]
    recent = [e for e in ordered if e.received_at > cutoff]
    if len(recent) < _MIN_RECENT:
        at = max(len(ordered) - _MIN_RECENT, len(ordered) * 4 // 5)
        older, recent = ordered[:at], ordered[at:]
    return older, recent


def _features() -> FeatureUnion:
    return FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])


def _fit(texts: Sequence[str], labels: Sequence[str]) -> Pipeline:
    smallest = min(np.unique(np.asarray(labels), return_counts=True)[1])
    folds = max(2, min(5, int(smallest)))
    # ensemble=False: one linear model plus one calibrator, so a prediction costs one dot product.
    classifier = CalibratedClassifierCV(LinearSVC(C=0.5), method="sigmoid", cv=folds, ensemble=False)
    pipeline = Pipeline([("features", _features()), ("classifier", classifier)])
    pipeline.fit(list(texts), list(labels))
    return pipeline


def _prepare(text: str) -> str:
    return for_matching(text).text


def choose_threshold(confidences: Sequence[float], correct: Sequence[bool], target: float = TARGET_PRECISION) -> float:
    """The lowest confidence at which auto-routed predictions keep `target` precision on held-out data."""
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda p: -p[0])
    best = _NEVER
    hits = 0
    for count, (confidence, ok) in enumerate(pairs, 1):
        hits += ok
        if count >= _MIN_AUTO and hits / count >= target:
            best = confidence
    return best


class RouterModel:
    """A trained router: the header and the fitted pipeline; thread-safe for prediction."""

    def __init__(self, header: ModelHeader, pipeline: Pipeline) -> None:
        self.header = header
        self.pipeline = pipeline
        self.classes: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
        self._scorer: LinearScorer | None = None
        try:
            scorer = LinearScorer(pipeline)
            if scorer.check(pipeline, _PROBES) and scorer.classes == self.classes:
                self._scorer = scorer
        except UnsupportedPipeline:
            self._scorer = None

    @property
    def fast(self) -> bool:
        """Whether predictions use the fast scorer (else scikit-learn's predict_proba)."""
        return self._scorer is not None

    def predict(self, text: str) -> Prediction:
        """Agency, calibrated confidence, whether it may auto-route, and the top 3."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        """Predict several texts at once."""
        prepared = [_prepare(t) for t in texts]
        if self._scorer is not None and len(prepared) < 32:
            probabilities = np.vstack([self._scorer.probabilities(t) for t in prepared])
        else:
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                probabilities = self.pipeline.predict_proba(prepared)
        out: list[Prediction] = []
        for row in probabilities:
            order = np.argsort(row)[::-1][:3]
            top = tuple((self.classes[i], round(float(row[i]), 4)) for i in order)
            confidence = top[0][1]
            auto = not self.header.shadow and confidence >= self.header.threshold
            out.append(Prediction(agency=top[0][0], confidence=confidence, auto=auto, top=top))
        return out

    def save(self, path: str | Path) -> None:
        """Write the header line and the pickled pipeline."""
        buffer = io.BytesIO()
        joblib.dump(self.pipeline, buffer, compress=3)
        header = json.dumps(asdict(self.header), sort_keys=True).encode()
        Path(path).write_bytes(header + b"\n" + buffer.getvalue())


def read_header(path: str | Path) -> ModelHeader:
    """Read and check a model file's header without unpickling the model."""
    try:
        with open(path, "rb") as handle:
            line = handle.readline(65536)
    except FileNotFoundError as exc:
        raise ConfigurationError("router model not found", detail=str(path)) from exc
    try:
        raw = json.loads(line)
        header = ModelHeader(**{**raw, "classes": tuple(raw["classes"])})
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError("not a router model file", detail=str(path)) from exc
    if header.format != MODEL_FORMAT or header.version != MODEL_VERSION:
        raise ConfigurationError("unsupported router model version", detail=f"{header.format} v{header.version}")
    if header.sklearn_version != sklearn.__version__:
        # Pickled estimators are only guaranteed to load in the version that wrote them.
        raise ConfigurationError(
            "router model was trained with another scikit-learn; retrain it",
            detail=f"model {header.sklearn_version}, installed {sklearn.__version__}",
        )
    return header


def load_model(path: str | Path) -> RouterModel:
    """Load a model file (only files this gateway wrote: the body is a pickle)."""
    header = read_header(path)
    data = Path(path).read_bytes()
    pipeline = joblib.load(io.BytesIO(data[data.index(b"\n") + 1 :]))
    if not isinstance(pipeline, Pipeline):
        raise ConfigurationError("router model body is not a pipeline", detail=str(path))
    return RouterModel(header, pipeline)


def _gate(model: Pipeline, recent: Sequence[Example], rules: RoutingRules | None) -> tuple[float, dict[str, float]]:
    texts = [_prepare(e.text) for e in recent]
    probabilities = model.predict_proba(texts)
    classes = [str(c) for c in model.classes_]
    predicted = [classes[int(np.argmax(row))] for row in probabilities]
    confidences = [float(np.max(row)) for row in probabilities]
    correct = [p == e.agency for p, e in zip(predicted, recent, strict=True)]
    threshold = choose_threshold(confidences, correct)
    model_accuracy = sum(correct) / len(recent)
    rules_accuracy = 0.0
    if rules is not None:
        decisions = [rules.decide(for_matching(e.text)) for e in recent]
        rules_accuracy = sum(d is not None and d.agency == e.agency for d, e in zip(decisions, recent, strict=True))
        rules_accuracy /= len(recent)
    gate = {"recent_examples": float(len(recent)), "model_accuracy": round(model_accuracy, 4),
            "rules_accuracy": round(rules_accuracy, 4)}
    return threshold, gate


def train(examples: Iterable[Example], *, rules: RoutingRules | None = None) -> RouterModel:
    """Train on dispositions: threshold and shadow gate from the most recent month, then refit on all."""
    ordered = sorted(examples, key=lambda e: e.received_at)
    if len({e.agency for e in ordered}) < 2:
        raise ConfigurationError("training needs dispositions for at least two agencies")
    older, recent = split_recent(ordered)
    if len({e.agency for e in older}) < 2:
        raise ConfigurationError("too little training data before the most recent month")
    first = _fit([_prepare(e.text) for e in older], [e.agency for e in older])
    threshold, gate = _gate(first, recent, rules)
    final = _fit([_prepare(e.text) for e in ordered], [e.agency for e in ordered])
    header = ModelHeader(
        format=MODEL_FORMAT,
        version=MODEL_VERSION,
        sklearn_version=sklearn.__version__,
        trained_at=datetime.now(UTC).isoformat(),
        trained_until=ordered[-1].received_at.isoformat(),
        examples=len(ordered),
        classes=tuple(str(c) for c in final.classes_),
        threshold=round(threshold, 4),
        shadow=not gate["model_accuracy"] > gate["rules_accuracy"],
        gate=gate,
    )
    return RouterModel(header, final)
