"""What the performance service tells its operators: how far its projections are behind the
ledger (asked of the database every METRICS_REFRESH_SECONDS), and how far a replay is.

The replay's gauges are in a registry of their own, which ``performance replay`` serves
while it runs when REPLAY_METRICS_PORT is set (a Kubernetes Job can be scraped); the
service's /metrics does not show them.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from services.common.event_store import projection_lag

LAG_POSITIONS = Gauge(
    "performance_projection_lag_positions",
    "The ledger's head position minus the highest journal position the projections applied",
)
LAG_SECONDS = Gauge(
    "performance_projection_lag_seconds",
    "Age of the oldest event stored in the ledger past the highest position applied (0: none)",
)

REPLAY = CollectorRegistry()
REPLAY_APPLIED = Gauge(
    "performance_replay_events_applied",
    "Events the running replay has folded into its shadow tables so far",
    registry=REPLAY,
)
REPLAY_EXPECTED = Gauge(
    "performance_replay_events_expected",
    "Events the running replay has to fold (the year's, as the live projections had them)",
    registry=REPLAY,
)


async def refresh_projection_lag(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        positions, seconds = await projection_lag(conn)
    LAG_POSITIONS.set(positions)
    LAG_SECONDS.set(seconds)


def serve_replay_progress(host: str, port: int) -> None:
    """The replay's gauges at http://host:port/metrics, from a thread, until the process ends."""
    start_http_server(port, addr=host, registry=REPLAY)


def replay_progress(done: int, total: int) -> None:
    """A replay's progress callback (services.performance.replay.Progress)."""
    REPLAY_APPLIED.set(done)
    REPLAY_EXPECTED.set(total)
