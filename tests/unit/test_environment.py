"""The operator CLIs and the services refuse missing or invalid settings in one line naming
the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "KAFKA"))}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "service, args",
    [("ledger", ["rejections", "list"]), ("performance", ["replay", "--fiscal-year", "2017"])],
)
def test_a_missing_database_url_is_one_line_naming_it(service: str, args: list[str]) -> None:
    done = run(f"services.{service}.cli", *args)
    assert done.returncode == 1
    assert done.stderr.startswith("DATABASE_URL is not set: PostgreSQL DSN"), done.stderr
    assert "make run" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("service", ["ledger", "performance", "reporting"])
def test_a_service_without_its_database_says_so_in_one_line(service: str) -> None:
    done = run(f"services.{service}", AUTH_JWT_SECRET="s")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "DATABASE_URL is not set: PostgreSQL DSN, e.g. postgresql://user:pw@host/db (DATABASE_URL)"
    ]


def test_an_invalid_value_names_the_variable_and_the_rule() -> None:
    done = run(
        "services.ledger.cli",
        "rejections",
        "list",
        DATABASE_URL="postgresql://x@h/d",
        LEDGER_HOLD_SECONDS="-1",
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "LEDGER_HOLD_SECONDS: Input should be greater than or equal to 0"
