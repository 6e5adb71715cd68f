"""R-peak detection and beat windows, against R peaks known by construction, synthetic ground truth and LUDB."""

import numpy as np
import pytest

from beatssl_lite import beats
from beatssl_lite.datasets import load_ludb
from beatssl_lite.vocabulary import LEADS
from beatssl_lite.delineation import annotated_delineation
from beatssl_lite.synthetic import make_synthetic_dataset

FS = 500.0


def pulse_train(peaks, n, fs=FS, width_ms=12.0, seed=0, noise_mv=0.01):
    """(12, n): a Gaussian pulse at each of ``peaks`` in every lead, per-lead gains 0.5-1.5, baseline wander and
    white noise. The apex of every pulse in every lead is exactly at its peak sample."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sigma = width_ms * fs / 1000.0
    train = np.exp(-0.5 * ((t[None, :] - np.asarray(peaks)[:, None]) / sigma) ** 2).sum(axis=0)
    gains = rng.uniform(0.5, 1.5, size=(12, 1))
    wander = 0.2 * np.sin(2 * np.pi * 0.3 * t / fs + rng.uniform(0, 2 * np.pi, size=(12, 1)))
    return gains * train + wander + rng.normal(0, noise_mv, size=(12, n))


def irregular_peaks(n, fs=FS, seed=0, min_rr=0.4, max_rr=1.3):
    rng = np.random.default_rng(seed)
    peaks, t = [], int(0.3 * fs)
    while t < n - int(0.3 * fs):
        peaks.append(t)
        t += int(rng.uniform(min_rr, max_rr) * fs)
    return np.array(peaks)


def scores(found, reference, tolerance):
    d, r = beats.match_peaks(found, reference, tolerance)
    return len(r) / len(reference), len(d) / max(len(found), 1)


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_pulse_train_peaks_found_exactly(fs):
    n = int(10 * fs)
    peaks = irregular_peaks(n, fs, seed=1)
    found = beats.detect_r_peaks(pulse_train(peaks, n, fs, seed=2), fs)
    assert found.dtype == np.int64 and np.all(np.diff(found) > 0)
    assert len(found) == len(peaks)
    assert np.abs(found - peaks).max() <= 1  # one sample: the noise can move a flat apex by one


def test_single_lead_and_flat_leads_give_the_same_peaks():
    n = 5000
    peaks = irregular_peaks(n, seed=3)
    signal = pulse_train(peaks, n, seed=4)
    full = beats.detect_r_peaks(signal, FS)
    one = beats.detect_r_peaks(signal[1], FS)
    flat = signal.copy()
    flat[[0, 6, 7]] = 0.0  # disconnected I, V1, V2
    np.testing.assert_array_equal(full, peaks)
    np.testing.assert_array_equal(one, peaks)
    np.testing.assert_array_equal(beats.detect_r_peaks(flat, FS), peaks)


def test_no_detectable_beats_gives_empty():
    rng = np.random.default_rng(0)
    for signal in (np.zeros((12, 5000)), rng.normal(0, 0.05, (12, 5000)), np.full((12, 5000), 0.7)):
        found = beats.detect_r_peaks(signal, FS)
        assert found.shape == (0,) and found.dtype == np.int64


def test_qrs_contrast_against_min_contrast():
    """The no-beat rule's statistic: well above ``MIN_CONTRAST`` for a pulse train, below it for white noise, 0 for
    a flat record (measured over records by benchmarks/bench_rpeaks.py)."""
    rng = np.random.default_rng(0)
    assert beats.qrs_contrast(pulse_train(irregular_peaks(5000), 5000), FS) > 3 * beats.MIN_CONTRAST
    assert beats.qrs_contrast(rng.normal(0, 0.05, (12, 5000)), FS) < beats.MIN_CONTRAST
    assert beats.qrs_contrast(np.zeros((12, 5000)), FS) == 0.0


def test_one_beat():
    found = beats.detect_r_peaks(pulse_train([2400], 5000), FS)
    np.testing.assert_array_equal(found, [2400])


def test_bad_input_is_a_clear_error():
    signal = pulse_train([1000, 2000], 5000)
    with pytest.raises(ValueError, match="transpose"):
        beats.detect_r_peaks(signal.T, FS)
    with pytest.raises(ValueError, match=r"\(12, n_samples\)"):
        beats.detect_r_peaks(signal[:3], FS)
    with pytest.raises(ValueError, match="shorter"):
        beats.detect_r_peaks(signal[:, :100], FS)
    bad = signal.copy()
    bad[LEADS.index("V3"), 10] = np.nan
    with pytest.raises(ValueError, match="V3"):
        beats.detect_r_peaks(bad, FS)
    for fs in (0, -500, np.nan, "fast"):
        with pytest.raises(ValueError, match="fs"):
            beats.detect_r_peaks(signal, fs)


def test_synthetic_r_peaks():
    """Every synthetic beat is found (150 ms, the EC57 window) and narrow-QRS beats within 20 ms of the truth."""
    dataset = make_synthetic_dataset(12, fs=FS, seed=5)
    for signal, truth, meta in zip(dataset.signals, dataset.r_peaks, dataset.meta):
        found = beats.detect_r_peaks(signal, FS)
        inside = (truth > 0.5 * FS) & (truth < signal.shape[1] - 0.5 * FS)
        d, r = beats.match_peaks(found, truth, int(0.15 * FS))
        assert set(np.flatnonzero(inside)) <= set(r), meta["classes"]
        assert len(found) - len(d) <= 1  # at most a cut beat at an edge whose apex lies outside the record
        if meta["qrs_ms"] < 110:
            assert np.abs(found[d] - truth[r]).max() <= 0.02 * FS, meta["classes"]


def test_match_peaks_against_a_naive_search():
    rng = np.random.default_rng(0)
    for _ in range(50):
        found = np.sort(rng.choice(1000, 20, replace=False))
        reference = np.sort(rng.choice(1000, 20, replace=False))
        d, r = beats.match_peaks(found, reference, 15)
        assert len(set(d)) == len(d) and len(set(r)) == len(r)
        assert np.all(np.abs(found[d] - reference[r]) <= 15)
        # maximal: no unmatched pair within tolerance is left
        left_d = np.setdiff1d(np.arange(20), d)
        left_r = np.setdiff1d(np.arange(20), r)
        assert not any(abs(found[i] - reference[j]) <= 15 for i in left_d for j in left_r)


@pytest.mark.parametrize("edge", ["drop", "pad"])
def test_beat_windows_against_a_slice_loop(edge):
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(12, 3000)).astype(np.float32)
    peaks = np.array([10, 125, 500, 1500, 2799, 2800, 2999])
    pre_ms, post_ms = 250.0, 400.0
    pre, post = 125, 200
    out = beats.beat_windows(signal, peaks, FS, pre_ms, post_ms, edge=edge)
    expected, kept, complete = [], [], []
    for r in peaks:
        whole = r - pre >= 0 and r + post < signal.shape[1]
        if edge == "drop" and not whole:
            continue
        window = np.zeros((12, pre + post + 1), dtype=np.float32)
        for j, t in enumerate(range(r - pre, r + post + 1)):
            if 0 <= t < signal.shape[1]:
                window[:, j] = signal[:, t]
        expected.append(window)
        kept.append(r)
        complete.append(whole)
    assert out.windows.dtype == np.float32 and out.windows.shape == (len(kept), 12, pre + post + 1)
    assert out.centre == pre
    np.testing.assert_array_equal(out.windows, np.stack(expected))
    np.testing.assert_array_equal(out.r_peaks, kept)
    np.testing.assert_array_equal(out.complete, complete)
    np.testing.assert_array_equal(out.windows[:, :, out.centre], signal[:, kept].T)


def test_beat_windows_edge_cases():
    signal = np.ones((12, 1000))
    empty = beats.beat_windows(signal, np.zeros(0, dtype=int), FS)
    assert empty.windows.shape == (0, 12, 326) and len(empty) == 0
    single = beats.beat_windows(signal[0], [500], FS, pre_ms=10, post_ms=20)
    assert single.windows.shape == (1, 1, 16)
    for peaks in ([1000], [-1], [1.5]):
        with pytest.raises(ValueError, match="r_peaks"):
            beats.beat_windows(signal, np.array(peaks), FS)
    with pytest.raises(ValueError, match="edge"):
        beats.beat_windows(signal, [500], FS, edge="wrap")
    with pytest.raises(ValueError, match="pre_ms"):
        beats.beat_windows(signal, [500], FS, pre_ms=-1)


@pytest.mark.realdata
def test_ludb_r_peaks(ludb_root):
    """A handful of LUDB records: Se and PPV >= 0.98 within 50 ms of the annotated peaks (full run: benchmark)."""
    dataset = load_ludb(ludb_root, progress=False)
    tp = fn = fp = 0
    for i in range(0, 200, 20):
        waves = dataset.waves[i]
        marks = np.concatenate([np.asarray(waves[lead][kind]).ravel() for lead in waves for kind in waves[lead]])
        first, last = marks[marks >= 0].min(), marks.max()
        reference = annotated_delineation(waves, dataset.fs).r_peak
        found = beats.detect_r_peaks(np.asarray(dataset.signals[i]), dataset.fs)
        found = found[(found >= first) & (found <= last)]
        d, r = beats.match_peaks(found, reference, int(0.05 * dataset.fs))
        tp, fn, fp = tp + len(d), fn + len(reference) - len(r), fp + len(found) - len(d)
    assert tp / (tp + fn) >= 0.98 and tp / (tp + fp) >= 0.98


def test_plots_show_the_peaks_and_windows():
    from beatssl_lite.plots import plot_beat_overlay, plot_r_peaks

    peaks = irregular_peaks(5000, seed=6)
    signal = pulse_train(peaks, 5000, seed=7)
    fig = plot_r_peaks(signal, FS, peaks, reference=peaks[:-1], leads=("II", "V2"), scored=(500, 4500))
    assert len(fig.axes) == 2
    marked = {line.get_label(): line.get_xdata() for line in fig.axes[0].lines}
    np.testing.assert_allclose(marked["detected"], peaks / FS)
    np.testing.assert_allclose(marked["reference"], peaks[:-1] / FS)
    windows = beats.beat_windows(signal, peaks, FS)
    fig = plot_beat_overlay(windows, FS, leads=("I", "II", "V5"), labels=["N"] * len(windows))
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == len(windows) + 1  # the beats and the R marker
    with pytest.raises(ValueError, match="labels"):
        plot_beat_overlay(windows, FS, labels=["N"])
