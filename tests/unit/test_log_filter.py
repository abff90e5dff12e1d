"""CloudWatch Logs filter patterns: terms, phrases, alternatives, exclusions, JSON comparisons and refusals."""

from __future__ import annotations

import pytest

from firebox.errors import InvalidParameterException
from firebox.observability.log_filter import compile_pattern

LINES = [
    "START RequestId: 1 Version: $LATEST",
    "ERROR connection refused to db-1",
    "WARN slow query 1200 ms",
    "INFO request handled",
    "error lower case",
    '{"level": "error", "latency": 250, "path": "/orders", "user": {"id": 7, "admin": true}, "tags": ["a", "b"]}',
    '{"level": "info", "latency": 12.5, "path": "/health", "user": null}',
    "[1, 2, 3]",
]


def matching(pattern: str | None) -> list[str]:
    predicate = compile_pattern(pattern)
    return [line for line in LINES if predicate(line)]


@pytest.mark.parametrize("pattern", [None, "", "   "])
def test_empty_pattern_matches_everything(pattern: str | None) -> None:
    assert matching(pattern) == LINES


def test_every_term_is_required_and_case_counts() -> None:
    assert matching("ERROR") == [LINES[1]]
    assert matching("ERROR refused") == [LINES[1]]
    assert matching("ERROR slow") == []
    assert matching("error") == [LINES[4], LINES[5]]


def test_quoted_phrase_is_matched_exactly() -> None:
    assert matching('"connection refused"') == [LINES[1]]
    assert matching('"refused connection"') == []
    assert matching('"slow query" ms') == [LINES[2]]


def test_question_mark_terms_are_alternatives() -> None:
    assert matching("?ERROR ?WARN") == [LINES[1], LINES[2]]
    assert matching('?"request handled" ?START') == [LINES[0], LINES[3]]
    assert matching("ms ?ERROR ?WARN") == [LINES[2]]


def test_minus_terms_exclude() -> None:
    assert matching("RequestId -START") == []
    assert matching('request -"db-1"') == [LINES[3]]
    assert matching("?ERROR ?WARN -slow") == [LINES[1]]


def test_json_equality_on_strings_numbers_and_nested_members() -> None:
    assert matching('{ $.level = "error" }') == [LINES[5]]
    assert matching("{ $.latency = 250 }") == [LINES[5]]
    assert matching("{ $.latency = 12.5 }") == [LINES[6]]
    assert matching("{ $.user.id = 7 }") == [LINES[5]]
    assert matching('{ $.tags[1] = "b" }') == [LINES[5]]
    assert matching("{ $.user.admin = true }") == [LINES[5]]
    assert matching("{ $.user = null }") == [LINES[6]]
    assert matching('{ $.path = "/ord*" }') == [LINES[5]]


def test_json_comparisons_and_logic() -> None:
    assert matching("{ $.latency > 100 }") == [LINES[5]]
    assert matching("{ $.latency <= 12.5 }") == [LINES[6]]
    assert matching('{ $.latency < 1000 && $.path != "/health" }') == [LINES[5]]
    assert matching('{ $.level = "info" || $.user.id = 7 }') == [LINES[5], LINES[6]]
    assert matching('{ ($.level = "info" || $.level = "error") && $.latency > 100 }') == [LINES[5]]
    assert matching('{ $.missing = "x" }') == []
    assert matching('{ $.missing != "x" }') == []


@pytest.mark.parametrize(
    "pattern",
    [
        '"unterminated',
        'a"b',
        '""',
        "[ip, user]",
        "{ $.level = }",
        "{ $.level }",
        '{ $.level = "a" ',
        '{ $.level == "a" }',
        '{ $.level = "a" && }',
        "{ level = 1 }",
        '{ $.latency > "a" }',
        "{ ($.a = 1 }",
        "{ }",
    ],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidParameterException, match="Invalid filter pattern"):
        compile_pattern(pattern)
