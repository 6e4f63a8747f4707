"""The registry sandbox's own SQLite file: complaints, follow-ups, responses and idempotency answers."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

JSONObject = dict[str, object]

# LAPOR!'s own IDs are 7-digit numbers (e.g. #1916449); the sandbox hands out the same kind.
FIRST_TRACKING_ID: Final = 1916000

# The statuses a complaint moves through, in order (docs/registry-api.yaml, ComplaintStatus).
STATUSES: Final = ("baru", "diverifikasi", "didisposisikan", "ditindaklanjuti", "selesai", "ditutup")
INITIAL_STATUS: Final = "baru"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS complaints (
    tracking_id INTEGER PRIMARY KEY,
    filed TEXT NOT NULL,
    status TEXT NOT NULL,
    agency TEXT,
    category TEXT,
    classification TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS followups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracking_id INTEGER NOT NULL REFERENCES complaints(tracking_id),
    filed TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracking_id INTEGER NOT NULL REFERENCES complaints(tracking_id),
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
"""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer given the first time an Idempotency-Key was used."""

    status: int
    body: JSONObject
    replayed: bool


class KeyReused(Exception):
    """The Idempotency-Key was used before with a different request body."""


class UnknownComplaint(Exception):
    """No complaint has this tracking ID."""


def request_digest(body: JSONObject) -> str:
    """A digest of the request's content, insensitive to key order and whitespace."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SimStore:
    """Synchronous SQLite store (WAL): the sandbox runs one process, and each call is short."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE) below.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (the WAL is on disk); only power loss can lose the tail.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _answer(self, scope: str, key: str, digest: str) -> StoredAnswer | None:
        row = self._db.execute(
            "SELECT request_sha256, status, answer FROM idempotency WHERE scope = ? AND key = ?",
            (scope, key),
        ).fetchone()
        if row is None:
            return None
        if row["request_sha256"] != digest:
            raise KeyReused(key)
        return StoredAnswer(status=row["status"], body=json.loads(row["answer"]), replayed=True)

    def _remember(self, scope: str, key: str, digest: str, status: int, body: JSONObject) -> None:
        self._db.execute(
            "INSERT INTO idempotency (scope, key, request_sha256, status, answer, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (scope, key, digest, status, json.dumps(body), _now()),
        )

    def file(self, body: JSONObject, *, key: str) -> StoredAnswer:
        """Store a complaint under a new tracking ID, or give the answer stored for `key`."""
        digest = request_digest(body)
        self._begin()
        try:
            known = self._answer("complaints", key, digest)
            if known is not None:
                self._db.execute("COMMIT")
                return known
            last = self._db.execute("SELECT MAX(tracking_id) FROM complaints").fetchone()[0]
            tracking_id = FIRST_TRACKING_ID if last is None else int(last) + 1
            now = _now()
            raw_target = body.get("target")
            target: dict[str, object] = raw_target if isinstance(raw_target, dict) else {}
            self._db.execute(
                "INSERT INTO complaints (tracking_id, filed, status, agency, category, classification,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tracking_id,
                    json.dumps(body, ensure_ascii=False),
                    INITIAL_STATUS,
                    target.get("agency"),
                    target.get("category"),
                    body.get("classification"),
                    now,
                    now,
                ),
            )
            answer: JSONObject = {"tracking_id": str(tracking_id), "status": INITIAL_STATUS}
            self._remember("complaints", key, digest, 201, answer)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return StoredAnswer(status=201, body=answer, replayed=False)

    def follow_up(self, tracking_id: str, body: JSONObject, *, key: str) -> StoredAnswer:
        """Add a follow-up to a complaint, or give the answer stored for `key`."""
        number = _tracking_number(tracking_id)
        scope = f"complaints/{number}/followups"
        digest = request_digest(body)
        self._begin()
        try:
            known = self._answer(scope, key, digest)
            if known is not None:
                self._db.execute("COMMIT")
                return known
            row = self._db.execute(
                "SELECT status FROM complaints WHERE tracking_id = ?", (number,)
            ).fetchone()
            if row is None:
                raise UnknownComplaint(tracking_id)
            now = _now()
            cursor = self._db.execute(
                "INSERT INTO followups (tracking_id, filed, created_at) VALUES (?, ?, ?)",
                (number, json.dumps(body, ensure_ascii=False), now),
            )
            self._db.execute("UPDATE complaints SET updated_at = ? WHERE tracking_id = ?", (now, number))
            answer: JSONObject = {
                "tracking_id": str(number),
                "followup_id": str(cursor.lastrowid),
                "status": row["status"],
            }
            self._remember(scope, key, digest, 201, answer)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return StoredAnswer(status=201, body=answer, replayed=False)

    def get(self, tracking_id: str) -> JSONObject:
        """The complaint as filed, with its tracking ID, status, follow-ups and responses."""
        row = self._db.execute(
            "SELECT * FROM complaints WHERE tracking_id = ?", (_tracking_number(tracking_id),)
        ).fetchone()
        if row is None:
            raise UnknownComplaint(tracking_id)
        return self._view(row)

    def page(self, page: int, *, per_page: int) -> tuple[list[JSONObject], int | None]:
        """One page of complaints in tracking ID order, and the next page number if any."""
        rows = self._db.execute(
            "SELECT * FROM complaints ORDER BY tracking_id LIMIT ? OFFSET ?",
            (per_page + 1, (page - 1) * per_page),
        ).fetchall()
        items = [self._view(row) for row in rows[:per_page]]
        return items, (page + 1 if len(rows) > per_page else None)

    def count(self) -> int:
        """How many complaints are stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM complaints").fetchone()[0])

    def set_status(
        self,
        tracking_id: str,
        status: str,
        *,
        agency: str | None = None,
        category: str | None = None,
        classification: str | None = None,
    ) -> JSONObject:
        """Move a complaint to `status`, optionally re-routing or re-classifying it."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        number = _tracking_number(tracking_id)
        self._begin()
        try:
            cursor = self._db.execute(
                "UPDATE complaints SET status = ?, agency = COALESCE(?, agency),"
                " category = COALESCE(?, category), classification = COALESCE(?, classification),"
                " updated_at = ? WHERE tracking_id = ?",
                (status, agency, category, classification, _now(), number),
            )
            if cursor.rowcount == 0:
                raise UnknownComplaint(tracking_id)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self.get(tracking_id)

    def respond(self, tracking_id: str, text: str) -> JSONObject:
        """Add an agency response to a complaint; its status is left as it is."""
        number = _tracking_number(tracking_id)
        now = _now()
        self._begin()
        try:
            cursor = self._db.execute(
                "UPDATE complaints SET updated_at = ? WHERE tracking_id = ?", (now, number)
            )
            if cursor.rowcount == 0:
                raise UnknownComplaint(tracking_id)
            inserted = self._db.execute(
                "INSERT INTO responses (tracking_id, text, created_at) VALUES (?, ?, ?)",
                (number, text, now),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return {"id": str(inserted.lastrowid), "text": text, "at": now}

    def _view(self, row: sqlite3.Row) -> JSONObject:
        number = int(row["tracking_id"])
        view: JSONObject = json.loads(row["filed"])
        view["target"] = {"agency": row["agency"], "category": row["category"]}
        view["classification"] = row["classification"]
        followups: list[JSONObject] = []
        for f in self._db.execute(
            "SELECT id, filed, created_at FROM followups WHERE tracking_id = ? ORDER BY id", (number,)
        ):
            entry: JSONObject = json.loads(f["filed"])
            entry.update(id=str(f["id"]), at=f["created_at"])
            followups.append(entry)
        responses: list[JSONObject] = [
            {"id": str(r["id"]), "text": r["text"], "at": r["created_at"]}
            for r in self._db.execute(
                "SELECT id, text, created_at FROM responses WHERE tracking_id = ? ORDER BY id", (number,)
            )
        ]
        view.update(
            tracking_id=str(number),
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            followups=followups,
            responses=responses,
        )
        return view


def _tracking_number(tracking_id: str) -> int:
    """Tracking IDs are digits; a leading '#' as citizens write it is accepted."""
    value = tracking_id.removeprefix("#")
    if not value.isdigit() or not value.isascii():
        raise UnknownComplaint(tracking_id)
    return int(value)

