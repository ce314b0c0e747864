"""GraphiQL without the internet (GRAPHIQL=1): strawberry's GraphiQL page loads React,
GraphiQL and its explorer plugin from unpkg; this one (static/graphiql.html) loads the same
files, at the same versions and integrity hashes, from the gateway itself, under
/static/graphiql/ (static/graphiql/versions.json; `python -m deploy.graphiql_assets`
re-fetches them from the npm registry).

The assets are not PUBLIC: like every route but the probes and /login, /logout, they need
the token. They hold no figures, but the only page that uses them, /graphql, needs the token
anyway, and the browser that shows it sends the HttpOnly cookie ``ledger_token`` with these
same-origin requests (SameSite=Strict allows it), so nobody who could use them is refused;
keeping them behind Authenticate keeps its rule one of exact paths, with no prefix exempted.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/static/graphiql"
# what the page may load: its own scripts and styles from the gateway, GraphQL requests to
# it ('self' covers ws: to the same host for subscriptions), the favicon as a data: URL
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def graphiql_page() -> Response:
    """The GraphiQL page, every asset a URL of the gateway."""
    page = (STATIC / "graphiql.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"content-security-policy": CSP})


def graphiql_assets() -> Mount:
    """/static/graphiql/<package>/<file>: the vendored files (and page/, the page's own)."""
    return Mount(PREFIX, StaticFiles(directory=STATIC / "graphiql"), name="graphiql")
