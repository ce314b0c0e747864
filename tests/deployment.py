"""What the deployment files (docker-compose.yml, deploy/k8s) may put into a container of
the image: the environment variables the code reads. A misspelt variable would be ignored
by the settings (extra="ignore") and the setting silently keep its default."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings

from deploy.provision import PASSWORD_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
# the one-shots' entry points, beside the services' settings modules
ENTRY_POINTS = ("deploy.create_topics", "deploy.provision")
# a variable read by name: os.environ["X"], os.environ.get("X"), os.getenv("X"), a typer
# option's envvar="X"
READ = re.compile(
    r'(?:os\.environ\[|os\.environ\.get\(|os\.getenv\(|envvar=)\s*"([A-Z][A-Z0-9_]*)"'
)


def _settings_modules() -> list[str]:
    paths = sorted((ROOT / "services").rglob("settings.py"))
    return [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in paths]


@cache
def known_variables() -> frozenset[str]:
    """Every variable a settings class of the services (or of the one-shots) reads, with its
    prefix, and every variable the code reads by name."""
    names: set[str] = set(PASSWORD_VARIABLES.values())
    for module_name in (*_settings_modules(), *ENTRY_POINTS):
        for value in vars(importlib.import_module(module_name)).values():
            if isinstance(value, type) and issubclass(value, BaseSettings):
                prefix = value.model_config.get("env_prefix") or ""
                names |= {f"{prefix}{field}".upper() for field in value.model_fields}
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "deploy").glob("*.py")]:
        names |= set(READ.findall(path.read_text("utf-8")))
    return frozenset(names)


def unknown_variables(names: set[str]) -> list[str]:
    """The names no code reads."""
    return sorted(names - known_variables())
