"""One backtrace-line parser per language, shared by AppSignal and CrashLog."""

from __future__ import annotations

import time

import pytest

from lodge.normalize.backtraces import MAX_LINE_DIGITS, parse_line, parse_ruby_line


@pytest.mark.parametrize(
    ("line", "language", "expected"),
    [
        ("app/models/user.rb:12:in `name'", "ruby", ("app/models/user.rb", 12, "name")),
        ("app/models/user.rb:12:in 'User#name'", None, ("app/models/user.rb", 12, "User#name")),
        ("    at handler (/srv/app/index.js:10:15)", "javascript", ("/srv/app/index.js", 10, "handler")),
        ("    at /srv/app/index.js:3:1", "JavaScript", ("/srv/app/index.js", 3, None)),
        ("    at async Promise.all (index 0)", "javascript", None),
        ("    at new Foo (node:internal/x:7:2)", "node", ("node:internal/x", 7, "new Foo")),
        ('  File "/srv/app/main.py", line 3, in main', "python", ("/srv/app/main.py", 3, "main")),
        ('  File "<stdin>", line 1', "Python", ("<stdin>", 1, None)),
        ("\tat com.example.Foo.bar(Foo.java:12)", "java", ("Foo.java", 12, "com.example.Foo.bar")),
        ("\tat java.lang.Thread.run(Native Method)", "Java", ("Native Method", None, "java.lang.Thread.run")),
        ("lib/tasks.rake:40", "java", ("lib/tasks.rake", 40, None)),  # not a Java line: Ruby's rule
        ("just text", "python", None),
    ],
)
def test_lines_of_each_language(line: str, language: str | None, expected: object) -> None:
    assert parse_line(line, language) == expected


def test_one_bound_for_line_numbers() -> None:
    assert parse_ruby_line("x.rb:" + "9" * MAX_LINE_DIGITS) == ("x.rb", int("9" * MAX_LINE_DIGITS), None)
    assert parse_ruby_line("x.rb:" + "9" * (MAX_LINE_DIGITS + 1)) == ("x.rb", None, None)
    assert parse_line("    at f (a.js:" + "1" * 20 + ":1)", "javascript") == ("a.js", None, "f")


def test_an_empty_file_name_is_a_choice_of_the_caller() -> None:
    assert parse_ruby_line(":1") == ("", 1, None)
    assert parse_ruby_line(":1", allow_empty_file=False) is None
    assert parse_ruby_line("a:1:2", allow_empty_file=False) == ("a:1", 2, None)


@pytest.mark.parametrize("language", ["javascript", "python", "java"])
def test_long_lines_are_not_parsed_and_cost_nothing(language: str) -> None:
    line = "    at " + "(a:1:" * 200_000
    started = time.process_time()
    parse_line(line, language)
    assert time.process_time() - started < 0.5
