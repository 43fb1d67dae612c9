"""Bounce formats: one small module per mail system or standard (see `base.py` for the protocol).

`MODULES` is the order they are tried in: specific mail systems first (their detection is
cheap and precise), then the standards (ARF, RFC 3464, RFC 3834), then the generic fallback.
"""

from __future__ import annotations

from types import ModuleType

from smtpdiag.bounce.formats import amazonses, arf, generic, googlegroups, rfc3464, rfc3834

MODULES: tuple[ModuleType, ...] = (arf, amazonses, googlegroups, rfc3464, rfc3834, generic)

__all__ = ["MODULES"]
