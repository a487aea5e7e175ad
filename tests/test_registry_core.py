"""``bonas.registry.Registry``: the one mapping every kind of component is found in."""

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bonas.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class Entry:
    name: str


def test_an_unknown_name_is_a_value_error_and_a_key_error_listing_the_known_ones():
    registry = Registry("widget", Entry)
    registry.add(Entry("a"))
    with pytest.raises(ValueError, match=r"unknown widget 'b'; expected one of \['a'\]"):
        registry["b"]
    with pytest.raises(KeyError):
        registry["b"]
    assert str(UnknownNameError("plain")) == "plain"
    assert registry.get("b") is None and "b" not in registry and "a" in registry
    assert registry.get(["unhashable"]) is None


def test_add_checks_the_entry_type_and_taken_names():
    registry = Registry("widget", Entry)
    registry.add(Entry("a"))
    with pytest.raises(ValueError, match="a widget registry takes a Entry, got str"):
        registry.add("a")
    with pytest.raises(ValueError, match="widget 'a' is already registered; pass replace=True"):
        registry.add(Entry("a"))
    replacement = Entry("a")
    assert registry.add(replacement, replace=True) is replacement
    registry.unregister("a")
    assert len(registry) == 0
    with pytest.raises(UnknownNameError):
        registry.unregister("a")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12, unique=True))
def test_names_keep_their_registration_order_and_reserved_marks_are_refused(names):
    registry = Registry("widget")
    kept = []
    for name in names:
        if ":" in name or "," in name:
            with pytest.raises(ValueError, match="without ':' or ','"):
                registry.register(name, object())
        else:
            registry.register(name, object())
            kept.append(name)
    assert list(registry) == kept and len(registry) == len(kept)
