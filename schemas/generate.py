"""Write the JSON Schema files of the contract from the pydantic models, and the AsyncAPI
document of the topics (schemas/json/asyncapi.json), each event with an example.

python -m schemas.generate          # rewrite schemas/json/*.json
python -m schemas.generate --check  # exit 1 when the files drift from the models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas import asyncapi
from schemas.events import ALL_EVENTS
from schemas.examples import DATA, example
from schemas.messages import JournalEntry, Rejection
from schemas.versions import EARLIER_VERSIONS

OUT = Path(__file__).parent / "json"


def _with_example(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "examples": [example(name)]} if name in DATA else schema


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def documents() -> dict[str, str]:
    models: list[type[BaseModel]] = [*ALL_EVENTS, *EARLIER_VERSIONS, JournalEntry, Rejection]
    files = {
        f"{model.__name__}.json": _text(
            _with_example(model.__name__, model.model_json_schema(mode="validation"))
        )
        for model in models
    }
    spec = asyncapi.document()
    schemas = spec["components"]["schemas"]
    spec["components"]["schemas"] = {name: _with_example(name, s) for name, s in schemas.items()}
    files["asyncapi.json"] = _text(spec)
    return files


def main() -> int:
    docs = documents()
    if "--check" in sys.argv:
        drifted = [
            name
            for name, text in docs.items()
            if not (OUT / name).exists() or (OUT / name).read_text("utf-8") != text
        ]
        stale = sorted(p.name for p in OUT.glob("*.json") if p.name not in docs)
        for name in drifted + stale:
            print(f"schemas/json/{name} is out of date: run `make schemas`", file=sys.stderr)
        return 1 if drifted or stale else 0
    OUT.mkdir(exist_ok=True)
    for name, text in docs.items():
        (OUT / name).write_text(text, "utf-8")
    print(f"wrote {len(docs)} schema files to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
