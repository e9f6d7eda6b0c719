"""Layered mappings: a view's dictionaries changed by a push without copying the archive."""

from __future__ import annotations

import random

import pytest

from bot import layered
from bot.layered import Layered, changed, last_keys


def test_a_layer_reads_like_the_dict_it_stands_for_and_leaves_its_base_alone() -> None:
    base = {"a": 1, "b": 2, "c": 3}
    layer = changed(base, {"b", "zz"}, {"c": 30, "d": 4})
    assert isinstance(layer, Layered) and layer.base is base
    assert dict(layer) == {"a": 1, "c": 30, "d": 4} and len(layer) == 3
    assert list(layer) == ["a", "c", "d"]  # the base's order, then what was added
    assert "b" not in layer and "zz" not in layer and layer.get("b") is None
    with pytest.raises(KeyError):
        layer["b"]
    assert base == {"a": 1, "b": 2, "c": 3}
    assert layer == {"a": 1, "c": 30, "d": 4}


def test_layers_carry_their_changes_and_match_a_dict_through_many_pushes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Random pushes (adds, replacements, removals, re-adds), with compaction now and then."""
    monkeypatch.setattr(layered, "COMPACT_MIN", 25)
    rng = random.Random(4)
    want = {f"k{i}": i for i in range(200)}
    got: object = dict(want)
    flattened = 0
    for step in range(300):
        keys = [f"k{rng.randrange(260)}" for _ in range(rng.randrange(6))]
        drop = set(keys[: len(keys) // 2])
        add = {k: step for k in keys[len(keys) // 2 :]}
        previous, before = got, dict(got)  # type: ignore[call-overload]
        got = changed(previous, drop, add)  # type: ignore[arg-type]
        assert dict(previous) == before  # type: ignore[call-overload]  # read by older views: unchanged
        flattened += isinstance(got, dict)
        for k in drop:
            want.pop(k, None)
        want.update(add)
        assert dict(got) == want and len(got) == len(want)  # type: ignore[arg-type]
        assert all(k in got for k in want) and not any(k in got for k in drop - set(add))  # type: ignore[operator]
    assert flattened > 0  # compaction happened and kept the contents


def test_an_older_layer_still_reads_as_it_did_after_newer_ones_are_made() -> None:
    first = changed({"a": 1, "b": 2}, {"a"}, {"c": 3})
    second = changed(first, {"c"}, {"a": 10})
    assert dict(first) == {"b": 2, "c": 3}
    assert dict(second) == {"b": 2, "a": 10}


def test_a_layer_is_flattened_once_its_changes_outgrow_its_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layered, "COMPACT_MIN", 2)
    base = {str(i): i for i in range(8)}
    small = changed(base, {"0"}, {"x": 1})
    assert isinstance(small, Layered)
    flat = changed(small, {"1"}, {"y": 2})
    assert type(flat) is dict and flat == {**{str(i): i for i in range(2, 8)}, "x": 1, "y": 2}
    made = changed(small, {"1"}, {"y": 2}, flatten=lambda b, d, a: ("flattened", len(b), sorted(d), a))  # type: ignore[arg-type,return-value]
    assert made == ("flattened", 8, ["0", "1"], {"x": 1, "y": 2})


def test_the_last_keys_of_a_layer_come_from_its_changes_then_its_base() -> None:
    layer = changed({"a": 1, "b": 2, "c": 3}, {"c"}, {"d": 4})
    assert last_keys(layer, 2) == ["b", "d"]
    assert last_keys({"a": 1, "b": 2}, 3) == ["a", "b"]
    assert last_keys(changed({"a": 1}, {"a"}, {}), 3) == []
