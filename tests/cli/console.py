"""Running the real `lapor-gateway` console script against a throwaway SQLite database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).parent / "lapor-gateway"


@dataclass(frozen=True)
class Console:
    """Where the commands run and which database they use."""

    workdir: Path
    database: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`lapor-gateway ARGS` with LAPOR_GATEWAY_DATABASE__URL set and no other gateway variables."""
        clean = {key: value for key, value in os.environ.items() if not key.upper().startswith("LAPOR_GATEWAY_")}
        clean["LAPOR_GATEWAY_DATABASE__URL"] = f"sqlite+aiosqlite:///{self.database}"
        clean["COLUMNS"] = "200"
        return subprocess.run(
            [str(CLI), *args], cwd=self.workdir, env={**clean, **(env or {})}, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run, insist on exit status 0, and return stdout."""
        done = self.run(*args, env=env)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        """Run and parse every stdout line as JSON."""
        return [json.loads(line) for line in self.ok(*args).splitlines() if line.strip()]

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the database the commands wrote."""
        with sqlite3.connect(self.database) as connection:
            return list(connection.execute(sql, params).fetchall())

    def execute(self, sql: str, *params: object) -> None:
        """Change the database behind the commands' back (to make a dead letter, say)."""
        with sqlite3.connect(self.database) as connection:
            connection.execute(sql, params)
