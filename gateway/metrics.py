"""Prometheus metrics, in a registry of the gateway's own (no process-global default collectors)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

RECEIVED = Counter("lapor_received_total", "Raw messages accepted", ["channel"], registry=REGISTRY)
DUPLICATES = Counter("lapor_duplicates_total", "Redelivered raw messages", ["channel"], registry=REGISTRY)
REJECTED = Counter("lapor_rejected_total", "Input refused at the edge", ["channel", "reason"], registry=REGISTRY)
SIGNATURE_UNVERIFIED = Counter(
    "lapor_signature_unverified_total", "Stored in log-only mode with a bad signature", ["channel"],
    registry=REGISTRY,
)
NORMALIZED = Counter(
    "lapor_normalized_total", "Normalization outcomes", ["channel", "outcome"], registry=REGISTRY
)
DISPATCH_ATTEMPTS = Counter(
    "lapor_dispatch_attempts_total", "Registry requests", ["kind", "result"], registry=REGISTRY
)
DISPATCH_LATENCY = Histogram(
    "lapor_dispatch_latency_seconds", "Registry request latency", ["kind"], registry=REGISTRY
)
DEAD_LETTERS = Counter("lapor_dead_letters_total", "Jobs dead-lettered", ["kind"], registry=REGISTRY)
REPLIES = Counter("lapor_replies_total", "Replies to reporters", ["channel", "result"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("lapor_queue_depth", "Rows waiting", ["queue", "state"], registry=REGISTRY)
SPOOL_SIZE = Gauge("lapor_spool_messages", "Messages in the on-disk spool", registry=REGISTRY)
OPEN_BY_DEADLINE = Gauge(
    "lapor_open_complaints", "Open complaints by deadline state (on_time, due_soon, breached)",
    ["channel", "agency", "state"], registry=REGISTRY,
)
FLOODED = Counter("lapor_flood_marked_total", "Messages over the per-sender rate", ["channel"], registry=REGISTRY)


def render() -> bytes:
    """The exposition text for /metrics."""
    return generate_latest(REGISTRY)
