"""Rules about how Clarion's modules use one another, checked on their source.

A name with a leading underscore is private to the module that defines it: another
module that needs it asks for it to be made public (with a docstring saying what it
promises), so the owner can change its private helpers without breaking a caller it
cannot see. Tests may reach private names; application code may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import clarion

ROOT = Path(clarion.__file__).resolve().parent


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _application_modules() -> list[Path]:
    """Every module under clarion/ except tests and migrations."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts:
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        found.append(path)
    return found


def private_imports(source: str) -> list[tuple[int, str]]:
    """``(line, "from module import _name")`` for each private name ``source`` imports
    from another module."""
    offenders = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            offenders += [
                (node.lineno, f"from {module} import {alias.name}")
                for alias in node.names
                if _is_private(alias.name)
            ]
        elif isinstance(node, ast.Import):
            offenders += [
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if any(_is_private(part) for part in alias.name.split("."))
            ]
    return offenders


def test_no_module_imports_another_modules_private_name():
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{line}: {statement}"
        for path in _application_modules()
        for line, statement in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, (
        "These imports reach another module's private (underscore) names; make the name "
        "public with a docstring in the module that owns it:\n" + "\n".join(offenders)
    )


def test_private_import_check_sees_every_form_of_import():
    source = (
        "from clarion.api.views import json_body, _page\n"
        "from .views import _with_csp as with_csp\n"
        "import clarion.api._internal\n"
        "from clarion.core import __version__\n"
        "from . import views\n"
    )
    assert private_imports(source) == [
        (1, "from clarion.api.views import _page"),
        (2, "from .views import _with_csp"),
        (3, "import clarion.api._internal"),
    ]
    assert len(_application_modules()) > 100
