"""Backtrace lines, one parser per language, for every frame an adapter received as a text line
(AppSignal's Ruby backtraces, CrashLog's string frames): `lodge.normalize` reads them after mapping.

Every parser runs in linear time on any input: the Ruby one scans without backtracking, the others
only look at lines of at most `MAX_PARSED_LINE` characters (a longer line is kept whole, as text).
Line numbers of more than `MAX_LINE_DIGITS` digits are no line numbers (and int() refuses 4300+).
"""

from __future__ import annotations

import re

ParsedLine = tuple[str, int | None, str | None]
"""(file, line number, method)."""

MAX_LINE_DIGITS = 9
MAX_PARSED_LINE = 4096

_RUBY_CALL = re.compile(r":(\d+):in [`']")
_RUBY_LINE_END = re.compile(r":(\d+)")


def line_number(digits: str) -> int | None:
    return int(digits) if len(digits) <= MAX_LINE_DIGITS else None


def parse_ruby_line(line: str, *, allow_empty_file: bool = True) -> ParsedLine | None:
    """`file:line` or `file:line:in `method'` (Ruby 3.4 quotes 'method') -> (file, line, method).

    Lodge reads every protocol's lines through `parse_line`, which requires the file;
    `allow_empty_file` keeps this parser's answers equal to the pattern CrashLog once used.

    The same answers as `^(?P<file>.*?):(?P<line>\\d+)(?::in [`'](?P<method>.*)')?$` (with `.+?` for
    the file unless `allow_empty_file`), in one pass: that pattern backtracks quadratically (":1:in `'"
    repeated over 1 MB took minutes). The file is the text before the leftmost `:N:in `` when the
    line ends in a quote, else before a final `:N`.
    """
    text = line[:-1] if line.endswith("\n") else line  # `$` also matches before a final newline
    if "\n" in text:  # `.` never crosses a newline
        return None
    start = 0 if allow_empty_file else 1
    call = _RUBY_CALL.search(text, start) if text.endswith("'") else None
    if call and call.end() < len(text):
        return text[: call.start()], line_number(call[1]), text[call.end() : -1]
    colon = text.rfind(":")
    end = _RUBY_LINE_END.fullmatch(text, colon) if colon >= start else None
    if end:
        return text[:colon], line_number(end[1]), None
    return None


# V8: "    at fn (file:1:2)", "    at file:1:2", "    at async fn (file:1:2)", "    at new Foo (file:1:2)".
_JS_AT = re.compile(r"^\s*at (?:(?P<method>[^()]*?) \()?(?P<file>[^()]*?):(?P<line>\d+)(?::(?P<col>\d+))?\)?$")
# Python traceback: '  File "x.py", line 3, in main'.
_PYTHON = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<method>.*))?$')
# Java: "\tat com.example.Foo.bar(Foo.java:12)", "at x.Y.z(Native Method)".
_JAVA = re.compile(r"^\s*at (?P<method>[^\s()]+)\((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")


def _parsed(match: re.Match[str] | None) -> ParsedLine | None:
    if match is None:
        return None
    digits = match["line"]
    return match["file"], line_number(digits) if digits else None, match["method"] or None


def parse_js_line(line: str) -> ParsedLine | None:
    return _parsed(_JS_AT.match(line)) if len(line) <= MAX_PARSED_LINE else None


def parse_python_line(line: str) -> ParsedLine | None:
    return _parsed(_PYTHON.match(line)) if len(line) <= MAX_PARSED_LINE else None


def parse_java_line(line: str) -> ParsedLine | None:
    return _parsed(_JAVA.match(line)) if len(line) <= MAX_PARSED_LINE else None


_BY_LANGUAGE = {
    "javascript": parse_js_line,
    "js": parse_js_line,
    "node": parse_js_line,
    "nodejs": parse_js_line,
    "python": parse_python_line,
    "java": parse_java_line,
}


def parse_line(line: str, language: str | None) -> ParsedLine | None:
    """A backtrace line of `language` (Ruby unless another is named); None when it is not one.

    The one rule for every protocol's text lines: a Ruby line names a file (`:12` alone is text,
    not line 12 of no file), as AppSignal always read it."""
    parser = _BY_LANGUAGE.get((language or "").strip().lower())
    parsed = parser(line) if parser is not None else None
    return parsed or parse_ruby_line(line, allow_empty_file=False)
