"""Re-fetch the GraphiQL assets the gateway serves (services/reporting/static/graphiql/),
``python -m deploy.graphiql_assets``: the files strawberry's GraphiQL page loads from unpkg,
taken from the npm registry's tarballs at the same versions and checked against the page's
integrity hashes (SRI, sha384), each package's LICENSE beside them; versions.json records
what was fetched. To upgrade, copy the versions and hashes of strawberry's new
strawberry/static/graphiql.html into ASSETS (tests/unit/test_graphiql_assets.py compares).
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
# package -> (version, {file in the package: its sha384 integrity from strawberry's page})
ASSETS: dict[str, tuple[str, dict[str, str]]] = {
    "react": (
        "18.2.0",
        {
            "umd/react.production.min.js": "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"
        },
    ),
    "react-dom": (
        "18.2.0",
        {
            "umd/react-dom.production.min.js": "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"
        },
    ),
    "js-cookie": (
        "3.0.5",
        {"dist/js.cookie.min.js": "/vxhYfM1LENRhdpZ8dwEsQn/X4VhpbEZSiU4m/FwR+PVpzar4fkEOw8FP9Y+OfQN"},
    ),
    "graphiql": (
        "3.8.3",
        {
            "graphiql.min.css": "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
            "graphiql.min.js": "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
        },
    ),
    "@graphiql/plugin-explorer": (
        "1.0.2",
        {
            "dist/style.css": "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
            "dist/index.umd.js": "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
        },
    ),
}


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
    for package in ASSETS:
        shutil.rmtree(TARGET / package, ignore_errors=True)
    for package, (version, files) in ASSETS.items():
        fetch(package, version, files)
    versions = {package: version for package, (version, _) in ASSETS.items()}
    (TARGET / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    main()
