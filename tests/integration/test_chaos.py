"""The chaos run, small: 100,000 records through a clean pipeline and through one with two
ledgers under five faults (a pause past the consumer session, a SIGKILL of the relay's
leader and of another ledger, a broker restart with the upstream publishing again, a
PostgreSQL crash and restart), compared in everything. The recorded large run is in
bench/README.md."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from deploy.infra import REPO

pytestmark = pytest.mark.integration

SEED = 12  # its first five faults: pause, relay-leader, ledger, broker, postgres


def test_nothing_lost_or_counted_twice_under_faults() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--events", "100000", "--faults", "5",
         "--seed", str(SEED)],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    for struck in ("SIGSTOP", "(the relay's leader)", "broker restarted", "PostgreSQL stopped"):
        assert struck in out, out
    assert "event store equal, journal per department equal, the gateway's figures equal" in out
    assert re.search(r"^events 100000, faults 5, lost 0, double 0, digest equal$", out, re.M), out
    clean = re.search(r"clean run: ([\d,]+) accepted, .*figures of (\d+) departments", out)
    assert clean and int(clean[1].replace(",", "")) > 50_000, out
    assert int(clean[2]) >= 12, out  # the workload's, and the fuzzed records' that were valid
