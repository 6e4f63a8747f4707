"""The database goes away in the middle of a stream of webhooks: nothing acknowledged is lost."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.faults.stack import Deployment, filed_sids, send_many
from tests.support.ports import free_port
from tests.support.postgres import temporary_database
from tests.support.processes import CLI, http_json, wait_for
from tests.support.tcp_proxy import TcpProxy

MESSAGES = 400


def test_postgres_outage_spools_and_drains_exactly_once(tmp_path: Path) -> None:
    with temporary_database() as direct_url:
        proxy = TcpProxy(free_port(), "127.0.0.1", 5432)
        proxy.start()
        url = direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.listen_port}")
        deployment = Deployment(tmp_path, url)
        try:
            deployment.start_backends()
            port = free_port()
            deployment.start_gateway("gateway", port)

            # Before, during and after the outage; the last part arrives while the spool drains.
            statuses = send_many([port], range(0, 100), workers=8)
            proxy.cut()
            statuses |= send_many([port], range(100, 300), workers=8)
            spooled_during_outage = _spool_size(port)
            health = http_json(f"http://127.0.0.1:{port}/healthz")
            assert isinstance(health, dict) and health["status"] == "spooling" and health["database"] is False
            proxy.start()  # the database is back
            statuses |= send_many([port], range(300, MESSAGES), workers=8)

            acknowledged = {sid for sid, status in statuses.items() if status == 200}
            assert len(acknowledged) == MESSAGES, Counter(statuses.values())
            assert spooled_during_outage == 200, "every message of the outage waits in the spool"
            wait_for(lambda: len(deployment.complaints()) >= len(acknowledged), timeout=120,
                     what="every acknowledged message in the registry")
            time.sleep(1.0)
            filed = Counter(filed_sids(deployment.complaints()))
            assert set(filed) == acknowledged
            assert max(filed.values()) == 1, "a message was filed twice"
            wait_for(lambda: _spool_size(port) == 0, what="an empty spool")
        finally:
            deployment.stop()
            proxy.close()


def _spool_size(port: int) -> int:
    try:
        data = http_json(f"http://127.0.0.1:{port}/healthz")
    except OSError as exc:  # 503 while the database is down still carries the body
        body = getattr(exc, "read", None)
        if body is None:
            raise
        data = json.loads(body())
    assert isinstance(data, dict)
    return int(data["spool"])


def test_refuses_to_start_without_a_writable_spool(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    result = subprocess.run(
        [CLI, "serve"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LAPOR_GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gw.db'}",
             "LAPOR_GATEWAY_DATABASE__SPOOL_DIR": str(blocker / "spool"),
             "LAPOR_GATEWAY_SERVER__PORT": str(free_port())},
    )
    assert result.returncode == 2, result.stderr
    assert "spool folder is not writable" in result.stderr
