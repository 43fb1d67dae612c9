"""`smtpdiag serve`: run the ESMTP test server (capture mail, reproduce failures on demand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _fail(message: str) -> None:
    click.echo(f"smtpdiag serve: {message}", err=True)
    sys.exit(1)


def _read_config(path: str) -> tuple[dict[str, Any], list[Any], int | None]:
    """The [serve] settings, [[rules]] and seed of a TOML config file."""
    import tomllib

    from smtpdiag.server.settings import SettingsError

    p = Path(path)
    try:
        raw = p.read_bytes()[:1_000_001]
    except OSError as exc:
        raise SettingsError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    if len(raw) > 1_000_000:
        raise SettingsError(f"config file {p} is larger than 1000000 bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {p} is not valid UTF-8 TOML: {exc}") from None
    rules = data.pop("rules", [])
    seed = data.pop("seed", None)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise SettingsError(f"{p}: seed must be an integer")
    if isinstance(data.get("serve"), dict):
        settings = dict(data["serve"])
    else:
        settings = {k: v for k, v in data.items() if not isinstance(v, dict) or k == "users"}
    return settings, rules, seed


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="address to listen on [127.0.0.1:2525]")
@click.option(
    "--local-domain", "local_domains", multiple=True, metavar="DOMAIN", help="accept mail for DOMAIN"
)
@click.option("--mailbox", "mailboxes", multiple=True, metavar="ADDR", help="accept mail for ADDR")
@click.option("--maildir", metavar="DIR", help="store accepted mail in this Maildir [./mail]")
@click.option("--memory", is_flag=True, help="keep accepted mail in memory only (capture mode)")
@click.option(
    "--no-fsync", is_flag=True, help="do not fsync (faster, but a crash may lose acknowledged mail)"
)
@click.option("--config", "config_file", metavar="FILE", help="TOML settings file ([serve] and [[rules]])")
@click.option("--tls-cert", metavar="FILE", help="PEM certificate for STARTTLS [self-signed]")
@click.option("--tls-key", metavar="FILE", help="PEM key for --tls-cert")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME", help="reproduce a named failure")
@click.option("--seed", type=int, help="seed for probabilistic fault rules (reproducible runs)")
@click.option("--http", "http_listen", metavar="HOST:PORT", help="serve the HTTP JSON control API here")
@click.option("--transcripts", "transcript_dir", metavar="DIR", help="write per-session JSON-lines here")
@click.option("--no-transcripts", is_flag=True, help="keep no session transcripts in memory (benchmarks)")
@click.option("--list-scenarios", is_flag=True, help="list the named scenarios and exit")
@click.option("--print-defaults", is_flag=True, help="print every setting, its default and why, then exit")
@click.option("--json", "as_json", is_flag=True, help="with --list-scenarios / --print-defaults: JSON")
@click.option(
    "--quiet", "-q", is_flag=True, help="log only start and stop, not each stored message and fired rule"
)
def serve(
    listen: str | None,
    local_domains: tuple[str, ...],
    mailboxes: tuple[str, ...],
    maildir: str | None,
    memory: bool,
    no_fsync: bool,
    config_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    scenarios: tuple[str, ...],
    seed: int | None,
    http_listen: str | None,
    transcript_dir: str | None,
    no_transcripts: bool,
    list_scenarios: bool,
    print_defaults: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run an ESMTP server that captures mail and fails on demand.

    \b
    Examples:
      smtpdiag serve --memory --http 127.0.0.1:8025
      smtpdiag serve --scenario mailbox-full
      smtpdiag serve --local-domain example.test --maildir ./mail
    """
    if list_scenarios:
        _print_scenarios(as_json)
        return
    if print_defaults:
        _print_defaults(as_json)
        return

    from smtpdiag.server.faults import FaultRuleError, rules_from_config
    from smtpdiag.server.scenarios import get_scenario
    from smtpdiag.server.settings import Settings, SettingsError

    try:
        settings = Settings()
        rules: list[Any] = []
        if config_file:
            values, raw_rules, config_seed = _read_config(config_file)
            settings = settings.merge(values, source=config_file)
            rules = list(rules_from_config(raw_rules))
            seed = seed if seed is not None else config_seed
        if memory and maildir:
            raise SettingsError("--memory and --maildir exclude each other")
        flags: dict[str, Any] = {
            "listen": listen,
            "maildir": maildir,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "http_listen": http_listen,
            "transcript_dir": transcript_dir,
            "local_domains": list(local_domains) or None,
            "mailboxes": list(mailboxes) or None,
        }
        if memory:
            flags["storage"] = "memory"
        elif maildir:
            flags["storage"] = "maildir"
        if no_fsync:
            flags["fsync"] = False
        settings = settings.merge(flags, source="command line")
        for name in scenarios:
            try:
                rules.extend(get_scenario(name).rules)
            except KeyError as exc:
                raise SettingsError(str(exc.args[0])) from None
    except (SettingsError, FaultRuleError) as exc:
        _fail(str(exc))
        return

    from smtpdiag.server.runtime import run_until_signalled

    code = run_until_signalled(
        settings,
        rules=rules,
        seed=seed,
        log=None if quiet else sys.stderr,
        keep_transcripts=not no_transcripts,
    )
    sys.exit(code)


def _print_scenarios(as_json: bool) -> None:
    from smtpdiag.server.scenarios import SCENARIOS

    if as_json:
        click.echo(json.dumps([s.to_dict() for s in SCENARIOS.values()], indent=1))
        return
    width = max(len(n) for n in SCENARIOS)
    for s in SCENARIOS.values():
        click.echo(f"{s.name:<{width}}  {s.reply}")
        click.echo(f"{'':<{width}}  {s.summary}")


def _print_defaults(as_json: bool) -> None:
    from smtpdiag.server.settings import Settings

    rows = Settings.describe()
    if as_json:
        click.echo(json.dumps([{"name": n, "default": d, "reason": r} for n, d, r in rows], indent=1))
        return
    for name, default, reason in rows:
        click.echo(f"{name} = {default}")
        click.echo(f"    # {reason}")
