"""The `smtpdiag` command line: a thin layer over the library.

Sub-commands are imported only when used, so `smtpdiag explain` starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "explain": "smtpdiag.cli.explain_cmd:explain",
    "code": "smtpdiag.cli.explain_cmd:code",
    "codes": "smtpdiag.cli.explain_cmd:codes",
    "bounce": "smtpdiag.cli.bounce_cmd:bounce",
    "serve": "smtpdiag.cli.serve_cmd:serve",
    "probe": "smtpdiag.cli.client_cmd:probe",
    "send": "smtpdiag.cli.client_cmd:send",
    "queue": "smtpdiag.cli.client_cmd:queue",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # not built yet
            raise
        command: Any = getattr(module, attr, None)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smtpdiag")
def cli() -> None:
    """smtpdiag: turn any SMTP failure into an answer, and reproduce failures on demand."""


def main() -> None:
    cli()
