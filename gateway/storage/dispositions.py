"""Final dispositions in the database: kept on the complaint record, read back as router training data.

The registry's final word (the agency it settled on, its class and category) is stored beside the
record as an Insight of kind "disposition" decided by the registry, in the registry's own ids. It is
mapped to the rules file's agencies only when training, so a changed rules file relabels old data.

Hooks for the status sync: `disposition_insight(state)` is pure (put it on the sync's update);
`record_disposition(connection, complaint_id, state)` writes it inside the caller's transaction.
`dispositions_source(settings)` is what `lapor-gateway routing train` without --data trains on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast, get_args

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from config.settings import Settings
from gateway.intel.dispositions import disposition_from
from gateway.intel.routing_rules import RoutingRules
from gateway.lifecycle.status import Stage, stage_of
from gateway.messages import utcnow
from gateway.records import Classification, Complaint, Insight
from gateway.registry.base import RegistryState
from gateway.storage.db import Database
from gateway.storage.tables import complaint

if TYPE_CHECKING:
    from gateway.intel.router import Example

log = structlog.get_logger(__name__)

DISPOSITION_KIND = "disposition"
# Only a closed complaint's agency is a label worth learning from: that agency handled it to the end.
# A rejected (archived) one was never really routed, and an open one may still be passed on.
LEARNED_STAGES = frozenset({Stage.CLOSED})
_CLASSES: frozenset[str] = frozenset(get_args(Classification))


def disposition_insight(state: RegistryState) -> Insight | None:
    """The registry's final disposition of a closed complaint, or None while there is none to keep."""
    if not state.agency or stage_of(state.status) not in LEARNED_STAGES:
        return None
    detail = {"status": state.status}
    if state.classification in _CLASSES:
        detail["classification"] = str(state.classification)
    if state.category:
        detail["category"] = state.category
    return Insight(kind=DISPOSITION_KIND, value=state.agency, confidence=1.0, decided_by="registry", detail=detail)


def with_disposition(record: Complaint, insight: Insight) -> Complaint:
    """The record with this disposition replacing any earlier one."""
    kept = tuple(i for i in record.insights if i.kind != DISPOSITION_KIND)
    return record.model_copy(update={"insights": (*kept, insight)})


async def record_disposition(connection: AsyncConnection, complaint_id: str, state: RegistryState) -> bool:
    """Keep the registry's final disposition on the stored record, in the caller's transaction.

    Call it with every RegistryState the status sync fetches; it changes nothing until the complaint
    is closed with an agency, nor when the same disposition is already there. Returns whether it wrote.
    """
    insight = disposition_insight(state)
    if insight is None:
        return False
    row = (await connection.execute(sa.select(complaint.c.record).where(complaint.c.id == complaint_id))).first()
    if row is None:
        return False
    record = Complaint.model_validate_json(row.record)
    if insight in record.insights:
        return False
    await connection.execute(
        sa.update(complaint)
        .where(complaint.c.id == complaint_id)
        .values(record=with_disposition(record, insight).model_dump_json(), updated_at=utcnow())
    )
    log.info("intel.disposition_recorded", complaint_id=complaint_id, agency=insight.value)
    return True


def example_of(record: Complaint, rules: RoutingRules) -> Example | None:
    """The training example a record's disposition gives, or None (none, or an agency the rules lack)."""
    from gateway.intel.router import Example  # brings scikit-learn: only for training

    for insight in record.insights:
        if insight.kind == DISPOSITION_KIND and insight.decided_by == "registry":
            given = insight.detail.get("classification")
            classification = cast(Classification, given) if given in _CLASSES else None
            found = disposition_from(
                record, registry_agency=insight.value, classification=classification, rules=rules
            )
            return None if found is None else Example(found.text, found.agency, found.received_at)
    return None


async def disposition_examples(db: Database, rules: RoutingRules, *, batch: int = 500) -> list[Example]:
    """Every complaint with a final disposition the rules' agencies cover, as examples in time order."""
    # A cheap text filter in SQL (records are compact JSON); example_of decides from the parsed record.
    marker = f'%"kind":"{DISPOSITION_KIND}"%'
    examples: list[Example] = []
    skipped = 0
    after = ""
    async with db.connect() as connection:
        while True:
            rows = (
                await connection.execute(
                    sa.select(complaint.c.id, complaint.c.record)
                    .where(complaint.c.id > after, complaint.c.record.like(marker))
                    .order_by(complaint.c.id)
                    .limit(batch)
                )
            ).all()
            for row in rows:
                example = example_of(Complaint.model_validate_json(row.record), rules)
                if example is None:
                    skipped += 1
                else:
                    examples.append(example)
            if len(rows) < batch:
                break
            after = rows[-1].id
    if skipped:
        log.info("intel.dispositions_skipped", skipped=skipped, reason="agency not in the rules file")
    return sorted(examples, key=lambda e: e.received_at)


def dispositions_source(settings: Settings) -> list[Example]:
    """The database source of `lapor-gateway routing train` without --data."""
    # Imported here: the storage layer does not depend on the server, only this CLI entry point does.
    from gateway.runtime import routing_rules_path

    rules = RoutingRules.load(routing_rules_path(settings.intel))

    async def run() -> list[Example]:
        db = Database(settings.database.url)
        try:
            return await disposition_examples(db, rules)
        finally:
            await db.dispose()

    return asyncio.run(run())
