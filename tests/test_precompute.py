"""Precompute: the feature cache's layout and batches, cache reuse, resume after a crash, the content key, and
determinism across worker counts with the real feature extractor."""

import functools
import logging

import numpy as np
import pytest

from beatssl_lite import precompute as pre
from beatssl_lite.beat_classes import classify_beats

#: The beat features the classifier reads, as the stand-in extractor's beat feature names.
CLASSIFIER_NAMES = ("rr_pre_ms", "rr_post_ms", "qrs_ms", "p_present")


def toy_dataset(n=10, name="toy"):
    """Random signals; sample [0, 0] of record i holds its beat count for the stand-in extractor below."""
    from beatssl_lite.records import ECGDataset

    signals = np.random.default_rng(7).normal(size=(n, 12, 200)).astype(np.float32)
    signals[:, 0, 0] = np.arange(n) % 4
    return ECGDataset(signals=signals, fs=100.0, record_ids=[f"toy-{i}" for i in range(n)], name=name)


@pytest.fixture
def stand_in_features(monkeypatch):
    """Replace beatssl_lite.features by a counting stand-in (n_jobs=1 runs in this process, so it is used)."""
    import sys
    import types

    import beatssl_lite

    module = types.ModuleType("beatssl_lite.features")
    module.BEAT_FEATURES = CLASSIFIER_NAMES
    module.RECORD_FEATURES = ("hr_bpm", "rr_std_ms")
    module.calls = []
    module.fail_on = None

    def extract(signal, fs):
        k = int(signal[0, 0])
        module.calls.append(k)
        if module.fail_on is not None and np.array_equal(signal, module.fail_on):
            raise RuntimeError("simulated crash")
        beats = np.column_stack([np.full(k, 1000.0), np.full(k, 1000.0), 90.0 + signal[1, :k], np.ones(k)])
        record = np.array([60.0, float(signal[2, 0])]) if k else np.full(2, np.nan)
        return types.SimpleNamespace(r_peaks=np.arange(k) * 50 + 10, beats=beats, record=record, delineation=None)

    module.extract = extract
    monkeypatch.setitem(sys.modules, "beatssl_lite.features", module)
    monkeypatch.setattr(beatssl_lite, "features", module, raising=False)
    return module


def assert_same_cache(a, b):
    for name in ("record_ids", "record_features", "beat_features", "beat_offsets", "r_peaks", "beat_classes"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_precompute_layout_and_batch(stand_in_features, tmp_path):
    ds = toy_dataset(10)
    cache = pre.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False, chunk_size=3)
    counts = np.arange(10) % 4
    np.testing.assert_array_equal(cache.beat_counts, counts)
    np.testing.assert_array_equal(cache.beat_offsets, np.concatenate([[0], np.cumsum(counts)]))
    assert np.isnan(cache.record_features[0]).all() and cache.record_features[1, 1] == ds.signals[1, 2, 0]
    # the files left: the merged cache only, shards removed
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path.name]
    indices = [7, 0, 3, 7]
    batch = cache.batch(indices)
    expected_rows = [r for i in indices for r in range(cache.beat_offsets[i], cache.beat_offsets[i + 1])]
    np.testing.assert_array_equal(batch.beat_features, cache.beat_features[expected_rows])
    np.testing.assert_array_equal(batch.beat_record_index, np.repeat(np.arange(4), counts[indices]))
    np.testing.assert_array_equal(batch.record_features, cache.record_features[indices])
    for i, peaks in zip(indices, batch.r_peaks):
        np.testing.assert_array_equal(peaks, np.arange(counts[i]) * 50 + 10)
    # per-beat features of record 7 are 90 + its signal's lead II samples (stand-in extractor)
    np.testing.assert_allclose(batch.beat_features[:3, 2], 90.0 + ds.signals[7, 1, :3])
    with pytest.raises(IndexError, match="indices"):
        cache.batch([10])


def test_precompute_second_call_reuses_the_cache(stand_in_features, tmp_path, caplog, capsys):
    ds = toy_dataset(10)
    first = pre.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert len(stand_in_features.calls) == 10
    with caplog.at_level(logging.INFO, logger="beatssl_lite.precompute"):
        second = pre.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert len(stand_in_features.calls) == 10  # extract was not called again
    assert "cached features loaded" in caplog.text and first.path.name in caplog.text
    assert capsys.readouterr().out == ""  # messages go through logging, never print
    assert_same_cache(first, second)
    # another dataset (other ids) does not hit that cache
    pre.precompute(toy_dataset(10, name="other").subset(np.arange(9)), cache_dir=tmp_path, n_jobs=1,
                       progress=False)
    assert len(stand_in_features.calls) == 19


def test_precompute_resumes_after_an_interrupted_run(stand_in_features, tmp_path, caplog):
    ds = toy_dataset(10)
    stand_in_features.fail_on = ds.signals[7]  # chunks of 3: records 0-2 and 3-5 finish, 6-8 crashes at 7
    with pytest.raises(RuntimeError, match="toy-7"):
        pre.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=3)
    shards = sorted(p.name for p in (tmp_path / "a").glob("*.part/*.npz"))
    assert shards == ["records-0000000-0000003.npz", "records-0000003-0000006.npz"]
    stand_in_features.fail_on = None
    stand_in_features.calls.clear()
    with caplog.at_level(logging.INFO, logger="beatssl_lite.precompute"):
        resumed = pre.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=3)
    assert "resuming, 6 of 10 records" in caplog.text
    assert sorted(stand_in_features.calls) == sorted(np.arange(6, 10) % 4)  # only records 6-9 were extracted
    fresh = pre.precompute(ds, cache_dir=tmp_path / "b", n_jobs=1, progress=False, chunk_size=4)
    assert_same_cache(resumed, fresh)
    assert not list((tmp_path / "a").glob("*.part"))


def test_cache_key_and_bad_arguments(stand_in_features, tmp_path):
    ds = toy_dataset(4)
    version = pre.feature_code_version()
    assert pre.cache_key(ds, version) == pre.cache_key(toy_dataset(4), version)
    assert pre.cache_key(ds, version) != pre.cache_key(ds, version + "x")
    tuned = functools.partial(classify_beats, premature_ratio=0.9)
    assert pre.feature_code_version(tuned) != version
    with pytest.raises(TypeError, match="dataset"):
        pre.precompute(ds.signals, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="n_jobs"):
        pre.precompute(ds, cache_dir=tmp_path, n_jobs=0)
    with pytest.raises(ValueError, match="chunk_size"):
        pre.precompute(ds, cache_dir=tmp_path, chunk_size=0)
    assert not any(tmp_path.iterdir())  # nothing written before the arguments are checked


# ------------------------------------------------------------------ with the real feature extractor


@pytest.fixture(scope="module")
def synthetic_100hz():
    """Six synthetic records at 100 Hz."""
    from beatssl_lite.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(6, fs=100.0, seed=3)


def test_precompute_with_real_features_is_deterministic_across_workers(synthetic_100hz, tmp_path):
    from beatssl_lite import features

    ds = synthetic_100hz
    serial = pre.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=6)
    parallel = pre.precompute(ds, cache_dir=tmp_path / "b", n_jobs=2, progress=False, chunk_size=2)
    assert_same_cache(serial, parallel)
    assert serial.record_feature_names == features.RECORD_FEATURES
    direct = features.extract(ds.signals[4], ds.fs)
    batch = serial.batch([4])
    np.testing.assert_array_equal(batch.beat_features, direct.beats)
    np.testing.assert_array_equal(batch.r_peaks[0], direct.r_peaks)
    np.testing.assert_array_equal(batch.beat_classes, classify_beats(direct))


def test_cache_file_of_another_format_is_refused(stand_in_features, tmp_path):
    cache = pre.precompute(toy_dataset(5), cache_dir=tmp_path, n_jobs=1, progress=False)
    assert repr(cache).startswith("FeatureCache(5 records, 6 beats, fs=100 Hz")
    with np.load(cache.path) as z:
        arrays = {name: z[name] for name in z.files}
    old = tmp_path / "old.npz"
    np.savez(old, **{**arrays, "format": np.array("beatssl_lite.targets.cache/1")})  # the cache before the rename
    with pytest.raises(ValueError, match="old.npz: cache format 'beatssl_lite.targets.cache/1'"):
        pre.FeatureCache.load(old)
