"""Bounce analysis: bounce emails -> per-recipient verdicts.

    from smtpdiag.bounce import analyze
    for r in analyze(raw_bytes):            # or an email.message.Message
        print(r.recipient, r.reason, r.hardbounce, r.status, r.replycode, r.command, r.format)

`analyze` never raises on bad input: an unreadable message or one that is not a bounce gives [].
`analyze_report` returns the same results plus an `error` string for callers that keep records.

How it works (Sisimai's shape): `mime.py` reads the message with the stdlib `email` package and
decodes text in any charset; `formats/` turns it into per-recipient facts (RFC 3464/6533 reports,
ARF feedback, RFC 3834 auto-replies, Amazon SES JSON, Google Groups, and a generic scanner for the
plain-text layouts of Postfix, Exim, qmail, Sendmail, Exchange, Domino, ...; `formats/systems.py`
names the mail system); `smtpdiag.classify` decides the reason and whether it is a hard bounce.
"""

from smtpdiag.bounce.pipeline import Report, analyze, analyze_report
from smtpdiag.bounce.result import BounceResult

__all__ = ["BounceResult", "Report", "analyze", "analyze_report"]
