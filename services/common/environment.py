"""Settings read from the environment, refused in one line that names what to set."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)

OPERATOR_HINT = (
    " (`make run` prints each command with the DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS "
    "of its stack)"
)


def from_environment(settings: type[S], hint: str = "") -> S:
    """``settings()``, or exit with one line per variable missing or invalid (no traceback),
    e.g. ``DATABASE_URL is not set: PostgreSQL DSN, ...``; ``hint`` ends the message when
    a variable is missing."""
    try:
        return settings()
    except ValidationError as error:
        problems, missing = [], False
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            field = settings.model_fields.get(name)
            if problem["type"] == "missing":
                missing = True
                about = f": {field.description}" if field and field.description else ""
                problems.append(f"{name.upper()} is not set{about}")
            else:
                variable = f"{name.upper()}: " if name else ""
                problems.append(variable + problem["msg"].removeprefix("Value error, "))
        raise SystemExit("; ".join(problems) + (hint if missing else "")) from None
