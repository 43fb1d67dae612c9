"""Shared terminal rendering for the CLI (rich), and the choice of language.

rich is imported inside the functions, so importing this module costs nothing at start-up. Colour is
rich's decision: only on a terminal that supports it, never when NO_COLOR is set or output is piped.
Text that comes from the input (a server's reply) is printed verbatim, never read as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from smtpdiag.explain import Diagnosis, EntryText
from smtpdiag.knowledge.model import CodeEntry, Lang
from smtpdiag.language import default_language, resolve_language

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "choose_language",
    "default_language",
    "make_console",
    "print_codes_table",
    "print_diagnosis",
    "print_entry",
]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "meaning": "What it means",
        "causes": "Likely causes",
        "sender": "What the sender should do",
        "admin": "What the server admin should do",
        "retry": "Retry",
        "refs": "References",
        "notes": "Notes",
        "reason": "Reason",
        "command": "Command",
        "host": "Remote host",
        "recipient": "Recipient",
        "reply": "Reply",
        "hard": "Hard bounce: the address itself is bad; remove it from your lists.",
        "soft": "Soft bounce: the address is fine; the problem is elsewhere.",
        "todo": "What to do",
        "vendor-meanings": "What providers mean by this code",
        "code": "Code",
        "kind": "Kind",
        "title": "Title",
        "standing": "Standing",
        "vendor": "Vendor",
        "count": "{n} entries",
        "standard": "standard",
        "non-standard": "non-standard",
        "registry-only": "registry only",
        "unregistered": "unregistered",
        "details": "Code details",
    },
    "ru": {
        "meaning": "Что это значит",
        "causes": "Вероятные причины",
        "sender": "Что делать отправителю",
        "admin": "Что делать администратору сервера",
        "retry": "Повтор",
        "refs": "Ссылки",
        "notes": "Примечания",
        "reason": "Причина",
        "command": "Команда",
        "host": "Удалённый сервер",
        "recipient": "Получатель",
        "reply": "Ответ",
        "hard": "Жёсткий отказ: плох сам адрес; удалите его из списков рассылки.",
        "soft": "Мягкий отказ: с адресом всё в порядке, проблема в другом.",
        "todo": "Что делать",
        "vendor-meanings": "Что этот код значит у почтовых провайдеров",
        "code": "Код",
        "kind": "Вид",
        "title": "Название",
        "standing": "Статус",
        "vendor": "Провайдер",
        "count": "записей: {n}",
        "standard": "стандартный",
        "non-standard": "нестандартный",
        "registry-only": "только в реестре",
        "unregistered": "не зарегистрирован",
        "details": "Подробности о кодах",
    },
}


def choose_language(lang: str | None) -> Lang:
    """The language for output: the --lang value when given, else the locale (ru* -> ru, else en)."""
    return resolve_language(lang)


def make_console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False)


def _label(lang: Lang, key: str, **kw: Any) -> str:
    text = LABELS[lang][key]
    return text.format(**kw) if kw else text


def _heading(console: Console, text: str) -> None:
    console.print(text, style="bold", markup=False)


def _para(console: Console, text: str, indent: int = 2, first: str | None = None) -> None:
    """A paragraph wrapped to the console width with a hanging indent (no trailing padding)."""
    import textwrap

    from rich.text import Text

    pad = " " * indent
    width = max(20, (console.width or 80) - 1)
    wrapped = textwrap.fill(
        text,
        width=width,
        initial_indent=first if first is not None else pad,
        subsequent_indent=pad,
        break_long_words=False,
        break_on_hyphens=False,
    )
    console.print(Text(wrapped), soft_wrap=True)


def _bullets(console: Console, items: Iterable[str]) -> None:
    for item in items:
        _para(console, item, indent=4, first="  - ")


def print_diagnosis(diagnosis: Diagnosis, console: Console | None = None) -> None:
    """A diagnosis for a human: summary first, then the facts, what to do, and the code details."""
    from rich.text import Text

    console = console or make_console()
    lang = diagnosis.lang
    d = diagnosis
    style = (
        "green"
        if (d.reply_code or 0) and (d.reply_code or 0) < 400
        else ("red" if d.permanent else ("yellow" if d.permanent is False else "cyan"))
    )
    console.print(Text(d.summary, style=f"bold {style}"))
    facts: list[tuple[str, str]] = []
    if d.reply_code is not None or d.enhanced_code:
        reply = " ".join(str(x) for x in (d.reply_code, d.enhanced_code) if x)
        facts.append((_label(lang, "reply"), f"{reply} {d.text}".strip()))
    if d.reason not in ("undefined", "onhold"):
        facts.append((_label(lang, "reason"), f"{d.reason_title} ({d.reason})"))
    if d.command:
        facts.append((_label(lang, "command"), d.command))
    if d.remote_host:
        facts.append((_label(lang, "host"), d.remote_host))
    if d.recipient:
        facts.append((_label(lang, "recipient"), d.recipient))
    if d.vendor_name:
        facts.append((_label(lang, "vendor"), d.vendor_name))
    for name, value in facts:
        line = Text()
        line.append(f"{name}: ", style="bold")
        line.append(value)
        console.print(line)
    if d.found == "reply" and d.permanent is not None and (d.reply_code or 500) >= 400:
        console.print(
            Text(_label(lang, "hard" if d.hardbounce else "soft"), style="magenta" if d.hardbounce else "")
        )
    if d.reason_meaning and d.found == "reply" and d.reason not in ("undefined", "onhold"):
        _para(console, d.reason_meaning, indent=0)
    if d.what_to_do:
        console.print()
        _heading(console, _label(lang, "todo"))
        _para(console, d.what_to_do)
    if d.retry_advice and d.found != "none":
        _heading(console, _label(lang, "retry"))
        _para(console, d.retry_advice)
    if d.notes:
        console.print()
        _heading(console, _label(lang, "notes"))
        _bullets(console, d.notes)
    if d.entries:
        console.print()
        _heading(console, _label(lang, "details"))
        for entry in d.entries:
            _print_entry_text(console, entry, lang, brief=True)


def _print_entry_text(console: Console, e: EntryText, lang: Lang, *, brief: bool = False) -> None:
    from rich.text import Text

    title = Text()
    code = f"{e.vendor} {e.code}" if e.vendor else e.code
    title.append(code, style="bold cyan")
    title.append(f"  {e.title}", style="bold")
    if e.standing != "standard":
        title.append(
            f"  [{_label(lang, e.standing) if e.standing in LABELS[lang] else e.standing}]", style="yellow"
        )
    console.print(title)
    _para(console, e.meaning)
    if brief:
        return
    _heading(console, _label(lang, "causes"))
    _bullets(console, e.causes)
    _heading(console, _label(lang, "sender"))
    _para(console, e.sender_action)
    _heading(console, _label(lang, "admin"))
    _para(console, e.admin_action)
    _heading(console, _label(lang, "retry"))
    _para(console, e.retry_advice)
    if e.references:
        _heading(console, _label(lang, "refs"))
        _para(console, "; ".join(e.references))


def print_entry(
    entry: EntryText,
    lang: Lang,
    vendor_entries: Sequence[EntryText] = (),
    console: Console | None = None,
) -> None:
    """One knowledge-base entry in full, then the vendors' own meanings of the same code."""
    console = console or make_console()
    _print_entry_text(console, entry, lang)
    if vendor_entries:
        console.print()
        _heading(console, _label(lang, "vendor-meanings"))
        for v in vendor_entries:
            _para(console, f"{v.vendor} {v.code}: {v.title}", indent=4, first="  - ")


def print_codes_table(entries: Sequence[CodeEntry], lang: Lang, console: Console | None = None) -> None:
    """The `codes` table: code, kind, standing, title (and vendor for vendor entries)."""
    from rich.table import Table

    console = console or make_console()
    has_vendor = any(e.kind == "vendor" for e in entries)
    table = Table(show_lines=False, header_style="bold", caption=_label(lang, "count", n=len(entries)))
    table.add_column(_label(lang, "code"), style="cyan", no_wrap=True)
    if has_vendor:
        table.add_column(_label(lang, "vendor"), no_wrap=True)
    table.add_column(_label(lang, "kind"), no_wrap=True)
    table.add_column(_label(lang, "standing"), no_wrap=True)
    table.add_column(_label(lang, "title"))
    for e in entries:
        code = (e.enhanced_code or e.reply_code or e.code) if e.kind == "vendor" else e.code
        standing = _label(lang, e.standing) if e.standing in LABELS[lang] else e.standing
        row = [code]
        if has_vendor:
            row.append(e.vendor_name or e.vendor)
        row.extend([e.kind, standing, e.text(lang).title])
        table.add_row(*row)
    console.print(table)
