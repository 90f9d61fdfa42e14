"""Entity ids: injective, reversible, bounded, valid in S3 keys and log-group names."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from transform.names import MAX_ENTITY_ID, decode, is_bounded, safe_name

SAFE = re.compile(r"[A-Za-z0-9._#-]+")
LOG_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")


def test_email_is_readable_and_reversible() -> None:
    assert safe_name("jane.doe@example.com") == "jane.doe#40example.com"
    assert decode("jane.doe#40example.com") == "jane.doe@example.com"


def test_dangerous_names_are_neutralised() -> None:
    for name, expected in (
        ("..", "#2E."),
        ("../etc", "#2E.#2Fetc"),
        ("a/b", "a#2Fb"),
        ("%2F", "#252F"),
        ("#23", "#2323"),
        (".hidden", "#2Ehidden"),
    ):
        assert safe_name(name) == expected
        assert decode(expected) == name


def test_unicode_lookalike_differs_from_ascii() -> None:
    assert safe_name("аcme") != safe_name("acme")  # Cyrillic 'а'
    assert decode(safe_name("аcme")) == "аcme"


def test_long_names_are_bounded_and_distinct() -> None:
    a, b = "x" * 600 + "a", "x" * 600 + "b"
    assert len(safe_name(a)) <= MAX_ENTITY_ID and len(safe_name(b)) <= MAX_ENTITY_ID
    assert safe_name(a) != safe_name(b)
    assert is_bounded(safe_name(a))


@settings(max_examples=400)
@given(st.text(min_size=1, max_size=300))
def test_any_name_gives_a_valid_id(name: str) -> None:
    entity_id = safe_name(name)
    assert SAFE.fullmatch(entity_id)
    assert ".." not in entity_id and not entity_id.startswith(".")
    assert len(entity_id) <= MAX_ENTITY_ID
    assert LOG_GROUP.fullmatch("/bedrock/users/" + entity_id)
    if not is_bounded(entity_id):
        assert decode(entity_id) == name


@settings(max_examples=400)
@given(st.text(max_size=150), st.text(max_size=150))
def test_injective(a: str, b: str) -> None:
    if a != b:
        assert safe_name(a) != safe_name(b)
