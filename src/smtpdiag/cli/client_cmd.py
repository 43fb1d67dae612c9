"""`smtpdiag probe`, `smtpdiag send`, `smtpdiag queue list|retry|flush`: the client side.

Exit codes follow sysexits.h (documented in docs/client.md): 0 ok, 64 usage, 65 bad message
input, 68 no such host (DNS), 69 permanent failure, 75 temporary failure, 76 protocol error (the
peer did not speak SMTP).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from smtpdiag.client.exitcodes import (
    EX_CANTCREAT,
    EX_DATAERR,
    EX_NOHOST,
    EX_OK,
    EX_PROTOCOL,
    EX_SOFTWARE,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EX_USAGE,
)
from smtpdiag.client.session import Timeouts, TranscriptEntry

PASSWORD_ENV = "SMTPDIAG_PASSWORD"
QUEUE_ENV = "SMTPDIAG_QUEUE_DB"

F = TypeVar("F", bound=Callable[..., Any])


class SysexitsUsageError(click.UsageError):
    exit_code = EX_USAGE


class SysexitsCommand(click.Command):
    """A click command whose usage errors exit with 64 (EX_USAGE) instead of click's 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if isinstance(exc, SysexitsUsageError):
                raise
            raise SysexitsUsageError(exc.format_message(), exc.ctx) from None


class SysexitsGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if isinstance(exc, SysexitsUsageError):
                raise
            raise SysexitsUsageError(exc.format_message(), exc.ctx) from None


def _usage(message: str) -> click.UsageError:
    return SysexitsUsageError(message)


def default_queue_db() -> Path:
    env = os.environ.get(QUEUE_ENV)
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "smtpdiag" / "queue.db"


# -- shared options -------------------------------------------------------------------------------
_TIMEOUT_FIELDS = (
    ("connect", "TCP connect and TLS handshake"),
    ("initial", "the 220 greeting (RFC 5321 4.5.3.2.1)"),
    ("command", "EHLO/HELO, STARTTLS, AUTH, RSET, QUIT"),
    ("mail", "reply to MAIL FROM (4.5.3.2.2)"),
    ("rcpt", "reply to each RCPT TO (4.5.3.2.3)"),
    ("data-init", "the 354 reply to DATA (4.5.3.2.4)"),
    ("data-block", "each data block sent (4.5.3.2.5)"),
    ("data-term", "the reply after the final dot (4.5.3.2.6)"),
)


def timeout_options(func: F) -> F:
    defaults = Timeouts()
    for name, what in reversed(_TIMEOUT_FIELDS):
        default = getattr(defaults, name.replace("-", "_"))
        func = click.option(
            f"--timeout-{name}",
            type=click.FloatRange(min=0.001),
            default=default,
            show_default=True,
            help=f"Seconds to wait for {what}.",
        )(func)
    return func


def _timeouts(kwargs: dict[str, Any]) -> Timeouts:
    values = {
        name.replace("-", "_"): float(kwargs.pop(f"timeout_{name.replace('-', '_')}"))
        for name, _what in _TIMEOUT_FIELDS
    }
    return Timeouts(**values)


def _password(user: str | None) -> str | None:
    if user is None:
        return None
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise _usage(f"--auth needs a password: set {PASSWORD_ENV} or run in a terminal to be asked")
    return str(click.prompt(f"Password for {user}", hide_input=True, err=True))


def _dns_server(value: str | None) -> str | None:
    if value is None:
        return None
    from smtpdiag.client.dns import parse_server

    try:
        parse_server(value)
    except ValueError as exc:
        raise _usage(f"--dns-server: {exc} (expected IP or IP:PORT)") from None
    return value


# -- rendering ------------------------------------------------------------------------------------
def _style_reply(text: str, code: int | None) -> str:
    if code is None:
        return text
    color = "green" if code < 400 else "yellow" if code < 500 else "red"
    return click.style(text, fg=color)


def render_transcript(entries: Sequence[TranscriptEntry]) -> list[str]:
    lines: list[str] = []
    for e in entries:
        stamp = f"{e.at:7.3f}s"
        if e.kind == "client":
            lines.append(f"{stamp}  C: {click.style(e.text, fg='cyan')}")
        elif e.kind == "server":
            code = e.reply.code if e.reply else (int(e.text[:3]) if e.text[:3].isdigit() else None)
            took = f"  ({e.elapsed * 1000:.0f} ms)" if e.elapsed is not None else ""
            positive = e.reply is not None and e.reply.is_positive
            if positive and e.explanation is not None:
                took += f"  - {e.explanation.summary}"  # short: "accepted", "go ahead", ...
            lines.append(f"{stamp}  S: {_style_reply(e.text, code)}{click.style(took, dim=True)}")
            if e.explanation is not None and e.reply is not None and not positive:
                lines.append(f"{'':8}     -> {e.explanation.summary}")
        elif e.kind == "error":
            lines.append(f"{stamp}  ! {click.style(f'{e.step}: {e.text}', fg='red', bold=True)}")
        else:
            lines.append(f"{stamp}  * {click.style(e.text, dim=True)}")
    return lines


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


# -- probe ----------------------------------------------------------------------------------------
@click.command(cls=SysexitsCommand)
@click.argument("target")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=25, show_default=True, help="Port for MX hosts."
)
@click.option("--dns-server", metavar="IP[:PORT]", help="Ask only this DNS server (default: the system's).")
@click.option("--helo", metavar="NAME", help="Name to give in EHLO/HELO (default: this host's FQDN).")
@click.option(
    "--starttls",
    "starttls_mode",
    type=click.Choice(["auto", "require", "never"]),
    default="auto",
    show_default=True,
    help="Use STARTTLS when offered (auto), insist on it (require), or skip it.",
)
@click.option("--tls", "implicit_tls", is_flag=True, help="Implicit TLS from the first byte (port 465).")
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), help="CA bundle to validate against.")
@click.option(
    "--auth", "auth_user", metavar="USER", help=f"Check AUTH; password from ${PASSWORD_ENV} or a prompt."
)
@click.option("--insecure-auth", is_flag=True, help="Allow AUTH without TLS (sends the password in clear).")
@click.option("--from", "mail_from", metavar="ADDR", help="MAIL FROM address to try.")
@click.option("--rcpt", "rcpts", metavar="ADDR", multiple=True, help="RCPT TO address to try (repeatable).")
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also send this message (else no message is sent).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema in docs/client.md).")
@click.option("--lang", type=click.Choice(["en", "ru"]), help="Language of explanations.")
@timeout_options
def probe(target: str, **kwargs: Any) -> None:
    """Probe a mail domain or HOST[:PORT]: DNS, connect, EHLO, STARTTLS, AUTH, MAIL/RCPT; say what fails."""
    from smtpdiag.client.probe import probe_async
    from smtpdiag.client.route import parse_target
    from smtpdiag.client.send import AddressError, MessageError, check_address, check_message

    timeouts = _timeouts(kwargs)
    try:
        parse_target(target, default_port=kwargs["port"])
    except ValueError as exc:
        raise _usage(str(exc)) from None
    try:
        if kwargs["mail_from"] is not None:
            check_address(kwargs["mail_from"], allow_empty=True)
        for rcpt in kwargs["rcpts"]:
            check_address(rcpt)
    except AddressError as exc:
        raise _usage(str(exc)) from None
    data: bytes | None = None
    if kwargs["data_file"]:
        try:
            data = _read_message(kwargs["data_file"])
            check_message(data)
        except MessageError as exc:
            click.echo(f"error: bad message: {exc}", err=True)
            sys.exit(EX_DATAERR)
        if not kwargs["rcpts"]:
            raise _usage("--data needs at least one --rcpt")
    password = _password(kwargs["auth_user"])
    result = asyncio.run(
        probe_async(
            target,
            port=kwargs["port"],
            dns_server=_dns_server(kwargs["dns_server"]),
            helo=kwargs["helo"],
            starttls=kwargs["starttls_mode"],
            implicit_tls=kwargs["implicit_tls"],
            cafile=kwargs["cafile"],
            auth_user=kwargs["auth_user"],
            auth_password=password,
            allow_insecure_auth=kwargs["insecure_auth"],
            mail_from=kwargs["mail_from"],
            rcpts=kwargs["rcpts"],
            data=data,
            timeouts=timeouts,
            lang=kwargs["lang"],
        )
    )
    verdict = result.verdict
    if kwargs["as_json"]:
        _echo_json(result.to_json())
    else:
        for line in render_transcript(result.transcript):
            click.echo(line)
        if result.extensions:
            click.echo("")
            click.echo("Extensions: " + ", ".join(f"{k} {v}".strip() for k, v in result.extensions.items()))
        if result.tls is not None:
            t = result.tls
            click.echo(f"TLS: {t.version} {t.cipher} ({t.bits} bits)")
            click.echo(f"  certificate subject: {t.subject}")
            click.echo(f"  issuer: {t.issuer}{'  (self-signed)' if t.self_signed else ''}")
            click.echo(f"  valid: {t.not_before} .. {t.not_after}")
            if t.verified:
                click.echo(click.style(f"  validates for {result.host}", fg="green"))
            else:
                click.echo(
                    click.style(f"  does NOT validate for {result.host}: {t.verify_error}", fg="yellow")
                )
        click.echo("")
        if verdict.ok:
            click.echo(click.style("VERDICT: OK", fg="green", bold=True) + f" - {verdict.reason}")
        else:
            head = click.style(f"VERDICT: FAILED at {verdict.step}", fg="red", bold=True)
            click.echo(f"{head} - {verdict.reason}")
            if verdict.explanation is not None:
                click.echo(f"  {verdict.explanation.summary}")
    sys.exit(probe_exit_code(verdict.ok, verdict.step, verdict.kind, verdict.transient))


def probe_exit_code(ok: bool, step: str, kind: str, transient: bool | None) -> int:
    if ok:
        return EX_OK
    if kind == "usage":
        return EX_USAGE
    if step == "DNS":
        return EX_TEMPFAIL if transient else EX_NOHOST
    if kind == "protocol":
        return EX_PROTOCOL
    if transient:
        return EX_TEMPFAIL
    return EX_UNAVAILABLE


def _read_message(path: str) -> bytes:
    from smtpdiag.client.send import MAX_MESSAGE_OCTETS, MessageError

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_MESSAGE_OCTETS + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_MESSAGE_OCTETS + 1)
    except OSError as exc:
        raise MessageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_MESSAGE_OCTETS:
        raise MessageError(f"the message is larger than {MAX_MESSAGE_OCTETS} octets")
    return data


# -- send -----------------------------------------------------------------------------------------
def _schedule_options(func: F) -> F:
    from smtpdiag.client import queue as q

    func = click.option(
        "--give-up",
        type=click.FloatRange(min=1),
        default=q.DEFAULT_GIVE_UP,
        show_default=True,
        help="Seconds after queueing when a still-failing recipient expires (RFC 5321 4.5.4.1: 4-5 days).",
    )(func)
    func = click.option(
        "--max-interval",
        type=click.FloatRange(min=0),
        default=q.DEFAULT_MAX_INTERVAL,
        show_default=True,
        help="Longest wait between retries, in seconds (waits double from --first-retry).",
    )(func)
    func = click.option(
        "--first-retry",
        type=click.FloatRange(min=0),
        default=q.DEFAULT_FIRST_RETRY,
        show_default=True,
        help="Seconds before the first retry (RFC 5321 4.5.4.1: at least 30 minutes).",
    )(func)
    func = click.option(
        "--queue-db",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"Queue database (default: ${QUEUE_ENV} or ~/.local/state/smtpdiag/queue.db).",
    )(func)
    return func


def _open_queue(kwargs: dict[str, Any]) -> Any:
    from smtpdiag.client.queue import Queue

    path = Path(kwargs["queue_db"]) if kwargs.get("queue_db") else default_queue_db()
    try:
        return Queue(
            path,
            first_retry=kwargs["first_retry"],
            max_interval=max(kwargs["max_interval"], kwargs["first_retry"]),
            give_up=kwargs["give_up"],
        )
    except Exception as exc:  # OSError, ValueError, sqlite3.DatabaseError (not a database file), ...
        click.echo(f"error: cannot open the queue {path}: {exc}", err=True)
        if isinstance(exc, ValueError):
            sys.exit(EX_SOFTWARE)
        sys.exit(EX_CANTCREAT if isinstance(exc, OSError) else EX_DATAERR)


@click.command(cls=SysexitsCommand)
@click.argument("message_file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--from", "sender", required=True, metavar="ADDR", help="Envelope sender (MAIL FROM).")
@click.option(
    "--to", "recipients", required=True, multiple=True, metavar="ADDR", help="Recipient (repeatable)."
)
@click.option(
    "--server", metavar="HOST[:PORT]", help="Send through this server instead of the recipients' MX."
)
@click.option("--port", type=click.IntRange(1, 65535), default=25, show_default=True, help="Default port.")
@click.option(
    "--starttls/--no-starttls",
    "starttls",
    default=None,
    help="Require STARTTLS / never use it (default: use it when offered).",
)
@click.option("--tls", "implicit_tls", is_flag=True, help="Implicit TLS from the first byte (port 465).")
@click.option(
    "--tls-verify", is_flag=True, help="Validate the server certificate and name (else only encrypt)."
)
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False), help="CA bundle for --tls-verify.")
@click.option(
    "--auth", "auth_user", metavar="USER", help=f"AUTH as USER; password from ${PASSWORD_ENV} or a prompt."
)
@click.option("--insecure-auth", is_flag=True, help="Allow AUTH without TLS (sends the password in clear).")
@click.option("--helo", metavar="NAME", help="Name to give in EHLO/HELO.")
@click.option("--dns-server", metavar="IP[:PORT]", help="Ask only this DNS server for MX records.")
@click.option("--no-queue", is_flag=True, help="Do not queue recipients that failed temporarily.")
@click.option("--dsn-dir", type=click.Path(file_okay=False), help="Write a DSN (RFC 3464) here for failures.")
@click.option("--dsn-to-sender", is_flag=True, help="Also mail the DSN back to the sender (MAIL FROM:<>).")
@click.option("--subject", help="Subject of the generated test message (when no MESSAGE_FILE).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema in docs/client.md).")
@click.option("--lang", type=click.Choice(["en", "ru"]), help="Language of explanations.")
@_schedule_options
@timeout_options
def send(message_file: str | None, **kwargs: Any) -> None:
    """Send MESSAGE_FILE (or - for stdin; a generated test message when omitted) and report each recipient."""
    from smtpdiag.client.route import parse_target
    from smtpdiag.client.send import (
        AddressError,
        MessageError,
        check_address,
        check_message,
        sample_message,
        send_async,
    )

    timeouts = _timeouts(kwargs)
    if kwargs["starttls"] is not None and kwargs["implicit_tls"]:
        raise _usage("--starttls/--no-starttls and --tls exclude each other")
    if kwargs["server"]:
        try:
            parse_target(kwargs["server"], default_port=kwargs["port"], use_mx=False)
        except ValueError as exc:
            raise _usage(f"--server: {exc}") from None
    try:
        check_address(kwargs["sender"], allow_empty=True)
        for rcpt in kwargs["recipients"]:
            check_address(rcpt)
    except AddressError as exc:
        raise _usage(str(exc)) from None
    try:
        if message_file is None:
            message = sample_message(kwargs["sender"], kwargs["recipients"], subject=kwargs["subject"])
        else:
            message = _read_message(message_file)
        check_message(message)
    except MessageError as exc:
        click.echo(f"error: bad message: {exc}", err=True)
        sys.exit(EX_DATAERR)
    password = _password(kwargs["auth_user"])
    options = _send_options(kwargs)
    started = datetime.now(UTC).timestamp()  # the Arrival-Date of a DSN
    result = asyncio.run(
        send_async(
            message,
            sender=kwargs["sender"],
            recipients=list(kwargs["recipients"]),
            auth_password=password,
            timeouts=timeouts,
            lang=kwargs["lang"],
            **options,
        )
    )
    queued_id: int | None = None
    if result.transient and not kwargs["no_queue"]:
        with _open_queue(kwargs) as queue:
            # Expired entries always get a DSN: next to the queue unless --dsn-dir says where.
            dsn_dir = kwargs["dsn_dir"] or str(queue.path.parent / "dsn")
            stored = {**options, "dsn_dir": dsn_dir, "dsn_to_sender": kwargs["dsn_to_sender"]}
            stored.update({"lang": kwargs["lang"]})
            queued_id = queue.enqueue(
                sender=kwargs["sender"], message=message, recipients=result.transient, options=stored
            )
    dsn_paths: list[str] = []
    if result.permanent and (kwargs["dsn_dir"] or kwargs["dsn_to_sender"]):
        where = deliver_dsn(
            {
                "sender": kwargs["sender"],
                "body": message,
                "created": started,
                "options": {**options, **kwargs},
            },
            result.permanent,
            expired=False,
        )
        if where:
            dsn_paths.append(where)
    if kwargs["as_json"]:
        data = result.to_json()
        data["queued"] = queued_id
        data["dsn"] = dsn_paths
        _echo_json(data)
    else:
        for line in render_transcript(result.transcript):
            click.echo(line)
        click.echo("")
        for r in result.recipients:
            color = {"accepted": "green", "transient": "yellow", "permanent": "red"}[r.status]
            click.echo(f"{click.style(f'{r.status:<10}', fg=color)} <{r.recipient}>  at {r.step}: {r.text}")
            if r.explanation is not None and r.status != "accepted":
                click.echo(f"{'':12}{r.explanation.summary}")
        counts = (
            f"{len(result.accepted)} accepted, {len(result.transient)} temporary,"
            f" {len(result.permanent)} permanent"
        )
        outcome = {"delivered": "DELIVERED", "partial": "PARTLY DELIVERED", "deferred": "DEFERRED"}.get(
            result.outcome, "FAILED"
        )
        click.echo(f"\n{outcome} ({counts}); exit {result.exit_code}")
        if queued_id is not None:
            click.echo(f"queued as message {queued_id} for retry (smtpdiag queue list)")
        for path in dsn_paths:
            click.echo(f"DSN: {path}")
    sys.exit(result.exit_code)


def _send_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The delivery settings that a retry needs again (never the password)."""
    return {
        "server": kwargs["server"],
        "port": kwargs["port"],
        "starttls": {True: "require", False: "never", None: "auto"}[kwargs["starttls"]],
        "implicit_tls": kwargs["implicit_tls"],
        "tls_verify": kwargs["tls_verify"],
        "cafile": kwargs["cafile"],
        "auth_user": kwargs["auth_user"],
        "allow_insecure_auth": kwargs["insecure_auth"],
        "helo": kwargs["helo"],
        "dns_server": _dns_server(kwargs["dns_server"]),
    }


def deliver_dsn(
    message: dict[str, Any], results: Sequence[Any], expired: bool, default_dir: str | None = None
) -> str | None:
    """Write the DSN for `results` to the message's dsn_dir (else `default_dir`) and/or mail it back.

    Returns where it went, or None when it went nowhere.
    """
    from smtpdiag.client.dsn import build_dsn, dsn_bytes, recipients_from_results, write_dsn
    from smtpdiag.client.send import send_async

    options: dict[str, Any] = message.get("options") or {}
    created = message.get("created")
    dsn = build_dsn(
        original=message["body"],
        sender=message["sender"],
        recipients=recipients_from_results(results, expired=expired),
        arrival_date=datetime.fromtimestamp(created, UTC) if created else None,
    )
    places: list[str] = []
    directory = options.get("dsn_dir") or default_dir
    if directory:
        try:
            places.append(str(write_dsn(dsn, directory)))
        except OSError as exc:
            click.echo(f"error: cannot write DSN to {directory}: {exc}", err=True)
    if options.get("dsn_to_sender") and message["sender"]:
        # RFC 3461 §6.2 / RFC 5321 §4.5.5: a DSN goes out with a null sender so it never bounces back.
        sent = (
            asyncio.run(
                send_async(
                    dsn_bytes(dsn),
                    sender="",
                    recipients=[message["sender"]],
                    server=options.get("server"),
                    port=options.get("port") or 25,
                    dns_server=options.get("dns_server"),
                    helo=options.get("helo"),
                )
            )
            if not _loop_running()
            else None
        )
        if sent is not None and sent.ok:
            places.append(f"mailed to <{message['sender']}>")
        elif sent is not None:
            click.echo(f"warning: the DSN could not be mailed to <{message['sender']}>", err=True)
    return "; ".join(places) or None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- queue ----------------------------------------------------------------------------------------
@click.group(cls=SysexitsGroup)
def queue() -> None:
    """The retry queue: list, retry due entries, flush (drop) entries."""


@queue.command("list", cls=SysexitsCommand)
@_schedule_options
@click.option(
    "--state", type=click.Choice(["queued", "delivered", "failed", "expired"]), help="Only this state."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def queue_list(**kwargs: Any) -> None:
    """List queued recipients and what happened to them."""
    with _open_queue(kwargs) as q:
        entries = q.entries(state=kwargs["state"])
    if kwargs["as_json"]:
        _echo_json([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("the queue is empty")
        return
    now = datetime.now(UTC).timestamp()
    for e in entries:
        when = ""
        if e.state == "queued":
            wait = e.next_attempt - now
            when = "due now" if wait <= 0 else f"next in {int(wait // 60)} min"
        last = (e.last_result or {}).get("reply") or (e.last_result or {}).get("detail") or ""
        click.echo(f"{e.message_id:>5}  {e.state:<9} <{e.recipient}>  attempts={e.attempts}  {when}  {last}")


@queue.command("retry", cls=SysexitsCommand)
@_schedule_options
@click.option(
    "--now", "ignore_schedule", is_flag=True, help="Retry every queued entry, ignoring the schedule."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@timeout_options
def queue_retry(**kwargs: Any) -> None:
    """Retry the entries that are due (all with --now); expired ones get a DSN."""
    from smtpdiag.client.queue import QueueBusy

    timeouts = _timeouts(kwargs)
    extra: dict[str, Any] = {"timeouts": timeouts}
    if os.environ.get(PASSWORD_ENV) is not None:
        extra["auth_password"] = os.environ[PASSWORD_ENV]
    with _open_queue(kwargs) as q:
        try:
            report = asyncio.run(
                q.retry(
                    ignore_schedule=kwargs["ignore_schedule"],
                    on_dsn=lambda m, r, e: _dsn_sync(m, r, e, str(q.path.parent / "dsn")),
                    send_options=extra,
                )
            )
        except QueueBusy as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EX_TEMPFAIL)
    if kwargs["as_json"]:
        _echo_json(report.to_json())
    else:
        click.echo(
            f"tried {report.attempted} message(s): {len(report.delivered)} delivered, "
            f"{len(report.deferred)} deferred, {len(report.failed)} failed, {len(report.expired)} expired"
        )
        for path in report.dsns:
            click.echo(f"DSN: {path}")
    sys.exit(EX_TEMPFAIL if report.deferred else EX_OK)


def _dsn_sync(message: dict[str, Any], results: list[Any], expired: bool, default_dir: str) -> str | None:
    # Called from inside the running loop of `retry`: mailing the DSN back would need a second loop,
    # so it runs in a worker thread with its own loop.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(deliver_dsn, message, results, expired, default_dir).result()


@queue.command("flush", cls=SysexitsCommand)
@_schedule_options
@click.argument("message_ids", nargs=-1, type=int)
@click.option("--state", type=click.Choice(["queued", "delivered", "failed", "expired"]), help="Only these.")
def queue_flush(message_ids: tuple[int, ...], **kwargs: Any) -> None:
    """Drop messages from the queue: all, the given MESSAGE_IDS, or those with a recipient in --state."""
    with _open_queue(kwargs) as q:
        removed = q.flush(list(message_ids) or None, state=kwargs["state"])
    click.echo(f"removed {removed} message(s)")
