"""SessionSlot: the lent session is used and never closed; our own is opened once, closed, and reopened."""

from __future__ import annotations

import dataclasses

import aiohttp

from channels.session_slot import SessionSlot
from tests.channels.social_doubles import memory_context


async def test_lent_session_is_used_and_left_open() -> None:
    async with aiohttp.ClientSession() as lent:
        slot = SessionSlot(dataclasses.replace(memory_context(), http=lent), timeout_seconds=5)
        assert slot.get() is lent
        assert not slot.owned
        await slot.close()
        assert not lent.closed


async def test_own_session_is_opened_once_and_closed() -> None:
    slot = SessionSlot(memory_context(), timeout_seconds=5)
    first = slot.get()
    assert slot.get() is first
    assert slot.owned
    assert first.timeout.total == 5
    await slot.close()
    assert first.closed
    assert not slot.owned
    second = slot.get()  # a channel restarted after close gets a fresh session, not the closed one
    assert second is not first and not second.closed
    await slot.close()
