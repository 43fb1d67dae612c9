"""The mypyc build (setup.py) and its stale-build guard (conftest.py)."""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

from conftest import stale_extensions

ROOT = Path(__file__).resolve().parent.parent


def test_compiled_modules_exist_and_are_typed_package_modules() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    listed = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "COMPILED_MODULES" for t in node.targets)
    )
    assert isinstance(listed, ast.List)
    paths = [ast.literal_eval(element) for element in listed.elts]
    assert len(paths) == len(set(paths))
    for path in paths:
        assert (ROOT / path).is_file(), path
        assert path.startswith("src/smtpdiag/") and path.endswith(".py")


def test_a_source_newer_than_its_extension_is_reported(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    fresh_source, fresh_ext = package / "fresh.py", package / "fresh.cpython-311-x86_64-linux-gnu.so"
    old_source, old_ext = package / "old.py", package / "old.cpython-311-x86_64-linux-gnu.so"
    for path in (fresh_source, fresh_ext, old_source, old_ext):
        path.write_text("")
    now = time.time()
    os.utime(fresh_source, (now - 10, now - 10))
    os.utime(fresh_ext, (now, now))
    os.utime(old_ext, (now - 10, now - 10))
    os.utime(old_source, (now, now))
    assert stale_extensions(tmp_path) == ["pkg/old.py"]
