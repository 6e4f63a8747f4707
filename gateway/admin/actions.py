"""Admin and operator actions on a running gateway, shared by the API and the console; each one audited."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels.base import CredentialCheck
from channels.registry import CHANNELS
from config.settings import Settings
from gateway.admin.audit import record
from gateway.admin.channel_store import ChannelStore, channel_class_config, secret_value
from gateway.admin.channel_view import ChannelView, describe
from gateway.admin.checks import check_channel
from gateway.outbox import Queue, retry
from gateway.replay import ReplayFilter, replay_stored
from normalizers.registry import NORMALIZERS

if TYPE_CHECKING:
    from gateway.runtime import Gateway

REPLAY_LINES = 200  # a replay answer carries at most this many result lines


@dataclass(frozen=True, slots=True)
class Admin:
    """The admin side of one gateway process."""

    gateway: Gateway

    @property
    def store(self) -> ChannelStore:
        """The channel store on the gateway's database."""
        return ChannelStore(self.gateway.db)

    @property
    def base(self) -> Settings:
        """The file and environment settings, before the database's channel values."""
        live = self.gateway.live
        return live.base if live is not None else self.gateway.settings

    def _changed(self) -> None:
        # Apply in this process now; other processes notice the version within seconds.
        if self.gateway.live is not None:
            self.gateway.live.wake.set()

    async def channels(self) -> list[ChannelView]:
        """Every registered channel as an admin sees it."""
        store = self.store
        stored = await store.stored_keys()
        effective = await store.effective(self.base)
        checks = await store.checks()
        return [describe(name, base=self.base, effective=effective, stored=stored.get(name, set()),
                         check=checks.get(name)) for name in CHANNELS]

    async def update_channel(self, name: str, *, enabled: bool | None, values: Mapping[str, Any],
                             actor: str) -> None:
        """Enable or disable a channel and store plain settings (validated first, each audited)."""
        channel_class_config(name)
        for key, value in values.items():
            await self.store.set_value(self.base, name, key, value, actor=actor)
        if enabled is not None:
            await self.store.set_enabled(self.base, name, enabled, actor=actor)
        self._changed()

    async def set_secret(self, name: str, key: str, text: str, *, check: bool, actor: str) -> CredentialCheck | None:
        """Store a secret after the provider accepted it (unless check is False); the result either way."""
        store = self.store
        value = secret_value(name, key, text)
        candidate = await store.candidate(self.base, name, key, value)
        result = await check_channel(candidate, name) if check else None
        if result is not None and result is not CredentialCheck.OK:
            return result
        await store.set_secret(self.base, name, key, value, actor=actor, check=None if result is None else str(result))
        if result is not None:
            await store.record_check(name, str(result))
        self._changed()
        return result

    async def test_channel(self, name: str) -> CredentialCheck:
        """Check a channel's current credentials and remember the result."""
        channel_class_config(name)
        result = await check_channel(await self.store.effective(self.base), name)
        await self.store.record_check(name, str(result))
        return result

    async def retry(self, queue: Queue, ids: tuple[str, ...], *, actor: str) -> int:
        """Bring dead letters back into an outbox and wake its worker."""
        count = await retry(self.gateway.db, queue, ids=ids, states=("dead",))
        async with self.gateway.db.begin() as connection:
            await record(connection, actor=actor, action="outbox.retry", target=queue,
                         detail={"ids": ",".join(ids)[:1000] or "all dead", "count": count})
        worker = self.gateway.dispatcher if queue == "dispatch" else self.gateway.replies
        if worker is not None:
            worker.wake.set()
        return count

    async def replay(self, selection: ReplayFilter, *, dry_run: bool, actor: str) -> tuple[dict[str, int],
                                                                                           list[dict[str, Any]]]:
        """Re-run stored raw messages through normalization; counts and the first result lines."""
        lines: list[dict[str, Any]] = []

        def emit(line: dict[str, Any]) -> None:
            if len(lines) < REPLAY_LINES:
                lines.append(line)

        counts = await replay_stored(self.gateway.db, self.gateway.replay_pipeline(), selection, dry_run=dry_run,
                                     normalizers=NORMALIZERS, emit=emit, advance=lambda _n: None)
        async with self.gateway.db.begin() as connection:
            await record(connection, actor=actor, action="replay.dry_run" if dry_run else "replay",
                         target=selection.channel or "all",
                         detail={"since": selection.since.isoformat() if selection.since else None,
                                 "until": selection.until.isoformat() if selection.until else None,
                                 "ids": ",".join(selection.ids)[:1000], "states": ",".join(selection.states),
                                 **{f"outcome_{key}": value for key, value in counts.items()}})
        return counts, lines
