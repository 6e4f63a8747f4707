"""The real `lapor-gateway registry-sim` process: serve, move a complaint along, restart, refuse bad use."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.errors import TransientFailure
from gateway.registry.lapor import LaporClient
from gateway.registry.sim_store import SimStore
from tests.registry.complaints import complaint

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
TOKEN = "cli-token-51d2"
ENTRYPOINTS = {
    "console-script": [str(BIN / "lapor-gateway"), "registry-sim"],
    "python-m": [sys.executable, "-m", "gateway.commands.registry_sim"],
}
LISTENING = re.compile(r"registry-sim listening on (http://127\.0\.0\.1:\d+)")


@asynccontextmanager
async def sim_process(entry: list[str], db: Path, *extra: str) -> AsyncIterator[str]:
    """Start the sandbox on port 0, yield its URL once it prints it, then SIGTERM it and expect exit 0."""
    process = await asyncio.create_subprocess_exec(
        *entry, "--port", "0", "--token", TOKEN, "--db", str(db), *extra,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await process.stdout.readline()).decode()
                assert line, f"registry-sim exited early: {''.join(output)}"
                output.append(line)
                found = LISTENING.search(line)
                url = found.group(1) if found else None
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stdout.read(), 30)
        code = await asyncio.wait_for(process.wait(), 30)
        text = "".join(output) + rest.decode()
    assert code == 0, text
    assert TOKEN not in text


async def run(*args: str) -> tuple[int, str]:
    """Run a CLI command to completion; (exit code, combined output)."""
    process = await asyncio.create_subprocess_exec(
        *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.parametrize("entry", list(ENTRYPOINTS.values()), ids=list(ENTRYPOINTS))
async def test_serve_lifecycle_and_restart(tmp_path: Path, entry: list[str]) -> None:
    db = tmp_path / "sim.db"
    async with sim_process(entry, db) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        filed = await client.file(complaint(), idempotency_key="cli")
        code, out = await run(*entry, "set-status", "--db", str(db), filed.tracking_id, "didisposisikan",
                              "--agency", "Dinas Bina Marga")
        assert code == 0, out
        code, out = await run(*entry, "respond", "--db", str(db), f"#{filed.tracking_id}", "Sedang ditangani")
        assert code == 0, out
        state = await client.fetch(filed.tracking_id)
        await client.aclose()
    assert (state.status, state.agency) == ("didisposisikan", "Dinas Bina Marga")
    assert [r.text for r in state.responses] == ["Sedang ditangani"]
    async with sim_process(entry, db) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        again = await client.file(complaint(), idempotency_key="cli")
        await client.aclose()
    assert again == filed


async def test_fault_options_reach_the_server(tmp_path: Path) -> None:
    entry = ENTRYPOINTS["console-script"]
    async with sim_process(entry, tmp_path / "sim.db", "--throttle-every", "1") as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        with pytest.raises(TransientFailure) as caught:
            await client.fetch("1916000")
        await client.aclose()
    assert "HTTP 429" in str(caught.value)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--port", "0"], 2, "--token"),
        (["--port", "0", "--token", "t", "--fail-rate", "2"], 2, "--fail-rate"),
        (["set-status", "--db", "{db}", "1916000", "hilang"], 2, "STATUS"),
        (["set-status", "--db", "{db}", "1916000", "selesai"], 1, "no complaint 1916000"),
        (["respond", "--db", "{db}", "1916000", "halo"], 1, "no complaint 1916000"),
        (["set-status", "--db", "{missing}", "1916000", "selesai"], 1, "no sandbox database"),
    ],
    ids=["serve-without-token", "fail-rate-out-of-range", "unknown-status", "unknown-complaint",
         "respond-unknown-complaint", "missing-db"],
)
async def test_bad_use_is_refused(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    db = tmp_path / "sim.db"
    SimStore(db).close()
    filled = [a.format(db=db, missing=tmp_path / "nope.db") for a in args]
    got, out = await run(*ENTRYPOINTS["console-script"], *filled)
    assert got == code, out
    assert says in out
