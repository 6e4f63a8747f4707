"""Concatenated SMS: parts a gateway delivers one by one, grouped, and reassembled before normalization.

Every part is stored as its own raw message (event "part") so the archive keeps each; the pipeline
groups the parts with `ready_groups` and normalizes `assemble(group.parts)` once. Both are pure.

UDH concatenation elements: 3GPP TS 23.040 §9.2.3.24.1 (IE 0x00, 8-bit reference) and
§9.2.3.24.8 (IE 0x08, 16-bit reference).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.errors import QuarantinedInput
from gateway.messages import RawMessage

PART_EVENT = "part"
ASSEMBLED_EVENT = "assembled"
INCOMPLETE_FLAG = "incomplete"

# Meta keys a channel sets on every part; the pipeline groups by (channel, meta[KEY]).
KEY = "concat_key"
TOTAL = "concat_total"
SEQ = "concat_seq"
# Meta keys of an assembled message.
PARTS = "concat_parts"
MISSING = "concat_missing"
INCOMPLETE = "concat_incomplete"

IE_CONCAT_8BIT = 0x00
IE_CONCAT_16BIT = 0x08


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    """Which long message a part belongs to and where it goes."""

    reference: int
    total: int
    seq: int


def parse_concat_udh(udh: bytes) -> ConcatInfo | None:
    """The concatenation element of a User Data Header, or None when there is none (or it is malformed)."""
    if not udh:
        return None
    length = udh[0]
    body = udh[1 : 1 + length]
    if length + 1 > len(udh):
        return None
    position = 0
    while position + 2 <= len(body):
        element, size = body[position], body[position + 1]
        value = body[position + 2 : position + 2 + size]
        if len(value) != size:
            return None
        if element == IE_CONCAT_8BIT and size == 3:
            info = ConcatInfo(reference=value[0], total=value[1], seq=value[2])
        elif element == IE_CONCAT_16BIT and size == 4:
            info = ConcatInfo(reference=(value[0] << 8) | value[1], total=value[2], seq=value[3])
        else:
            position += 2 + size
            continue
        # 23.040: a total of 0 or a sequence number beyond the total makes the element one to ignore.
        if info.total == 0 or not 1 <= info.seq <= info.total:
            return None
        return info
    return None


def concat_key(sender: str, recipient: str, reference: int, total: int) -> str:
    """The group key of a long message: the reference is only unique per sender, recipient and total."""
    return f"{sender}|{recipient}|{reference}|{total}"


def part_meta(info: ConcatInfo, *, sender: str, recipient: str) -> dict[str, str]:
    """The meta entries a channel adds to a part's raw message."""
    return {
        KEY: concat_key(sender, recipient, info.reference, info.total),
        TOTAL: str(info.total),
        SEQ: str(info.seq),
    }


def _position(raw: RawMessage) -> tuple[int, int]:
    try:
        total, seq = int(raw.meta[TOTAL]), int(raw.meta[SEQ])
    except (KeyError, ValueError) as exc:
        raise QuarantinedInput("malformed_part", detail=raw.external_id) from exc
    if not 1 <= seq <= total or not raw.meta.get(KEY):
        raise QuarantinedInput("malformed_part", detail=raw.external_id)
    return total, seq


def _well_formed(raw: RawMessage) -> bool:
    try:
        _position(raw)
    except QuarantinedInput:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Group:
    """The parts of one long message seen so far, in order, and whether to normalize them now."""

    channel: str
    key: str
    total: int
    parts: tuple[RawMessage, ...]
    complete: bool
    expired: bool

    @property
    def missing(self) -> tuple[int, ...]:
        """Sequence numbers that have not arrived."""
        present = {_position(part)[1] for part in self.parts if _well_formed(part)}
        return tuple(seq for seq in range(1, self.total + 1) if seq not in present)

    @property
    def anchor(self) -> RawMessage:
        """The part whose row holds the record (a complaint has one raw row); the others point to it."""
        return self.parts[0]


def _ordered_unique(parts: Sequence[RawMessage]) -> tuple[RawMessage, ...]:
    """One raw per sequence number (the earliest, when a gateway redelivered a part under a new id)."""
    by_seq: dict[int, RawMessage] = {}
    for part in sorted(parts, key=lambda p: (p.received_at, p.external_id)):
        by_seq.setdefault(_position(part)[1], part)
    return tuple(by_seq[seq] for seq in sorted(by_seq))


def ready_groups(parts: Sequence[RawMessage], now: datetime, window: timedelta) -> list[Group]:
    """Groups to normalize now: all parts present, or the oldest part waited longer than `window`.

    Never raises: a part whose concatenation meta is broken comes back alone (expired, never complete),
    and `assemble` hands it through unchanged so that the normalizer quarantines it.
    """
    grouped: dict[tuple[str, str], list[RawMessage]] = {}
    ready: list[Group] = []
    for part in parts:
        if not _well_formed(part):
            ready.append(Group(part.channel, f"malformed:{part.external_id}", 0, (part,), False, True))
            continue
        grouped.setdefault((part.channel, part.meta[KEY]), []).append(part)
    for (channel, key), members in grouped.items():
        total = max(_position(member)[0] for member in members)
        ordered = _ordered_unique(members)
        complete = len(ordered) == total
        expired = now - min(member.received_at for member in members) >= window
        if complete or expired:
            ready.append(Group(channel, key, total, ordered, complete, expired and not complete))
    return sorted(ready, key=lambda group: min(p.received_at for p in group.parts))


def assemble(parts: Sequence[RawMessage]) -> RawMessage:
    """One raw message holding every part in order; meta says which parts are missing.

    A lone part with broken concatenation meta is returned unchanged: its normalizer quarantines it.
    """
    if not parts:
        raise ValueError("assemble needs at least one part")
    if len(parts) == 1 and not _well_formed(parts[0]):
        return parts[0]
    ordered = _ordered_unique(parts)
    first = ordered[0]
    channels = {part.channel for part in ordered}
    keys = {part.meta.get(KEY) for part in ordered}
    if len(channels) != 1 or len(keys) != 1:
        raise ValueError("parts of different messages")
    total = max(_position(part)[0] for part in ordered)
    present = [_position(part)[1] for part in ordered]
    missing = [seq for seq in range(1, total + 1) if seq not in present]
    document = {
        "total": total,
        "parts": [
            {
                "seq": seq,
                "external_id": part.external_id,
                "event": part.event,
                "received_at": part.received_at.isoformat(),
                "payload": base64.b64encode(part.payload).decode("ascii"),
                "meta": dict(part.meta),
            }
            for seq, part in zip(present, ordered, strict=True)
        ],
    }
    meta = dict(first.meta)
    meta.update(
        {
            PARTS: ",".join(str(seq) for seq in present),
            MISSING: ",".join(str(seq) for seq in missing),
            INCOMPLETE: "true" if missing else "false",
        }
    )
    return RawMessage(
        channel=first.channel,
        event=ASSEMBLED_EVENT,
        # Stable across replays and independent of which part came first: the record id derives from it.
        external_id=f"concat:{first.meta[KEY]}:{min(part.received_at for part in ordered).isoformat()}",
        received_at=min(part.received_at for part in ordered),
        payload=json.dumps(document, sort_keys=True).encode(),
        meta=meta,
    )


def split_assembled(raw: RawMessage) -> list[RawMessage]:
    """The parts inside an assembled raw message, in order, as they were stored."""
    if raw.event != ASSEMBLED_EVENT:
        return [raw]
    try:
        document = json.loads(raw.payload)
        return [
            RawMessage(
                channel=raw.channel,
                event=str(item["event"]),
                external_id=str(item["external_id"]),
                received_at=datetime.fromisoformat(str(item["received_at"])),
                payload=base64.b64decode(str(item["payload"]), validate=True),
                meta=_string_map(item["meta"]),
            )
            for item in document["parts"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise QuarantinedInput("malformed_assembled_message", detail=type(exc).__name__) from exc


def _string_map(value: object) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise TypeError("meta is not an object")
    return {str(key): str(item) for key, item in value.items()}


def is_incomplete(raw: RawMessage) -> bool:
    """True for an assembled message some of whose parts never arrived (or for a lone part)."""
    if raw.event == PART_EVENT:
        return True
    return raw.meta.get(INCOMPLETE) == "true"
