"""smtpdiag: turn any SMTP failure into an answer, and reproduce failures on demand.

The public API is small (see README):

    explain(text) -> Diagnosis        lookup(code) -> CodeEntry | None
    analyze(message) -> list[BounceResult]
    send(...) / send_async(...) -> SendResult

Names are imported lazily so that `import smtpdiag` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "explain": "smtpdiag.explain",
    "Diagnosis": "smtpdiag.explain",
    "lookup": "smtpdiag.knowledge.lookup",
    "CodeEntry": "smtpdiag.knowledge.model",
    "Reply": "smtpdiag.reply",
    "analyze": "smtpdiag.bounce.pipeline",
    "BounceResult": "smtpdiag.bounce.result",
    "send": "smtpdiag.client.send",
    "send_async": "smtpdiag.client.send",
    "SendResult": "smtpdiag.client.send",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smtpdiag' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
