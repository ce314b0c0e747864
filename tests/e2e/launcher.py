"""`python -m deploy.stack` (what `make run` starts) as a user runs it, on free ports and a
data directory of the test's own, with the embedded servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.infra import REPO, free_port

READY = "Ctrl-C stops everything"


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    output: Path  # what it printed (stdout and stderr)
    graphql_port: int

    def printed(self) -> str:
        return self.output.read_text()

    def wait_for(self, text: str, timeout: float) -> str:
        """Everything printed once ``text`` was; fails if the launcher exits first."""
        deadline = time.monotonic() + timeout
        while text not in (printed := self.printed()):
            assert self.process.poll() is None, printed
            assert time.monotonic() < deadline, f"{text!r} not printed in {timeout} s:\n{printed}"
            time.sleep(0.5)
        return printed

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        """Signal it (SIGINT: Ctrl-C) and wait for it to exit; its exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout)


def launch(data_dir: Path, **env: str) -> Launched:
    """Start the launcher; ``env`` overrides (e.g. DEMO=0, or a port to collide on)."""
    ports = {
        name: str(free_port())
        for name in (
            "GRAPHQL_PORT",
            "EMBEDDED_KAFKA_PORT",
            "LEDGER_HTTP_PORT",
            "PERFORMANCE_HTTP_PORT",
        )
    }
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }  # the embedded defaults
    environment.update({"DATA_DIR": str(data_dir), "COLUMNS": "200", **ports, **env})
    output = data_dir / "stack.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.stack"],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Launched(process, output, int(environment["GRAPHQL_PORT"]))
