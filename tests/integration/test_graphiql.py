"""GraphiQL without the internet (services/reporting/graphiql.py) on the real gateway with
GRAPHIQL=1: its page loads nothing but the gateway's own URLs, each served with the right
content type (and behind the token like the page), the vendored files are the ones
strawberry's own page loads (deploy/graphiql_assets.py), and headless Chromium with every
host but 127.0.0.1 unreachable renders the GraphiQL editor, not "Loading..."."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import strawberry

from deploy.graphiql_assets import TARGET, assets, sri
from tests.gateway import Gateway, serving, token
from tests.helpers import CHROMIUM_FLAGS

pytestmark = pytest.mark.integration

REFERENCE = re.compile(r'(?:src|href)="([^"]+)"(?:\s+integrity="sha384-([^"]+)")?')
TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.fixture
async def gateway(database: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with serving(database, tmp_path / "logs", GRAPHIQL="1") as served:
        yield served


def references(page: str) -> list[tuple[str, str | None]]:
    return [(url, integrity or None) for url, integrity in REFERENCE.findall(page)]


async def test_the_page_loads_only_the_gateways_assets(gateway: Gateway) -> None:
    headers = {"authorization": f"Bearer {token()}", "accept": "text/html"}
    response = httpx.get(f"{gateway.url}/graphql", headers=headers, timeout=60)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r"<script>|<style>", response.text)  # nothing inline (the CSP)
    loaded = [(url, integrity) for url, integrity in references(response.text)
              if not url.startswith("data:")]  # fmt: skip
    assert len(loaded) == 9, loaded  # the 7 vendored files, and the page's own script and style
    for url, integrity in loaded:
        assert url.startswith("/static/graphiql/"), f"{url}: not the gateway's"
        served = gateway.get(url, token())
        assert served.status_code == 200, url
        assert served.headers["content-type"].startswith(TYPES[Path(url).suffix]), url
        assert integrity is None or sri(served.content) == integrity, url
        assert gateway.get(url).status_code == 401, f"{url} without a token"
    assert gateway.get("/static/graphiql/..%2Fgraphiql.html", token()).status_code == 404


async def test_the_vendored_files_are_those_strawberrys_page_loads() -> None:
    strawberrys = (Path(strawberry.__file__).parent / "static/graphiql.html").read_text()
    loaded = {(url, integrity) for url, integrity in references(strawberrys)
              if url.startswith("https://")}  # fmt: skip
    vendored = {(f"https://unpkg.com/{package}@{version}/{name}", integrity)
                for package, (version, files) in assets().items()
                for name, integrity in files.items()}  # fmt: skip
    assert loaded == vendored, "strawberry's page changed: update deploy/graphiql_assets.py"
    for package, (_, files) in assets().items():
        assert (TARGET / package / "LICENSE").stat().st_size > 0
        for name, integrity in files.items():
            assert sri((TARGET / package / name).read_bytes()) == integrity, name


async def test_chromium_renders_graphiql_offline(gateway: Gateway, tmp_path: Path) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is missing: `make chromium` installs it"
    url = f"{gateway.url}/login?token={quote(token())}&next=/graphql"
    offline = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
    command = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", offline,
               "--enable-logging=stderr", "--virtual-time-budget=15000", "--dump-dom",
               url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60)
    dom, log = done.stdout.decode(), done.stderr.decode(errors="replace")
    assert done.returncode == 0, log[-2000:]
    assert "Loading..." not in dom, log[-2000:]
    assert "graphiql-query-editor" in dom and "CodeMirror" in dom, dom[-2000:]
    assert "Content Security Policy" not in log, log[-2000:]
    introspected = [line for line in (tmp_path / "logs").read_text().splitlines()
                    if '"operation": "IntrospectionQuery"' in line]  # fmt: skip
    assert introspected and '"status": 200' in introspected[0], "the fetcher sent no cookie"
