"""Targets: similarity against naive loops from the formulas, the paper's 3 x 2 target layout, beat classes on
constructed beats, and the dataset precompute (cache reuse, resume, determinism)."""

import math

import numpy as np
import pytest

from beatssl_lite import targets
from beatssl_lite.targets import BEAT_CLASSES, beat_targets, rhythm_targets, two_view_targets

# The paper's soft target matrix "with ^50" for 3 ECGs x 2 views (project page; spec section 2).
PAPER_SOFT_50 = np.array(
    [
        [0, 0.97, 0.8, 1, 0.97, 0.8],
        [0.97, 0, 0.7, 0.97, 1, 0.7],
        [0.8, 0.7, 0, 0.8, 0.7, 1],
        [1, 0.97, 0.8, 0, 0.97, 0.8],
        [0.97, 1, 0.7, 0.97, 0, 0.7],
        [0.8, 0.7, 1, 0.8, 0.7, 0],
    ]
)
NAMES = ("rr_pre_ms", "pr_ms", "qrs_ms", "qt_ms", "r_amp_mv", "st_mv", "qrs_axis_deg", "p_present")


def random_features(n, seed=0, nan_fraction=0.15):
    """Physiological-looking feature rows in the units of NAMES, some NaN."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.uniform(500, 1200, n),
            rng.uniform(110, 220, n),
            rng.uniform(70, 160, n),
            rng.uniform(320, 480, n),
            rng.uniform(0.3, 2.5, n),
            rng.uniform(-0.2, 0.2, n),
            rng.uniform(-180, 180, n),
            rng.integers(0, 2, n).astype(float),
        ]
    )
    x[rng.random(x.shape) < nan_fraction] = np.nan
    return x


def naive_cosine(x):
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            common = np.isfinite(x[i]) & np.isfinite(x[j])
            a, b = x[i][common], x[j][common]
            denom = math.sqrt(sum(v * v for v in a) * sum(v * v for v in b))
            out[i, j] = min(max(sum(a * b) / denom, 0.0), 1.0) if denom > 0 else 0.0
    return out


def naive_rbf(x, names):
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d2 = []
            for f, name in enumerate(names):
                if not (np.isfinite(x[i, f]) and np.isfinite(x[j, f])):
                    continue
                scale = targets.FEATURE_SCALES[name]
                if name == "qrs_axis_deg":
                    delta = (x[i, f] - x[j, f] + 180.0) % 360.0 - 180.0
                    d = 2 * math.sin(math.radians(delta) / 2) / math.radians(scale)
                else:
                    d = (x[i, f] - x[j, f]) / scale
                d2.append(d * d)
            out[i, j] = math.exp(-0.5 * sum(d2) / len(d2)) if d2 else 0.0
    return out


def vectors_with_cosines(gram):
    """Rows whose pairwise cosines are exactly the given Gram matrix (unit diagonal)."""
    return np.linalg.cholesky(np.asarray(gram, dtype=float))


# ------------------------------------------------------------------ similarity


def test_cosine_matches_naive_loop_with_nans():
    x = random_features(17, seed=1)
    x[3] = np.nan  # a record without any feature: similar to nothing
    x[5, :] = np.nan
    x[5, 0] = 800.0  # a record with a single feature
    got = targets.cosine_similarity(x)
    np.testing.assert_allclose(got, naive_cosine(x), atol=1e-12)
    assert (got[3] == 0).all() and (got[:, 3] == 0).all()


def test_cosine_is_scale_invariant_and_symmetric_in_unit_range():
    x = random_features(12, seed=2)
    x[:, 5] -= 1.0  # negative ST levels make some raw cosines negative before clipping
    s = targets.cosine_similarity(x)
    assert np.allclose(s, s.T) and s.min() >= 0 and s.max() <= 1
    scaled = x * np.linspace(0.5, 3, len(x))[:, None]
    np.testing.assert_allclose(targets.cosine_similarity(scaled), s, atol=1e-12)


def test_soft_1_power_is_closed_form():
    theta = np.deg2rad([0.0, 2.0, 5.0, 40.0])
    x = np.column_stack([np.cos(theta), np.sin(theta)])  # cosine between rows i and j: cos(theta_i - theta_j)
    for power in (1.0, 50.0, 2.5):
        s = targets.similarity(x, "soft_1", power)
        expected = np.cos(theta[:, None] - theta[None, :]) ** power
        np.testing.assert_allclose(s, expected, atol=1e-12)
    # the paper's power 50 on a raw similarity of 0.9994 gives 0.97; on 0.993 it gives 0.70
    assert targets.similarity(vectors_with_cosines([[1, 0.9994], [0.9994, 1]]), "soft_1", 50)[0, 1] == pytest.approx(
        0.9994**50
    )


def test_soft_2_matches_naive_loop_with_nans_and_angles():
    x = random_features(15, seed=3)
    x[4] = np.nan
    got = targets.rbf_similarity(x, names=NAMES)
    np.testing.assert_allclose(got, naive_rbf(x, NAMES), atol=1e-10)
    assert (got[4] == 0).all()
    s = targets.similarity(x, "soft_2", power=3.0, names=NAMES)
    np.testing.assert_allclose(s, naive_rbf(x, NAMES) ** 3, atol=1e-10)
    assert np.allclose(s, s.T) and s.min() >= 0 and s.max() <= 1


def test_soft_2_axis_is_circular_and_one_scale_closed_form():
    names = ("qrs_axis_deg",)
    x = np.array([[170.0], [-170.0], [10.0], [30.0]])
    s = targets.rbf_similarity(x, names=names)
    assert s[0, 1] == pytest.approx(s[2, 3])  # 20 degrees apart across +-180 as across 10..30
    two = np.array([[800.0, 100.0], [900.0, 100.0]])  # one scale apart in RR, equal QRS: exp(-(1/2) * 1 / 2)
    assert targets.rbf_similarity(two, names=("rr_pre_ms", "qrs_ms"))[0, 1] == pytest.approx(math.exp(-0.25))
    median = targets.rbf_similarity(two, names=("median_rr_pre_ms", "median_qrs_ms"))
    assert median[0, 1] == pytest.approx(math.exp(-0.25))


def test_hard_similarity_is_identity():
    x = random_features(5)
    np.testing.assert_array_equal(targets.similarity(x, "hard"), np.eye(5))


# ------------------------------------------------------------------ rhythm targets


def test_two_view_layout_rebuilds_the_paper_matrix():
    item = np.array([[1.0, 0.97, 0.8], [0.97, 1.0, 0.7], [0.8, 0.7, 1.0]])
    np.testing.assert_array_equal(two_view_targets(item), PAPER_SOFT_50)


def test_rhythm_targets_soft_1_power_50_from_feature_vectors():
    # raw cosines whose 50th powers are the paper's 0.97, 0.8 and 0.7
    raw = {(0, 1): 0.97 ** (1 / 50), (0, 2): 0.8 ** (1 / 50), (1, 2): 0.7 ** (1 / 50)}
    gram = np.eye(3)
    for (i, j), value in raw.items():
        gram[i, j] = gram[j, i] = value
    t = rhythm_targets(vectors_with_cosines(gram), "soft_1", power=50)
    np.testing.assert_allclose(t, PAPER_SOFT_50, atol=1e-9)
    assert 0.992 < min(raw.values()) and max(raw.values()) < 0.9995  # the spec's 0.993-0.9994


def test_rhythm_targets_hard_is_partner_one_hot():
    b = 4
    t = rhythm_targets(random_features(b), "hard")
    expected = np.zeros((2 * b, 2 * b))
    for i in range(b):
        expected[i, i + b] = expected[i + b, i] = 1
    np.testing.assert_array_equal(t, expected)


@pytest.mark.parametrize("strategy", ["soft_1", "soft_2"])
def test_rhythm_targets_layout_for_any_batch(strategy):
    x = random_features(6, seed=4)
    b = len(x)
    t = rhythm_targets(x, strategy, power=2.0, names=NAMES)
    s = targets.similarity(x, strategy, 2.0, names=NAMES)
    assert t.shape == (2 * b, 2 * b) and np.allclose(t, t.T) and t.min() >= 0 and t.max() <= 1
    for a in range(2 * b):
        for c in range(2 * b):
            i, j = a % b, c % b
            expected = 0.0 if a == c else 1.0 if i == j else s[i, j]
            assert t[a, c] == pytest.approx(expected)


# ------------------------------------------------------------------ beat targets


def test_beat_targets_hard_from_classes():
    classes = np.array([0, 0, 2, 0, 4, 4, 2, 1])  # N N V N Q Q V S
    records = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    feats = random_features(len(classes), seed=5)
    t = beat_targets(feats, records, classes, "hard")
    for i in range(len(classes)):
        for j in range(len(classes)):
            same = classes[i] == classes[j] and BEAT_CLASSES[classes[i]] != "Q" and i != j
            assert t[i, j] == float(same)
    within = beat_targets(feats, records, classes, "hard", scope="record")
    np.testing.assert_array_equal(within, t * (records[:, None] == records[None, :]))
    # both views: the partner (same beat, other view) is 1, even for a Q beat
    two = two_view_targets(t)
    m = len(classes)
    assert two[4, 4 + m] == 1 and two[4, 5] == 0 and two[4, 5 + m] == 0 and two[0, 1 + m] == 1


@pytest.mark.parametrize("strategy", ["soft_1", "soft_2"])
def test_beat_targets_soft_is_similarity_without_self(strategy):
    feats = random_features(9, seed=6)
    records = np.repeat([0, 1, 2], 3)
    classes = np.zeros(9, dtype=int)
    t = beat_targets(feats, records, classes, strategy, power=50, names=NAMES)
    s = targets.similarity(feats, strategy, 50, names=NAMES)
    np.testing.assert_allclose(t, s - np.diag(np.diag(s)))


def test_beat_targets_empty_batch():
    t = beat_targets(np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, int), "hard")
    assert t.shape == (0, 0)
    assert two_view_targets(t).shape == (0, 0)


def test_bad_inputs_are_named():
    x = random_features(4)
    with pytest.raises(ValueError, match="strategy"):
        rhythm_targets(x, "soft_3")
    with pytest.raises(ValueError, match="power"):
        rhythm_targets(x, "soft_1", power=0)
    with pytest.raises(ValueError, match="record_features"):
        rhythm_targets(x[0], "soft_1")
    with pytest.raises(KeyError, match="no soft_2 scale"):
        rhythm_targets(x, "soft_2", names=[f"unknown_{i}" for i in range(x.shape[1])])
    with pytest.raises(ValueError, match="names"):
        targets.rbf_similarity(x, names=NAMES[:3])
    with pytest.raises(ValueError, match="beat_record_index"):
        beat_targets(x, np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="beat_classes"):
        beat_targets(x, np.zeros(4, int), np.full(4, 7))


# ------------------------------------------------------------------ beat classes

CLASSIFIER_NAMES = ("rr_pre_ms", "rr_post_ms", "qrs_ms", "p_present")


def record(beats):
    """Beat rows of one record from (rr_pre_ms, qrs_ms, p_present) triples; rr_post is the next beat's rr_pre."""
    rr_pre = np.array([b[0] for b in beats], dtype=float)
    rr_post = np.append(rr_pre[1:], np.nan)
    return np.column_stack([rr_pre, rr_post, [b[1] for b in beats], [b[2] for b in beats]])


def classes_of(beats, **kwargs):
    codes = targets.classify_beats(record(beats), names=CLASSIFIER_NAMES, **kwargs)
    return "".join(BEAT_CLASSES[c] for c in codes)


def test_classifier_on_constructed_beats():
    sinus = (1000.0, 90.0, 1)
    assert classes_of([(np.nan, 90, 1)] + [sinus] * 7) == "N" * 8
    # premature narrow beat without P (junctional / hidden P) and with P (atrial): S; compensatory pause after
    assert classes_of([sinus] * 4 + [(700, 90, 0), (1300, 90, 1), sinus]) == "NNNNSNN"
    assert classes_of([sinus] * 4 + [(700, 92, 1), (1300, 90, 1), sinus]) == "NNNNSNN"
    # wide premature beat: V; late wide beat without P (ventricular escape): V
    assert classes_of([sinus] * 4 + [(650, 150, 0), (1350, 90, 1), sinus]) == "NNNNVNN"
    assert classes_of([sinus] * 4 + [(1500, 160, 0), sinus]) == "NNNNVN"
    # on time, P present, QRS much wider than the conducted beats: F; without the P wave: V
    assert classes_of([sinus] * 4 + [(1000, 125, 1), sinus]) == "NNNNFN"
    assert classes_of([sinus] * 4 + [(1000, 125, 0), sinus]) == "NNNNVN"
    # boundary jitter (QRS 20 ms wider than the dominant) is not enough: N
    assert classes_of([sinus] * 4 + [(1000, 110, 1), sinus]) == "NNNNNN"
    # undefined QRS: Q
    assert classes_of([sinus] * 3 + [(1000, np.nan, 1), sinus]) == "NNNQN"
    # bundle branch block: every beat wide, none unlike the others: N (AAMI)
    assert classes_of([(1000.0, 150.0, 1)] * 6) == "N" * 6
    # atrial fibrillation: irregular without P waves: N, not S; a wide beat among them is still V
    af = [(r, 90.0, 0) for r in (620, 950, 700, 1100, 640, 880, 760)]
    assert classes_of(af) == "N" * 7
    assert classes_of(af[:3] + [(600, 150.0, 0)] + af[3:]) == "NNNVNNNN"
    # a beat just 10 % early is sinus arrhythmia, not premature; the threshold is a parameter
    assert classes_of([sinus] * 4 + [(900, 90, 1), sinus]) == "NNNNNN"
    assert classes_of([sinus] * 4 + [(900, 90, 1), sinus], premature_ratio=0.95) == "NNNNSN"


def test_classifier_edge_cases():
    assert targets.classify_beats(np.zeros((0, 4)), names=CLASSIFIER_NAMES).shape == (0,)
    assert classes_of([(np.nan, 90, 1)]) == "N"  # one beat, no RR at all
    with pytest.raises(ValueError, match="needs feature"):
        targets.classify_beats(np.zeros((2, 3)), names=("rr_pre_ms", "qrs_ms", "p_present"))
    with pytest.raises(ValueError, match="one column per name"):
        targets.classify_beats(np.zeros((3, 5)), names=CLASSIFIER_NAMES)
    # no RR at all: prematurity is unknown, width alone still tells a ventricular beat
    assert classes_of([(np.nan, 90, 1), (np.nan, 90, 1)]) == "NN"
    assert classes_of([(np.nan, 90, 1), (np.nan, 90, 1), (np.nan, 160, 0)]) == "NNV"


# ------------------------------------------------------------------ plots used by the chapter


def test_plot_target_matrix_and_histograms():
    from beatssl_lite.plots import plot_histograms, plot_target_matrix

    fig = plot_target_matrix(PAPER_SOFT_50, views=2, title="paper")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), PAPER_SOFT_50)
    assert [t.get_text() for t in ax.texts][:4] == ["0.00", "0.97", "0.80", "1.00"] and len(ax.texts) == 36
    with pytest.raises(ValueError, match="matrix"):
        plot_target_matrix(np.zeros((2, 3)))
    fig = plot_histograms({"raw": [0.99, 0.995, np.nan], "power 50": [0.6, 0.8]}, bins=5)
    counts = [sum(p.get_height() for p in ax.patches) for ax in fig.axes]
    assert counts == [2, 2]


# ------------------------------------------------------------------ precompute and the cache


def toy_dataset(n=10, name="toy"):
    """Random signals; sample [0, 0] of record i holds its beat count for the stand-in extractor below."""
    from beatssl_lite.data import ECGDataset

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
    cache = targets.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False, chunk_size=3)
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


def test_precompute_second_call_reuses_the_cache(stand_in_features, tmp_path):
    ds = toy_dataset(10)
    first = targets.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert len(stand_in_features.calls) == 10
    second = targets.precompute(ds, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert len(stand_in_features.calls) == 10  # extract was not called again
    assert_same_cache(first, second)
    # another dataset (other ids) does not hit that cache
    targets.precompute(toy_dataset(10, name="other").subset(np.arange(9)), cache_dir=tmp_path, n_jobs=1,
                       progress=False)
    assert len(stand_in_features.calls) == 19


def test_precompute_resumes_after_an_interrupted_run(stand_in_features, tmp_path):
    ds = toy_dataset(10)
    stand_in_features.fail_on = ds.signals[7]  # chunks of 3: records 0-2 and 3-5 finish, 6-8 crashes at 7
    with pytest.raises(RuntimeError, match="toy-7"):
        targets.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=3)
    shards = sorted(p.name for p in (tmp_path / "a").glob("*.part/*.npz"))
    assert shards == ["records-0000000-0000003.npz", "records-0000003-0000006.npz"]
    stand_in_features.fail_on = None
    stand_in_features.calls.clear()
    resumed = targets.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=3)
    assert sorted(stand_in_features.calls) == sorted(np.arange(6, 10) % 4)  # only records 6-9 were extracted
    fresh = targets.precompute(ds, cache_dir=tmp_path / "b", n_jobs=1, progress=False, chunk_size=4)
    assert_same_cache(resumed, fresh)
    assert not list((tmp_path / "a").glob("*.part"))


def test_cache_key_and_bad_arguments(stand_in_features, tmp_path):
    ds = toy_dataset(4)
    version = targets.feature_code_version()
    assert targets.cache_key(ds, version) == targets.cache_key(toy_dataset(4), version)
    assert targets.cache_key(ds, version) != targets.cache_key(ds, version + "x")
    import functools

    tuned = functools.partial(targets.classify_beats, premature_ratio=0.9)
    assert targets.feature_code_version(tuned) != version
    with pytest.raises(TypeError, match="dataset"):
        targets.precompute(ds.signals, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="n_jobs"):
        targets.precompute(ds, cache_dir=tmp_path, n_jobs=0)
    with pytest.raises(ValueError, match="chunk_size"):
        targets.precompute(ds, cache_dir=tmp_path, chunk_size=0)
    assert not any(tmp_path.iterdir())  # nothing written before the arguments are checked


# ------------------------------------------------------------------ with the real feature extractor


@pytest.fixture(scope="module")
def synthetic_100hz():
    from beatssl_lite.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(120, fs=100.0, seed=3)


def test_classifier_on_synthetic_records(synthetic_100hz):
    """The synthetic ECG has no ectopic beats: sinus beats (bundle branch blocks included) must come out N, and
    the irregular beats of its atrial-fibrillation-like records must not be called premature (S)."""
    from beatssl_lite import features

    sinus, fibrillation = np.zeros(5, int), np.zeros(5, int)
    for signal, meta in zip(synthetic_100hz.signals, synthetic_100hz.meta):
        codes = targets.classify_beats(features.extract(signal, synthetic_100hz.fs))
        counts = np.bincount(codes, minlength=len(BEAT_CLASSES))
        if meta["rhythm"] == "sinus":
            sinus += counts
        else:
            fibrillation += counts
    classified = sinus[:4].sum()  # Q beats (cut by the record's edges) aside
    assert sinus[0] / classified >= 0.97, dict(zip(BEAT_CLASSES, sinus))
    assert fibrillation.sum() > 20 and fibrillation[1] == 0, dict(zip(BEAT_CLASSES, fibrillation))


def test_precompute_with_real_features_is_deterministic_across_workers(synthetic_100hz, tmp_path):
    from beatssl_lite import features

    ds = synthetic_100hz.subset(np.arange(6))
    serial = targets.precompute(ds, cache_dir=tmp_path / "a", n_jobs=1, progress=False, chunk_size=6)
    parallel = targets.precompute(ds, cache_dir=tmp_path / "b", n_jobs=2, progress=False, chunk_size=2)
    assert_same_cache(serial, parallel)
    assert serial.record_feature_names == features.RECORD_FEATURES
    direct = features.extract(ds.signals[4], ds.fs)
    batch = serial.batch([4])
    np.testing.assert_array_equal(batch.beat_features, direct.beats)
    np.testing.assert_array_equal(batch.r_peaks[0], direct.r_peaks)
    np.testing.assert_array_equal(batch.beat_classes, targets.classify_beats(direct))
