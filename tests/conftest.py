"""Suite-wide guard: never test a stale compiled copy of the sources.

An editable install compiles the bounce-analysis modules with mypyc into C extensions beside
their sources (setup.py), and Python imports the extension in preference to the .py file. After
an edit the extension still holds the old code; `make test` reinstalls first, but a bare `pytest`
would silently test the old code. Stop with a clear message instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "src"


def stale_extensions(root: Path) -> list[str]:
    """Compiled modules under `root` older than the .py source they were built from."""
    stale = []
    for ext in root.rglob("*.so"):
        source = ext.with_name(ext.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > ext.stat().st_mtime:
            stale.append(str(source.relative_to(root)))
    return sorted(stale)


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_extensions(SOURCE_ROOT)
    if stale:
        pytest.exit(
            "compiled modules are older than their sources ("
            + ", ".join(stale[:5])
            + (", ..." if len(stale) > 5 else "")
            + "): run `make test` (it rebuilds them), or `make clean` to go back to pure Python",
            returncode=2,
        )
