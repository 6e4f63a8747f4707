"""Figures, targets and the printed report."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "==": operator.eq}
_SIGN = {">=": "≥", "<=": "≤", "==": "="}


@dataclass(frozen=True, slots=True)
class Target:
    """A goal a figure must meet, from the issue."""

    op: str  # ">=", "<=" or "=="
    value: float

    def met(self, measured: float) -> bool:
        """True when `measured` meets the target."""
        return _COMPARE[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{_SIGN[self.op]} {self.value:g}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, with its unit, its target if it has one, and a note on how it was measured."""

    key: str
    label: str
    value: float
    unit: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """PASS, MISS, or empty without a target."""
        if self.target is None:
            return ""
        return "PASS" if self.target.met(self.value) else "MISS"


def _number(value: float) -> str:
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value else "0"


def section_lines(title: str, figures: Iterable[Figure], notes: Iterable[str] = ()) -> list[str]:
    """The printed block of one section."""
    lines = ["", f"== {title}"]
    lines += [f"   {note}" for note in notes]
    for figure in figures:
        measured = f"{_number(figure.value)} {figure.unit}".rstrip()
        target = f"target {figure.target}" if figure.target else ""
        line = f"   {figure.label:<58} {measured:>16}  {target:<14} {figure.verdict}".rstrip()
        lines.append(line)
        if figure.note:
            lines.append(f"      ({figure.note})")
    return lines


def summary_lines(figures: Iterable[Figure]) -> list[str]:
    """Every figure with a target, one line each."""
    lines = ["", "== Targets"]
    for figure in figures:
        if figure.target is not None:
            measured = f"{_number(figure.value)} {figure.unit}".rstrip()
            lines.append(f"   {figure.verdict:<5} {figure.label:<58} {measured:>16}  target {figure.target}")
    return lines
