"""A local X API v2 server speaking the JSON shapes of the recorded tweepy cassettes.

It checks bearer tokens and OAuth 1.0a signatures (computed over the api.twitter.com URL, as the
real API does), paginates with next_token/pagination_token, honours since_id and can inject
429 responses with x-rate-limit-reset.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from oauthlib.common import Request as OAuthRequest  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import signature  # type: ignore[import-untyped]

JsonObject = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeXState:
    """What the fake X knows and what it was asked."""

    bearer_token: str = "test-bearer"
    consumer_key: str = "test-consumer-key"
    consumer_secret: str = "test-consumer-secret"
    access_token: str = "test-access-token"
    access_token_secret: str = "test-access-secret"
    me: JsonObject = field(default_factory=lambda: {"id": "1708", "name": "LAPOR!", "username": "LAPOR1708"})
    users: list[JsonObject] = field(default_factory=list)
    mentions: list[JsonObject] = field(default_factory=list)
    search: list[JsonObject] = field(default_factory=list)
    dm_events: list[JsonObject] = field(default_factory=list)
    media: list[JsonObject] = field(default_factory=list)
    places: list[JsonObject] = field(default_factory=list)
    page_size: int = 100
    rate_limit_next: int = 0
    rate_limit_reset_in: int = 2
    fail_next_with: int | None = None
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    posted_tweets: list[JsonObject] = field(default_factory=list)
    posted_dms: list[tuple[str, JsonObject]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_900_000_000_000_000_000))


def _authorized(state: FakeXState, request: web.Request, *, user: bool) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return not user and header == f"Bearer {state.bearer_token}"
    if not header.startswith("OAuth "):
        return False
    uri = "https://api.twitter.com" + request.raw_path
    oauth_request = OAuthRequest(uri, http_method=request.method, headers={"Authorization": header})
    oauth_request.params = signature.collect_parameters(
        uri_query=oauth_request.uri_query, headers=oauth_request.headers, exclude_oauth_signature=True
    )
    fields = dict(signature.collect_parameters(headers=oauth_request.headers, exclude_oauth_signature=False))
    if fields.get("oauth_consumer_key") != state.consumer_key or fields.get("oauth_token") != state.access_token:
        return False
    oauth_request.signature = fields.get("oauth_signature", "")
    return bool(signature.verify_hmac_sha1(oauth_request, state.consumer_secret, state.access_token_secret))


def _error(status: int, title: str) -> web.Response:
    return web.json_response({"title": title, "detail": title, "type": "about:blank", "status": status}, status=status)


def _includes(items: list[JsonObject], state: FakeXState) -> JsonObject:
    user_ids = {str(i.get(k)) for i in items for k in ("author_id", "sender_id", "in_reply_to_user_id") if i.get(k)}
    keys = {k for i in items for k in (i.get("attachments") or {}).get("media_keys", [])}
    place_ids = {(i.get("geo") or {}).get("place_id") for i in items}
    found: JsonObject = {
        "users": [u for u in [state.me, *state.users] if str(u["id"]) in user_ids],
        "media": [m for m in state.media if m.get("media_key") in keys],
        "places": [p for p in state.places if p.get("id") in place_ids],
    }
    return {k: v for k, v in found.items() if v}


def _page(items: list[JsonObject], request: web.Request, state: FakeXState, token_name: str) -> web.Response:
    since_id = request.query.get("since_id")
    selected = sorted(items, key=lambda t: int(str(t["id"])), reverse=True)
    if since_id:
        selected = [t for t in selected if int(str(t["id"])) > int(since_id)]
    size = min(int(request.query.get("max_results", "100")), state.page_size)
    start = int(request.query.get(token_name, "0") or 0)
    chunk = selected[start : start + size]
    meta: JsonObject = {"result_count": len(chunk)}
    if chunk:
        meta["newest_id"], meta["oldest_id"] = chunk[0]["id"], chunk[-1]["id"]
    if start + size < len(selected):
        meta["next_token"] = str(start + size)
    body: JsonObject = {"meta": meta}
    if chunk:
        body["data"] = chunk
        includes = _includes(chunk, state)
        if includes:
            body["includes"] = includes
    return web.json_response(body)


def build_app(state: FakeXState) -> web.Application:
    """The fake API as an aiohttp application."""

    @web.middleware
    async def record_and_fail(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.requests.append((request.method, request.path, request.query_string))
        if state.rate_limit_next > 0:
            state.rate_limit_next -= 1
            reset = int(time.time()) + state.rate_limit_reset_in
            headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
            return web.json_response({"title": "Too Many Requests", "status": 429}, status=429, headers=headers)
        if state.fail_next_with is not None:
            status, state.fail_next_with = state.fail_next_with, None
            return _error(status, "Injected failure")
        return await handler(request)

    async def me(request: web.Request) -> web.Response:
        if not _authorized(state, request, user=True):
            return _error(401, "Unauthorized")
        return web.json_response({"data": state.me})

    async def by_username(request: web.Request) -> web.Response:
        if not _authorized(state, request, user=False):
            return _error(401, "Unauthorized")
        name = request.match_info["username"].lower()
        for user in [state.me, *state.users]:
            if str(user["username"]).lower() == name:
                return web.json_response({"data": user})
        return web.json_response({"errors": [{"title": "Not Found Error"}]})

    async def mentions(request: web.Request) -> web.Response:
        if not (_authorized(state, request, user=False) or _authorized(state, request, user=True)):
            return _error(401, "Unauthorized")
        if request.match_info["user_id"] != state.me["id"]:
            return web.json_response({"meta": {"result_count": 0}})
        return _page(state.mentions, request, state, "pagination_token")

    async def search(request: web.Request) -> web.Response:
        if not (_authorized(state, request, user=False) or _authorized(state, request, user=True)):
            return _error(401, "Unauthorized")
        if not request.query.get("query"):
            return _error(400, "Invalid Request")
        return _page(state.search, request, state, "next_token")

    async def dm_events(request: web.Request) -> web.Response:
        if not _authorized(state, request, user=True):
            return _error(403, "Forbidden")
        return _page(state.dm_events, request, state, "pagination_token")

    async def post_tweet(request: web.Request) -> web.Response:
        if not _authorized(state, request, user=True):
            return _error(401, "Unauthorized")
        body = await request.json()
        tweet = {"id": str(next(state.ids)), "text": body["text"], "edit_history_tweet_ids": []}
        tweet["edit_history_tweet_ids"] = [tweet["id"]]
        state.posted_tweets.append({**body, "id": tweet["id"]})
        return web.json_response({"data": tweet}, status=201)

    async def post_dm(request: web.Request) -> web.Response:
        if not _authorized(state, request, user=True):
            return _error(401, "Unauthorized")
        participant = request.match_info["participant_id"]
        if participant == "403":
            return _error(403, "You cannot send messages to this user")
        body = await request.json()
        event_id = str(next(state.ids))
        state.posted_dms.append((participant, {**body, "id": event_id}))
        conversation = "-".join(sorted([participant, str(state.me["id"])], key=int))
        return web.json_response({"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}}, status=201)

    app = web.Application(middlewares=[record_and_fail])
    app.router.add_get("/2/users/me", me)
    app.router.add_get("/2/users/by/username/{username}", by_username)
    app.router.add_get("/2/users/{user_id}/mentions", mentions)
    app.router.add_get("/2/tweets/search/recent", search)
    app.router.add_get("/2/dm_events", dm_events)
    app.router.add_post("/2/tweets", post_tweet)
    app.router.add_post("/2/dm_conversations/with/{participant_id}/messages", post_dm)
    return app
