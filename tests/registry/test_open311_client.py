"""Open311 GeoReport v2 client: request mapping, the local spec server, tokens, errors, and the spec's examples."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest
import structlog
from aiohttp.test_utils import TestServer, unused_port

from config.settings import RegistrySettings
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.records import Attachment, Body, Complaint, Location, Privacy, RawRef, Reporter, Target
from gateway.registry.base import RegistryClient
from gateway.registry.open311 import (
    DESCRIPTION_MAX_CHARS,
    Open311Client,
    cut_description,
    error_descriptions,
    parse_json,
    state_from_request,
)
from tests.fakes.fake_open311 import FakeOpen311
from tests.support.corpus import corpus_dir

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def corpus(name: str) -> bytes:
    """A file of ../shared/corpus/open311-georeport (skipped when absent, failing in CI)."""
    return (corpus_dir("open311-georeport") / name).read_bytes()


def complaint(**kw: object) -> Complaint:
    fields: dict[str, object] = {
        "id": "01JOPEN311000000000000001",
        "channel": "twilio",
        "received_at": T0,
        "raw": RawRef(ids=("r",), sha256=("0" * 64,)),
        "reporter": Reporter(identity="+6281234567890", phone="+6281234567890", name="Budi Santoso"),
        "title": "Jalan rusak",
        "body": Body(text="Jalan di depan SDN 3 Cibinong rusak parah.", language="id"),
        "location": Location(text="Jl. Raya Cibinong 1", latitude=-6.4815, longitude=106.8540),
        "target": Target(category="Jalan"),
        "dedup_key": "k",
    }
    fields.update(kw)
    return Complaint.model_validate(fields)


def client(**kw: object) -> Open311Client:
    options: dict[str, object] = {
        "base_url": "http://127.0.0.1:1",
        "api_key": "test-api-key",
        "jurisdiction_id": "kota.example.go.id",
        "service_codes": {"jalan": "002", "Kendaraan": "DMV66"},
        "default_service_code": "001",
    }
    options.update(kw)
    return Open311Client(**options)  # type: ignore[arg-type]


FORM_CASES = [
    (
        "mapped-category-case-insensitive",
        complaint(),
        {},
        {
            "service_code": "002",
            "lat": "-6.4815",
            "long": "106.854",
            "address_string": "Jl. Raya Cibinong 1",
            "first_name": "Budi",
            "last_name": "Santoso",
            "phone": "+6281234567890",
        },
    ),
    ("default-service-code", complaint(target=Target(category="Sampah")), {}, {"service_code": "001"}),
    ("address-only", complaint(location=Location(text="Pasar Cibinong")), {}, {"address_string": "Pasar Cibinong"}),
    (
        "default-address",
        complaint(location=None),
        {"default_address_string": "Kabupaten Bogor"},
        {"address_string": "Kabupaten Bogor"},
    ),
    (
        "one-word-name",
        complaint(reporter=Reporter(identity="a@b.id", email="a@b.id", name="Sukarno")),
        {},
        {"first_name": "Sukarno", "email": "a@b.id"},
    ),
    (
        "media-url-first-http",
        complaint(
            attachments=(
                Attachment(media_type="image/jpeg", sha256="f" * 64, state="stored"),
                Attachment(media_type="image/jpeg", url="https://api.twilio.com/m/ME1"),
                Attachment(media_type="image/png", url="https://api.twilio.com/m/ME2"),
            )
        ),
        {},
        {"media_url": "https://api.twilio.com/m/ME1"},
    ),
    (
        "attributes-for-service",
        complaint(target=Target(category="kendaraan")),
        {"service_attributes": {"DMV66": {"WHISHETN": "123"}}},
        {"service_code": "DMV66", "attribute[WHISHETN]": "123"},
    ),
    ("credentials", complaint(), {}, {"api_key": "test-api-key", "jurisdiction_id": "kota.example.go.id"}),
    (
        "confidential-when-allowed",
        complaint(privacy=Privacy(rahasia=True)),
        {"file_confidential": True},
        {"service_code": "002"},
    ),
]


@pytest.mark.parametrize(("given", "options", "expected"), [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES])
def test_form(given: Complaint, options: dict[str, object], expected: dict[str, str]) -> None:
    form = dict(client(**options).form(given))
    assert {key: form.get(key) for key in expected} == expected
    assert form["description"] == given.body.text


def test_anonymous_form_has_no_reporter_fields() -> None:
    anonymous = complaint(
        privacy=Privacy(anonim=True),
        reporter=Reporter(identity="x", phone="+6281234567890", email="budi@example.com", name="Budi Santoso"),
    )
    form = client().form(anonymous)
    keys = {key for key, _ in form}
    assert not keys & {"email", "first_name", "last_name", "phone", "device_id", "account_id"}
    assert "6281234567890" not in repr(form) and "Budi" not in repr(form)


@pytest.mark.parametrize(
    ("given", "options", "reason"),
    [
        (complaint(target=Target(category="Sampah")), {"default_service_code": None}, "no open311 service_code"),
        (complaint(target=Target()), {"default_service_code": None}, "no open311 service_code"),
        (complaint(privacy=Privacy(rahasia=True)), {}, "confidential complaint"),
    ],
    ids=["unmapped-category", "no-category", "confidential"],
)
def test_form_refuses(given: Complaint, options: dict[str, object], reason: str) -> None:
    with pytest.raises(PermanentFailure) as caught:
        client(**options).form(given)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("length", "expected_length", "cut"),
    [(10, 10, False), (4000, 4000, False), (4001, 4000, True), (20000, 4000, True)],
    ids=["short", "exactly-4000", "one-over", "long"],
)
def test_cut_description(length: int, expected_length: int, cut: bool) -> None:
    text = ("Jalan rusak. " * 2000)[:length]
    result = cut_description(text)
    assert len(result) == expected_length <= DESCRIPTION_MAX_CHARS
    assert result.endswith("…") is cut


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpen311, str]]:
    server_state = FakeOpen311()
    server = TestServer(server_state.app(), host="127.0.0.1")
    await server.start_server()
    yield server_state, str(server.make_url("")).rstrip("/")
    await server.close()


async def test_file_and_fetch(fake: tuple[FakeOpen311, str]) -> None:
    state, url = fake
    open311 = client(base_url=url)
    try:
        filed = await open311.file(complaint(body=Body(text="x" * 5000)), idempotency_key="job-1")
        assert filed.tracking_id in state.requests and filed.status == "open" and filed.token is None
        (posted,) = state.posts
        assert len(dict(posted)["description"]) == 4000
        assert state.idempotency_keys == ["job-1"]
        state.update(filed.tracking_id, status="closed", notes="Sudah diperbaiki.", agency="Dinas PUPR")
        fetched = await open311.fetch(filed.tracking_id)
        assert (fetched.tracking_id, fetched.status, fetched.agency, fetched.category) == (
            filed.tracking_id,
            "closed",
            "Dinas PUPR",
            "002",
        )
        (response,) = fetched.responses
        assert response.text == "Sudah diperbaiki." and response.id.startswith("notes:")
        assert fetched.updated_at is not None and fetched.updated_at.tzinfo is not None
    finally:
        await open311.aclose()


async def test_attribute_required_by_service_definition(fake: tuple[FakeOpen311, str]) -> None:
    state, url = fake
    missing = client(base_url=url)
    configured = client(base_url=url, service_attributes={"DMV66": {"WHISHETN": "124"}})
    try:
        with pytest.raises(PermanentFailure, match="attribute\\[WHISHETN\\] is required"):
            await missing.file(complaint(target=Target(category="Kendaraan")), idempotency_key="a")
        filed = await configured.file(complaint(target=Target(category="Kendaraan")), idempotency_key="b")
        assert state.requests[filed.tracking_id].value("attribute[WHISHETN]") == "124"
    finally:
        await missing.aclose()
        await configured.aclose()


@pytest.mark.parametrize(
    ("status", "retry_after", "error", "retry_seconds"),
    [
        (403, None, ConfigurationError, None),
        (401, None, ConfigurationError, None),
        (400, None, PermanentFailure, None),
        (422, None, PermanentFailure, None),
        (404, None, ConfigurationError, None),  # POST /requests not found: the base URL is wrong
        (429, "7", TransientFailure, 7.0),
        (503, None, TransientFailure, None),
        (500, "Wed, 21 Oct 2099 07:28:00 GMT", TransientFailure, "future"),
    ],
    ids=[
        "forbidden",
        "unauthorized",
        "bad-request",
        "unprocessable",
        "wrong-url",
        "throttled",
        "unavailable",
        "http-date-retry-after",
    ],
)
async def test_file_errors(
    fake: tuple[FakeOpen311, str], status: int, retry_after: str | None, error: type[Exception], retry_seconds: object
) -> None:
    state, url = fake
    state.fail_next(status, retry_after=retry_after)
    open311 = client(base_url=url)
    try:
        with pytest.raises(error) as caught:
            await open311.file(complaint(), idempotency_key="k")
    finally:
        await open311.aclose()
    assert "injected failure" in str(caught.value)
    if isinstance(caught.value, TransientFailure):
        if retry_seconds == "future":
            assert caught.value.retry_after is not None and caught.value.retry_after > 10**6
        else:
            assert caught.value.retry_after == retry_seconds


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"api_key": "wrong"}, ConfigurationError, "Invalid api_key received"),
        ({"jurisdiction_id": "other.go.id"}, PermanentFailure, "jurisdiction_id"),
        ({"service_codes": {"jalan": "999"}}, PermanentFailure, "service_code '999' not found"),
    ],
    ids=["wrong-api-key", "wrong-jurisdiction", "unknown-service-code"],
)
async def test_server_validation_errors(
    fake: tuple[FakeOpen311, str], options: dict[str, object], error: type[Exception], text: str
) -> None:
    _, url = fake
    open311 = client(base_url=url, **options)
    try:
        with pytest.raises(error, match=text):
            await open311.file(complaint(), idempotency_key="k")
    finally:
        await open311.aclose()


async def test_location_required_by_spec(fake: tuple[FakeOpen311, str]) -> None:
    _, url = fake
    open311 = client(base_url=url)
    try:
        with pytest.raises(PermanentFailure, match="address_string"):
            await open311.file(complaint(location=None), idempotency_key="k")
    finally:
        await open311.aclose()


async def test_unreachable_is_transient() -> None:
    open311 = client(base_url=f"http://127.0.0.1:{unused_port()}", timeout_seconds=2)
    try:
        with pytest.raises(TransientFailure, match="unreachable"):
            await open311.file(complaint(), idempotency_key="k")
        with pytest.raises(TransientFailure):
            await open311.fetch("1")
    finally:
        await open311.aclose()


async def test_fetch_unknown_request(fake: tuple[FakeOpen311, str]) -> None:
    _, url = fake
    open311 = client(base_url=url)
    try:
        with pytest.raises(PermanentFailure, match="service_request_id not found"):
            await open311.fetch("424242")
    finally:
        await open311.aclose()


@pytest.mark.parametrize(
    ("polls_before_id", "attempts", "resolved_at_filing"),
    [(0, 3, True), (2, 3, True), (3, 3, False)],
    ids=["token-resolves-at-once", "token-resolves-on-third-poll", "token-still-pending"],
)
async def test_token_answers(
    fake: tuple[FakeOpen311, str], polls_before_id: int, attempts: int, resolved_at_filing: bool
) -> None:
    state, url = fake
    state.answer_with_tokens(polls_before_id)
    open311 = client(base_url=url, token_poll_attempts=attempts, token_poll_interval_seconds=0.01)
    try:
        filed = await open311.file(complaint(), idempotency_key="k")
        assert filed.token is not None and len(state.posts) == 1
        if resolved_at_filing:
            assert filed.tracking_id in state.requests and filed.status == "open"
            return
        assert filed.tracking_id == f"token:{filed.token}" and filed.status == "pending_token"
        fetched = await open311.fetch(filed.tracking_id)  # the server has the id now
        assert fetched.tracking_id in state.requests and fetched.status == "open"
    finally:
        await open311.aclose()
    assert len(state.posts) == 1  # never filed twice


async def test_fetch_of_pending_token_stays_pending(fake: tuple[FakeOpen311, str]) -> None:
    state, url = fake
    state.answer_with_tokens(10)
    open311 = client(base_url=url, token_poll_attempts=1)
    try:
        filed = await open311.file(complaint(), idempotency_key="k")
        fetched = await open311.fetch(filed.tracking_id)
        assert (fetched.tracking_id, fetched.status) == (filed.tracking_id, "pending_token")
        with pytest.raises(PermanentFailure):
            await open311.follow_up(filed.tracking_id, complaint(), idempotency_key="f")
    finally:
        await open311.aclose()


def test_from_settings() -> None:
    settings = RegistrySettings(
        kind="open311",
        url="http://127.0.0.1:9/v2/",
        api_key="abc",
        jurisdiction_id="j",
        service_codes={"Jalan": "002"},
        default_service_code="001",
    )
    open311: RegistryClient = Open311Client.from_settings(settings)  # mypy checks the protocol
    assert isinstance(open311, Open311Client)
    form = dict(open311.form(complaint()))
    assert (form["api_key"], form["jurisdiction_id"], form["service_code"]) == ("abc", "j", "002")


async def test_logs_carry_no_secrets_or_personal_data(fake: tuple[FakeOpen311, str]) -> None:
    state, url = fake
    open311 = client(base_url=url)
    with structlog.testing.capture_logs() as logs:
        filed = await open311.file(complaint(), idempotency_key="k")
        state.fail_next(403)
        with pytest.raises(ConfigurationError):
            await open311.fetch(filed.tracking_id)
    await open311.aclose()
    text = repr(logs)
    assert logs
    for secret in ("test-api-key", "6281234567890", "Budi", "Cibinong"):
        assert secret not in text


# The specification's own examples (../shared/corpus/open311-georeport).


def test_corpus_request_by_id_with_zero_padded_numbers() -> None:
    raw = corpus("spec_get_request_by_id.json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)  # the spec example really is invalid JSON
    document = parse_json(raw)
    assert isinstance(document, list)
    state = state_from_request(document[0], "x")
    assert (state.tracking_id, state.status, state.category) == ("638344", "closed", "006")
    assert state.updated_at == datetime(2010, 4, 14, 6, 37, 38, tzinfo=timezone(timedelta(hours=-8)))
    assert [r.text for r in state.responses] == ["Duplicate request."]


def test_corpus_request_list() -> None:
    document = parse_json(corpus("spec_get_requests.json"))
    assert isinstance(document, list)
    states = [state_from_request(item, "x") for item in document]
    assert [(s.tracking_id, s.status, len(s.responses)) for s in states] == [
        ("638344", "closed", 1),
        ("638349", "open", 0),
    ]


@pytest.mark.parametrize(
    ("name", "expected_id", "expected_token"),
    [("spec_post_request_response.json", "293944", None), ("spec_post_request_token_response.json", "638344", "12345")],
    ids=["id-answer", "token-answer"],
)
def test_corpus_post_answers(name: str, expected_id: str, expected_token: str | None) -> None:
    document = parse_json(corpus(name))
    assert isinstance(document, list)
    first = document[0]
    assert str(first["service_request_id"]) == expected_id
    assert (str(first["token"]) if "token" in first else None) == expected_token


def test_corpus_error_body() -> None:
    raw = corpus("spec_error_403.json.http")
    body = raw.split(b"\n\n", 1)[1]
    assert error_descriptions(body) == "403: Invalid api_key received -- can't proceed with create_request."


def test_corpus_post_request_uses_the_spec_field_names() -> None:
    raw = corpus("spec_post_request.http").decode()
    spec_fields = {key for key, _ in parse_qsl(raw.split("\n\n", 1)[1].strip())}
    ours = {
        key
        for key, _ in client(service_attributes={"002": {"WHISPAWN": "1"}}).form(
            complaint(
                reporter=Reporter(identity="x", phone="+6281234567890", email="budi@example.com", name="Budi Santoso"),
                attachments=(Attachment(media_type="image/jpeg", url="https://example.com/a.jpg"),),
            )
        )
    }
    assert ours - spec_fields == set(), ours - spec_fields


def test_corpus_real_helsinki_request() -> None:
    document = parse_json(corpus("helsinki_real_request_with_tasks.json"))
    assert isinstance(document, dict)  # a bare object: the 6aika importer's fixture, not a list
    state = state_from_request(document, "x")
    assert (state.tracking_id, state.status, state.category) == ("3qp16kaphhsc78uc422l", "closed", "584")
    assert state.updated_at == datetime(2016, 3, 24, 16, 6, 40, tzinfo=timezone(timedelta(hours=2)))
    (response,) = state.responses
    assert response.text.startswith("Kiitos kysymyksestänne") and "\n\n" in response.text
