"""Records behave the same on real data (a read-only memory-mapped cache) as on the synthetic default.

The real-data book once showed PyTorch's "The given NumPy array is not writable" UserWarning, which the strict
build on the synthetic default (in-memory, writable arrays) cannot catch: a chapter passed a row of the cached
LUDB signals to ``torch.from_numpy``. ``ECGDataset[i]`` now hands out a writable copy of its row. PyTorch issues
that warning once per process, so the checks that look for it run in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from beatssl_lite import ECGDataset, load_dataset, make_synthetic_dataset

_FROM_NUMPY = textwrap.dedent("""
    import sys, torch
    from beatssl_lite import load_dataset
    record = load_dataset("ludb", root=sys.argv[1], progress=False)[0]
    torch.from_numpy(record.signal), torch.from_numpy(record.masks)
    print("no warning")
""")


def memmapped(tmp_path) -> ECGDataset:
    """The synthetic dataset stored and reopened as the loaders' cache is: read-only memmaps."""
    source = make_synthetic_dataset(3, fs=500.0, seed=0)
    np.save(tmp_path / "signals.npy", source.signals)
    np.save(tmp_path / "masks.npy", source.masks)
    return ECGDataset(signals=np.load(tmp_path / "signals.npy", mmap_mode="r"), fs=source.fs,
                      record_ids=source.record_ids, name="cached", masks=np.load(tmp_path / "masks.npy", mmap_mode="r"))


def test_a_record_of_a_memmapped_dataset_is_writable_and_its_own(tmp_path):
    dataset = memmapped(tmp_path)
    assert not dataset.signals.flags.writeable  # the premise: the cache is read-only
    record = dataset[1]
    assert record.signal.flags.writeable and record.masks.flags.writeable
    np.testing.assert_array_equal(record.signal, np.asarray(dataset.signals[1]))
    np.testing.assert_array_equal(record.masks, np.asarray(dataset.masks[1]))
    assert record.signal.dtype == np.float32


def test_a_record_of_an_in_memory_dataset_does_not_write_through():
    dataset = make_synthetic_dataset(2, fs=500.0, seed=0)
    before = dataset.signals[0].copy()
    record = dataset[0]
    record.signal[:] = 0.0
    record.masks[:] = 0
    np.testing.assert_array_equal(dataset.signals[0], before)  # as on a memmapped dataset, which cannot change
    assert dataset.masks[0].any()


def test_torch_from_numpy_of_a_memmapped_record_does_not_warn(tmp_path):
    """A fresh interpreter with UserWarnings as errors, as the real-data book build runs its kernels."""
    dataset = memmapped(tmp_path)
    code = textwrap.dedent(f"""
        import numpy as np, torch
        from beatssl_lite import ECGDataset
        signals = np.load({str(tmp_path / 'signals.npy')!r}, mmap_mode="r")
        masks = np.load({str(tmp_path / 'masks.npy')!r}, mmap_mode="r")
        dataset = ECGDataset(signals=signals, fs=500.0, record_ids={list(dataset.record_ids)!r}, name="cached",
                             masks=masks)
        torch.from_numpy(dataset[0].signal), torch.from_numpy(dataset[0].masks)
        print("no warning")
    """)
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "no warning" in done.stdout, done.stderr[-2000:]


def test_three_kg_of_a_read_only_batch_does_not_warn_and_matches_a_writable_one(tmp_path):
    dataset = memmapped(tmp_path)
    code = textwrap.dedent(f"""
        import numpy as np
        from beatssl_lite.augment import three_kg
        signals = np.load({str(tmp_path / 'signals.npy')!r}, mmap_mode="r")
        assert not signals.flags.writeable
        views, _ = three_kg(signals, generator=0)
        expected, _ = three_kg(np.array(signals), generator=0)
        np.testing.assert_array_equal(views, expected)
        print("no warning")
    """)
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "no warning" in done.stdout, done.stderr[-2000:]


@pytest.mark.realdata
def test_torch_from_numpy_of_a_real_ludb_record_does_not_warn(ludb_root):
    assert not load_dataset("ludb", root=ludb_root, progress=False).signals.flags.writeable
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", _FROM_NUMPY, str(ludb_root)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "no warning" in done.stdout, done.stderr[-2000:]
