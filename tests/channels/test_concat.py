"""Concatenated SMS: UDH parsing, grouping with a window, and reassembly in part order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels import concat
from channels.concat import ConcatInfo, assemble, parse_concat_udh, ready_groups, split_assembled
from gateway.errors import QuarantinedInput
from gateway.messages import RawMessage
from normalizers.kannel import normalize

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=120)


@pytest.mark.parametrize(
    ("udh", "info"),
    [
        (bytes([0x05, 0x00, 0x03, 0x2A, 0x03, 0x01]), ConcatInfo(0x2A, 3, 1)),
        (bytes([0x06, 0x08, 0x04, 0x01, 0x2C, 0x02, 0x02]), ConcatInfo(0x012C, 2, 2)),
        # application port addressing first, then the concatenation element
        (bytes([0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01]), ConcatInfo(7, 2, 1)),
        (bytes([0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]), None),
        (bytes([0x05, 0x00, 0x03, 0x2A, 0x02, 0x03]), None),
        (bytes([0x05, 0x00, 0x03, 0x2A, 0x00, 0x00]), None),
        (bytes([0x05, 0x00, 0x03, 0x2A]), None),
        (bytes([0x05, 0x00, 0x04, 0x2A, 0x03, 0x01]), None),
        (b"", None),
    ],
    ids=["8bit-ref", "16bit-ref", "after-port-ie", "ports-only", "seq-beyond-total", "total-zero", "truncated",
         "wrong-ie-length", "empty"],
)
def test_parse_concat_udh(udh: bytes, info: ConcatInfo | None) -> None:
    assert parse_concat_udh(udh) == info


def part(seq: int, *, total: int = 3, key: str = "A", at: int = 0, external_id: str | None = None,
         payload: bytes | None = None) -> RawMessage:
    meta = concat.part_meta(ConcatInfo(reference=1, total=total, seq=seq), sender=key, recipient="1708")
    return RawMessage(
        channel="kannel",
        event=concat.PART_EVENT,
        external_id=external_id or f"{key}-{seq}",
        received_at=T0 + timedelta(seconds=at),
        payload=payload if payload is not None else f"part {seq}".encode(),
        meta=meta,
    )


@pytest.mark.parametrize(
    ("parts", "now", "expected"),
    [
        ([part(1), part(2), part(3)], T0, [("A", True, False, (1, 2, 3))]),
        ([part(3, at=2), part(1, at=5), part(2, at=1)], T0 + timedelta(seconds=5), [("A", True, False, (1, 2, 3))]),
        ([part(1), part(3)], T0 + timedelta(seconds=119), []),
        ([part(1), part(3)], T0 + WINDOW, [("A", False, True, (1, 3))]),
        ([part(1), part(2, external_id="again"), part(2, at=1)], T0, []),
        ([part(1), part(2), part(3), part(1, key="B")], T0 + timedelta(seconds=10), [("A", True, False, (1, 2, 3))]),
        (
            [part(1, key="B", at=0), part(2, key="A", total=2, at=1), part(1, key="A", total=2, at=3),
             part(2, key="B", total=2, at=4)],
            T0 + timedelta(seconds=5),
            [("A", True, False, (1, 2))],
        ),
    ],
    ids=["complete", "out-of-order", "waiting", "window-passed", "duplicate-seq", "other-sender-waits",
         "same-reference-different-total"],
)
def test_ready_groups(parts: list[RawMessage], now: datetime, expected: list[tuple[str, bool, bool, tuple[int, ...]]]
                      ) -> None:
    groups = ready_groups(parts, now, WINDOW)
    got = [
        (g.key.split("|")[0], g.complete, g.expired, tuple(int(p.meta[concat.SEQ]) for p in g.parts)) for g in groups
    ]
    assert got == expected


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {concat.KEY: "k", concat.TOTAL: "two", concat.SEQ: "1"},
        {concat.KEY: "k", concat.TOTAL: "2", concat.SEQ: "3"},
    ],
    ids=["no-meta", "not-a-number", "seq-beyond-total"],
)
def test_a_broken_part_comes_back_alone_and_is_quarantined(meta: dict[str, str]) -> None:
    broken = RawMessage(channel="kannel", event="part", external_id="x", received_at=T0, payload=b"", meta=meta)
    [group] = ready_groups([broken, part(1)], T0, WINDOW)
    assert group.parts == (broken,) and not group.complete and group.missing == ()
    assert assemble(group.parts) is broken
    with pytest.raises(QuarantinedInput):
        normalize(assemble(group.parts))


def test_assemble_orders_parts_and_marks_missing_ones() -> None:
    group_parts = (part(3, at=1), part(1, at=2))
    assembled = assemble(group_parts)
    assert assembled.event == concat.ASSEMBLED_EVENT
    assert assembled.received_at == T0 + timedelta(seconds=1)
    assert assembled.meta[concat.PARTS] == "1,3"
    assert assembled.meta[concat.MISSING] == "2"
    assert concat.is_incomplete(assembled)
    assert [p.payload for p in split_assembled(assembled)] == [b"part 1", b"part 3"]


def test_assemble_is_deterministic_whatever_the_order() -> None:
    parts = [part(1, payload=b"\xd8"), part(2, at=1, payload=b"\x3c"), part(3, at=2)]
    first, second = assemble(parts), assemble(list(reversed(parts)))
    assert first == second
    assert not concat.is_incomplete(first)
    assert [p.external_id for p in split_assembled(first)] == ["A-1", "A-2", "A-3"]
    assert split_assembled(first)[0] == parts[0]


@pytest.mark.parametrize(
    "parts",
    [[], [part(1), part(2, key="B")]],
    ids=["none", "two-messages"],
)
def test_assemble_refuses_what_is_not_one_message(parts: list[RawMessage]) -> None:
    with pytest.raises(ValueError):
        assemble(parts)


def test_split_assembled_quarantines_a_broken_document() -> None:
    broken = RawMessage(channel="kannel", event="assembled", external_id="c", received_at=T0, payload=b"{}")
    with pytest.raises(QuarantinedInput):
        split_assembled(broken)


def test_group_anchor_is_the_first_part_and_missing_lists_the_gaps() -> None:
    [group] = ready_groups([part(3, at=1), part(1, at=2)], T0 + WINDOW + timedelta(seconds=5), WINDOW)
    assert group.anchor.external_id == "A-1"
    assert group.missing == (2,)
    assert group.expired and not group.complete
