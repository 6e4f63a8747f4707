"""Properties of every parser on the ingest path, for arbitrary input: they never raise past their contract."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from channels.form import parse_form as edge_parse_form
from channels.twilio import verify_signature
from gateway.errors import QuarantinedInput
from gateway.storage.archive import meta_json
from normalizers.phone import to_e164
from normalizers.text import TITLE_MAX, clean_text, derive_title, extract_markers
from normalizers.twilio import parse_form
from tests.fuzz import strategies as s

E164 = re.compile(r"^\+\d{8,15}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def kept_characters(value: str) -> Counter[str]:
    """Letters, digits, emoji, marks: everything but whitespace and control characters, canonically decomposed.

    Decomposed (NFD) so that a letter and its combining mark count the same whether cleaning composed them.
    """
    return Counter(ch for ch in unicodedata.normalize("NFD", value) if not ch.isspace() and not _CONTROL.match(ch))


def check_parse_form(payload: bytes) -> None:
    """A dict of strings with the first value of each key, or QuarantinedInput; never anything else."""
    try:
        form = parse_form(payload)
    except QuarantinedInput as exc:
        assert exc.reason == "malformed_form_body"
        return
    pairs = parse_qsl(payload.decode("utf-8"), keep_blank_values=True)
    assert form == {key: value for key, value in reversed(pairs)}


def check_edge_form(payload: bytes) -> None:
    """The edge's fast form parser gives exactly what parse_qsl gives, and fails where it fails."""
    try:
        expected: list[tuple[str, str]] | type[Exception] = parse_qsl(
            payload.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        expected = UnicodeDecodeError
    try:
        got: list[tuple[str, str]] | type[Exception] = edge_parse_form(payload)
    except UnicodeDecodeError:
        got = UnicodeDecodeError
    assert got == expected


def check_form_round_trip(fields: dict[str, str]) -> None:
    """What Twilio encodes, parse_form decodes back exactly."""
    assert parse_form(urlencode(fields).encode()) == fields


def check_signature_never_raises(case: tuple[str, str, MultiDict[str] | str, str, str | None]) -> None:
    """Arbitrary token, URL, parameters, signature and settings header: a bool, never an exception."""
    token, url, params, signature, header = case
    assert verify_signature(token, url, params, signature, settings_header=header) in (True, False)


def check_signature_agrees_with_twilio(case: tuple[str, str, MultiDict[str], bool]) -> None:
    """The faster check accepts exactly what twilio's RequestValidator accepts, for real and forged signatures."""
    token, url, params, genuine = case
    try:
        signature = RequestValidator(token).compute_signature(url, params) if genuine else "bm90IGEgc2lnbmF0dXJl"
        expected = RequestValidator(token).validate(url, params, signature)
    except ValueError:  # twilio raises on URLs urllib cannot parse; we answer "not verified"
        signature, expected = "x", False
    assert verify_signature(token, url, params, signature) is expected
    assert verify_signature(token, url, list(params.items()), signature) is expected  # the edge's (name, value) list
    if genuine and expected:
        assert verify_signature(token + "x", url, params, signature) is False


def check_phone(value: str) -> None:
    """None or E.164 with 8-15 digits; reading the result again gives the same number."""
    result = to_e164(value)
    if result is not None:
        assert E164.match(result), result
        assert to_e164(result) == result


def check_clean_text(value: str) -> None:
    """Idempotent, and keeps every letter, digit, mark and emoji."""
    cleaned = clean_text(value)
    assert clean_text(cleaned) == cleaned
    assert kept_characters(cleaned) == kept_characters(value)


def check_markers(value: str) -> None:
    """No marker survives extraction, the flags say which were there, and extraction is idempotent."""
    cleaned = clean_text(value)
    markers = extract_markers(cleaned)
    again = extract_markers(markers.text)
    assert again.text == markers.text
    assert not again.privacy.anonim and not again.privacy.rahasia
    lowered = cleaned.lower()
    assert markers.privacy.anonim <= ("#anonim" in lowered)
    assert markers.privacy.rahasia <= ("#rahasia" in lowered)


def check_meta_json(meta: dict[str, Any]) -> None:
    """The archive's meta column: exactly json.dumps(meta, sort_keys=True), strings or not."""
    assert meta_json(MappingProxyType(meta)) == json.dumps(meta, sort_keys=True)


def check_title(value: str) -> None:
    """A non-empty title of at most 80 characters, for any text."""
    title = derive_title(value)
    assert 0 < len(title) <= TITLE_MAX


@dataclass(frozen=True)
class Property:
    """One parser property and the inputs it must hold for."""

    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any], None]


PROPERTIES = [
    Property("parse_form_arbitrary_bytes", s.any_payload, check_parse_form),
    Property("edge_form_arbitrary_bytes", s.any_payload, check_edge_form),
    Property("parse_form_round_trip", st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40)),
             check_form_round_trip),
    Property("signature_never_raises",
             st.tuples(st.text(max_size=20), s.urls, st.one_of(s.form_params, s.text), s.text,
                       st.one_of(st.none(), st.just("algorithm=HMAC_SHA256"), s.text)),
             check_signature_never_raises),
    Property("signature_agrees_with_twilio",
             st.tuples(st.text(min_size=1, max_size=20), s.urls, s.form_params, st.booleans()),
             check_signature_agrees_with_twilio),
    Property("phone_e164", s.phone_text, check_phone),
    Property("clean_text", st.one_of(s.text, s.marker_text), check_clean_text),
    Property("markers", s.marker_text, check_markers),
    Property("meta_json",
             st.dictionaries(st.text(max_size=12), st.one_of(s.text, st.integers(), st.none()), max_size=6),
             check_meta_json),
    Property("derive_title", st.one_of(s.text, s.marker_text, st.text(min_size=70, max_size=400)), check_title),
]
IDS = [prop.name for prop in PROPERTIES]


@pytest.mark.parametrize("prop", PROPERTIES, ids=IDS)
@settings(max_examples=s.EXAMPLES, deadline=None)
@given(data=st.data())
def test_property(prop: Property, data: st.DataObject) -> None:
    prop.check(data.draw(prop.inputs, label=prop.name))


@pytest.mark.slow
@pytest.mark.parametrize("prop", PROPERTIES, ids=IDS)
@settings(max_examples=s.SLOW_EXAMPLES, deadline=None)
@given(data=st.data())
def test_property_deeply(prop: Property, data: st.DataObject) -> None:
    prop.check(data.draw(prop.inputs, label=prop.name))


# Cases hypothesis found before the fixes, kept so they are checked on every run.
REGRESSIONS: list[tuple[str, Callable[[Any], None], object]] = [
    ("phone_zeros_are_not_a_number", check_phone, "00000"),
    ("phone_zeros_read_back_differently", check_phone, "000000000"),
    ("phone_more_than_15_digits", check_phone, "+6281234567890123"),
    ("clean_control_between_letter_and_mark", check_clean_text, "e\x01\u0301"),
    ("clean_control_between_hangul_jamo", check_clean_text, "\u1100\x01\u1161"),
    ("markers_back_to_back", check_markers, "#anonim#anonim"),
    ("markers_rahasia_then_anonim", check_markers, "#rahasia#anonim tolong"),
    ("signature_json_body_without_hash", check_signature_never_raises, ("t", "https://x/y", "{}", "s", None)),
    ("signature_bad_port", check_signature_never_raises, ("t", "https://x:abc/y", MultiDict(), "s", None)),
    ("signature_bad_ipv6", check_signature_never_raises, ("t", "http://[/y", MultiDict(), "s", None)),
    ("form_invalid_utf8_in_repeated_key", check_parse_form, b"a=1&a=%FF"),
]


@pytest.mark.parametrize(("case", "check", "value"), REGRESSIONS, ids=[row[0] for row in REGRESSIONS])
def test_regression(case: str, check: Callable[[Any], None], value: object) -> None:
    check(value)
