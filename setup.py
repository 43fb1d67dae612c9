"""Build hook: compile the bounce-analysis path with mypyc (pyproject.toml holds everything else).

The modules listed in COMPILED_MODULES are plain, strictly typed Python; mypyc turns them into C
extensions, which roughly halves the Python-level cost of analysing a bounce. Nothing else changes:
the same sources run uncompiled when mypyc is unavailable, on an unsupported interpreter, or when
SMTPDIAG_PURE_PYTHON=1 is set (handy while editing them: an editable install would otherwise keep
running the compiled copies until it is reinstalled).
"""

from __future__ import annotations

import os
import platform
import sys

from setuptools import setup

#: The hot path of `smtpdiag bounce` (and of the classifier `explain` shares). Keep this list in
#: step with tests/test_compiled.py, which checks an installed build is not stale.
COMPILED_MODULES = [
    "src/smtpdiag/reply.py",
    "src/smtpdiag/parse.py",
    "src/smtpdiag/vendors.py",
    "src/smtpdiag/classify/__init__.py",
    "src/smtpdiag/classify/codes.py",
    "src/smtpdiag/classify/core.py",
    "src/smtpdiag/classify/lda.py",
    "src/smtpdiag/classify/phraseindex.py",
    "src/smtpdiag/classify/phrases.py",
    "src/smtpdiag/classify/providers.py",
    "src/smtpdiag/bounce/__init__.py",
    "src/smtpdiag/bounce/batch.py",
    "src/smtpdiag/bounce/fastmime.py",
    "src/smtpdiag/bounce/fields.py",
    "src/smtpdiag/bounce/inputs.py",
    "src/smtpdiag/bounce/mime.py",
    "src/smtpdiag/bounce/pipeline.py",
    "src/smtpdiag/bounce/result.py",
    "src/smtpdiag/bounce/scoring.py",
    "src/smtpdiag/bounce/formats/__init__.py",
    "src/smtpdiag/bounce/formats/amazonses.py",
    "src/smtpdiag/bounce/formats/arf.py",
    "src/smtpdiag/bounce/formats/base.py",
    "src/smtpdiag/bounce/formats/fml.py",
    "src/smtpdiag/bounce/formats/generic.py",
    "src/smtpdiag/bounce/formats/googlegroups.py",
    "src/smtpdiag/bounce/formats/rfc3464.py",
    "src/smtpdiag/bounce/formats/rfc3834.py",
    "src/smtpdiag/bounce/formats/systems.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("SMTPDIAG_PURE_PYTHON", "") not in ("", "0"):
        return []
    if platform.python_implementation() != "CPython":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("smtpdiag: mypyc not available, installing pure Python", file=sys.stderr)
        return []
    return list(mypycify(COMPILED_MODULES, opt_level="3", group_name="smtpdiag"))


setup(ext_modules=_ext_modules())
