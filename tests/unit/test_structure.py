"""Structure rules of the code base, and a repository that stands alone.

- No module over 400 lines and no function or method over 60 lines (from its ``def`` line to
  its last line), in the product and tooling packages (not in tests). The only exceptions
  are modules that are mostly data tables or declarations, listed below with a reason and a
  ceiling of their own.
- Nothing refers to files outside the repository, and docs/contract.md carries the sentences
  the generated AsyncAPI document describes the topics with (schemas/topics.py).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from schemas import topics

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "services", "deploy", "demo", "bench")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# path -> (ceiling, reason). Keep it short: code is split, not listed here.
MODULE_EXCEPTIONS: dict[str, tuple[int, str]] = {
    "schemas/events.py": (
        520,
        "the contract's pydantic model declarations, one small class per payload and event "
        "type, with their field descriptions; splitting them would scatter the contract",
    ),
}
# "path:qualified.name" -> (ceiling, reason); none today
FUNCTION_EXCEPTIONS: dict[str, tuple[int, str]] = {}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _functions(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method, with its qualified name (Class.method, outer.inner)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((prefix + child.name, child))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _violations() -> list[str]:
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text("utf-8")
        lines = len(text.splitlines())
        ceiling = MODULE_EXCEPTIONS.get(rel, (MAX_MODULE_LINES, ""))[0]
        if lines > ceiling:
            found.append(f"{rel}: module has {lines} lines (max {ceiling})")
        for name, node in _functions(ast.parse(text, rel)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            limit = FUNCTION_EXCEPTIONS.get(f"{rel}:{name}", (MAX_FUNCTION_LINES, ""))[0]
            if length > limit:
                found.append(f"{rel}:{node.lineno}: {name}() has {length} lines (max {limit})")
    return found


def test_modules_and_functions_are_small() -> None:
    violations = _violations()
    assert not violations, "too long:\n" + "\n".join(violations)


@pytest.mark.parametrize("rel", sorted(MODULE_EXCEPTIONS))
def test_module_exceptions_are_still_needed(rel: str) -> None:
    """An exception that is no longer needed is removed, so that the list stays short."""
    path = ROOT / rel
    assert path.exists(), f"{rel} is listed in MODULE_EXCEPTIONS but does not exist"
    lines = len(path.read_text("utf-8").splitlines())
    assert lines > MAX_MODULE_LINES, f"{rel} has {lines} lines: remove it from MODULE_EXCEPTIONS"


def test_function_exceptions_are_still_needed() -> None:
    lengths = {}
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        for name, node in _functions(ast.parse(path.read_text("utf-8"), rel)):
            lengths[f"{rel}:{name}"] = (node.end_lineno or node.lineno) - node.lineno + 1
    stale = [key for key in FUNCTION_EXCEPTIONS if lengths.get(key, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"remove from FUNCTION_EXCEPTIONS: {stale}"


def _repository_files() -> list[Path]:
    """The files git tracks or would add (not ignored), as the repository a user clones."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        skip = {".git", ".venv", ".data", "__pycache__", ".mypy_cache", ".ruff_cache"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


# a path outside the repository, or the client's specification instead of docs/contract.md
OUTSIDE = re.compile(r"\.\./shared|shared/seed/|shared/CONTRACT|\bCONTRACT\.md")


def test_nothing_refers_outside_the_repository() -> None:
    outside = OUTSIDE
    found = []
    for path in _repository_files():
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if outside.search(line) and path != Path(__file__).resolve():
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "references to files outside the repository:\n" + "\n".join(found)


def test_contract_page_carries_the_asyncapi_descriptions() -> None:
    page = " ".join((ROOT / "docs" / "contract.md").read_text("utf-8").split())
    missing = [s for s in topics.SENTENCES if " ".join(s.split()) not in page]
    assert not missing, "docs/contract.md lacks these sentences of schemas/topics.py:\n" + (
        "\n".join(missing)
    )
