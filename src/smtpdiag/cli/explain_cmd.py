"""`smtpdiag explain`, `smtpdiag code`, `smtpdiag codes` (exit codes: docs/cli.md).

0  done; 1  the input held no SMTP reply and could not be diagnosed; 2  usage error (bad option,
malformed or unknown code, empty input). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

if TYPE_CHECKING:
    from smtpdiag.knowledge.model import CodeEntry, Lang

EXIT_OK = 0
EXIT_NOT_DIAGNOSED = 1
EXIT_USAGE = 2

# a provider's own tag given to `code`: Yahoo "TSS04", iCloud "CS01", Outlook.com "SC-001"
_TAG_RE = re.compile(r"[A-Z]{2,5}-?[0-9]{1,3}")

_LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(["en", "ru"], case_sensitive=False),
    default=None,
    help="Language of the output (default: from the locale, LC_ALL/LC_MESSAGES/LANG; ru* -> ru).",
)
_JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (schema: docs/json-schema.md)."
)


def _fail(command: str, message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"smtpdiag {command}: {message}", err=True)
    sys.exit(code)


def _print_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _read_stdin(limit: int) -> str:
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(limit)
        return data.decode("utf-8", "replace")
    return sys.stdin.read(limit)


@click.command()
@click.argument("text", nargs=-1)
@click.option("--all", "explain_every", is_flag=True, help="Explain every reply found (e.g. each recipient).")
@_LANG_OPTION
@_JSON_OPTION
def explain(text: tuple[str, ...], explain_every: bool, lang: str | None, as_json: bool) -> None:
    """Explain an SMTP failure: a server reply, a bounce, a log line or an error message.

    TEXT is the failure as you have it; with no TEXT (or "-") it is read from stdin.

    \b
    Examples:
      smtpdiag explain "550 5.1.1 <a@example.com>: User unknown"
      smtpdiag explain --all --lang ru < bounce.eml

    Exit status: 0 explained, 1 no SMTP failure found to explain, 2 usage error.
    """
    from smtpdiag.cli.render import choose_language, make_console, print_diagnosis
    from smtpdiag.explain import explain as do_explain
    from smtpdiag.explain import explain_all
    from smtpdiag.parse import MAX_INPUT_CHARS

    if not text or text == ("-",):
        if sys.stdin is None or (sys.stdin.isatty() and not text):
            _fail("explain", 'give the failure text as an argument, or pipe it in ("-" reads stdin)')
        source = _read_stdin(MAX_INPUT_CHARS * 4)
    else:
        source = " ".join(text)
    if not source.strip():
        _fail("explain", "the input is empty")
    language = choose_language(lang)
    if explain_every:
        diagnoses = explain_all(source, language)
        if as_json:
            _print_json({"schema": "smtpdiag.diagnoses/1", "diagnoses": [d.to_json() for d in diagnoses]})
        else:
            console = make_console()
            for i, d in enumerate(diagnoses):
                if i:
                    console.rule(style="dim")
                print_diagnosis(d, console)
        sys.exit(EXIT_OK if any(d.diagnosed for d in diagnoses) else EXIT_NOT_DIAGNOSED)
    diagnosis = do_explain(source, language)
    if as_json:
        _print_json(diagnosis.to_json())
    else:
        print_diagnosis(diagnosis)
    sys.exit(EXIT_OK if diagnosis.diagnosed else EXIT_NOT_DIAGNOSED)


@click.command()
@click.argument("code_text", metavar="CODE")
@click.option("--vendor", default=None, help="Only this provider's meaning (gmail, microsoft, yahoo, ...).")
@_LANG_OPTION
@_JSON_OPTION
def code(code_text: str, vendor: str | None, lang: str | None, as_json: bool) -> None:
    """Show one code: a reply code (550) or an enhanced status code (5.7.1, X.7.X, 5.X.X).

    Vendor-specific meanings of the same code are listed after it (--vendor to pick one provider's).
    """
    from smtpdiag.cli.render import choose_language, print_entry
    from smtpdiag.explain import entry_text, entry_to_json
    from smtpdiag.knowledge.lookup import (
        InvalidCodeError,
        lookup,
        lookup_vendor,
        normalize_code,
        resolve_vendor,
    )

    language = choose_language(lang)
    try:
        norm = normalize_code(code_text)
    except InvalidCodeError as exc:
        # a provider's own tag: Yahoo "TSS04" / "[TSS04]", iCloud "CS01", Outlook.com "SC-001"
        tag = code_text.strip().strip("[]").upper()
        tagged = lookup_vendor(vendor, tag) if _TAG_RE.fullmatch(tag) else ()
        if not tagged:
            _fail("code", str(exc))
        _show_vendor_only(tag, tagged, language, as_json)
        return
    if vendor is not None and resolve_vendor(vendor) is None:
        _fail("code", f"unknown vendor {vendor!r}")
    entry = lookup(norm.code) if vendor is None else None
    vendor_entries = lookup_vendor(vendor, norm.code) if "X" not in norm.code else ()
    if entry is None and not vendor_entries:
        where = f" for vendor {vendor!r}" if vendor else ""
        _fail("code", f"{norm.code} is not in the knowledge base{where}")
    if as_json:
        _print_json(
            {
                "schema": "smtpdiag.code/1",
                "query": norm.code,
                "lang": language,
                "entry": entry_to_json(entry, language) if entry is not None else None,
                "vendor_entries": [entry_to_json(v, language) for v in vendor_entries],
            }
        )
        return
    texts = [entry_text(v, language) for v in vendor_entries]
    if entry is not None:
        print_entry(entry_text(entry, language), language, texts)
    else:
        first, rest = texts[0], texts[1:]
        print_entry(first, language, rest)


def _show_vendor_only(query: str, entries: Sequence[CodeEntry], language: Lang, as_json: bool) -> None:
    from smtpdiag.cli.render import print_entry
    from smtpdiag.explain import entry_text, entry_to_json

    if as_json:
        _print_json(
            {
                "schema": "smtpdiag.code/1",
                "query": query,
                "lang": language,
                "entry": None,
                "vendor_entries": [entry_to_json(v, language) for v in entries],
            }
        )
        return
    texts = [entry_text(v, language) for v in entries]
    print_entry(texts[0], language, texts[1:])


@click.command()
@click.option(
    "--class", "cls", type=click.Choice(["1", "2", "3", "4", "5"]), default=None, help="Code class."
)
@click.option(
    "--standard/--nonstandard",
    default=None,
    help="Only standard (RFC/IANA) codes, or only non-standard, registry-only and unregistered ones.",
)
@click.option("--vendor", default=None, help="Only this provider's replies (gmail, microsoft, yahoo, ...).")
@click.option(
    "--kind", type=click.Choice(["basic", "enhanced", "vendor"]), default=None, help="Kind of entry."
)
@_LANG_OPTION
@_JSON_OPTION
def codes(
    cls: str | None,
    standard: bool | None,
    vendor: str | None,
    kind: str | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """List the codes of the knowledge base, filtered."""
    from smtpdiag.cli.render import choose_language, print_codes_table
    from smtpdiag.explain import entry_text
    from smtpdiag.knowledge.lookup import ListKind, entry_class, list_codes, resolve_vendor

    language = choose_language(lang)
    if vendor is not None and resolve_vendor(vendor) is None:
        _fail("codes", f"unknown vendor {vendor!r}")
    entries = list_codes(kind=cast("ListKind | None", kind), cls=cls, standard=standard, vendor=vendor)
    if as_json:
        rows = []
        for e in entries:
            t = entry_text(e, language)
            rows.append(
                {
                    "code": t.code,
                    "kind": e.kind,
                    "class": entry_class(e),
                    "standing": e.standing,
                    "vendor": e.vendor or None,
                    "title": t.title,
                    "retry": e.retry,
                    "reason": e.reason,
                }
            )
        _print_json({"schema": "smtpdiag.codes/1", "lang": language, "count": len(rows), "entries": rows})
        return
    print_codes_table(entries, language)
