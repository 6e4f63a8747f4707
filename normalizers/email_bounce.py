"""Bounces: what failed, for whom, and whether the bounced message was one of our acknowledgements.

The detail of the Ignored is JSON so the pipeline can mark the address of a bounced
acknowledgement undeliverable: {"action", "status", "recipients", "bounced_message_ids", "ours"}.
Delivery status notifications: RFC 3464; the rest is best effort over common MTA formats.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import default as default_policy

from gateway.records import Ignored
from normalizers.email_body import part_text
from normalizers.email_parse import header, message_ids, walk
from normalizers.email_threading import is_ack_id

MAX_LISTED = 20  # recipients and ids kept in the detail
_QUOTED_ID = re.compile(r"^[>\s]*message-id\s*:\s*(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE)
_FINAL_ACTIONS = ("failed",)


def bounce_outcome(message: Message, *, standard: bool) -> Ignored:
    """An Ignored for a DSN or a non-standard bounce, with what the pipeline needs in its detail."""
    actions: list[str] = []
    statuses: list[str] = []
    recipients: list[str] = []
    ids: list[str] = []
    for part in walk(message):
        subtype = part.get_content_type()
        if subtype in ("message/delivery-status", "message/global-delivery-status"):
            _read_status(part, actions, statuses, recipients)
        elif subtype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                ids.extend(message_ids(header(inner[0], "Message-ID")))
        elif subtype in ("text/rfc822-headers", "message/rfc822-headers", "text/plain"):
            ids.extend(m.group(1) for m in _QUOTED_ID.finditer(part_text(part).text[:65536]))
    for value in header(message, "X-Failed-Recipients").split(","):
        if "@" in value:
            recipients.append(value.strip().lower())
    ids = list(dict.fromkeys(ids))[:MAX_LISTED]
    recipients = list(dict.fromkeys(recipients))[:MAX_LISTED]
    final = not actions or any(action in _FINAL_ACTIONS for action in actions)
    reason = "bounce" if final else ("delivery_delayed" if "delayed" in actions else "delivery_report")
    detail = {
        "kind": "dsn" if standard else "non_standard",
        "action": "failed" if final else (actions[0] if actions else ""),
        "status": statuses[0] if statuses else "",
        "recipients": recipients,
        "bounced_message_ids": ids,
        "ours": any(is_ack_id(message_id) for message_id in ids),
    }
    return Ignored(reason=reason, detail=json.dumps(detail, ensure_ascii=False, sort_keys=True))


def _read_status(part: Message, actions: list[str], statuses: list[str], recipients: list[str]) -> None:
    """The per-recipient fields of a message/delivery-status part."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        # Some MTAs send the fields as a plain body; parse them as one header block.
        blocks = [HeaderParser(policy=default_policy).parsestr(str(blocks))]
    for block in blocks:
        if not isinstance(block, Message):
            continue
        action = header(block, "Action").lower()
        if action:
            actions.append(action.split()[0])
        status = header(block, "Status")
        if status:
            statuses.append(status.split()[0][:16])
        for name in ("Final-Recipient", "Original-Recipient"):
            value = header(block, name)
            if value:
                address = value.split(";", 1)[-1].strip().strip("<>").lower()
                if "@" in address:
                    recipients.append(address)
                break


def bounced_acks(outcome: Ignored) -> tuple[str, ...]:
    """Message-IDs of our own acknowledgements that a bounce reports as failed; () for anything else.

    The pipeline looks each up as reply.provider_id and marks that reply's address undeliverable.
    """
    if outcome.reason != "bounce":
        return ()
    try:
        detail = json.loads(outcome.detail)
    except ValueError:
        return ()
    ids = detail.get("bounced_message_ids") if isinstance(detail, dict) else None
    if not isinstance(ids, list):
        return ()
    return tuple(value for value in ids if isinstance(value, str) and is_ack_id(value))
