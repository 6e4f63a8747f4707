"""Polls X API v2 for mentions, a search query and direct messages, resuming from cursors.

Rate limits: https://docs.x.com/x-api/fundamentals/rate-limits (x-rate-limit-reset, epoch seconds)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter
from tweepy.asynchronous import AsyncClient, AsyncPaginator
from tweepy.errors import TooManyRequests, TwitterServerError

from channels.base import ChannelContext
from channels.signed_webhook import JsonObject, dump
from gateway.messages import RawMessage, utcnow

log = structlog.get_logger(__name__)

CHANNEL = "x"
TWEET_FIELDS = [
    "attachments", "author_id", "conversation_id", "created_at", "entities", "geo",
    "in_reply_to_user_id", "lang", "referenced_tweets",
]
EXPANSIONS = [
    "author_id", "attachments.media_keys", "geo.place_id", "in_reply_to_user_id",
    "referenced_tweets.id", "entities.mentions.username",
]
DM_FIELDS = [
    "attachments", "created_at", "dm_conversation_id", "event_type", "id", "participant_ids",
    "referenced_tweets", "sender_id", "text",
]
DM_EXPANSIONS = ["sender_id", "attachments.media_keys", "referenced_tweets.id"]
USER_FIELDS = ["name", "username"]
MEDIA_FIELDS = ["alt_text", "preview_image_url", "type", "url", "variants"]
PLACE_FIELDS = ["country_code", "full_name", "geo", "name", "place_type"]
RETRYABLE = (TooManyRequests, TwitterServerError, aiohttp.ClientError, TimeoutError)

Sleep = Callable[[float], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _numeric(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _items(container: Mapping[str, object], key: str) -> list[JsonObject]:
    value = container.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def includes_for(item: Mapping[str, object], includes: Mapping[str, object]) -> JsonObject:
    """The part of a page's `includes` one tweet or DM event refers to, so its raw holds no one else."""
    user_ids = {str(item.get(key)) for key in ("author_id", "in_reply_to_user_id", "sender_id") if item.get(key)}
    entities = item.get("entities")
    if isinstance(entities, dict):
        user_ids |= {str(m.get("id")) for m in _items(entities, "mentions") if m.get("id")}
    attachments = item.get("attachments")
    media_keys = set(attachments.get("media_keys", [])) if isinstance(attachments, dict) else set()
    geo = item.get("geo")
    place_id = geo.get("place_id") if isinstance(geo, dict) else None
    tweet_ids = {str(ref.get("id")) for ref in _items(item, "referenced_tweets")}
    selected: JsonObject = {
        "users": [u for u in _items(includes, "users") if str(u.get("id")) in user_ids],
        "media": [m for m in _items(includes, "media") if m.get("media_key") in media_keys],
        "places": [p for p in _items(includes, "places") if place_id and p.get("id") == place_id],
        "tweets": [t for t in _items(includes, "tweets") if str(t.get("id")) in tweet_ids],
    }
    return {key: value for key, value in selected.items() if value}


class XPoller:
    """One pass over mentions, search and DMs (`poll_once`), repeated by `run` at an interval."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        context: ChannelContext,
        account_id: Callable[[], Awaitable[str]],
        search_query: str,
        poll_mentions: bool,
        poll_dms: bool,
        max_pages: int,
        max_attempts: int,
        max_rate_limit_wait: float,
        sleep: Sleep,
    ) -> None:
        self._client = client
        self._context = context
        self._account_id = account_id
        self._search_query = search_query
        self._poll_mentions = poll_mentions
        self._poll_dms = poll_dms
        self._max_pages = max_pages
        self._max_attempts = max_attempts
        self._max_rate_limit_wait = max_rate_limit_wait
        self._sleep = sleep

    def _wait(self, state: RetryCallState) -> float:
        """Until x-rate-limit-reset on 429 (bounded), else exponential backoff with jitter."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TooManyRequests) and error.reset_time:
            return float(min(max(error.reset_time - time.time() + 1, 1.0), self._max_rate_limit_wait))
        return float(wait_exponential_jitter(initial=1, max=60)(state))

    def _retrying(self, method: F) -> F:
        """`method` retried on rate limits and server errors; keeps its name (AsyncPaginator reads it)."""

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(RETRYABLE),
                stop=stop_after_attempt(self._max_attempts),
                wait=self._wait,
                sleep=self._sleep,
                reraise=True,
            ):
                with attempt:
                    return await method(*args, **kwargs)
            raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

        return call  # type: ignore[return-value]

    async def poll_once(self) -> int:
        """Fetch everything new since the cursors, hand it to the sink, then move the cursors."""
        submitted = 0
        account_id = await self._account_id()
        if self._poll_mentions:
            method = self._retrying(self._client.get_users_mentions)
            submitted += await self._tweets("mentions", method, (account_id,), account_id)
        if self._search_query:
            method = self._retrying(self._client.search_recent_tweets)
            submitted += await self._tweets("search", method, (self._search_query,), account_id)
        if self._poll_dms:
            submitted += await self._direct_messages(account_id)
        return submitted

    async def _tweets(
        self, source: str, method: Callable[..., Awaitable[Any]], args: Sequence[str], account_id: str
    ) -> int:
        cursor_key = f"{source}_since_id"
        since_id = await self._context.cursors.get(CHANNEL, cursor_key)
        newest = _numeric(since_id) if since_id else 0
        submitted = 0
        pages = AsyncPaginator(
            method, *args, since_id=since_id, max_results=100, limit=self._max_pages,
            expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
            media_fields=MEDIA_FIELDS, place_fields=PLACE_FIELDS,
        )
        async for page in pages:
            includes = page.get("includes") or {}
            for tweet in _items(page, "data"):
                payload: JsonObject = {
                    "source": source,
                    "for_user_id": account_id,
                    "data": tweet,
                    "includes": includes_for(tweet, includes),
                }
                await self._submit("tweet", str(tweet["id"]), payload, source)
                newest = max(newest, _numeric(tweet.get("id")))
                submitted += 1
        if newest and str(newest) != since_id:
            await self._context.cursors.set(CHANNEL, cursor_key, str(newest))
        return submitted

    async def _direct_messages(self, account_id: str) -> int:
        # dm_events has no since_id: walk newest first and stop at the last event already taken.
        seen = _numeric(await self._context.cursors.get(CHANNEL, "dm_newest_id") or 0)
        newest = seen
        submitted = 0
        method = self._retrying(self._client.get_direct_message_events)
        pages = AsyncPaginator(
            method, max_results=100, limit=self._max_pages, event_types="MessageCreate",
            dm_event_fields=DM_FIELDS, expansions=DM_EXPANSIONS, user_fields=USER_FIELDS,
            media_fields=MEDIA_FIELDS,
        )
        async for page in pages:
            includes = page.get("includes") or {}
            events = _items(page, "data")
            fresh = [event for event in events if _numeric(event.get("id")) > seen]
            for event in fresh:
                payload: JsonObject = {
                    "for_user_id": account_id, "data": event, "includes": includes_for(event, includes),
                }
                await self._submit("direct_message", f"dm:{event['id']}", payload, "dm_events")
                newest = max(newest, _numeric(event.get("id")))
                submitted += 1
            if len(fresh) < len(events):
                break
        if newest > seen:
            await self._context.cursors.set(CHANNEL, "dm_newest_id", str(newest))
        return submitted

    async def _submit(self, event: str, external_id: str, payload: JsonObject, source: str) -> None:
        raw = RawMessage(
            channel=CHANNEL,
            event=event,
            external_id=external_id,
            received_at=utcnow(),
            payload=dump(payload),
            meta={"source": source},
        )
        await self._context.sink.submit(raw)

    async def run(self, interval: float) -> None:
        """Poll forever at `interval` seconds; a failed pass is logged and waits like any other."""
        while True:
            try:
                count = await self.poll_once()
                if count:
                    log.info("x_polled", submitted=count)
            except Exception as exc:  # the poller must outlive any one bad pass
                # Only the type: tweepy's messages can quote request URLs and response bodies.
                log.warning("x_poll_failed", error=type(exc).__name__)
            await self._sleep(interval)
