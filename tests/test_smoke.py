from click.testing import CliRunner

from smtpdiag.cli import cli


def test_cli_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "smtpdiag" in result.output
