"""The code's shape, checked: SQL stays in ``detector/store/``, no import cycles, no ``sys.path`` edits.

Read from the source files (``ast``), counting deferred and type-checking imports too: a cycle hidden inside
a function is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("detector", "dashboard")

# Modules outside `detector/store/` still allowed to write SQL: none since issue 14 moved every statement into
# the store. The list may only shrink (a module that no longer needs to be here fails the test below).
SQL_NOT_YET_IN_STORE: set[str] = set()
# Modules outside the store that open a database of their own (not the project's), each with its reason.
OWN_DATABASES = {
    # the embedding cache: normalised-text hash -> vector, optionally persisted in a SQLite file of its own
    "detector.classify.embedding",
}
# Cycles left on purpose, each with its reason; any other cycle fails.
KNOWN_CYCLES: set[frozenset[str]] = set()  # none left: a new one is a failure, not an entry here


def source_modules() -> dict[str, Path]:
    """Every module of the shipped packages by dotted name (``detector/bundled/`` holds data, not code)."""
    found = {}
    for top in PACKAGES:
        for path in (REPO / top).rglob("*.py"):
            if "bundled" in path.relative_to(REPO).parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every module name ``path`` imports anywhere in its body, relative imports made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(kept + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a package's own parents left out: they load first anyway)."""
    modules = source_modules()
    return {
        name: {m for m in imported_names(name, path) if m in modules and m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_detector_or_dashboard():
    unexpected = [sorted(c) for c in cycles(import_graph()) if c not in KNOWN_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}; move the shared piece into a module both can import"


def test_only_the_store_imports_sqlalchemy_or_the_schema():
    writers = set()
    for name, path in source_modules().items():
        if name.startswith("detector.store"):
            continue
        imported = imported_names(name, path)
        if any(m == "sqlalchemy" or m.startswith("sqlalchemy.") or m.startswith("detector.store.schema")
               for m in imported):
            writers.add(name)
    assert not writers - SQL_NOT_YET_IN_STORE, (
        f"{sorted(writers - SQL_NOT_YET_IN_STORE)} import SQLAlchemy or the schema: put the query in detector/store/"
    )
    assert not SQL_NOT_YET_IN_STORE - writers, (
        f"{sorted(SQL_NOT_YET_IN_STORE - writers)} no longer write SQL: take them off SQL_NOT_YET_IN_STORE"
    )


def test_only_the_store_talks_to_a_database_driver():
    """Raw SQL through a driver is SQL too (the dashboard's sample database was written that way)."""
    drivers = ("sqlite3", "psycopg", "psycopg2")
    talking = {
        name for name, path in source_modules().items()
        if not name.startswith("detector.store")
        and any(m.split(".")[0] in drivers for m in imported_names(name, path))
    }
    assert not talking - OWN_DATABASES, (
        f"{sorted(talking - OWN_DATABASES)} use a database driver: put the statements in detector/store/"
    )
    assert not OWN_DATABASES - talking, f"{sorted(OWN_DATABASES - talking)} no longer open a database: unlist them"


def test_nothing_edits_sys_path():
    edits = re.compile(r"\bsys\.path\.(insert|append|extend)\(|\bsys\.path\s*\[[^\]]*\]\s*=|\bsys\.path\s*=")
    offenders = [
        str(path.relative_to(REPO))
        for folder in (*PACKAGES, "tests", "bench", "scripts")
        for path in (REPO / folder).rglob("*.py")
        if "bundled" not in path.relative_to(REPO).parts and edits.search(path.read_text(encoding="utf-8"))
        and path != Path(__file__).resolve()
    ]
    assert not offenders, f"{offenders} edit sys.path: install the project (make install) instead"


def test_the_store_writes_what_alerting_decided():
    """Routing, silences and the resolve rule are alerting's (``detector/alerting/routing.py``): a store module
    that imports the alerting stage is deciding something again."""
    graph = import_graph()
    deciding = sorted(name for name, imports in graph.items() if name.startswith("detector.store")
                      and any(m.startswith("detector.alerting") for m in imports))
    assert not deciding, f"{deciding} import detector.alerting: the store records what alerting decided"


def test_transactions_are_opened_through_the_store():
    """Outside ``detector/store/`` a batch's transaction is ``store.transaction()``: the engine (and how a
    connection is opened) is the store's business."""
    opened = re.compile(r"\.engine\.(begin|connect)\(")
    offenders = sorted(name for name, path in source_modules().items()
                       if not name.startswith("detector.store") and opened.search(path.read_text(encoding="utf-8")))
    assert not offenders, f"{offenders} open the store's engine themselves: use store.transaction() or a store read"


def test_the_cli_starts_without_any_plug_ins_client_library():
    """Every source and channel module is imported for its declaration (the config validates ``[[sources]]``
    against their settings), so each keeps its client library (praw, httpx, feedparser, smtplib) out of its
    top level: the CLI must not pay for them before a source or channel is built."""
    import subprocess
    import sys

    heavy = ("praw", "prawcore", "httpx", "feedparser", "smtplib", "apprise")
    code = ("import sys, detector.cli.main, detector.sources.registry, detector.alerting.channels.registry; "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert not loaded, f"importing the CLI loads {loaded}"
