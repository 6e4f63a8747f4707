"""The X normalizer on the project's fixtures and on real tweets from the tweepy cassettes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Complaint, FollowUp, Ignored, Reference
from normalizers.x import normalize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "twitter-v2-tweepy-cassettes"
RECEIVED = datetime(2024, 3, 6, 8, 0, tzinfo=UTC)


def raw(event: str, payload: bytes | dict[str, Any], external_id: str = "1") -> RawMessage:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return RawMessage(channel="x", event=event, external_id=external_id, received_at=RECEIVED, payload=body)


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def activity(name: str, key: str) -> dict[str, Any]:
    body = fixture(name)
    first = body[key.replace("event", "events")][0]
    return {"for_user_id": body["for_user_id"], key: first, "users": body.get("users", {})}


def complaint_of(outcome: object) -> Complaint:
    if isinstance(outcome, FollowUp):
        return outcome.record
    assert isinstance(outcome, Complaint), outcome
    return outcome


def test_account_activity_tweet_expands_links_drops_media_link_and_keeps_place() -> None:
    payload = activity("activity_tweet_create.json", "tweet_create_event")
    record = complaint_of(normalize(raw("activity_tweet", payload)))
    assert record.body.text == (
        "Jalan di Jl. Kaliurang km 7 berlubang besar, sudah 2 bulan tidak diperbaiki https://maps.app.goo.gl/xyz123"
    )
    assert "t.co" not in record.body.text
    assert record.reporter.identity == "x:987654321"
    assert (record.reporter.handle, record.reporter.user_id) == ("sariwulan_", "987654321")
    assert record.location is not None
    assert (record.location.latitude, record.location.longitude) == (-7.7475, 110.4127)
    assert record.location.text == "Sleman, Indonesia"
    assert [(a.media_type, a.url) for a in record.attachments] == [
        ("image/jpeg", "https://pbs.twimg.com/media/GHx1abcXsAAz9Yk.jpg")
    ]
    assert record.reply_to is not None and record.reply_to.public
    assert record.reply_to.in_reply_to == "1764481938504630272"
    assert record.thread.references == ()  # starts with our handle, but replies to no tweet of ours


def test_v2_tweet_media_video_best_variant_place_and_anonim_marker() -> None:
    record = complaint_of(normalize(raw("tweet", fixture("tweet_with_media_and_place.json"))))
    assert record.privacy.anonim
    assert "#anonim" not in record.body.text and "t.co" not in record.body.text
    assert [(a.media_type, a.url) for a in record.attachments] == [
        ("image/png", "https://pbs.twimg.com/media/GHzPhoto01.png"),
        ("video/mp4", "https://video.twimg.com/ext_tw_video/1/pu/vid/1280x720/high.mp4"),
    ]
    assert record.location is not None
    assert record.location.text == "Cempaka Putih, Jakarta Pusat"
    assert record.location.latitude == -6.18
    assert record.thread.conversation_key == "1764700000000000900"


def test_reply_in_thread_of_our_acknowledgement_is_follow_up() -> None:
    outcome = normalize(raw("tweet", fixture("tweet_reply_to_ack.json")))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (
        Reference(kind="conversation", value="1764481938504630272"),
        Reference(kind="message_id", value="1764490000000000000"),
    )
    assert outcome.record.body.text.startswith("Sampai hari ini")


def test_dm_with_leading_tracking_id_is_follow_up_and_private_reply() -> None:
    outcome = normalize(raw("direct_message", fixture("dm_v2.json")))
    assert isinstance(outcome, FollowUp)
    assert outcome.references == (Reference(kind="tracking_id", value="1916449"),)
    record = outcome.record
    assert record.reply_to is not None and not record.reply_to.public
    assert record.reply_to.address == "44196397"
    assert record.thread.conversation_key == "dm:1708-44196397"


def test_account_activity_dm_rahasia_and_conversation_name() -> None:
    payload = activity("activity_direct_message.json", "direct_message_event")
    record = complaint_of(normalize(raw("activity_direct_message", payload)))
    assert record.privacy.rahasia
    assert record.body.text.endswith("https://example.org/bukti.pdf")
    assert record.reporter.handle == "rudi_h"
    assert record.thread.conversation_key == "dm:1708-44196397"


RETWEETED = [{"type": "retweeted", "id": "1"}]
IGNORED = [
    ("activity-retweet", "activity_tweet", activity("activity_retweet.json", "tweet_create_event"), "retweet"),
    ("own-tweet", "tweet", {"for_user_id": "1708", "data": {"id": "5", "text": "Terima kasih", "author_id": "1708"}},
     "own_message"),
    ("v2-retweet", "tweet",
     {"for_user_id": "1708", "data": {"id": "6", "text": "RT", "author_id": "9", "referenced_tweets": RETWEETED}},
     "retweet"),
    ("only-mentions", "tweet", {"for_user_id": "1708", "data": {"id": "7", "text": "@LAPOR1708   ", "author_id": "9"}},
     "empty_message"),
    ("dm-join", "direct_message",
     {"for_user_id": "1708", "data": {"id": "8", "event_type": "ParticipantsJoin", "dm_conversation_id": "1-2"}},
     "dm_conversation_event"),
    ("favorite", "activity_other", fixture("activity_favorite.json"), "account_activity"),
]


@pytest.mark.parametrize(("event", "payload", "reason"), [r[1:] for r in IGNORED], ids=[r[0] for r in IGNORED])
def test_ignored(event: str, payload: dict[str, Any], reason: str) -> None:
    outcome = normalize(raw(event, payload))
    assert isinstance(outcome, Ignored)
    assert outcome.reason == reason


FAILURES = [
    ("unknown", b"{}", UnsupportedEvent, "unsupported_event"),
    ("tweet", b"not json", QuarantinedInput, "malformed_json"),
    ("tweet", b"[1, 2]", QuarantinedInput, "malformed_json"),
    ("tweet", b'{"data": {"text": "no id"}}', QuarantinedInput, "missing_field"),
    ("tweet", b'{"data": {"id": "1", "text": "no author"}}', QuarantinedInput, "missing_field"),
    ("activity_direct_message", b'{"direct_message_event": {"id": "1", "message_create": {}}}',
     QuarantinedInput, "missing_field"),
]


@pytest.mark.parametrize(("event", "payload", "error", "reason"), FAILURES,
                         ids=["unknown-event", "not-json", "not-object", "no-id", "no-author", "dm-no-sender"])
def test_failures(event: str, payload: bytes, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as caught:
        normalize(raw(event, payload))
    assert getattr(caught.value, "reason", None) == reason


def corpus_file(name: str) -> dict[str, Any]:
    path = CORPUS / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"corpus file missing in CI: {path}")
        pytest.skip(f"shared corpus not present at {CORPUS}")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", ["test_client_get_users_mentions__0.json", "test_client_search_recent_tweets__0.json",
                                  "test_asyncclient_search_all_tweets__0.json", "test_client_get_quote_tweets__0.json"],
                         ids=["mentions", "search-recent", "search-all", "quote-tweets"])
def test_real_tweets_from_corpus_become_complaints_deterministically(name: str) -> None:
    page = corpus_file(name)
    for tweet in page["data"]:
        payload = {"source": "mentions", "for_user_id": "783214", "data": {**tweet, "author_id": "42"}}
        first = normalize(raw("tweet", payload, external_id=tweet["id"]))
        again = normalize(raw("tweet", payload, external_id=tweet["id"]))
        assert first == again
        if isinstance(first, Ignored):
            assert first.reason == "empty_message"
            continue
        record = complaint_of(first)
        assert record.reporter.identity == "x:42"
        assert record.title and len(record.title) <= 80


def test_corpus_dm_events_become_complaints() -> None:
    page = corpus_file("test_manage_and_lookup_direct_messages__4.json")
    texts = []
    for event in page["data"]:
        payload = {"for_user_id": "1072250532645998596", "data": {**event, "sender_id": "750362064426721281"}}
        texts.append(complaint_of(normalize(raw("direct_message", payload, external_id=event["id"]))).body.text)
    assert texts == ["Testing 2", "Testing 1"]
