"""Targets: similarity against naive loops from the formulas, the paper's 3 x 2 target layout, beat targets, and
the torch target blocks of a training step against the numpy float64 reference."""

import math

import numpy as np
import pytest
import torch

from beatssl_lite import targets
from beatssl_lite.targets import beat_targets, rhythm_targets, two_view_targets
from beatssl_lite.vocabulary import BEAT_CLASSES

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


def naive_circle_cosine(x, angular):
    """soft_1 from its definition, pair by pair: an angle a (degrees) is the point (R cos a, R sin a), R = 180/pi."""
    radius = 180.0 / math.pi
    n = len(x)
    s = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            dot = norm_i = norm_j = 0.0
            for f in range(x.shape[1]):
                a, b = x[i, f], x[j, f]
                if not (np.isfinite(a) and np.isfinite(b)):
                    continue
                if angular[f]:
                    dot += radius**2 * math.cos(math.radians(a - b))
                    norm_i += radius**2
                    norm_j += radius**2
                else:
                    dot, norm_i, norm_j = dot + a * b, norm_i + a * a, norm_j + b * b
            s[i, j] = 0.0 if norm_i == 0 or norm_j == 0 else min(max(dot / math.sqrt(norm_i * norm_j), 0.0), 1.0)
    return s


def test_soft_1_places_angles_on_a_circle():
    x = random_features(13, seed=4)
    angular = np.array([name == "qrs_axis_deg" for name in NAMES])
    x[:4, angular] = [[179.0], [-179.0], [-90.0], [90.0]]
    got = targets.cosine_similarity(x, names=NAMES)
    np.testing.assert_allclose(got, naive_circle_cosine(x, angular), atol=1e-12)
    np.testing.assert_allclose(targets.similarity(x, "soft_1", 50.0, names=NAMES), got**50, atol=1e-12)
    # without names every feature is linear: the plain cosine
    np.testing.assert_allclose(targets.cosine_similarity(x), naive_cosine(x), atol=1e-12)


def test_soft_1_axis_wraps_around():
    """Two ECGs alike but for an axis of +179 vs -179 degrees are as similar as at +1 vs -1 degrees; as signed
    numbers (no names) they would be the least similar pair."""
    base = np.array([800.0, 160.0, 90.0, 400.0, 1.0, 0.0, 0.0, 1.0])
    axis = NAMES.index("qrs_axis_deg")
    pairs = {}
    for a, b in ((179.0, -179.0), (1.0, -1.0), (60.0, 120.0)):
        x = np.stack([base, base])
        x[0, axis], x[1, axis] = a, b
        pairs[(a, b)] = targets.cosine_similarity(x, names=NAMES)[0, 1], targets.cosine_similarity(x)[0, 1]
    assert pairs[(179.0, -179.0)][0] == pytest.approx(pairs[(1.0, -1.0)][0], abs=1e-12)
    assert pairs[(179.0, -179.0)][0] > 0.9999 > pairs[(60.0, 120.0)][0]
    assert pairs[(179.0, -179.0)][1] < pairs[(60.0, 120.0)][1]


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


def naive_wrapped_rbf(a_deg, b_deg, scale_deg):
    """soft_2 of two single angles, from the formula: wrapped difference, chord, Gaussian."""
    delta = (a_deg - b_deg + 180.0) % 360.0 - 180.0  # in [-180, 180)
    d = 2 * math.sin(math.radians(delta) / 2) / math.radians(scale_deg)
    return math.exp(-0.5 * d * d)


@pytest.mark.parametrize("name", ["qrs_axis_deg", "median_qrs_axis_deg"])
def test_soft_2_compares_every_angular_feature_on_the_circle(name):
    """The record-level axis (median_qrs_axis_deg) used to be compared on a line: +179 vs -179 gave 1e-31."""
    scale = targets.FEATURE_SCALES["qrs_axis_deg"]
    angles = np.array([179.0, -179.0, 0.0, 180.0, -90.0, 90.0, 45.0, -135.0, 10.0, -170.0])
    s = targets.rbf_similarity(angles[:, None], names=(name,))
    naive = np.array([[naive_wrapped_rbf(a, b, scale) for b in angles] for a in angles])
    np.testing.assert_allclose(s, naive, rtol=1e-12, atol=1e-15)
    assert s[0, 1] > 0.99  # +179 and -179 degrees are 2 degrees apart
    # opposite axes are the farthest apart: the smallest similarity over a fine grid of differences
    grid = np.arange(-180.0, 180.0, 0.5)
    around = targets.rbf_similarity(np.append(grid, 0.0)[:, None], names=(name,))[-1, :-1]
    assert s[2, 3] == pytest.approx(around.min()) and grid[np.argmin(around)] == -180.0
    assert s[2, 3] == pytest.approx(math.exp(-0.5 * (2 / math.radians(scale)) ** 2))


def test_every_angular_feature_of_the_extractor_is_known_as_angular():
    """Any feature in degrees among the extractor's beat and record features is compared on the circle."""
    from beatssl_lite import features

    for names in (features.BEAT_FEATURES, features.RECORD_FEATURES):
        in_degrees = np.array([name.endswith("_deg") for name in names])
        np.testing.assert_array_equal(targets.angular_features(names), in_degrees, err_msg=str(names))
    assert in_degrees.sum() == 1  # median_qrs_axis_deg among the record features


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
    x = vectors_with_cosines(gram)
    t = rhythm_targets(x, "soft_1", power=50, names=[f"linear_{k}" for k in range(x.shape[1])])
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


# ------------------------------------------------------------------ torch target blocks of a training step

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
STRATEGY_POWERS = [("hard", 1.0), ("soft_1", 1.0), ("soft_1", 50.0), ("soft_2", 1.0), ("soft_2", 3.0)]
#: float32 tolerance: the block is float32, the reference float64 (s ** 50 carries 50x the rounding of s).
F32 = dict(rtol=1e-5, atol=2e-6)


def cross_view_block(two_view):
    """The (N, N) view-1 x view-2 block of a (2N, 2N) two-view target matrix."""
    n = len(two_view) // 2
    return two_view[:n, n:]


def check_block(block, reference_two_view, device):
    assert block.dtype == torch.float32 and block.device.type == device and not block.requires_grad
    got = block.cpu().numpy()
    np.testing.assert_allclose(got, cross_view_block(reference_two_view), **F32)
    np.testing.assert_allclose(targets.two_view_from_block(block).cpu().numpy(), reference_two_view, **F32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("strategy, power", STRATEGY_POWERS)
def test_rhythm_block_equals_the_numpy_reference_on_random_features(strategy, power, device):
    x = random_features(40, seed=11)
    x[7] = np.nan  # an ECG without beats: no feature at all
    reference = rhythm_targets(x, strategy, power, names=NAMES)
    block = targets.rhythm_target_block(torch.as_tensor(x, device=device), strategy, power, names=NAMES)
    check_block(block, reference, device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scope", ["batch", "record"])
@pytest.mark.parametrize("strategy, power", STRATEGY_POWERS)
def test_beat_block_equals_the_numpy_reference_on_random_features(strategy, power, scope, device):
    rng = np.random.default_rng(12)
    x = random_features(90, seed=12)
    classes = rng.integers(0, len(BEAT_CLASSES), len(x))
    records = np.sort(rng.integers(0, 9, len(x)))
    reference = two_view_targets(beat_targets(x, records, classes, strategy, power, names=NAMES, scope=scope))
    block = targets.beat_target_block(*(torch.as_tensor(a, device=device) for a in (x, records, classes)),
                                      strategy, power, names=NAMES, scope=scope)
    check_block(block, reference, device)


@pytest.mark.parametrize("strategy, power", STRATEGY_POWERS)
def test_block_rows_of_a_data_parallel_rank_are_rows_of_the_full_block(strategy, power):
    rng = np.random.default_rng(14)
    x = random_features(50, seed=14)
    classes, records = rng.integers(0, len(BEAT_CLASSES), 50), np.repeat(np.arange(10), 5)
    full = targets.beat_target_block(x, records, classes, strategy, power, names=NAMES, scope="record")
    rhythm = targets.rhythm_target_block(x, strategy, power, names=NAMES)
    for rows in (slice(0, 20), slice(20, 35), slice(35, 50), slice(49, None)):
        part = targets.beat_target_block(x, records, classes, strategy, power, names=NAMES, scope="record", rows=rows)
        torch.testing.assert_close(part, full[rows], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(targets.rhythm_target_block(x, strategy, power, names=NAMES, rows=rows),
                                   rhythm[rows], rtol=1e-6, atol=1e-7)


def test_hard_beat_block_positives_from_a_naive_loop():
    """Hard beat positives: the same class (Q excepted) or the same beat in the other view."""
    classes = np.array([0, 0, 2, 0, 4, 4, 2, 1])  # N N V N Q Q V S
    block = targets.beat_target_block(np.zeros((8, 2)), np.arange(8), classes, "hard").numpy()
    for k in range(8):
        for l in range(8):
            positive = k == l or (classes[k] == classes[l] and BEAT_CLASSES[classes[k]] != "Q")
            assert block[k, l] == float(positive)
    np.testing.assert_array_equal(targets.rhythm_target_block(random_features(5), "hard").numpy(), np.eye(5))


@pytest.fixture(scope="module")
def extracted_features():
    """Beat and record features of synthetic records from the real extractor (NaN where a feature is undefined)."""
    from beatssl_lite import features
    from beatssl_lite.synthetic import make_synthetic_dataset

    ds = make_synthetic_dataset(12, fs=100.0, seed=5)
    ecgs = [features.extract(signal, ds.fs) for signal in ds.signals]
    beats = np.concatenate([ecg.beats for ecg in ecgs])
    index = np.repeat(np.arange(len(ecgs)), [len(ecg.r_peaks) for ecg in ecgs])
    return np.stack([ecg.record for ecg in ecgs]), beats, index


def block_matches_reference(record_features, beat_features, index, classes, device="cpu"):
    from beatssl_lite import features

    for strategy, power in STRATEGY_POWERS:
        reference = rhythm_targets(record_features, strategy, power)
        block = targets.rhythm_target_block(record_features, strategy, power, device=device)
        check_block(block, reference, device)
        reference = two_view_targets(beat_targets(beat_features, index, classes, strategy, power))
        block = targets.beat_target_block(beat_features, index, classes, strategy, power, device=device)
        check_block(block, reference, device)
    assert len(features.BEAT_FEATURES) == beat_features.shape[1]


def test_blocks_equal_the_numpy_reference_on_extracted_features(extracted_features):
    from beatssl_lite.beat_classes import classify_beats

    record_features, beat_features, index = extracted_features
    classes = np.concatenate([classify_beats(beat_features[index == i]) for i in range(len(record_features))])
    assert np.isnan(beat_features).any() and len(beat_features) > 100
    block_matches_reference(record_features, beat_features, index, classes)


@pytest.mark.realdata
def test_blocks_equal_the_numpy_reference_on_ptbxl_features(ptbxl_root, tmp_path):
    from beatssl_lite.datasets import load_ptbxl
    from beatssl_lite.precompute import precompute

    dataset = load_ptbxl(root=ptbxl_root, fs=100, max_records=40, progress=False)
    batch = precompute(dataset, cache_dir=tmp_path, n_jobs=1, progress=False).batch(np.arange(len(dataset)))
    block_matches_reference(batch.record_features, batch.beat_features, batch.beat_record_index,
                            batch.beat_classes)


def test_blocks_keep_full_precision_under_autocast():
    """Mixed precision in the step must not reach the targets: s ** 50 would amplify bfloat16 rounding 50-fold."""
    x = random_features(30, seed=13)
    plain = targets.rhythm_target_block(x, "soft_1", 50.0, names=NAMES)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = targets.rhythm_target_block(x, "soft_1", 50.0, names=NAMES)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain, rtol=0, atol=0)


def test_blocks_of_empty_batches_and_memory_of_the_block():
    empty = targets.beat_target_block(np.zeros((0, 4)), np.zeros(0, int), np.zeros(0, int), "soft_1", 50.0,
                                      names=NAMES[:4])
    assert empty.shape == (0, 0) and empty.dtype == torch.float32
    assert targets.two_view_from_block(empty).shape == (0, 0)
    m = 300  # the block holds M x M float32: a quarter of the (2M, 2M) matrix, in half the bytes per value
    block = targets.beat_target_block(random_features(m), np.zeros(m, int), np.zeros(m, int), "soft_2", names=NAMES)
    assert block.shape == (m, m) and block.element_size() * block.numel() == m * m * 4


def test_block_bad_inputs_are_named():
    x = random_features(4)
    with pytest.raises(ValueError, match="strategy"):
        targets.rhythm_target_block(x, "soft_3")
    with pytest.raises(ValueError, match="power"):
        targets.rhythm_target_block(x, "soft_1", power=-1)
    with pytest.raises(ValueError, match="record_features"):
        targets.rhythm_target_block(x[0], "soft_1")
    with pytest.raises(ValueError, match="names"):
        targets.rhythm_target_block(x, "soft_2", names=NAMES[:3])
    with pytest.raises(ValueError, match="8 feature names.*got 15.*RECORD_FEATURES"):
        targets.rhythm_target_block(x, "soft_1")  # default names are the package's 15 record features
    infinite = x.copy()
    infinite[1, 2] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        targets.rhythm_target_block(infinite, "soft_1")
    with pytest.raises(ValueError, match="beat_record_index"):
        targets.beat_target_block(x, np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="beat_classes"):
        targets.beat_target_block(x, np.zeros(4, int), np.full(4, 7))
    with pytest.raises(ValueError, match="beat_classes"):
        targets.beat_target_block(x, np.zeros(4, int), np.zeros(4))
    with pytest.raises(ValueError, match="scope"):
        targets.beat_target_block(x, np.zeros(4, int), np.zeros(4, int), scope="ecg")
    with pytest.raises(ValueError, match="rows"):
        targets.rhythm_target_block(x, "soft_1", names=NAMES, rows=[0, 1])
    with pytest.raises(ValueError, match="rows"):
        targets.beat_target_block(x, np.zeros(4, int), np.zeros(4, int), rows=slice(0, 4, 2))
    with pytest.raises(ValueError, match="block"):
        targets.two_view_from_block(np.zeros((2, 3)))
