"""Atomic writes and content-keyed cache entries (beatssl_lite.cache)."""

import hashlib
import json
import os

import numpy as np
import pytest

from beatssl_lite import cache


def test_atomic_write_bytes_writes_exactly_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    cache.atomic_write_bytes(target, b"abc")
    cache.atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_atomic_savez_round_trips_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "arrays.npz"
    cache.atomic_savez(target, a=np.arange(3), b=np.eye(2))
    with np.load(target) as z:
        np.testing.assert_array_equal(z["a"], [0, 1, 2])
        np.testing.assert_array_equal(z["b"], np.eye(2))
    cache.atomic_savez(target, compressed=True, a=np.arange(5))
    with np.load(target) as z:
        assert list(z) == ["a"] and z["a"].tolist() == [0, 1, 2, 3, 4]

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot write this")

    with pytest.raises(RuntimeError):
        cache.atomic_savez(target, a=np.array([Unpicklable()], dtype=object))
    with np.load(target) as z:  # the previous complete file is still there, and no temporary is left
        assert z["a"].tolist() == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.npz"]


def test_atomic_directory_renames_on_success_and_cleans_up_on_failure(tmp_path):
    final = tmp_path / "entry"
    with pytest.raises(ValueError):
        with cache.atomic_directory(final) as building:
            (building / "half.npy").write_bytes(b"x")
            raise ValueError("interrupted")
    assert list(tmp_path.iterdir()) == []

    with cache.atomic_directory(final) as building:
        assert building.parent == tmp_path and building != final
        (building / "a.txt").write_text("first")
    assert (final / "a.txt").read_text() == "first"

    # Another process finished the same entry first: the existing one is kept, ours discarded, no error.
    with cache.atomic_directory(final) as building:
        (building / "a.txt").write_text("second")
    assert (final / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]


def test_content_key_is_sha256_of_sorted_json():
    parts = {"b": 1, "a": [1, 2, "x"]}
    expected = hashlib.sha256(json.dumps({"a": [1, 2, "x"], "b": 1}, separators=(",", ":")).encode()).hexdigest()
    assert cache.content_key(parts) == expected
    assert cache.content_key({"a": [1, 2, "x"], "b": 1}) == expected
    assert cache.content_key({"a": [1, 2, "x"], "b": 2}) != expected


def test_file_fingerprint_follows_path_size_and_mtime(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"1234")
    b.write_bytes(b"xy")
    stats = {str(p): os.stat(p) for p in (a, b)}
    expected = hashlib.sha256("".join(f"{p}\t{stats[p].st_size}\t{stats[p].st_mtime_ns}\n"
                                      for p in sorted([str(a), str(b)])).encode()).hexdigest()
    first = cache.file_fingerprint([b, a])
    assert first == expected
    assert cache.file_fingerprint([a, b]) == first  # order of the list does not matter
    os.utime(a, ns=(stats[str(a)].st_atime_ns, stats[str(a)].st_mtime_ns + 1_000_000_000))
    assert cache.file_fingerprint([a, b]) != first
    with pytest.raises(FileNotFoundError, match="missing"):
        cache.file_fingerprint([tmp_path / "missing"])


def test_cached_directory_builds_once_per_key(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        np.save(folder / "x.npy", np.arange(4))

    key = cache.content_key({"format": 1})
    first = cache.cached_directory(tmp_path, "demo", key, build)
    again = cache.cached_directory(tmp_path, "demo", key, build)
    assert first == again == tmp_path / f"demo-{key[:20]}" and len(calls) == 1
    other = cache.cached_directory(tmp_path, "demo", cache.content_key({"format": 2}), build)
    assert other != first and len(calls) == 2
    np.testing.assert_array_equal(np.load(first / "x.npy"), np.arange(4))
