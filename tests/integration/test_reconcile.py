"""`reporting reconcile`: a report's printed figures (CSV) against a projected year, over
real PostgreSQL, as an operator runs it."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest

from schemas.money import rate
from services.performance import store
from tests.fakes_performance import typed_all
from tests.integration.conftest import PERFORMANCE_MIGRATIONS, migrated_pool
from tests.integration.test_as_of import TZ, brute_force_cases, journal, random_cases

pytestmark = pytest.mark.integration


def reconcile(database: str, csv: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.reporting.cli", "reconcile", "-", "--department", "D",
         "--fiscal-year", "2017", *args],
        input=csv, env={**os.environ, "DATABASE_URL": database, "COLUMNS": "150"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_printed_figures_reproduce_or_show_their_difference(database: str) -> None:
    cases = random_cases(random.Random(3), 300)
    async with migrated_pool(database, PERFORMANCE_MIGRATIONS) as pool:
        await store.apply_entries(pool, typed_all(journal(cases, [])), TZ)
    counts = brute_force_cases(cases, date(2017, 6, 30))
    closure = rate(counts["closed"], counts["accepted"])
    assert closure is not None
    percent = f"{closure * 100:.2f}"
    off = f"{closure * 100 + Decimal('0.05'):.2f}"
    csv = (
        "label,metric,value,unit\n"
        f'受理,accepted,"{counts["accepted"]:,}",count\n'
        f"结案率,closure_rate,{percent},percent\n"
        f"结案率 (misprinted),closure_rate,{off},percent\n"
    )
    done = reconcile(database, csv, "--as-of", "2017-06-30")
    assert done.returncode == 1, done.stderr  # one does not reproduce
    lines = done.stdout.splitlines()
    rows = [line for line in lines if "closure_rate" in line or "accepted" in line]
    assert "misprinted" in rows[0] and "NO" in rows[0] and "0.05" in rows[0]  # first
    assert all("yes" in row for row in rows[1:]) and len(rows) == 3
    assert lines[-1] == "2 of 3 printed figures reproduce"

    everything_reproduces = reconcile(
        database, csv.rsplit("\n", 2)[0] + "\n", "--as-of", "2017-06-30"
    )
    assert everything_reproduces.returncode == 0, everything_reproduces.stdout

    bad_unit = reconcile(database, "label,metric,value,unit\nx,closure_rate,1,yuan\n")
    assert bad_unit.returncode == 2
    assert "printed[0].unit 'yuan': closure_rate is printed in one of" in bad_unit.stderr
    no_header = reconcile(database, "x,closure_rate,1\n")
    assert "the CSV's header row lacks label, metric, value, unit" in no_header.stderr
    bad_date = reconcile(database, csv, "--as-of", "2017-13-01")
    assert "--as-of '2017-13-01': month must be in 1..12" in bad_date.stderr
