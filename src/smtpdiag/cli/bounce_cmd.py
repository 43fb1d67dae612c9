"""`smtpdiag bounce PATH...`: per-recipient verdicts for bounce emails.

The analysis modules are imported when the command runs, not with this module, so that
`smtpdiag bounce --help` answers at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from smtpdiag.bounce.batch import Record

#: Inputs beyond which a progress display is shown on an interactive stderr.
PROGRESS_THRESHOLD = 50

CSV_COLUMNS = (
    "file",
    "recipient",
    "action",
    "status",
    "replycode",
    "reason",
    "hardbounce",
    "command",
    "remote_mta",
    "reporting_mta",
    "date",
    "format",
    "diagnostic",
    "explanation",
    "error",
)


def _explanation(reason: str, lang: str) -> dict[str, str]:
    from smtpdiag.knowledge import load_reasons

    entry = load_reasons().get(reason)
    if entry is None:
        return {}
    text = entry.text(lang)
    return {"title": text.title, "meaning": text.meaning, "sender_action": text.sender_action}


def _with_explanations(records: Iterator[Record], lang: str) -> Iterator[Record]:
    # An explanation depends on the reason alone (static knowledge data): look each reason up once
    # per run. The results of one reason share the dict; nothing downstream modifies it.
    explanations: dict[str, dict[str, str]] = {}
    for record in records:
        for result in record["results"]:
            reason = str(result.get("reason", ""))
            explanation = explanations.get(reason)
            if explanation is None:
                explanation = explanations[reason] = _explanation(reason, lang)
            result["explanation"] = explanation
        yield record


def _explanation_json(lang: str) -> Callable[[str], str]:
    """reason -> the JSON text of its explanation, encoded once per reason (static knowledge data)."""
    texts: dict[str, str] = {}

    def explanation_json(reason: str) -> str:
        text = texts.get(reason)
        if text is None:
            text = texts[reason] = _to_json(_explanation(reason, lang))
        return text

    return explanation_json


def _progress(records: Iterator[Record], enabled: bool) -> Iterator[Record]:
    # without a progress bar the records pass straight through: no generator layer per record
    return _with_progress_bar(records) if enabled else records


def _with_progress_bar(records: Iterator[Record]) -> Iterator[Record]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.completed} messages"),
        BarColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("bounce", total=None, rate="")
        for record in records:
            progress.update(task, advance=1)
            elapsed = progress.tasks[0].elapsed or 0.0
            if elapsed > 0:
                progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:,.0f} msg/s")
            yield record


def _source(record: Record) -> str:
    return f"{record['file']}:{record['message']}" if "message" in record else str(record["file"])


# Same text as json.dumps(obj, ensure_ascii=False), without building an encoder per call and
# without the reference-cycle bookkeeping (records are trees of str, int, bool, list and dict).
_to_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

#: Errors listed per file in --json output; beyond that they are only counted.
MAX_ERRORS_LISTED = 100


def _result_json(
    result: dict[str, Any], message: int | None, explanation_json: Callable[[str], str] | None
) -> str:
    """A result's JSON text, followed by the keys the listing adds: "explanation", then "message".

    The explanation arrives already encoded: it is the same text for every result of a reason.
    """
    extra = ""
    if explanation_json is not None:
        extra = ', "explanation": ' + explanation_json(str(result.get("reason", "")))
    if message is not None:
        extra += ', "message": ' + _to_json(message)
    text = _to_json(result)
    if not extra:
        return text
    return "{" + extra[2:] + "}" if text == "{}" else text[:-1] + extra + "}"


def _write_json(
    records: Iterator[Record], out: IO[str], explanation_json: Callable[[str], str] | None = None
) -> int:
    """One JSON object per input FILE: the results of all of an mbox's messages are merged.

    Written as the records arrive, so an mbox of any size streams in flat memory:
    `{"file": PATH, "results": [...], "messages": N?, "errors": [...]?, "truncated": true?}`.
    Each result gets `"explanation"` from `explanation_json` (when given) and, for a message of an
    mbox, `"message": N`.
    """
    errors = 0
    current: str | None = None
    first_result = True
    file_errors: list[dict[str, Any]] = []
    file_messages = 0
    file_truncated = False

    def file_end() -> str:
        end = "]"
        if file_messages > 1:
            end += f', "messages": {file_messages}'
        if file_errors:
            end += ', "errors": ' + _to_json(file_errors) + ', "error": ' + _to_json(file_errors[0]["error"])
        if file_truncated:
            end += ', "truncated": true'
        return end + "}\n"

    for record in records:
        # one write per record: the file's opening (and the previous file's end) with its results
        text = ""
        if record["file"] != current:
            if current is not None:
                text = file_end()
            current = record["file"]
            text += '{"file": ' + _to_json(current) + ', "results": ['
            first_result, file_errors, file_messages, file_truncated = True, [], 0, False
        file_messages += 1
        if "truncated" in record:
            file_truncated = file_truncated or bool(record["truncated"])
        if "error" in record:
            errors += 1
            if len(file_errors) < MAX_ERRORS_LISTED:
                file_errors.append({"message": record.get("message", 1), "error": record["error"]})
        results = record["results"]
        if results:
            message = record.get("message")
            listed = ", ".join(_result_json(result, message, explanation_json) for result in results)
            text += listed if first_result else ", " + listed
            first_result = False
        if text:
            out.write(text)
    if current is not None:
        out.write(file_end())
    return errors


def _write_csv(records: Iterator[Record], out: IO[str]) -> int:
    import csv

    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    errors = 0
    for record in records:
        if "error" in record:
            errors += 1
            writer.writerow({"file": _source(record), "error": record["error"]})
        for result in record["results"]:
            row: dict[str, Any] = {"file": _source(record), **result}
            row["hardbounce"] = "yes" if result.get("hardbounce") else "no"
            row["explanation"] = result.get("explanation", {}).get("title", "")
            writer.writerow(row)
    return errors


#: Longest diagnostic shown in the human-readable listing (JSON/CSV carry it whole).
MAX_DIAGNOSTIC_SHOWN = 300

_LABELS = {
    "en": {"hard": "hard bounce", "soft": "soft", "at": "at", "no": "not a bounce: no failed recipients"},
    "ru": {
        "hard": "жёсткий отказ",
        "soft": "мягкий",
        "at": "на шаге",
        "no": "не отчёт о недоставке: отказов нет",
    },
}


def _write_listing(records: Iterator[Record], lang: str) -> int:
    """Human-readable: one block per message, two lines per recipient (verdict, then why)."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    labels = _LABELS["ru" if lang == "ru" else "en"]
    errors = messages = results = 0
    for record in records:
        messages += 1
        console.print(f"[bold]{escape(_source(record))}[/bold]")
        if "error" in record:
            errors += 1
            console.print(f"  [red]error:[/red] {escape(record['error'])}")
            continue
        if not record["results"]:
            console.print(f"  [dim]{labels['no']}[/dim]")
        for result in record["results"]:
            results += 1
            hard = bool(result.get("hardbounce"))
            colour = "red" if hard else "yellow"
            verdict = [f"[bold {colour}]{escape(str(result.get('reason', '')))}[/bold {colour}]"]
            verdict.append(labels["hard"] if hard else labels["soft"])
            code = " ".join(str(result.get(k) or "") for k in ("replycode", "status")).strip()
            if code:
                verdict.append(code)
            if result.get("command"):
                verdict.append(f"{labels['at']} {result['command']}")
            if result.get("action") and result.get("action") != "failed":
                verdict.append(str(result["action"]))
            console.print(f"  {escape(str(result.get('recipient', '')))}  " + " · ".join(verdict))
            title = result.get("explanation", {}).get("title", "")
            diagnostic = " ".join(str(result.get("diagnostic", "")).split())[:MAX_DIAGNOSTIC_SHOWN]
            why = " — ".join(part for part in (title, diagnostic) if part)
            if why:
                console.print(f"    [dim]{escape(why)}[/dim]")
    if lang == "ru":
        summary = f"сообщений: {messages}, получателей с результатом: {results}, ошибок: {errors}"
    else:
        summary = f"{messages} message(s), {results} result(s), {errors} error(s)"
    console.print(summary, style="dim")
    return errors


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message (JSON lines).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per recipient.")
@click.option(
    "--jobs", "-j", type=int, default=1, show_default=True, help="Worker processes; 0 = one per core."
)
@click.option("--lang", type=click.Choice(["en", "ru"]), default=None, help="Language of explanations.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a TTY).")
def bounce(
    paths: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    jobs: int,
    lang: str | None,
    progress: bool | None,
) -> None:
    """Analyse bounce emails: .eml files, directories, Maildir folders, mbox files, or - for stdin.

    Prints, per failed (or delayed) recipient, the reason, hard/soft, status, reply code, the SMTP
    step and the diagnostic. Exit status: 0 all inputs analysed, 1 some input could not be read or
    analysed (the others are still reported), 2 bad usage.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if not paths:
        if sys.stdin.isatty():
            raise click.UsageError("give PATH... (files, directories, mbox, Maildir) or - for stdin")
        paths = ("-",)
    # imported here, not with this module, so that --help and usage errors answer at once
    from smtpdiag.bounce.batch import analyze_all
    from smtpdiag.bounce.inputs import InputError, check_paths, iter_inputs
    from smtpdiag.language import resolve_language

    try:
        check_paths(paths)
    except InputError as exc:
        raise click.UsageError(str(exc)) from None
    language = resolve_language(lang)
    messages = iter_inputs(paths, stdin=sys.stdin.buffer)
    show_progress = progress if progress is not None else sys.stderr.isatty()
    try:
        records = _progress(analyze_all(messages, jobs=jobs), show_progress)
        if as_json:  # JSON splices in each reason's explanation, encoded once
            errors = _write_json(records, sys.stdout, _explanation_json(language))
        elif as_csv:
            errors = _write_csv(_with_explanations(records, language), sys.stdout)
        else:
            errors = _write_listing(_with_explanations(records, language), language)
    except InputError as exc:
        click.echo(f"smtpdiag bounce: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.stderr.close()  # reader went away (e.g. `| head`): not an error of ours
        sys.exit(0)
    sys.exit(1 if errors else 0)
