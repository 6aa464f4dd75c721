"""The release cache on its own: bounded in bytes, least recently used first out, one release."""

from __future__ import annotations

import os

import pytest

from server.builds import BuildHandle
from server.release_cache import ENTRY_OVERHEAD, ReleaseCache
from treatygraph.core.config import Config
from treatygraph.publish.build import _swap_current

A, B = object(), object()  # two releases


def test_values_are_kept_per_release_and_forgotten_on_follow():
    cache = ReleaseCache(10_000, 1_000)
    assert not cache.put(A, "k", b"x", 1), "nothing is kept before a release is followed"
    cache.follow(A)
    assert cache.put(A, "k", b"value", 5)
    assert cache.get(A, "k") == b"value"
    assert cache.get(B, "k") is None, "another release never reads it"
    cache.follow(B)
    assert len(cache) == 0 and cache.size == 0
    assert cache.get(A, "k") is None
    assert not cache.put(A, "k", b"late", 4), "a request of the replaced release fills nothing"
    assert len(cache) == 0


def test_bounded_in_bytes_least_recently_used_first_out():
    entry = 100
    cache = ReleaseCache(3 * (entry + ENTRY_OVERHEAD), entry)
    cache.follow(A)
    for key in "abc":
        assert cache.put(A, key, key, entry)
    assert cache.get(A, "a") == "a"  # now b is the least recently used
    assert cache.put(A, "d", "d", entry)
    assert [cache.get(A, key) for key in "abcd"] == ["a", None, "c", "d"]
    assert list(cache) == ["a", "c", "d"], "least recently used first"
    assert cache.size <= cache.max_bytes
    assert not cache.put(A, "big", "big", entry + 1), "larger than one entry may be"
    assert cache.get(A, "big") is None
    assert cache.put(A, "a", "again", entry) and cache.get(A, "a") == "again"
    assert cache.size == 3 * (entry + ENTRY_OVERHEAD)


def test_a_cache_of_size_zero_keeps_nothing():
    cache = ReleaseCache(0, 256 << 10)
    cache.follow(A)
    assert not cache.put(A, "k", b"", 0)
    assert cache.get(A, "k") is None


@pytest.mark.parametrize("name", ["TREATYGRAPH_ANSWER_CACHE_MB", "TREATYGRAPH_PAGE_CACHE_MB"])
def test_cache_sizes_from_the_environment(monkeypatch, name):
    monkeypatch.setenv(name, "3")
    config = Config.from_env()
    assert (config.answer_cache_mb if "ANSWER" in name else config.page_cache_mb) == 3
    monkeypatch.setenv(name, "-1")
    with pytest.raises(ValueError, match=f"{name}=-1 must be 0 or more"):
        Config.from_env()


def test_listeners_hear_of_each_release_once_and_before_any_request(two_releases):
    swapped, first, second = two_releases
    handle = BuildHandle(swapped)
    heard = []
    handle.on_change(lambda build: heard.append(build))
    one = handle.get()
    assert handle.get() is one and heard == [one]
    _swap_current(swapped, second)
    two = handle.get()
    assert two.release == second and heard == [one, two]
    _swap_current(swapped, first)
    three = handle.get()
    assert three.release == first and three is not one, "a release opened again is a new one"
    assert heard == [one, two, three]
    os.unlink(swapped.build_dir / "current")
    assert handle.get() is three, "a missing link keeps the last good build"
