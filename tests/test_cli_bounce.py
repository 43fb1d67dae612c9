"""`smtpdiag bounce`: output formats, jobs, stdin, errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from smtpdiag.cli import cli

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"
SAMPLE = sorted(CORPUS.glob("*.eml"))[::40]

DSN = (
    b"From: MAILER-DAEMON@mx.example.org\r\n"
    b"To: sender@example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Remote-MTA: dns; mx.example.net\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown\r\n"
    b"\r\n--B--\r\n"
)


def run(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["bounce", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_json_lines_have_the_scoring_format(tmp_path: Path) -> None:
    path = tmp_path / "dsn.eml"
    path.write_bytes(DSN)
    code, out = run(["--json", str(path)])
    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["file"] == str(path)
    (result,) = record["results"]
    for key in (
        "recipient",
        "status",
        "replycode",
        "reason",
        "hardbounce",
        "action",
        "command",
        "diagnostic",
    ):
        assert key in result
    assert result["recipient"] == "nobody@example.net"
    assert result["reason"] == "userunknown" and result["hardbounce"] is True
    assert result["explanation"]["title"]


def test_russian_explanations(tmp_path: Path) -> None:
    path = tmp_path / "dsn.eml"
    path.write_bytes(DSN)
    code, out = run(["--json", "--lang", "ru", str(path)])
    assert code == 0
    title = json.loads(out)["results"][0]["explanation"]["title"]
    assert any("а" <= ch <= "я" for ch in title.lower())


def test_csv_has_one_row_per_recipient(tmp_path: Path) -> None:
    path = tmp_path / "dsn.eml"
    path.write_bytes(DSN)
    code, out = run(["--csv", str(path)])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 1
    assert rows[0]["reason"] == "userunknown" and rows[0]["hardbounce"] == "yes"


def test_table_output_and_not_a_bounce(tmp_path: Path) -> None:
    dsn = tmp_path / "dsn.eml"
    dsn.write_bytes(DSN)
    plain = tmp_path / "hello.eml"
    plain.write_bytes(b"From: a@example.org\nSubject: hi\n\nhello\n")
    code, out = run([str(dsn), str(plain)])
    assert code == 0
    assert "nobody@example.net" in out and "userunknown" in out
    assert "not a bounce" in out


def test_stdin_mbox(tmp_path: Path) -> None:
    box = b"".join(
        b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n" + DSN.replace(b"\r\n", b"\n") + b"\n"
        for _ in range(3)
    )
    code, out = run(["--json", "-"], stdin=box)
    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]  # one object per input file
    assert record["file"] == "-" and record["messages"] == 3
    assert [r["message"] for r in record["results"]] == [1, 2, 3]
    assert all(r["reason"] == "userunknown" for r in record["results"])


def test_mbox_json_is_one_object_per_file_with_errors_listed(tmp_path: Path) -> None:
    box = tmp_path / "box.mbox"
    sep = b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n"
    box.write_bytes(sep + DSN.replace(b"\r\n", b"\n") + b"\n" + sep + b"Subject: not a bounce\n\nhi\n")
    other = tmp_path / "one.eml"
    other.write_bytes(DSN)
    code, out = run(["--json", str(box), str(other)])
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["file"] == str(box) and first["messages"] == 2 and len(first["results"]) == 1
    assert second["file"] == str(other) and "messages" not in second and len(second["results"]) == 1


def test_table_names_mbox_messages(tmp_path: Path) -> None:
    box = tmp_path / "box.mbox"
    sep = b"From MAILER-DAEMON Sat Nov 28 16:00:00 2026\n"
    box.write_bytes((sep + DSN.replace(b"\r\n", b"\n") + b"\n") * 2)
    code, out = run([str(box)])
    assert code == 0 and f"{box}:2" in out


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run([str(tmp_path / "missing.eml")])
    assert code == 2
    assert "no such file or directory" in out
    assert "Traceback" not in out


def test_both_formats_is_a_usage_error(tmp_path: Path) -> None:
    code, out = run(["--json", "--csv", str(tmp_path)])
    assert code == 2 and "--json" in out


def test_jobs_give_the_same_records_in_the_same_order() -> None:
    """Several worker processes (real subprocess: forking inside CliRunner is fragile)."""
    paths = [str(p) for p in SAMPLE]
    outputs = []
    for jobs in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "smtpdiag", "bounce", "--json", "--no-progress", "--jobs", jobs, *paths],
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == len(paths)


def _reference_json_lines(records: list[dict[str, Any]], lang: str) -> str:
    """The --json text as the earlier writer made it: json.dumps per result, explanations added."""
    from smtpdiag.cli.bounce_cmd import MAX_ERRORS_LISTED, _explanation

    out: list[str] = []
    by_file: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_file.setdefault(record["file"], []).append(record)
    for path, group in by_file.items():  # the records of one file are adjacent here
        results, errors = [], []
        for record in group:
            if "error" in record and len(errors) < MAX_ERRORS_LISTED:
                errors.append({"message": record.get("message", 1), "error": record["error"]})
            for result in record["results"]:
                result = {**result, "explanation": _explanation(str(result.get("reason", "")), lang)}
                if "message" in record:
                    result["message"] = record["message"]
                results.append(json.dumps(result, ensure_ascii=False))
        line = (
            '{"file": ' + json.dumps(path, ensure_ascii=False) + ', "results": [' + ", ".join(results) + "]"
        )
        if len(group) > 1:
            line += f', "messages": {len(group)}'
        if errors:
            line += ', "errors": ' + json.dumps(errors, ensure_ascii=False)
            line += ', "error": ' + json.dumps(errors[0]["error"], ensure_ascii=False)
        if any(record.get("truncated") for record in group):
            line += ', "truncated": true'
        out.append(line + "}\n")
    return "".join(out)


def test_json_writer_matches_the_reference_text() -> None:
    """Every shape of record: lone messages, mbox messages, errors, cut messages, no results."""
    from smtpdiag.bounce.batch import analyze_input
    from smtpdiag.bounce.inputs import InputMessage
    from smtpdiag.cli.bounce_cmd import _explanation_json, _write_json

    messages = [InputMessage(path=str(p), data=p.read_bytes()) for p in SAMPLE]
    messages += [
        InputMessage(path="box é", index=1, data=DSN),
        InputMessage(path="box é", index=2, data=b"Subject: hi\n\nnot a bounce\n"),
        InputMessage(path="box é", index=3, error='cannot read: "quoted" \u2028 text'),
        InputMessage(path="box é", index=4, data=DSN, truncated=True),
        InputMessage(path="locked", error="cannot read: Permission denied"),
        InputMessage(path="plain", data=b"Subject: hi\n\nnot a bounce\n"),
        InputMessage(path="-", index=1, data=DSN.replace(b"nobody", b"\xd0\xb8\xd0\xbc\xd1\x8f")),
    ]
    for lang in ("en", "ru"):
        records = [analyze_input(message) for message in messages]
        expected = _reference_json_lines([json.loads(json.dumps(r)) for r in records], lang)
        out = io.StringIO()
        errors = _write_json(iter(records), out, _explanation_json(lang))
        assert out.getvalue() == expected
        assert errors == 2


def test_job_chunks_are_bounded_by_count_and_by_bytes() -> None:
    from smtpdiag.bounce.batch import _chunks
    from smtpdiag.bounce.inputs import InputMessage

    small = [InputMessage(path=f"s{i}", data=b"x" * 10) for i in range(10)]
    assert [len(c) for c in _chunks(small, 4, 1000)] == [4, 4, 2]
    mixed = [
        InputMessage(path=f"m{i}", data=b"y" * size) for i, size in enumerate([600, 500, 10, 10, 2000, 1])
    ]
    chunks = list(_chunks(mixed, 4, 1000))
    assert [[m.path for m in c] for c in chunks] == [["m0", "m1"], ["m2", "m3", "m4"], ["m5"]]
    assert list(_chunks([], 4, 1000)) == []
