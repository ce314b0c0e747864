"""Figures already answered, shared by the gateway's requests until the projections change.

Every batch function of the loaders reads only the projections (and the day "now" is, part
of the key), so an answer stands until the projections are written again: one query of
their version per request (``projections.VERSION``) tells whether the cache still holds, and
any change empties it.

A request stores what it computed under the version it read before its queries: if the
projections moved on meanwhile, the next request sees the new version and drops it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import asyncpg
from cachetools import LRUCache
from prometheus_client import Counter

from services.common.projections import VERSION

LOOKUPS = Counter(
    "gateway_figures_cache_total", "Figures asked of the gateway's cache", ["outcome"]
)


class FiguresCache:
    # a department-year's figures: 11 kB pickled, a few tens of kB in memory
    def __init__(self, maxsize: int = 2_000) -> None:
        self.version: str | None = None
        self._entries: LRUCache[Hashable, Any] = LRUCache(maxsize)

    async def current(self, conn: asyncpg.Connection) -> str:
        """The projections' version now; the cache is emptied if it has moved on."""
        version: str = await conn.fetchval(VERSION)
        if version != self.version:
            self._entries.clear()
            self.version = version
        return version

    def get(self, version: str, key: Hashable) -> tuple[bool, Any]:
        """(found, the answer) of a key, for a request that read ``version``."""
        found = version == self.version and key in self._entries
        LOOKUPS.labels("hit" if found else "miss").inc()
        return found, self._entries[key] if found else None

    def put(self, version: str, key: Hashable, value: Any) -> None:
        if version == self.version:
            self._entries[key] = value
