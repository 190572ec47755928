"""The layers' boundaries, read from the source (``ast``): storage owns SQL, flows is
pure, and the environment is read in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_MODULE = Path("bot/config.py")
ENVIRONMENT = ("environ", "environb", "getenv", "getenvb")


def modules(*folders: str) -> list[Path]:
    return sorted(path.relative_to(ROOT) for folder in folders for path in (ROOT / folder).rglob("*.py"))


def imported(tree: ast.AST) -> set[str]:
    """Every module named by an import anywhere in the file (functions included)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path, packages: tuple[str, ...]) -> list[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), str(path))
    return sorted(name for name in imported(tree)
                  if any(name == package or name.startswith(package + ".") for package in packages))


def environment_reads(path: Path) -> list[int]:
    """Lines that read the process environment: ``os.environ``, ``os.getenv``, or either imported from os."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        reads_os = (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT
                    and isinstance(node.value, ast.Name) and node.value.id == "os")
        imports_from_os = (isinstance(node, ast.ImportFrom) and node.module == "os"
                           and any(alias.name in ENVIRONMENT for alias in node.names))
        if reads_os or imports_from_os:
            found.append(node.lineno)
    return found


def test_the_source_is_found():
    assert Path("bot/__main__.py") in modules("bot") and Path("flows/walk.py") in modules("flows")
    assert SETTINGS_MODULE in modules("bot")


@pytest.mark.parametrize("path", modules("bot", "flows"), ids=str)
def test_only_storage_speaks_sql(path):
    """SQLAlchemy, and the ORM's objects, stay inside storage/."""
    assert imports_of(path, ("sqlalchemy", "storage.models")) == []


@pytest.mark.parametrize("path", modules("flows"), ids=str)
def test_flows_know_neither_slack_nor_storage(path):
    assert imports_of(path, ("bot", "storage", "slack_bolt", "slack_sdk", "sqlalchemy")) == []


@pytest.mark.parametrize("path", [p for p in modules("bot", "flows", "storage") if p != SETTINGS_MODULE], ids=str)
def test_settings_are_read_in_one_place(path):
    """Only bot/config.py reads the environment; everything else is handed its settings."""
    assert environment_reads(path) == []


def test_the_checks_find_what_they_look_for():
    sample = ast.parse("import os\nfrom sqlalchemy.exc import OperationalError\n"
                       "def f():\n    import slack_sdk.web\n    return os.environ.get('X'), os.getenv('Y')\n")
    assert {"sqlalchemy.exc", "slack_sdk.web"} <= imported(sample)
    assert imports_of(Path("storage/db.py"), ("sqlalchemy",)) != []
    assert environment_reads(SETTINGS_MODULE) != []
