"""A policy shown valid without jsonschema is one jsonschema finds valid: the fast check
(jsonschema-rs, ``plainly_valid``) never accepts a document the reference rejects."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from bomguard.policy._schema import plainly_valid, validator

POLICIES = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "policies").glob("*.yaml")
    if not p.name.endswith(".tests.yaml")
)


def _variants(data):
    """The shipped policy, and edits jsonschema judges one way or the other."""
    yield data
    rule = data["rules"][0]
    for key, value in [
        ("id", "abc\n"),  # Python's `$` matches before a final newline; ECMA's does not
        ("id", "abc\x1c"),  # whitespace to Python's `\s`, not to ECMA's
        ("id", "ab c"),
        ("id", "caf\u00e9"),
        ("id", 7),
        ("severity", "fatal"),
        ("unknown-key", True),
        ("message", "\ufeff"),
    ]:
        edited = copy.deepcopy(data)
        edited["rules"][0] = {**rule, key: value}
        yield edited
    edited = copy.deepcopy(data)
    edited["metadata"] = {**edited.get("metadata", {}), "expires": dt.date(2026, 1, 1)}
    yield edited
    edited = copy.deepcopy(data)
    edited["rules"] = []
    yield edited
    for url in ("https://a\x1cb", "https://a\u2028b", "https://a b", "https://a\n"):
        edited = copy.deepcopy(data)
        reference = {"id": "R", "title": "T", "url": url}
        edited["metadata"] = {**edited.get("metadata", {}), "references": [reference]}
        yield edited


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_the_fast_check_never_accepts_what_jsonschema_rejects(path):
    data = yaml.safe_load(path.read_text())
    assert plainly_valid("policy", data), "a shipped policy skips jsonschema"
    accepted_invalid = [
        variant
        for variant in _variants(data)
        if plainly_valid("policy", variant) and list(validator("policy").iter_errors(variant))
    ]
    assert accepted_invalid == []
