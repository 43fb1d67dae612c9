"""Bounce formats: one small module per mail system or standard (see `base.py` for the protocol).

`MODULES` is the order they are tried in: formats with their own structure first (ARF, Amazon
SES notifications, Google Groups, fml), then RFC 3464 reports, RFC 3834 auto-replies, and the generic
plain-text scanner. For reports and plain text, `systems.py` then names the mail system that
wrote the bounce (Postfix, Exim, qmail, Office 365, ...) from a table of signatures.
"""

from __future__ import annotations

from types import ModuleType

from smtpdiag.bounce.formats import amazonses, arf, fml, generic, googlegroups, rfc3464, rfc3834, systems

MODULES: tuple[ModuleType, ...] = (arf, amazonses, googlegroups, fml, rfc3464, rfc3834, generic)

__all__ = ["MODULES", "systems"]
