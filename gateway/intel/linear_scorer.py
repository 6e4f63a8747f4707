"""Fast single-message scoring for the router's fitted pipeline (TF-IDF union + sigmoid-calibrated LinearSVC).

scikit-learn spends about 1.5 ms per single prediction in input checks and sparse-matrix plumbing; this
computes the same numbers from the fitted vocabularies, idf weights, coefficients and calibrators in
about a tenth of that. `LinearScorer.check` compares it with scikit-learn and the router falls back to
scikit-learn if they ever disagree.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.pipeline import Pipeline

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Block:
    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: FloatArray
    offset: int
    sublinear: bool


class UnsupportedPipeline(Exception):
    """The pipeline is not the shape this scorer reproduces."""


class LinearScorer:
    """Calibrated class probabilities for one text, numerically equal to the pipeline's predict_proba."""

    def __init__(self, pipeline: Pipeline) -> None:
        try:
            union = pipeline.named_steps["features"]
            calibrated = pipeline.named_steps["classifier"]
            (inner,) = calibrated.calibrated_classifiers_
            estimator = inner.estimator
            if inner.method != "sigmoid":
                raise UnsupportedPipeline(f"calibration method {inner.method}")
            blocks: list[_Block] = []
            offset = 0
            for _, vectorizer in union.transformer_list:
                if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.binary:
                    raise UnsupportedPipeline("vectorizer options")
                blocks.append(_Block(
                    analyzer=vectorizer.build_analyzer(),
                    vocabulary=dict(vectorizer.vocabulary_),
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    offset=offset,
                    sublinear=bool(vectorizer.sublinear_tf),
                ))
                offset += len(vectorizer.vocabulary_)
            self._blocks = tuple(blocks)
            self._coef_t: FloatArray = np.ascontiguousarray(np.asarray(estimator.coef_, dtype=np.float64).T)
            self._intercept: FloatArray = np.asarray(estimator.intercept_, dtype=np.float64)
            self._a: FloatArray = np.array([c.a_ for c in inner.calibrators], dtype=np.float64)
            self._b: FloatArray = np.array([c.b_ for c in inner.calibrators], dtype=np.float64)
            self.classes: tuple[str, ...] = tuple(str(c) for c in calibrated.classes_)
        except (AttributeError, KeyError, ValueError) as exc:
            raise UnsupportedPipeline(str(exc)) from exc
        if list(estimator.classes_) != list(calibrated.classes_):
            raise UnsupportedPipeline("class order differs")

    def _features(self, text: str) -> tuple[list[int], list[float]]:
        indices: list[int] = []
        values: list[float] = []
        for block in self._blocks:
            counts = Counter(block.analyzer(text))
            start = len(values)
            for term, count in counts.items():
                column = block.vocabulary.get(term)
                if column is None:
                    continue
                tf = 1.0 + math.log(count) if block.sublinear else float(count)
                indices.append(block.offset + column)
                values.append(tf * float(block.idf[column]))
            norm = math.sqrt(sum(v * v for v in values[start:]))
            if norm:
                for i in range(start, len(values)):
                    values[i] /= norm
        return indices, values

    def probabilities(self, text: str) -> FloatArray:
        """Calibrated probabilities in the order of `classes`."""
        indices, values = self._features(text)
        decision = self._intercept.copy()
        if indices:
            decision += np.asarray(values, dtype=np.float64) @ self._coef_t[indices]
        # sklearn's _SigmoidCalibration.predict: expit(-(a * f + b)).
        calibrated = 1.0 / (1.0 + np.exp(self._a * decision + self._b))
        if len(self.classes) == 2:
            positive = float(calibrated[0])
            return np.array([1.0 - positive, positive])
        total = float(calibrated.sum())
        if total == 0.0:
            return np.full(len(self.classes), 1.0 / len(self.classes))
        result: FloatArray = calibrated / total
        return result

    def check(self, pipeline: Pipeline, texts: Sequence[str]) -> bool:
        """Whether this scorer agrees with the pipeline on `texts`."""
        expected = pipeline.predict_proba(list(texts))
        return all(np.allclose(self.probabilities(t), row, atol=1e-9) for t, row in zip(texts, expected, strict=True))
