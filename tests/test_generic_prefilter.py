"""The cheap pre-tests in front of generic.py's returned-message regexes never change an answer."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from smtpdiag.bounce.formats import generic
from smtpdiag.bounce.mime import parse_bytes, walk_parts

CORPUS = Path(__file__).parent / "data" / "bounces" / "emails"


def _split_top(pattern: str) -> list[str]:
    """Split a regex at its top-level '|' (outside groups, classes and escapes)."""
    out, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _groups(alt: str) -> tuple[str, list[str]]:
    """The text outside top-level groups, and the bodies of those groups."""
    outside, bodies, depth, start, i = [], [], 0, 0, 0
    while i < len(alt):
        c = alt[i]
        if c == "\\":
            if depth == 0:
                outside.append(" ")  # an escape is no letter of a word
            i += 2
            continue
        if c == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                body = alt[start:i]
                bodies.append(body[2:] if body.startswith("?:") else body)
        elif depth == 0:
            outside.append(c)
        i += 1
    return "".join(outside), bodies


def _every_branch_has_a_word(pattern: str) -> bool:
    for alt in _split_top(pattern):
        outside, bodies = _groups(alt)
        if any(w in outside.lower() for w in generic.MARKER_WORDS):
            continue
        if any(_every_branch_has_a_word(b) for b in bodies):
            continue
        return False
    return True


def test_every_marker_alternative_contains_a_marker_word() -> None:
    """If this fails, a new marker lacks all of MARKER_WORDS: add its word there."""
    pattern = generic.ORIGINAL_MARKERS_RE.pattern
    body = pattern[pattern.index("(?:") + 3 : pattern.rindex(")")]
    assert _every_branch_has_a_word(body)


def test_the_checker_catches_a_word_less_branch() -> None:
    assert not _every_branch_has_a_word(r"-{2,40}(?:original message|forwarded mail)|copy")
    assert _every_branch_has_a_word(r"-{2,40}(?:original message|a copy)|message follows")


def _corpus_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(CORPUS.glob("*.eml")):
        lines.extend(walk_parts(parse_bytes(path.read_bytes())).text.splitlines())
    return lines


def test_prefilters_agree_with_the_regexes_on_the_corpus() -> None:
    lines = _corpus_lines()
    markers = 0
    for line in lines:
        for variant in (line, line.upper(), line.swapcase()):
            expected = generic.ORIGINAL_MARKERS_RE.match(variant) is not None
            markers += expected
            assert generic.is_original_marker(variant) == expected, variant
            header = generic.ORIGINAL_HEADER_RE.match(variant) is not None
            assert generic.is_original_header(variant) == header, variant
    assert markers > 50


@given(
    st.lists(
        st.sampled_from(
            [
                "-",
                "--",
                " ",
                "*",
                "Original",
                "MESSAGE",
                "copy",
                "below",
                "this line",
                "ſ",
                "İ",
                "K",
                ":",
                "\t",
                "\u2003",
                "\x85",
                "\x1c",
                "a copy of the original message",
                "Content-Type: message/rfc822",
            ]
        ),
        max_size=8,
    ).map("".join)
)
def test_prefilters_agree_with_the_regexes(line: str) -> None:
    assert generic.is_original_marker(line) == (generic.ORIGINAL_MARKERS_RE.match(line) is not None)
    assert generic.is_original_header(line) == (generic.ORIGINAL_HEADER_RE.match(line) is not None)


def _first_chars(items: list, seen_blank_ok: bool = True) -> tuple[set[str], bool]:
    """(characters a match of the parsed items can start with, whether the items can match "").

    Optional \\s repeats are passed over: they are the blanks is_original_marker skips.
    """
    from re import _constants as c  # type: ignore[attr-defined]

    out: set[str] = set()
    for op, av in items:
        if op is c.AT:
            continue
        if op is c.LITERAL:
            out.add(chr(av))
            return out, False
        if op is c.IN:
            for kind, value in av:
                if kind is c.LITERAL:
                    out.add(chr(value))
                elif kind is c.RANGE:
                    out.update(chr(x) for x in range(value[0], value[1] + 1))
                elif kind is c.CATEGORY and value is c.CATEGORY_SPACE:
                    out.add(" ")
                else:
                    raise AssertionError(f"unexpected class item {kind}")
            return out, False
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, _, sub = av
            first, empty = _first_chars(list(sub))
            if first == {" "}:
                continue  # leading blanks
            out |= first
            if low > 0 and not empty:
                return out, False
            continue
        if op is c.SUBPATTERN:
            first, empty = _first_chars(list(av[3]))
            out |= first
            if not empty:
                return out, False
            continue
        if op is c.BRANCH:
            empty_any = False
            for branch in av[1]:
                first, empty = _first_chars(list(branch))
                out |= first
                empty_any = empty_any or empty
            if not empty_any:
                return out, False
            continue
        raise AssertionError(f"unexpected op {op}")
    return out, True


def test_marker_starts_are_what_the_regex_can_start_with() -> None:
    from re import _parser  # type: ignore[attr-defined]

    first, empty = _first_chars(list(_parser.parse(generic.ORIGINAL_MARKERS_RE.pattern)))
    assert not empty
    first.discard(" ")
    # (?i): a letter's other case too (no other character folds to these letters)
    assert {ch for f in first for ch in (f.lower(), f.upper())} == set(generic.MARKER_STARTS)


def test_blanks_are_every_blank() -> None:
    assert {chr(cp) for cp in range(0x110000) if chr(cp).isspace()} == generic.BLANKS


def _function_source(name: str) -> str:
    """The source of a function of generic.py, read from the file (inspect cannot read a compiled one)."""
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "src" / "smtpdiag" / "bounce" / "formats" / "generic.py"
    text = path.read_text()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    raise AssertionError(f"no function {name} in {path}")


def test_is_original_marker_spells_out_every_marker_word() -> None:
    """is_original_marker tests MARKER_WORDS one by one (no loop): none may be left out."""
    source = _function_source("is_original_marker")
    for word in generic.MARKER_WORDS:
        assert f'"{word}" in low' in source, word


def test_is_error_line_spells_out_every_error_word() -> None:
    """_is_error_line tests ERROR_WORDS one by one (no loop): none may be left out."""
    source = _function_source("_is_error_line")
    for word in generic.ERROR_WORDS:
        assert f'"{word}" in low' in source, word
        assert generic._is_error_line(f"the host {word} no", f"the host {word} no")
    assert not generic._is_error_line("the host answered", "the host answered")
