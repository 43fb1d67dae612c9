"""A short demonstration of smtpdiag (what `make run` runs): `python -m smtpdiag.demo`.

Explains the four failures the seed article's readers asked about, and a few more from everyday
life, in English and in Russian; then shows `smtpdiag code 550` and a filtered `smtpdiag codes`
table. Works offline on a fresh machine: everything comes from the package's own knowledge base.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from smtpdiag.cli.render import make_console, print_codes_table, print_diagnosis, print_entry
from smtpdiag.explain import entry_text, explain
from smtpdiag.knowledge.lookup import list_codes, lookup, lookup_vendor

if TYPE_CHECKING:
    from rich.console import Console

SEED_CASES: tuple[str, ...] = (
    "550 5.7.1 This message is rejected by our SPAM filters. Please refer "
    "https://support.mailhostbox.com/email-administrators-guide-error-codes/ for more information",
    "552 5.2.0 ESMTP server not available AUP#I-1340",
    "452 4.1.0 ESMTP server temporarily unavailable AUP#I-1370",
    "SMTP protocol failure: syntax error: 3-digit code not found;",
)

MORE_CASES: tuple[str, ...] = (
    "<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1 <kijitora@example.jp>: "
    "Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
    "smtplib.SMTPRecipientsRefused: {'anna@example.org': (550, b'5.7.26 This mail has been blocked "
    "because the sender is unauthenticated. Gmail requires all senders to authenticate with either "
    "SPF or DKIM. - gsmtp')}",
    "550 Mailbox full, please try again later",
)


def _rule(console: Console, title: str) -> None:
    console.rule(title, style="dim")


def _compact(console: Console, text: str, lang: str, prefix: str) -> None:
    """One explanation in a few lines: the summary, the notes, and what to do."""
    shown = text if len(text) <= 100 else text[:97] + "..."
    console.print(f"$ smtpdiag explain {prefix}{shown!r}", style="dim", markup=False)
    d = explain(text, lang)
    console.print(d.summary, markup=False, style="bold")
    for note in d.notes:
        console.print(f"  - {note}", markup=False)
    if d.what_to_do:
        label = "Что делать" if lang == "ru" else "What to do"
        console.print(f"  {label}: {d.what_to_do}", markup=False)
    console.print()


def main() -> int:
    console = make_console()
    _rule(console, "smtpdiag explain: the seed readers' questions")
    first, *rest = SEED_CASES
    console.print(f"$ smtpdiag explain {first!r}", style="dim", markup=False)
    print_diagnosis(explain(first, "en"), console)
    console.print()
    for text in rest:
        _compact(console, text, "en", "")
    _rule(console, "smtpdiag explain --lang ru: те же вопросы по-русски")
    for text in SEED_CASES:
        _compact(console, text, "ru", "--lang ru ")
    _rule(console, "a Postfix bounce, a Python exception, a code that contradicts its text")
    for text in MORE_CASES:
        _compact(console, text, "en", "")
    _rule(console, "smtpdiag code 550")
    entry = lookup("550")
    if entry is not None:
        vendors = [entry_text(v, "en") for v in lookup_vendor(None, "550")[:5]]
        print_entry(entry_text(entry, "en"), "en", vendors, console)
    console.print()
    _rule(console, "smtpdiag codes --class 4 --nonstandard")
    print_codes_table(list_codes(cls="4", standard=False), "en", console)
    console.print()
    console.print(
        "Try: smtpdiag explain --help, smtpdiag code 5.7.26, smtpdiag codes --vendor gmail --lang ru"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
