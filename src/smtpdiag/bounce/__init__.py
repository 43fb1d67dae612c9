"""Bounce analysis: bounce emails -> per-recipient verdicts.

analyze(message_bytes_or_Message) -> list[BounceResult]   (never raises on bad input)
"""

from smtpdiag.bounce.pipeline import Report, analyze, analyze_report
from smtpdiag.bounce.result import BounceResult

__all__ = ["BounceResult", "Report", "analyze", "analyze_report"]
