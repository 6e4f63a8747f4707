"""A local Open311 GeoReport v2 server written from the specification, for tests.

https://wiki.open311.org/GeoReport_v2/ : GET /services.json, GET /services/{code}.json,
POST /requests.json (application/x-www-form-urlencoded), GET /tokens/{token}.json,
GET /requests/{id}.json, GET /requests.json; errors as `[{"code", "description"}]`.
Only the JSON format is served. Knobs: token answers, injected failures, status changes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_SERVICES: tuple[dict[str, object], ...] = (
    # From the spec's GET services example (service codes as strings: the spec writes 001 unquoted).
    {
        "service_code": "001",
        "service_name": "Cans left out 24x7",
        "description": "Garbage or recycling cans that have been left out for more than 24 hours after collection.",
        "metadata": False,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "sanitation",
    },
    {
        "service_code": "002",
        "service_name": "Construction plate shifted",
        "description": "Metal construction plate covering the street or sidewalk has been moved.",
        "metadata": False,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "street",
    },
    {
        "service_code": "DMV66",
        "service_name": "Abandoned vehicle",
        "description": "A vehicle left on the street.",
        "metadata": True,
        "type": "batch",
        "keywords": "",
        "group": "street",
    },
)

# From the spec's GET service definition example: DMV66 requires attribute WHISHETN.
DEFAULT_DEFINITIONS: dict[str, dict[str, object]] = {
    "DMV66": {
        "service_code": "DMV66",
        "attributes": [
            {
                "variable": True,
                "code": "WHISHETN",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": "What is the ticket/tag/DL number?",
                "values": [{"key": "123", "name": "Ford"}, {"key": "124", "name": "Chrysler"}],
            }
        ],
    }
}


@dataclass
class Fault:
    """An injected failure for the next requests."""

    status: int
    remaining: int
    retry_after: str | None = None


@dataclass
class StoredRequest:
    """A service request as the fake holds it."""

    service_request_id: str
    form: list[tuple[str, str]]
    status: str = "open"
    status_notes: str | None = None
    agency_responsible: str | None = None
    requested: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))

    def value(self, key: str) -> str | None:
        """The first form value under `key`."""
        return next((v for k, v in self.form if k == key), None)

    def as_json(self) -> dict[str, object]:
        """The request as GET /requests/{id}.json lists it (personal fields are never returned)."""
        lat, long = self.value("lat"), self.value("long")
        return {
            "service_request_id": self.service_request_id,
            "status": self.status,
            "status_notes": self.status_notes,
            "service_code": self.value("service_code"),
            "description": self.value("description"),
            "agency_responsible": self.agency_responsible,
            "service_notice": None,
            "requested_datetime": self.requested.isoformat(timespec="seconds"),
            "updated_datetime": self.updated.isoformat(timespec="seconds"),
            "expected_datetime": None,
            "address": self.value("address_string"),
            "lat": float(lat) if lat else None,
            "long": float(long) if long else None,
            "media_url": self.value("media_url"),
        }


def _errors(status: int, description: str) -> web.Response:
    return web.json_response([{"code": status, "description": description}], status=status)


class FakeOpen311:
    """The server's state and its aiohttp application."""

    def __init__(
        self,
        *,
        api_key: str = "test-api-key",
        jurisdiction_id: str | None = "kota.example.go.id",
        services: tuple[dict[str, object], ...] = DEFAULT_SERVICES,
        definitions: dict[str, dict[str, object]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.jurisdiction_id = jurisdiction_id
        self.services = services
        self.definitions = DEFAULT_DEFINITIONS if definitions is None else definitions
        self.requests: dict[str, StoredRequest] = {}
        self.posts: list[list[tuple[str, str]]] = []
        self.idempotency_keys: list[str | None] = []
        self.token_mode = False
        self.token_polls_before_id = 0
        self.tokens: dict[str, tuple[str, int]] = {}  # token -> (request id, polls left before the id shows)
        self.faults: list[Fault] = []
        self.hits: list[str] = []
        self._ids = itertools.count(638344)
        self._tokens = itertools.count(12345)

    def fail_next(self, status: int, times: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` and a spec error body."""
        self.faults.append(Fault(status, times, retry_after))

    def answer_with_tokens(self, polls_before_id: int) -> None:
        """Answer POST /requests with a token; GET /tokens shows the id after `polls_before_id` polls."""
        self.token_mode = True
        self.token_polls_before_id = polls_before_id

    def update(self, request_id: str, *, status: str, notes: str | None = None, agency: str | None = None) -> None:
        """What the city's back office does: change a request's status and notes."""
        stored = self.requests[request_id]
        stored.status, stored.status_notes = status, notes
        stored.agency_responsible = agency or stored.agency_responsible
        stored.updated = datetime.now(UTC)

    def app(self) -> web.Application:
        """The aiohttp application serving the GeoReport v2 endpoints."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/services.json", self._services)
        app.router.add_get("/services/{code}.json", self._definition)
        app.router.add_post("/requests.json", self._create)
        app.router.add_get("/requests.json", self._list)
        app.router.add_get("/requests/{id}.json", self._request)
        app.router.add_get("/tokens/{token}.json", self._token)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits.append(f"{request.method} {request.path}")
        if not request.path.endswith(".json"):
            return _errors(400, "only the json format is served here")
        for fault in self.faults:
            if fault.remaining > 0:
                fault.remaining -= 1
                response = _errors(fault.status, "injected failure")
                if fault.retry_after is not None:
                    response.headers["Retry-After"] = fault.retry_after
                return response
        if self.jurisdiction_id is not None and request.method == "GET":
            if request.query.get("jurisdiction_id") != self.jurisdiction_id:
                return _errors(400, "jurisdiction_id missing or unknown")
        return await handler(request)

    async def _services(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.services))

    async def _definition(self, request: web.Request) -> web.Response:
        definition = self.definitions.get(request.match_info["code"])
        if definition is None:
            return _errors(404, "service_code not found")
        return web.json_response(definition)

    async def _create(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _errors(400, "POST /requests takes application/x-www-form-urlencoded")
        form = [(k, str(v)) for k, v in (await request.post()).items()]
        self.posts.append(form)
        self.idempotency_keys.append(request.headers.get("Idempotency-Key"))
        values = dict(form)
        if values.get("api_key") != self.api_key:
            return _errors(403, "Invalid api_key received -- can't proceed with create_request.")
        if self.jurisdiction_id is not None and values.get("jurisdiction_id") != self.jurisdiction_id:
            return _errors(400, "jurisdiction_id missing or unknown")
        code = values.get("service_code")
        if code not in {str(service["service_code"]) for service in self.services}:
            return _errors(400, f"service_code {code!r} not found")
        has_point = bool(values.get("lat")) and bool(values.get("long"))
        if not (has_point or values.get("address_string") or values.get("address_id")):
            return _errors(400, "lat & long, address_string or address_id is required")
        if len(values.get("description", "")) > 4000:
            return _errors(400, "description is longer than 4,000 characters")
        for attribute in self._required_attributes(str(code)):
            if not values.get(f"attribute[{attribute}]"):
                return _errors(400, f"attribute[{attribute}] is required")
        request_id = str(next(self._ids))
        self.requests[request_id] = StoredRequest(service_request_id=request_id, form=form)
        if self.token_mode:
            token = str(next(self._tokens))
            self.tokens[token] = (request_id, self.token_polls_before_id)
            return web.json_response([{"token": token}])
        return web.json_response(
            [{"service_request_id": request_id, "service_notice": "Akan diperiksa petugas.", "account_id": None}]
        )

    def _required_attributes(self, code: str) -> list[str]:
        definition = self.definitions.get(code, {})
        attributes = definition.get("attributes", [])
        assert isinstance(attributes, list)
        return [str(a["code"]) for a in attributes if isinstance(a, dict) and a.get("required")]

    async def _token(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token not in self.tokens:
            return _errors(404, "token not found")
        request_id, polls_left = self.tokens[token]
        if polls_left > 0:
            self.tokens[token] = (request_id, polls_left - 1)
            return web.json_response([{"token": token}])
        return web.json_response([{"service_request_id": request_id, "token": token}])

    async def _request(self, request: web.Request) -> web.Response:
        stored = self.requests.get(request.match_info["id"])
        if stored is None:
            return _errors(404, "service_request_id not found")
        return web.json_response([stored.as_json()])

    async def _list(self, request: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps([stored.as_json() for stored in self.requests.values()]), content_type="application/json"
        )
