"""The SMTP code knowledge base: basic reply codes, enhanced status codes, vendor replies, reasons."""

from smtpdiag.knowledge.loader import KnowledgeDataError, load_entries, load_reasons
from smtpdiag.knowledge.model import CodeEntry, ReasonEntry, ReasonTexts, Texts

__all__ = [
    "CodeEntry",
    "KnowledgeDataError",
    "ReasonEntry",
    "ReasonTexts",
    "Texts",
    "load_entries",
    "load_reasons",
]
