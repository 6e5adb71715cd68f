"""Beats and delineation on foreign-looking ECGs: nothing here was tuned on these recordings.

The fixtures are built here, independently of ``beatssl_lite.synthetic``, the way other hospitals' recordings
differ from LUDB and PTB-XL: 100 or 500 Hz, 10-25 s, an amplifier/filter transient in the first samples, a baseline
step mid-record (an electrode moving, followed by an AC-coupled amplifier's slow recovery), atrial fibrillation
(irregularly irregular RR, a fibrillatory baseline, no P waves), and sinus-rhythm controls. The heart vector is a
sum of Gaussian waves (P, Q, R, S, T) projected to the 12 leads through Einthoven's and Goldberger's relations and
six precordial directions, so every R peak and every P wave is known by construction.
"""

import numpy as np
import pytest

from beatssl_lite import beats
from beatssl_lite.delineation import delineate

RATES = (100.0, 500.0)
SEEDS = range(6)


def project(vector: np.ndarray) -> np.ndarray:
    """(3, n) heart vector (X to the left, Y to the feet, Z to the back) -> (12, n) in LEADS order."""
    x, y, z = vector
    lead_i, lead_ii = x, 0.5 * x + np.sqrt(3) / 2 * y
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    # V1..V6 in the horizontal plane, from the patient's right-anterior (115 degrees) round to the left (0)
    precordial = [np.cos(a) * x - np.sin(a) * z + 0.1 * y for a in np.radians([115, 95, 75, 55, 30, 0])]
    return np.stack(limb + precordial)


def foreign_ecg(fs, duration_s=12.0, rhythm="sinus", seed=0):
    """(signal (12, n) in mV, R peaks (n_beats,) samples). rhythm: 'sinus' (P waves, RR CV 3 %) or 'af' (no P,
    a 5-7.5 Hz fibrillatory baseline of about 0.1 mV, log-normal RR with CV 25 %)."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    if rhythm == "sinus":
        rr = rng.uniform(0.7, 1.0) * (1 + 0.03 * rng.standard_normal(200))
    else:
        rr = rng.lognormal(np.log(rng.uniform(0.55, 0.8)), 0.25, 200).clip(0.33, 1.6)
    peaks = np.cumsum(np.concatenate([[rng.uniform(0.3, 0.6)], rr]))
    peaks = peaks[peaks < duration_s - 0.3]
    axis = np.radians(rng.uniform(-20, 80))
    r_vector = 1.4 * np.array([np.cos(axis), np.sin(axis), -0.4])
    waves = [(0.0, 0.010, r_vector), (-0.025, 0.007, np.array([-0.15, -0.05, -0.15])),
             (0.028, 0.009, np.array([-0.25, -0.35, 0.6])), (0.28, 0.05, 0.35 * r_vector / np.linalg.norm(r_vector))]
    if rhythm == "sinus":
        waves.append((-0.16, 0.022, np.array([0.12, 0.16, 0.02])))  # P, 0.2 mV along the atrial axis
    heart = np.zeros((3, n))
    for r in peaks:
        for offset, width, vector in waves:
            heart += vector[:, None] * np.exp(-0.5 * ((t - r - offset) / width) ** 2)
    ecg = project(heart)
    if rhythm == "af":
        phase = sum(np.sin(2 * np.pi * f * t + 1.5 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6)) + rng.uniform(0, 6))
                    for f in rng.uniform(5.0, 7.5, 3)) / 3
        ecg += project(np.array([0.03, 0.05, -0.08])[:, None] * phase)
    ecg *= rng.uniform(0.8, 1.2, (12, 1))  # electrode and amplifier gains
    ecg += 0.1 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi, (12, 1)))  # respiration wander
    ecg += rng.normal(0.0, 0.01, (12, n))
    return ecg, np.round(peaks * fs).astype(np.int64)


def with_start_transient(ecg, fs, amplitude_mv, tau_s, seed=0):
    """An amplifier/filter settling at the record's start: each lead starts up to ``amplitude_mv`` off and decays."""
    t = np.arange(ecg.shape[1]) / fs
    sign = np.random.default_rng(seed).choice([-1.0, 1.0], (12, 1))
    return ecg + amplitude_mv * sign * np.exp(-t / tau_s)


def with_baseline_step(ecg, r_peaks, fs, amplitude_mv, seed=0):
    """A baseline step of up to ``amplitude_mv`` per lead halfway between two mid-record beats, recovering with a
    2 s time constant (an AC-coupled amplifier)."""
    k = len(r_peaks) // 2
    at = (r_peaks[k] + r_peaks[k + 1]) / 2 / fs
    t = np.arange(ecg.shape[1]) / fs
    size = amplitude_mv * np.random.default_rng(seed).uniform(0.5, 1.0, (12, 1)) * \
        np.random.default_rng(seed + 1).choice([-1.0, 1.0], (12, 1))
    return ecg + size * ((t >= at) * np.exp(-np.clip(t - at, 0, None) / 2.0))[None]


def assert_peaks_found(found, truth, fs, label):
    d, r = beats.match_peaks(found, truth, int(round(0.05 * fs)))
    extra = np.setdiff1d(np.arange(len(found)), d)
    missed = np.setdiff1d(np.arange(len(truth)), r)
    assert len(extra) == 0 and len(missed) == 0, f"{label}: false {found[extra]}, missed {truth[missed]}"


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("case", ["control", "af", "start transient", "baseline step", "both, 20 s"])
def test_foreign_r_peaks(fs, case):
    """Every beat found within 50 ms, nothing else (an artefact counted as a beat fails this on the old detector)."""
    for seed in SEEDS:
        duration = 20.0 if case == "both, 20 s" else 12.0
        ecg, truth = foreign_ecg(fs, duration, rhythm="af" if case == "af" else "sinus", seed=seed)
        if case in ("start transient", "both, 20 s"):
            ecg = with_start_transient(ecg, fs, amplitude_mv=3.0, tau_s=0.03, seed=seed)
        if case in ("baseline step", "both, 20 s"):
            ecg = with_baseline_step(ecg, truth, fs, amplitude_mv=1.0, seed=seed)
        assert_peaks_found(beats.detect_r_peaks(ecg, fs), truth, fs, f"{case}, {fs:g} Hz, seed {seed}")


@pytest.mark.parametrize("fs", RATES)
def test_a_qrs_next_to_a_step_is_kept(fs):
    """A step 200 ms after a QRS has the larger hump within the refractory period; dropping it must not drop the QRS
    (LUDB record 15 has one 100 ms after a QRS, far enough for their energies not to merge; in these fixtures
    they merge below about 150 ms, and the QRS is lost with the step: a documented limit)."""
    for seed in SEEDS:
        ecg, truth = foreign_ecg(fs, 12.0, seed=seed)
        k = len(truth) // 2
        t = np.arange(ecg.shape[1])
        size = 1.5 * np.random.default_rng(seed).choice([-1.0, 1.0], (12, 1))
        ecg = ecg + size * (t >= truth[k] + int(round(0.2 * fs)))
        assert_peaks_found(beats.detect_r_peaks(ecg, fs), truth, fs, f"seed {seed}")


@pytest.mark.parametrize("fs", RATES)
def test_artefacts_rejected_with_margin(fs):
    """The artefact rule's statistic (``beats.net_change``) sits well clear of ``MAX_NET_CHANGE`` on both sides:
    QRS complexes at most 2/3 of it, steps and transients of 1-4 mV (transients decaying in 20-50 ms) at least
    4/3 of it, in sinus rhythm and in atrial fibrillation; and the detector's output stays clean for all of them.
    (Smaller artefacts, whose hump is too small to pass for a beat anyway, are checked by the detector's output:
    0.5 mV steps on a fibrillatory baseline reach about 0.7.)"""
    qrs, artefacts = [], []
    for seed in SEEDS:
        for amplitude, tau in ((1.0, 0.02), (2.0, 0.03), (4.0, 0.05)):
            ecg, truth = foreign_ecg(fs, 12.0, rhythm=("sinus", "af")[seed % 2], seed=seed)
            transient = with_start_transient(ecg, fs, amplitude, tau, seed)
            step = with_baseline_step(ecg, truth, fs, amplitude, seed)
            k = len(truth) // 2
            for signal, artefact in ((transient, 0), (step, (truth[k] + truth[k + 1]) // 2)):
                env = beats.qrs_energy(signal, fs)
                humps = beats.energy_humps(env, fs)
                near = np.abs(humps - artefact) <= 0.05 * fs  # the artefact's own hump
                assert near.sum() == 1
                change = beats.net_change(signal, env, humps, fs)
                artefacts.append(change[near][0])
                d, _ = beats.match_peaks(humps, truth, int(round(0.05 * fs)))
                qrs.extend(change[d])
                assert_peaks_found(beats.detect_r_peaks(signal, fs), truth, fs, f"{amplitude} mV, seed {seed}")
        ecg, truth = foreign_ecg(fs, 12.0, rhythm=("sinus", "af")[seed % 2], seed=seed)
        for signal in (with_start_transient(ecg, fs, 0.5, 0.02, seed), with_baseline_step(ecg, truth, fs, 0.5, seed)):
            assert_peaks_found(beats.detect_r_peaks(signal, fs), truth, fs, f"0.5 mV, seed {seed}")
    assert max(qrs) <= 2 / 3 * beats.MAX_NET_CHANGE, max(qrs)
    assert min(artefacts) >= 4 / 3 * beats.MAX_NET_CHANGE, min(artefacts)


def test_net_change_against_a_naive_loop():
    """``net_change`` against the rule written out sample by sample for a few humps of a step record."""
    fs = 500.0
    ecg, truth = foreign_ecg(fs, 10.0, seed=3)
    ecg = with_baseline_step(ecg, truth, fs, 1.0, seed=3)
    env = beats.qrs_energy(ecg, fs)
    humps = beats.energy_humps(env, fs)
    width = int(round(beats.LEVEL_S * fs))
    reach = int(round(beats.ARTEFACT_SEARCH_S * fs))
    n = ecg.shape[1]

    def level(lead, t):  # centred 10-sample mean, edges repeated (scipy's 'nearest')
        return np.mean([ecg[lead, min(max(s, 0), n - 1)] for s in range(t - width // 2, t - width // 2 + width)])

    expected = []
    for h in humps:
        start = h
        while start > max(0, h - reach) and not env[start] < beats.QUIET_FRACTION * env[h]:
            start -= 1
        stop = h
        while stop < min(n - 1, h + reach) and not env[stop] < beats.QUIET_FRACTION * env[h]:
            stop += 1
        levels = np.array([[level(lead, t) for t in range(start, stop + 1)] for lead in range(12)])
        net = sum(abs(levels[lead, -1] - levels[lead, 0]) for lead in range(12))
        expected.append(net / sum(levels[lead].max() - levels[lead].min() for lead in range(12)))
    np.testing.assert_allclose(beats.net_change(ecg, env, humps, fs), expected, rtol=1e-9)


def test_p_search_rejects_a_slope_at_the_window_end():
    """The P search's maximum must be a hump inside the window, not the slope into the QRS at its end.

    Beats whose P window holds only a fibrillatory baseline and a QRS-locked slope rising into the window's end
    (the start of a QRS whose onset was placed late, as in PTB-XL's AF records below) get no P; the same beats in
    sinus rhythm, a P wave 150 ms before the QRS onset, get theirs, at its peak."""
    from beatssl_lite import delineation

    fs, n_beats, rr = 500.0, 12, 400
    n = (n_beats + 1) * rr
    t = np.arange(n)
    rng = np.random.default_rng(0)
    qrs_on = np.arange(1, n_beats + 1) * rr - 20
    lead_gains = rng.uniform(0.5, 1.0, (12, 1))
    fibrillation = 0.05 * np.sin(2 * np.pi * 6.3 * t / fs + 2 * np.sin(2 * np.pi * 0.4 * t / fs))
    slope = sum(np.clip((t - (q - 40)) / 30.0, 0, None) * (t < q) for q in qrs_on)  # rises over the last 30 ms
    p_peaks = qrs_on - int(0.15 * fs)
    p_waves = sum(np.exp(-0.5 * ((t - p) / (0.02 * fs)) ** 2) for p in p_peaks)
    for with_p in (False, True):
        atria = 0.15 * p_waves if with_p else fibrillation
        slow = lead_gains * (atria + 0.3 * slope) + rng.normal(0.0, 0.005, (12, n))
        result = delineation.Delineation.empty(n_beats)
        result.qrs_on[:] = qrs_on
        result.qrs_off[:] = qrs_on + 50
        result.t_off[:] = qrs_on + 200
        iso = [np.zeros(12) for _ in range(n_beats)]
        delineation._place_p_waves(result, slow, iso, fs)
        placed = result.p_peak >= 0
        if with_p:
            assert placed.all()
            assert np.abs(result.p_peak[placed] - p_peaks[placed]).max() <= 0.01 * fs
        else:
            assert not placed.any(), result.p_peak


def place_p_waves(p_heights, p_before_qrs_s=0.15, fs=500.0, artifact_mv=0.0):
    """Run the P placement on 12 constructed beats: QRS onsets 400 samples apart, a Gaussian P (20 ms SD) of
    ``p_heights[k]`` mV peaking ``p_before_qrs_s`` (one value, or one per beat) before each QRS onset, in every
    lead with its own gain; ``artifact_mv``: a 40 ms wide deflection of that size in the first beat's window, 100 ms
    before its P peak."""
    from beatssl_lite import delineation

    n_beats, rr = len(p_heights), 400
    t = np.arange((n_beats + 1) * rr)
    rng = np.random.default_rng(1)
    qrs_on = np.arange(1, n_beats + 1) * rr - 20
    p_peaks = qrs_on - np.round(np.broadcast_to(p_before_qrs_s, (n_beats,)) * fs).astype(np.int64)
    atria = sum(h * np.exp(-0.5 * ((t - p) / (0.02 * fs)) ** 2) for h, p in zip(p_heights, p_peaks))
    atria = atria + artifact_mv * np.exp(-0.5 * ((t - (p_peaks[0] - 0.1 * fs)) / (0.01 * fs)) ** 2)
    slow = rng.uniform(0.5, 1.0, (12, 1)) * atria + rng.normal(0.0, 0.003, (12, len(t)))
    result = delineation.Delineation.empty(n_beats)
    result.qrs_on[:], result.qrs_off[:], result.t_off[:] = qrs_on, qrs_on + 50, qrs_on + 200
    delineation._place_p_waves(result, slow, [np.zeros(12)] * n_beats, fs)
    return result.p_peak >= 0


def test_p_rules_pinned():
    """Each P rule on constructed beats: a QRS-locked hump peaking 30 ms before the QRS onset is not a P (LUDB's
    annotated P peaks lie >= 54 ms before theirs; ``P_PEAK_BEFORE_QRS_S`` = 40 ms), one at 60 ms is; a beat whose hump
    is a seventh of the average's has no P of its own (``P_MIN_HEIGHT``); P waves before a third of the beats are
    chance, before two thirds they are the record's (``P_MIN_SHARE``)."""
    assert not place_p_waves([0.15] * 12, p_before_qrs_s=0.03).any()
    assert place_p_waves([0.15] * 12, p_before_qrs_s=0.06).all()
    small = np.arange(12) % 3 == 0
    np.testing.assert_array_equal(place_p_waves(np.where(small, 0.015, 0.15)), ~small)
    third = np.arange(12) % 3 == 0
    assert not place_p_waves(np.where(third, 0.15, 0.0)).any()
    np.testing.assert_array_equal(place_p_waves(np.where(~third, 0.15, 0.0)), ~third)


def test_second_look_finds_a_p_moved_by_a_longer_pr(monkeypatch):
    """In a record that keeps its P waves, a beat whose P peaks 50 ms earlier than the others' (a longer PR) is
    beyond the strict search (``P_MAX_SHIFT_S`` = 40 ms of the average's peak) but within the second look
    (``P_RELAXED_SHIFT_S`` = 80 ms); one 130 ms earlier is beyond both (a hump that far is another wave). A record
    whose P waves precede a third of its beats still gets none: the second look is only for records that keep
    theirs."""
    from beatssl_lite import delineation

    moved = np.arange(12) % 4 == 1
    before = np.where(moved, 0.20, 0.15)
    np.testing.assert_array_equal(place_p_waves([0.15] * 12, p_before_qrs_s=before), np.ones(12, bool))
    assert not place_p_waves([0.15] * 12, p_before_qrs_s=np.where(moved, 0.28, 0.15))[moved].any()
    third = np.arange(12) % 3 == 0
    assert not place_p_waves(np.where(third, 0.15, 0.0)).any()
    # Without the second look, the moved beats lose their P (the test sees the rule).
    monkeypatch.setattr(delineation, "P_RELAXED_SHIFT_S", delineation.P_MAX_SHIFT_S)
    np.testing.assert_array_equal(place_p_waves([0.15] * 12, p_before_qrs_s=before), ~moved)


def test_a_loud_window_does_not_hide_the_p_waves(monkeypatch):
    """One beat's P window holding a 3 mV artifact (20 times the 0.15 mV P waves) stays out of the average P
    (``P_OUTLIER_ENERGY``): the other beats keep their P; averaged in, the artifact sets the direction and
    the record loses every P."""
    from beatssl_lite import delineation

    found = place_p_waves([0.15] * 12, artifact_mv=3.0)
    assert found[1:].all()
    monkeypatch.setattr(delineation, "P_OUTLIER_ENERGY", np.inf)
    assert not place_p_waves([0.15] * 12, artifact_mv=3.0)[1:].any()


@pytest.mark.parametrize("fs", RATES)
def test_p_waves_in_sinus_fixtures_not_in_fibrillation(fs):
    """Share of beats given a P wave: >= 0.9 in sinus rhythm, <= 0.2 in atrial fibrillation (6 records each)."""
    def share(rhythm):
        return np.mean([(delineate(foreign_ecg(fs, 15.0, rhythm, seed)[0], fs).p_peak >= 0).mean() for seed in SEEDS])

    assert share("sinus") >= 0.9
    assert share("af") <= 0.2


@pytest.mark.realdata
def test_ptbxl_atrial_fibrillation_gets_no_p_waves(ptbxl_root):
    """PTB-XL's cardiologist-labelled records at 100 Hz: in atrial fibrillation (scp code AFIB) a P wave is placed
    before at most half the beats of all but a few records, while sinus-rhythm records (SR) keep theirs.
    Measured: AFIB 7 of 99 records with P before most beats, mean share of beats 0.06 (before the P search
    rejected slopes at its end and wanted P waves before most beats: 12 of 99, 0.25; 6 of 99, 0.05 before the
    second look at missed beats); SR mean share 0.93 (0.90 before the second look)."""
    import ast

    import pandas as pd

    from beatssl_lite.datasets import load_ptbxl

    table = pd.read_csv(ptbxl_root / "ptb-xl" / "ptbxl_database.csv", index_col="ecg_id")
    codes = table["scp_codes"].apply(ast.literal_eval)
    dataset = load_ptbxl(ptbxl_root, fs=100)
    ids = [int(i) for i in dataset.record_ids]
    shares = {}
    for rhythm in ("AFIB", "SR"):
        chosen = [j for j, i in enumerate(ids) if rhythm in codes[i]][:99]
        found = [delineate(np.asarray(dataset.signals[j], dtype=np.float64), dataset.fs) for j in chosen]
        shares[rhythm] = np.array([(d.p_peak >= 0).mean() for d in found if len(d)])
    assert len(shares["AFIB"]) >= 50 and len(shares["SR"]) >= 50
    assert np.mean(shares["AFIB"] > 0.5) <= 0.08, np.sort(shares["AFIB"])[-10:]
    assert shares["AFIB"].mean() <= 0.1
    assert shares["SR"].mean() >= 0.85
