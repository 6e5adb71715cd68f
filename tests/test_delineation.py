"""Delineation against constructed waves, the synthetic ECG's exact bounds and LUDB's annotations."""

import numpy as np
import pytest

from beatssl_lite import beats
from beatssl_lite.datasets import load_ludb
from beatssl_lite.delineation import BOUNDS, Delineation, annotated_delineation, delineate
from beatssl_lite.synthetic import make_synthetic_dataset, make_synthetic_record

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
