"""Hypothesis strategies for what arrives on the ingest path: form bodies, phone numbers, texts, signatures."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import strategies as st
from multidict import MultiDict

# Example budgets: the default run stays fast; the slow-marked runs go deeper.
EXAMPLES = 150
SLOW_EXAMPLES = 3000

# Pieces that make percent-decoding, markers and sentence rules interesting, mixed with arbitrary text.
_FORM_PIECES = ["a", "b", "=", "&", "+", "%", "%2", "%41", "%C3", "%A9", "%C3%A9", "%c3%a9", "%c3", "%a9", "%2b",
                "%Ff", "%g1", "%FF", "%26", "%3D", "%é", "é", " "]
_MARKER_PIECES = ["#anonim", "#rahasia", "#ANONIM", "#Rahasia", "#", "##", "a", "x", "_", "-", " ", "\n", "é", "1",
                  "e\u0301", "\x01", "\t", "\u00a0"]
_PHONE_PREFIXES = ["", "+", "0", "00", "62", "+62", "0062", "whatsapp:", "whatsapp:+", "tel:", "sms:", "+1", "+683",
                   "+39 0"]

text = st.text(max_size=200)
form_like_bytes = st.lists(st.sampled_from(_FORM_PIECES), max_size=40).map("".join).map(str.encode)
marker_text = st.one_of(st.lists(st.sampled_from(_MARKER_PIECES), max_size=30).map("".join), text)
phone_text = st.one_of(
    text,
    st.tuples(st.sampled_from(_PHONE_PREFIXES), st.text(alphabet="0123456789 -().", max_size=22)).map("".join),
)

_field_text = st.text(max_size=60)
_numberish = st.one_of(_field_text, st.integers(-5, 20).map(str), st.floats().map(str))
# Every field the Twilio normalizer reads, each present or not, with hostile values.
twilio_fields = st.fixed_dictionaries({}, optional={
    "MessageSid": _field_text, "SmsSid": _field_text, "AccountSid": _field_text,
    "From": st.one_of(phone_text, _field_text), "To": phone_text, "Body": st.text(max_size=400),
    "NumMedia": _numberish, "MediaUrl0": _field_text, "MediaContentType0": _field_text,
    "MediaUrl1": _field_text, "MediaContentType1": _field_text,
    "Latitude": _numberish, "Longitude": _numberish, "Label": _field_text, "Address": _field_text,
    "ProfileName": _field_text, "WaId": _field_text,
})
twilio_form_bytes = twilio_fields.map(lambda fields: urlencode(fields).encode())
# Always with a MessageSid, so that the edge accepts and stores it when signed.
twilio_message_bytes = st.tuples(st.text(min_size=1, max_size=34), twilio_fields).map(
    lambda pair: urlencode({**pair[1], "MessageSid": pair[0]}).encode()
)
any_payload = st.one_of(st.binary(max_size=600), form_like_bytes, twilio_form_bytes)

urls = st.one_of(
    text,
    st.builds(
        "{}://{}{}/{}".format,
        st.sampled_from(["http", "https", "ftp", ""]),
        st.sampled_from(["example.com", "127.0.0.1", "[::1]", "[", "h:x", "lapor.example.go.id"]),
        st.sampled_from(["", ":80", ":443", ":8080", ":99999", ":abc"]),
        st.text(max_size=20),
    ),
)
form_params = st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8).map(MultiDict)
