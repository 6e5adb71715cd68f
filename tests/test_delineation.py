"""Delineation against constructed waves, the synthetic ECG's exact bounds and LUDB's annotations."""

import hashlib

import numpy as np
import pytest
from scipy.optimize import brentq

from beatssl_lite import beats
from beatssl_lite.datasets import load_ludb
from beatssl_lite.delineation import BOUNDS, Delineation, annotated_delineation, delineate
from beatssl_lite.synthetic import make_synthetic_dataset, make_synthetic_record
from beatssl_lite.t_onset import T_ON_FLOOR_FRACTION, T_ON_FLOOR_S, _trapezium_onset, t_onsets

FS = 500.0


def hump(t, onset, offset):
    """sin^2 bump with support exactly (onset, offset), zero elsewhere."""
    inside = (t > onset) & (t < offset)
    return np.where(inside, np.sin(np.pi * (t - onset) / (offset - onset)) ** 2, 0.0)


def constructed(fs=FS, n_beats=8, rr_s=0.8):
    """(12, n) ECG with P, QRS (a triangle, sharp bounds) and T at known samples, the same bounds in all leads."""
    n = int(round((n_beats + 0.5) * rr_s * fs))
    t = np.arange(n, dtype=np.float64)
    truth = {name: [] for name in ("p_on", "p_off", "qrs_on", "r_peak", "qrs_off", "t_off")}
    shape = np.zeros(n)
    for k in range(n_beats):
        r = (0.5 + k) * rr_s * fs
        q_on, q_off = r - 0.04 * fs, r + 0.05 * fs
        p_on, p_off = q_on - 0.16 * fs, q_on - 0.06 * fs
        t_on, t_off = q_off + 0.08 * fs, q_off + 0.28 * fs
        shape += 0.15 * hump(t, p_on, p_off) + 0.3 * hump(t, t_on, t_off)
        shape += np.interp(t, [q_on, r, q_off], [0.0, 1.2, 0.0], left=0.0, right=0.0)
        for name, value in zip(truth, (p_on, p_off, q_on, r, q_off, t_off)):
            truth[name].append(value)
    gains = np.linspace(0.6, 1.4, 12)[:, None]
    signal = gains * shape + np.random.default_rng(0).normal(0, 0.005, (12, n))
    return signal, {name: np.array(values) for name, values in truth.items()}


def test_constructed_waves():
    signal, truth = constructed()
    d = delineate(signal, FS)
    np.testing.assert_array_equal(d.r_peak, truth["r_peak"].astype(int))
    ms = 1000.0 / FS
    # QRS: a triangle starts and ends with a slope step, found to within 10 ms (the 0.5-40 Hz filter and the
    # 10 ms smoothing spread the step).
    assert np.abs(d.qrs_on - truth["qrs_on"]).max() * ms <= 10
    assert np.abs(d.qrs_off - truth["qrs_off"]).max() * ms <= 10
    # P: a sin^2 hump crosses 20 % / 35 % of its height 15 % / 20 % of its width inside its support.
    assert np.all(d.p_peak >= 0)
    assert np.abs(d.p_on - truth["p_on"]).max() * ms <= 20
    assert np.abs(d.p_off - truth["p_off"]).max() * ms <= 25
    # T: the trapezium end of a sin^2 hump lies within 25 ms of its support's end (the last beat's T may be cut).
    placed = d.t_off >= 0
    assert placed[:-1].all()
    assert np.abs(d.t_off[placed] - truth["t_off"][placed]).max() * ms <= 25


def test_bounds_are_ordered_and_inside_the_record():
    dataset = make_synthetic_dataset(8, fs=FS, seed=2)
    for signal in dataset.signals:
        d = delineate(signal, FS)
        table = d.as_array()
        assert table.dtype == np.int64 and table.shape == (len(d), len(BOUNDS))
        assert np.all((table >= -1) & (table < signal.shape[1]))
        for row in table:
            placed = row[row >= 0]
            assert np.all(np.diff(placed) > 0), dict(zip(BOUNDS, row))


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_synthetic_intervals(fs):
    """Mean absolute errors against the synthetic ECG's exact bounds (the benchmark does 200 records)."""
    dataset = make_synthetic_dataset(16, fs=fs, seed=3)
    errors = {"qrs": [], "pr": [], "qt": []}
    for signal, waves in zip(dataset.signals, dataset.waves):
        truth = annotated_delineation(waves, fs)
        found = delineate(signal, fs)
        d, r = beats.match_peaks(found.r_peak, truth.r_peak, int(0.15 * fs))
        for name, (start, stop) in {"qrs": ("qrs_on", "qrs_off"), "pr": ("p_on", "qrs_on"),
                                    "qt": ("qrs_on", "t_off")}.items():
            a, b = getattr(found, start)[d], getattr(found, stop)[d]
            x, y = getattr(truth, start)[r], getattr(truth, stop)[r]
            ok = (a >= 0) & (b >= 0) & (x >= 0) & (y >= 0)
            errors[name].extend(((b - a) - (y - x))[ok] * 1000.0 / fs)
    mae = {name: np.abs(values).mean() for name, values in errors.items()}
    assert mae["qrs"] <= 20 and mae["pr"] <= 25 and mae["qt"] <= 25, mae
    assert all(len(values) > 100 for values in errors.values())


def test_p_waves_present_in_sinus_absent_in_fibrillation():
    """Share of beats given a P wave, averaged over 8 records each (measured: 0.97 sinus, 0.06 fibrillation)."""
    def p_share(label, rhythm):
        return np.mean([(delineate(make_synthetic_record(seed, label=label, rhythm=rhythm).signal, FS).p_peak >= 0)
                        .mean() for seed in range(8)])

    assert p_share("NORM", "sinus") >= 0.9
    assert p_share("CD", "afib-like") <= 0.2


def test_plot_delineation_draws_each_placed_bound():
    from beatssl_lite.plots import plot_delineation

    signal, _ = constructed()
    d = delineate(signal, FS)
    fig = plot_delineation(signal, FS, d, 3, reference=d, reference_beat=3, leads=("II",))
    vertical = [line for line in fig.axes[0].lines if len(set(line.get_xdata())) == 1]
    assert len(vertical) == 2 * int((d.as_array()[3] >= 0).sum())  # detected and reference, one line per bound
    with pytest.raises(ValueError, match="beat"):
        plot_delineation(signal, FS, d, len(d))


def test_given_r_peaks_are_kept():
    signal, truth = constructed()
    peaks = truth["r_peak"].astype(np.int64)[2:5]
    d = delineate(signal, FS, r_peaks=peaks)
    np.testing.assert_array_equal(d.r_peak, peaks)
    assert len(d) == 3


def test_no_beats_and_bad_input():
    empty = delineate(np.zeros((12, 5000)), FS)
    assert len(empty) == 0 and all(getattr(empty, name).shape == (0,) for name in BOUNDS)
    signal, truth = constructed()
    for peaks in (np.array([100, 50]), np.array([-3]), np.array([signal.shape[1]]), np.array([1.0, 2.0])):
        with pytest.raises(ValueError, match="r_peaks"):
            delineate(signal, FS, r_peaks=peaks)
    with pytest.raises(ValueError, match="transpose"):
        delineate(signal.T, FS)


def test_annotated_delineation_takes_medians_over_leads():
    leads = ["I", "II", "V1", "V2", "V3", "V4"]
    waves = {}
    for shift, lead in enumerate(leads):
        waves[lead] = {"P": np.array([[100 + shift, 120, 140], [600, 620, 640]]),
                       "QRS": np.array([[200, 220 + shift, 260], [700, 720, 760]]),
                       "T": np.array([[300, 350, 400 + 2 * shift], [800, 850, 900]])}
    waves["V4"]["QRS"][0, 0] = -1  # a bound the annotator left out: not counted, and the peak not used
    d = annotated_delineation(waves, FS)
    np.testing.assert_array_equal(d.r_peak, [222, 720])  # median of 220..224 (V4's incomplete QRS left out)
    np.testing.assert_array_equal(d.p_on, [102, 600])  # median of 100..105 = 102.5, rounded down
    np.testing.assert_array_equal(d.qrs_on, [200, 200 + 500])
    np.testing.assert_array_equal(d.t_off, [405, 900])
    # a P annotated in fewer than min_leads leads is absent
    for lead in leads[1:]:
        waves[lead]["P"] = waves[lead]["P"][1:]
    assert annotated_delineation(waves, FS).p_on[0] == -1
    assert isinstance(annotated_delineation({}, FS), Delineation)


@pytest.mark.realdata
def test_ludb_intervals(ludb_root):
    """Ten LUDB records: loose bounds on the interval errors (full protocol: benchmarks/bench_delineation.py)."""
    dataset = load_ludb(ludb_root, progress=False)
    qrs, qt = [], []
    for i in range(0, 200, 20):
        truth = annotated_delineation(dataset.waves[i], dataset.fs)
        found = delineate(np.asarray(dataset.signals[i]), dataset.fs)
        d, r = beats.match_peaks(found.r_peak, truth.r_peak, int(0.15 * dataset.fs))
        for out, (start, stop) in ((qrs, ("qrs_on", "qrs_off")), (qt, ("qrs_on", "t_off"))):
            a, b = getattr(found, start)[d], getattr(found, stop)[d]
            x, y = getattr(truth, start)[r], getattr(truth, stop)[r]
            ok = (a >= 0) & (b >= 0) & (x >= 0) & (y >= 0)
            out.extend(((b - a) - (y - x))[ok] * 1000.0 / dataset.fs)
    assert np.abs(qrs).mean() <= 20 and np.abs(qt).mean() <= 40


# --- delineate's bounds are pinned: the feature cache and a running reproduction depend on them ---------------------

#: ``delineate(constructed(fs)[0], fs).as_array()`` as computed at commit 455abc0 (before the T onset was added, in
#: its own module ``t_onset``): every existing bound must stay bit-identical, since the cached features (and runs
#: that read them) were made with it. Change these only with a deliberate change of the delineation.
PINNED_CONSTRUCTED = {
    500.0: [[105, 125, 145, 176, 200, 228, 315, 363], [505, 525, 545, 576, 600, 628, 715, 762],
            [905, 925, 945, 976, 1000, 1028, 1115, 1162], [1305, 1325, 1345, 1376, 1400, 1428, 1515, 1563],
            [1705, 1725, 1745, 1776, 1800, 1828, 1915, 1962], [2105, 2125, 2145, 2176, 2200, 2228, 2315, 2362],
            [2505, 2525, 2545, 2576, 2600, 2628, 2715, 2762], [2905, 2925, 2944, 2976, 3000, 3028, 3115, 3162]],
    100.0: [[21, 25, 29, 35, 40, 46, 63, 72], [101, 105, 109, 115, 120, 126, 143, 152],
            [181, 185, 189, 195, 200, 206, 223, 233], [261, 265, 269, 275, 280, 286, 303, 313],
            [341, 345, 349, 355, 360, 366, 383, 393], [421, 425, 429, 435, 440, 446, 463, 473],
            [501, 505, 509, 515, 520, 526, 543, 553], [581, 585, 589, 595, 600, 606, 623, 632]],
}
#: SHA-256 of the int64 (little-endian) ``as_array()`` of LUDB records 0, 20, ..., 180 (loader order), same commit.
PINNED_LUDB_SHA256 = "bfb79756c657320c8de44bf5f697c239271da6cb4a702716eeb8dff30043d540"


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_existing_bounds_are_pinned_and_untouched_by_t_onsets(fs):
    signal, _ = constructed(fs=fs)
    d = delineate(signal, fs)
    np.testing.assert_array_equal(d.as_array(), PINNED_CONSTRUCTED[fs])
    t_onsets(signal, fs, d)
    np.testing.assert_array_equal(d.as_array(), PINNED_CONSTRUCTED[fs])  # its input is not modified
    assert BOUNDS == ("p_on", "p_peak", "p_off", "qrs_on", "r_peak", "qrs_off", "t_peak", "t_off")


@pytest.mark.realdata
def test_existing_bounds_are_pinned_on_ludb(ludb_root):
    dataset = load_ludb(ludb_root, progress=False)
    digest = hashlib.sha256()
    for i in range(0, 200, 20):
        digest.update(delineate(np.asarray(dataset.signals[i]), dataset.fs).as_array().astype("<i8").tobytes())
    assert digest.hexdigest() == PINNED_LUDB_SHA256


# --- T onset ----------------------------------------------------------------------------------------------------------

def trapezium_onset_of_gaussian(mu, sd, floor):
    """The mirrored trapezium onset (``t_onset`` docstring) of y = exp(-(t - mu)^2 / (2 sd^2)) from ``floor``,
    continuous time, from the closed-form derivative of the area: the steepest rise before the peak is the
    inflection point m = mu - sd, and the area A(t) = (y(m) - y(t)) (m + t - 2 floor) is maximal where
    A'(t) = -y'(t) (m + t - 2 floor) + y(m) - y(t) = 0 (A' > 0 at the floor, < 0 at m: one root, by bisection)."""
    def y(t):
        return np.exp(-(t - mu) ** 2 / (2 * sd * sd))

    m = mu - sd
    assert floor < m

    def slope_of_area(t):
        return (t - mu) / sd ** 2 * y(t) * (m + t - 2 * floor) + y(m) - y(t)

    return brentq(slope_of_area, floor, m) if slope_of_area(floor) > 0 else floor


def gaussian_t_ecg(fs, n_beats=8, rr_s=0.9, t_delay_s=0.22, t_sd_s=0.045):
    """(12, n) ECG: a triangular QRS (sharp bounds) and a Gaussian T wave centred ``t_delay_s`` after its end."""
    n = int(round((n_beats + 0.5) * rr_s * fs))
    t = np.arange(n) / fs
    shape, centres = np.zeros(n), []
    for k in range(n_beats):
        r = (0.5 + k) * rr_s
        shape += np.interp(t, [r - 0.04, r, r + 0.05], [0.0, 1.2, 0.0], left=0.0, right=0.0)
        centres.append(r + 0.05 + t_delay_s)
        shape += 0.35 * np.exp(-(t - centres[-1]) ** 2 / (2 * t_sd_s ** 2))
    signal = np.linspace(0.6, 1.4, 12)[:, None] * shape + np.random.default_rng(0).normal(0, 0.002, (12, n))
    return signal, np.array(centres), t_sd_s


def test_trapezium_onset_of_a_sampled_gaussian_matches_the_closed_form():
    fs = 500.0
    for mu, sd, floor in ((0.3, 0.05, 0.12), (0.4, 0.03, 0.3), (0.35, 0.06, 0.2)):
        t = np.arange(0, 0.8, 1 / fs)
        y = 0.4 * np.exp(-(t - mu) ** 2 / (2 * sd * sd)) - 0.1  # height and offset do not move the onset
        found = _trapezium_onset(y, int(round(floor * fs)), int(round(mu * fs)))
        assert abs(found - trapezium_onset_of_gaussian(mu, sd, floor) * fs) <= 1.0


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_t_onset_of_gaussian_t_waves(fs):
    """End to end (filters, projection, floor from the detected bounds): within 1.5 samples of the closed form (the
    added noise and the 0.5 Hz high-pass move the sampled maximum by about a sample: measured 1.05 at most)."""
    signal, centres, sd = gaussian_t_ecg(fs)
    d = delineate(signal, fs)
    onsets = t_onsets(signal, fs, d)
    assert len(d) == len(centres) and np.all(onsets >= 0)
    np.testing.assert_array_equal(d.t_peak, np.round(centres * fs))
    for k, onset in enumerate(onsets):
        q_off, peak = d.qrs_off[k], d.t_peak[k]
        floor = q_off + min(round(T_ON_FLOOR_S * fs), round(T_ON_FLOOR_FRACTION * (peak - q_off)))
        expected = trapezium_onset_of_gaussian(centres[k], sd, floor / fs) * fs
        assert abs(onset - expected) <= 1.5, (k, onset, expected)
    np.testing.assert_array_equal(onsets, t_onsets(signal, fs))  # computes the same delineation itself


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_t_onset_lies_between_qrs_offset_and_t_peak(fs):
    dataset = make_synthetic_dataset(8, fs=fs, seed=5)
    placed = 0
    for signal in dataset.signals:
        d = delineate(signal, fs)
        onsets = t_onsets(signal, fs, d)
        assert onsets.dtype == np.int64 and onsets.shape == d.t_peak.shape
        np.testing.assert_array_equal(onsets >= 0, d.t_peak >= 0)  # placed exactly where a T peak is
        ok = onsets >= 0
        assert np.all(d.qrs_off[ok] <= onsets[ok]) and np.all(onsets[ok] <= d.t_peak[ok])
        if fs >= 500.0:
            assert np.all(d.qrs_off[ok] < onsets[ok]) and np.all(onsets[ok] < d.t_peak[ok])
        placed += ok.sum()
    assert placed > 50


@pytest.mark.realdata
def test_t_onset_on_ludb(ludb_root):
    """Ten LUDB records: ordered, and near the median over leads of the annotated T onsets (full protocol:
    benchmarks/bench_delineation.py)."""
    dataset = load_ludb(ludb_root, progress=False)
    errors = []
    for i in range(0, 200, 20):
        signal = np.asarray(dataset.signals[i])
        d = delineate(signal, dataset.fs)
        onsets = t_onsets(signal, dataset.fs, d)
        ok = onsets >= 0
        assert np.all(d.qrs_off[ok] < onsets[ok]) and np.all(onsets[ok] < d.t_peak[ok])
        truth = annotated_delineation(dataset.waves[i], dataset.fs)
        for k, r in enumerate(truth.r_peak):
            after = truth.r_peak[k + 1] if k + 1 < len(truth) else np.inf
            annotated = []  # each lead's first T onset after this R (annotated_delineation's rule for T)
            for wave in dataset.waves[i].values():
                t = np.asarray(wave["T"]).reshape(-1, 3)
                t = t[(t[:, 1] > r) & (t[:, 1] < after) & (t[:, 0] >= 0)]
                if len(t):
                    annotated.append(t[0, 0])
            j = np.flatnonzero(np.abs(d.r_peak - r) <= 0.15 * dataset.fs)
            if len(annotated) >= 6 and len(j) and onsets[j[0]] >= 0:
                errors.append((onsets[j[0]] - np.median(annotated)) * 1000.0 / dataset.fs)
    assert len(errors) > 50 and np.median(np.abs(errors)) <= 25, np.median(np.abs(errors))


def test_t_onsets_inputs():
    signal, centres, _ = gaussian_t_ecg(FS)
    d = delineate(signal, FS)
    one_lead = t_onsets(signal[1], FS)  # a single lead works like delineate's
    assert one_lead.shape == (len(delineate(signal[1], FS)),) and np.all(one_lead >= 0)
    assert len(t_onsets(np.zeros((12, 5000)), FS)) == 0
    with pytest.raises(TypeError, match="delineation"):
        t_onsets(signal, FS, d.as_array())
    d.t_peak = d.t_peak[:-1]
    with pytest.raises(ValueError, match="delineation"):
        t_onsets(signal, FS, d)
