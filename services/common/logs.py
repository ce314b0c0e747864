"""The services' logs: one JSON object per line (LOG_FORMAT=json, the default), or the plain
lines of a terminal (LOG_FORMAT=text).

A JSON line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and
``service``, then whatever the call gave as ``extra`` (``event_id``, ``position``,
``department``, ...), and ``exc_info`` with the stack trace of an error. Libraries that
bring handlers of their own (faststream, uvicorn) are given loggers that reach these
handlers instead (services.common.kafka, the gateway's bootstrap).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "text"]


def setup_logging(service: str, log_format: LogFormat, level: int = logging.INFO) -> None:
    """Every record at ``level`` or above, of every logger, to stderr in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)  # also for loggers set lower (faststream's per-batch lines)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                timestamp="time",
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields={"service": service},
                json_ensure_ascii=False,  # department names and messages as they are
            )
        )
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
