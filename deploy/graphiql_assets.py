"""Re-fetch the GraphiQL assets the gateway serves (services/reporting/static/graphiql/),
``python -m deploy.graphiql_assets``: the files strawberry's GraphiQL page loads from unpkg,
taken from the npm registry's tarballs at the same versions and checked against the page's
integrity hashes (SRI, sha384), each package's LICENSE beside them. What is fetched is
static/graphiql/versions.json: to upgrade, copy the versions and hashes of strawberry's new
strawberry/static/graphiql.html there (tests/integration/test_graphiql.py compares them).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
import urllib.request
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "services/reporting/static/graphiql"
REGISTRY = "https://registry.npmjs.org"
MANIFEST = TARGET / "versions.json"  # package -> its version and {file: its sha384 (SRI)}


def assets() -> dict[str, tuple[str, dict[str, str]]]:
    """What to fetch, from versions.json: package -> (version, {file: integrity})."""
    manifest = json.loads(MANIFEST.read_text())
    return {package: (entry["version"], entry["files"]) for package, entry in manifest.items()}


def sri(data: bytes) -> str:
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


def fetch(package: str, version: str, files: dict[str, str]) -> None:
    url = f"{REGISTRY}/{package}/-/{package.rpartition('/')[2]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as response:
        tarball = tarfile.open(fileobj=io.BytesIO(response.read()), mode="r:gz")
    members = {m.name.removeprefix("package/"): m for m in tarball.getmembers() if m.isfile()}
    license_ = next((n for n in members if n.upper() in ("LICENSE", "LICENSE.MD")), None)
    for name, integrity in files.items():
        data = tarball.extractfile(members[name]).read()  # type: ignore[union-attr]
        if sri(data) != integrity:
            raise SystemExit(f"{package}@{version}/{name}: sha384 {sri(data)} != {integrity}")
        (TARGET / package / name).parent.mkdir(parents=True, exist_ok=True)
        (TARGET / package / name).write_bytes(data)
    if license_:
        license_text = tarball.extractfile(members[license_]).read()  # type: ignore[union-attr]
    else:  # @graphiql/plugin-explorer ships none: its package.json's license field
        meta = json.load(tarball.extractfile(members["package.json"]))  # type: ignore[arg-type]
        note = f"{meta['license']} (package.json of {package}@{version}; no LICENSE file)\n"
        license_text = note.encode()
    (TARGET / package / "LICENSE").write_bytes(license_text)


def main() -> None:
    for package, (version, files) in assets().items():
        shutil.rmtree(TARGET / package, ignore_errors=True)
        fetch(package, version, files)


if __name__ == "__main__":
    main()
