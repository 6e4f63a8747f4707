"""kill -9 of `lapor-gateway serve` while webhooks are in flight, several times, then a clean restart.

Every message that got a 200 must reach the registry exactly once, and every citizen must get exactly one
acknowledgement. The kill lands at a different moment each round: during ingest, normalization, dispatch
or while replies are going out.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

from tests.faults.stack import Deployment, filed_sids, message, send_many
from tests.support.ports import free_port
from tests.support.processes import wait_for

ROUNDS = [(0.4, 700), (1.2, 700), (2.5, 700), (4.0, 700)]  # (seconds before the kill, messages sent)
if os.environ.get("LAPOR_LONG_FAULTS"):
    ROUNDS = ROUNDS * 3


def test_kill_minus_nine_at_any_point(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    deployment.start_backends()
    port = free_port()
    acknowledged: set[str] = set()
    next_index = 0
    try:
        for delay, count in ROUNDS:
            gateway = deployment.start_gateway("gateway", port)
            killer = threading.Timer(delay, lambda g=gateway: g.popen.send_signal(signal.SIGKILL))
            killer.start()
            statuses = send_many([port], range(next_index, next_index + count), workers=12)
            killer.join()
            gateway.stop(signal.SIGKILL)
            acknowledged |= {sid for sid, status in statuses.items() if status == 200}
            assert all(status in (200, 0) for status in statuses.values()), Counter(statuses.values())
            next_index += count

        deployment.start_gateway("gateway", port)  # the last, undisturbed run drains everything
        assert len(acknowledged) > 500, "the kills came too early to prove anything"
        wait_for(lambda: acknowledged <= set(filed_sids(deployment.complaints())), timeout=180,
                 what="every acknowledged message in the registry")
        filed = Counter(filed_sids(deployment.complaints()))
        twice = [sid for sid, times in filed.items() if times > 1]
        assert not twice, f"filed more than once: {twice[:5]}"

        # Every filed complaint (acknowledged or stored just before a kill) gets exactly one acknowledgement.
        senders = {message(int(sid.removeprefix("SMfault")))[1] for sid in filed}
        wait_for(lambda: len(deployment.sent()) >= len(filed), timeout=120, what="one acknowledgement each")
        acks = Counter(sent["to"] for sent in deployment.sent())
        assert set(acks) == senders
        assert max(acks.values()) == 1, [to for to, n in acks.items() if n > 1][:5]
    finally:
        deployment.stop()
