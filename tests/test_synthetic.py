"""Synthetic ECG checked against its own ground truth, measured independently from the masks and signals.

Waves are measured here from the masks alone (runs of a code, found by a plain loop or ``np.diff``), never from
the generator's internals, so a generator whose labels, intervals or class physiology drift fails these tests.
"""

import numpy as np
import pytest

from beatssl_lite.records import ECGDataset, ECGRecord
from beatssl_lite.vocabulary import LEADS, SUPERCLASSES
from beatssl_lite.synthetic import make_synthetic_dataset, make_synthetic_record

P, QRS, T = 1, 2, 3
CODES = {"P": P, "QRS": QRS, "T": T}
FS = 500.0


@pytest.fixture(scope="module")
def dataset() -> ECGDataset:
    return make_synthetic_dataset(n_records=400, fs=FS, duration_s=10.0, seed=0)


def runs(row: np.ndarray, code: int) -> np.ndarray:
    """(k, 2) first/last sample of each maximal run of ``code`` in a 1-D mask."""
    on = (row == code).astype(np.int8)
    edges = np.diff(np.concatenate([[0], on, [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)


def complete_runs(row: np.ndarray, code: int) -> np.ndarray:
    """Runs that touch neither edge of the record: whole waves."""
    found = runs(row, code)
    return found[(found[:, 0] > 0) & (found[:, 1] < len(row) - 1)]


def single_class(dataset: ECGDataset, name: str) -> np.ndarray:
    """Indices of sinus records labelled with ``name`` alone."""
    only = (dataset.labels.sum(axis=1) == 1) & (dataset.labels[:, SUPERCLASSES.index(name)] == 1)
    sinus = np.array([m["rhythm"] == "sinus" for m in dataset.meta])
    return np.flatnonzero(only & sinus)


def test_shapes_dtypes_and_label_rules(dataset):
    n = len(dataset)
    assert dataset.name == "synthetic" and dataset.fs == FS
    assert dataset.signals.shape == (n, 12, 5000) and dataset.signals.dtype == np.float32
    assert dataset.masks.shape == (n, 12, 5000) and dataset.masks.dtype == np.int8
    assert set(np.unique(dataset.masks)) <= {0, P, QRS, T}
    assert dataset.labels.shape == (n, 5) and dataset.labels.dtype == np.uint8
    assert np.isfinite(dataset.signals).all() and len(set(dataset.record_ids)) == n
    classes_per_record = dataset.labels.sum(axis=1)
    norm = dataset.labels[:, SUPERCLASSES.index("NORM")] == 1
    assert np.all(classes_per_record[norm] == 1)  # NORM is exclusive
    assert np.all((classes_per_record[~norm] >= 1) & (classes_per_record[~norm] <= 2))
    assert 0.35 < norm.mean() < 0.55  # PTB-XL: 45 % NORM
    assert np.all(dataset.labels[:, 1:].mean(axis=0) > 0.05)  # every pathological class present
    assert set(dataset.folds) == set(range(1, 11)) and np.bincount(dataset.folds).max() <= n // 10 + 1
    for i, meta in enumerate(dataset.meta):
        assert meta["rhythm"] in ("sinus", "afib-like")
        assert {"patient_id", "heart_rate_bpm", "qrs_ms", "pr_ms", "qt_ms"} <= set(meta)
        assert dataset.r_peaks[i].dtype.kind == "i"
        assert set(dataset.waves[i]) == set(LEADS)
    record = dataset[3]
    assert isinstance(record, ECGRecord) and record.signal.shape == (12, 5000)


def test_same_seed_same_data_and_record_i_depends_only_on_seed_and_i(dataset):
    small = make_synthetic_dataset(n_records=7, seed=0)
    again = make_synthetic_dataset(n_records=7, seed=0)
    other = make_synthetic_dataset(n_records=7, seed=1)
    np.testing.assert_array_equal(small.signals, again.signals)
    np.testing.assert_array_equal(small.signals, dataset.signals[:7])  # a prefix of a larger set
    np.testing.assert_array_equal(small.masks, dataset.masks[:7])
    np.testing.assert_array_equal(small.labels, dataset.labels[:7])
    assert small.record_ids == dataset.record_ids[:7]
    for i in range(7):
        np.testing.assert_array_equal(small.r_peaks[i], dataset.r_peaks[i])
        assert small.meta[i] == dataset.meta[i]
    assert not np.array_equal(small.signals, other.signals)


def test_derived_leads_hold_exactly(dataset):
    lead = {name: dataset.signals[:50, i] for i, name in enumerate(LEADS)}
    np.testing.assert_array_equal(lead["III"], lead["II"] - lead["I"])
    np.testing.assert_array_equal(lead["aVR"], -(lead["I"] + lead["II"]) / 2)
    np.testing.assert_array_equal(lead["aVL"], lead["I"] - lead["II"] / 2)
    np.testing.assert_array_equal(lead["aVF"], lead["II"] - lead["I"] / 2)


def test_masks_agree_with_waves_by_a_naive_loop(dataset):
    n = dataset.signals.shape[-1]
    for i in range(0, len(dataset), 20):
        masks, waves = dataset.masks[i], dataset.waves[i]
        # The dipole's wave boundaries: the same masks and waves in every lead.
        assert (masks == masks[0]).all()
        for name in LEADS:
            for wave in CODES:
                np.testing.assert_array_equal(waves[name][wave], waves[LEADS[0]][wave])
        row = masks[0]
        painted = np.zeros(n, dtype=np.int8)
        for wave, code in CODES.items():
            for onset, peak, offset in waves["I"][wave]:
                assert 0 <= onset <= peak <= offset < n
                for t in range(onset, offset + 1):
                    assert painted[t] == 0, "waves overlap"
                    painted[t] = code
                # a listed wave is a whole run of the mask, not part of one
                assert onset == 0 or row[onset - 1] != code
                assert offset == n - 1 or row[offset + 1] != code
        # Every sample painted from `waves` is masked the same; the only extra mask samples are fragments of
        # waves cut by the record's edges whose peak lies outside the record.
        listed = painted != 0
        np.testing.assert_array_equal(row[listed], painted[listed])
        for t in np.flatnonzero(~listed & (row != 0)):
            run = runs(row, row[t])
            start, stop = run[(run[:, 0] <= t) & (t <= run[:, 1])][0]
            assert start == 0 or stop == n - 1, f"record {i}: sample {t} masked but in no listed wave"


def test_r_peaks_one_per_qrs_inside_it(dataset):
    for i in range(len(dataset)):
        row, r_peaks = dataset.masks[i, 0], dataset.r_peaks[i]
        assert np.all(np.diff(r_peaks) > 0)
        assert np.all(row[r_peaks] == QRS)
        all_runs, whole = runs(row, QRS), complete_runs(row, QRS)
        run_of_peak = np.searchsorted(all_runs[:, 0], r_peaks, side="right") - 1
        assert len(np.unique(run_of_peak)) == len(r_peaks)  # never two R peaks in one QRS
        whole_index = np.flatnonzero((all_runs[:, 0] > 0) & (all_runs[:, 1] < len(row) - 1))
        assert set(whole_index) <= set(run_of_peak)  # every complete QRS has its R peak
        assert len(whole) <= len(r_peaks) <= len(all_runs)
        np.testing.assert_array_equal(dataset.waves[i]["I"]["QRS"][:, 1], r_peaks)


def test_heart_rate_from_r_peaks_matches_meta(dataset):
    for i in range(len(dataset)):
        rr_s = np.diff(dataset.r_peaks[i]) / FS
        meta = dataset.meta[i]
        assert 40 <= meta["heart_rate_bpm"] <= 130
        assert 60.0 / rr_s.mean() == pytest.approx(meta["heart_rate_bpm"], rel=0.02)


def test_intervals_in_masks_match_the_drawn_parameters(dataset):
    for i in single_class(dataset, "NORM")[:40]:
        row, meta = dataset.masks[i, 0], dataset.meta[i]
        qrs, p = complete_runs(row, QRS), complete_runs(row, P)
        widths_ms = (qrs[:, 1] - qrs[:, 0] + 1) / FS * 1000
        np.testing.assert_allclose(widths_ms, meta["qrs_ms"], atol=2000 / FS + 1e-9)
        assert 80 - 4 <= widths_ms.mean() <= 100 + 4
        # PR: P onset to the next QRS onset
        next_qrs = qrs[np.searchsorted(qrs[:, 0], p[:, 0])[np.searchsorted(qrs[:, 0], p[:, 0]) < len(qrs)]]
        pr_ms = (next_qrs[:, 0] - p[: len(next_qrs), 0]) / FS * 1000
        np.testing.assert_allclose(pr_ms, meta["pr_ms"], atol=2000 / FS + 1e-9)
        assert 120 - 4 <= pr_ms.mean() <= 200 + 4


def qt_and_rr(row: np.ndarray):
    """Per complete beat: QT (QRS onset to the following T offset) and the RR before it, in seconds."""
    qrs, t_waves = complete_runs(row, QRS), complete_runs(row, T)
    qt, rr = [], []
    for k in range(1, len(qrs)):
        after = t_waves[t_waves[:, 0] > qrs[k, 1]]
        if len(after) and (k + 1 == len(qrs) or after[0, 0] < qrs[k + 1, 0]):
            qt.append((after[0, 1] + 1 - qrs[k, 0]) / FS)
            rr.append((qrs[k, 0] - qrs[k - 1, 0]) / FS)
    return np.array(qt), np.array(rr)


def test_qtc_of_normal_records_is_normal(dataset):
    for i in single_class(dataset, "NORM"):
        qt, rr = qt_and_rr(dataset.masks[i, 0])
        qtc_bazett_ms = 1000 * np.median(qt / np.sqrt(rr))
        assert 350 <= qtc_bazett_ms <= 470, (i, qtc_bazett_ms)
        assert 0.27 <= np.median(qt) <= 0.48
        # each beat's QT follows the RR before it: QT / sqrt(RR) is the record's QTc, up to the sample grid
        np.testing.assert_allclose(1000 * qt / np.sqrt(rr), dataset.meta[i]["qtc_ms"], atol=3000 / FS)


def mean_qrs_width_ms(mask_rows) -> float:
    """Mean width of the complete QRS complexes of some records' masks (one row each), in ms."""
    widths = [np.diff(complete_runs(row, QRS), axis=1) + 1 for row in mask_rows]
    return float(np.concatenate(widths).mean() / FS * 1000)


def test_conduction_disturbance_widens_the_qrs(dataset):
    norm, cd = single_class(dataset, "NORM"), single_class(dataset, "CD")
    assert len(cd) >= 10
    cd_ms, norm_ms = mean_qrs_width_ms(dataset.masks[cd, 0]), mean_qrs_width_ms(dataset.masks[norm, 0])
    assert cd_ms > norm_ms + 30 and cd_ms >= 120
    assert all(mean_qrs_width_ms([make_synthetic_record(seed=seed, label="CD").masks[0]]) >= 118 for seed in range(5))


def qrs_voltage_mv(dataset: ECGDataset, i: int) -> float:
    """Largest QRS peak-to-peak over the 12 leads, median over complete beats."""
    signal, row = dataset.signals[i], dataset.masks[i, 0]
    return float(np.median([np.ptp(signal[:, a : b + 1], axis=1).max() for a, b in complete_runs(row, QRS)]))


def test_hypertrophy_has_larger_qrs_voltage(dataset):
    norm, hyp = single_class(dataset, "NORM"), single_class(dataset, "HYP")
    assert len(hyp) >= 8
    norm_mv = np.array([qrs_voltage_mv(dataset, i) for i in norm])
    hyp_mv = np.array([qrs_voltage_mv(dataset, i) for i in hyp])
    assert 0.8 <= np.median(norm_mv) <= 2.5  # QRS of 1-2 mV
    assert np.median(hyp_mv) > 1.4 * np.median(norm_mv)
    # Sokolow-Lyon: deep S in V1 plus tall R in V5 or V6 (baseline-referenced at the QRS onset)
    def sokolow(i):
        s, row = dataset.signals[i], dataset.masks[i, 0]
        values = []
        for a, b in complete_runs(row, QRS):
            base = s[:, a - 1]
            v1 = s[LEADS.index("V1"), a : b + 1] - base[LEADS.index("V1")]
            v56 = s[[LEADS.index("V5"), LEADS.index("V6")], a : b + 1] - base[[LEADS.index("V5"), LEADS.index("V6")], None]
            values.append(-v1.min() + v56.max())
        return np.median(values)

    assert np.median([sokolow(i) for i in hyp]) > np.median([sokolow(i) for i in norm]) + 1.0


def repolarisation_score_mv(dataset: ECGDataset, i: int) -> float:
    """Largest ST shift or T-wave negativity (mV) over leads I, II, aVF, V2-V6, against the PR baseline."""
    signal, row = dataset.signals[i], dataset.masks[i, 0]
    leads = [LEADS.index(name) for name in ("I", "II", "aVF", "V2", "V3", "V4", "V5", "V6")]
    st, t_amp = [], []
    for a, b in complete_runs(row, QRS):
        t_after = complete_runs(row[b:], T)
        if not len(t_after) or a < 10:
            continue
        base = signal[leads, a - 10 : a - 2].mean(axis=1)
        st.append(signal[leads, b + 10 : b + 30].mean(axis=1) - base)  # 20-60 ms after the J point
        t0, t1 = t_after[0] + b
        t_amp.append(signal[leads, t0 : t1 + 1].mean(axis=1) - base)
    st, t_amp = np.median(st, axis=0), np.median(t_amp, axis=0)
    return float(max(np.abs(st).max(), (-t_amp).max()))


def test_st_t_change_differs_from_normal(dataset):
    norm, sttc = single_class(dataset, "NORM"), single_class(dataset, "STTC")
    assert len(sttc) >= 10
    norm_score = np.array([repolarisation_score_mv(dataset, i) for i in norm])
    sttc_score = np.array([repolarisation_score_mv(dataset, i) for i in sttc])
    assert np.median(sttc_score) > np.median(norm_score) + 0.08
    assert np.mean(sttc_score > np.quantile(norm_score, 0.9)) > 0.6


def test_afib_like_has_no_p_waves_and_irregular_rr(dataset):
    rhythm = np.array([m["rhythm"] for m in dataset.meta])
    afib, sinus = np.flatnonzero(rhythm == "afib-like"), np.flatnonzero(rhythm == "sinus")
    assert 0.02 < len(afib) / len(dataset) < 0.2
    assert dataset.labels[afib, SUPERCLASSES.index("NORM")].sum() == 0

    def rr_cv(i):
        rr = np.diff(dataset.r_peaks[i])
        return rr.std() / rr.mean()

    assert not (dataset.masks[afib] == P).any()
    assert all(len(dataset.waves[i]["II"]["P"]) == 0 for i in afib)
    assert (dataset.masks[sinus[:20]] == P).any(axis=(1, 2)).all()
    assert np.mean([rr_cv(i) for i in afib]) > 3 * np.mean([rr_cv(i) for i in sinus])
    assert np.mean([rr_cv(i) for i in sinus]) < 0.07  # HRV of a few %
    record = make_synthetic_record(seed=5, label="MI", rhythm="afib-like")
    assert record.meta["rhythm"] == "afib-like" and not (record.masks == P).any()


def q_wave_ms(record: ECGRecord, name: str) -> float:
    """Median over complete beats of the time from QRS onset until the lead first rises 0.05 mV above its level
    just before the QRS (the whole QRS for a QS complex)."""
    lead, widths = record.signal[LEADS.index(name)], []
    for a, b in complete_runs(record.masks[0], QRS):
        qrs = lead[a : b + 1] - lead[a - 1]
        positive = np.flatnonzero(qrs > 0.05)
        widths.append((positive[0] if len(positive) else len(qrs)) / record.fs * 1000)
    return float(np.median(widths))


def test_myocardial_infarction_has_pathological_q_or_lost_r():
    """Q wave: an initial negative deflection >= 30 ms wide (or a QS) in the infarct territory's leads."""
    territory_leads = {"anterior": ("V1", "V2", "V3"), "inferior": ("II", "III", "aVF"), "lateral": ("I", "aVL", "V6")}
    seen = set()
    for seed in range(12):
        record = make_synthetic_record(seed=seed, label="MI")
        territory = record.meta["mi_territory"]
        seen.add(territory)
        q_widths = []
        for name in territory_leads[territory]:
            q_widths.append(q_wave_ms(record, name))
        assert max(q_widths) >= 30 and sorted(q_widths)[-2] >= 25, (seed, territory, q_widths)
    assert {"anterior", "inferior"} <= seen
    for seed in range(6):  # a normal QRS starts upright (or with a small septal q) in the same leads
        record = make_synthetic_record(seed=seed, label="NORM")
        widths = [q_wave_ms(record, name) for name in ("II", "III", "aVF", "V2", "V3")]
        assert sorted(widths)[-2] < 25, (seed, widths)


def test_make_synthetic_record_and_bad_input():
    record = make_synthetic_record(seed=2, label="HYP", fs=250.0, duration_s=4.0)
    assert record.signal.shape == (12, 1000) and record.fs == 250.0
    assert record.labels.tolist() == [0, 0, 0, 0, 1]
    np.testing.assert_array_equal(record.signal, make_synthetic_record(seed=2, label="HYP", fs=250.0,
                                                                       duration_s=4.0).signal)
    two = make_synthetic_record(seed=2, label=("MI", "CD"))
    assert two.labels.tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="label"):
        make_synthetic_record(label="AFIB")
    with pytest.raises(ValueError, match="label"):
        make_synthetic_record(label=("NORM", "MI"))
    with pytest.raises(ValueError, match="rhythm"):
        make_synthetic_record(rhythm="flutter")
    with pytest.raises(ValueError, match="n_records"):
        make_synthetic_dataset(n_records=0)
    with pytest.raises(ValueError, match="fs"):
        make_synthetic_dataset(n_records=2, fs=-1.0)
    with pytest.raises(ValueError, match="duration_s"):
        make_synthetic_dataset(n_records=2, duration_s=0)


def test_r_peaks_are_the_peaks_along_the_mean_qrs_vector(dataset):
    """From the noisy 12 leads alone: the VCG (inverse Dower), projected on its mean QRS vector, peaks at the
    listed R peak, to within the few samples that noise and the per-lead gains move it."""
    from beatssl_lite.vcg import ecg_to_vcg

    for i in single_class(dataset, "NORM")[:30]:
        loop_3d, r_peaks = ecg_to_vcg(dataset.signals[i].astype(float)), dataset.r_peaks[i]
        for a, b in complete_runs(dataset.masks[i, 0], QRS):
            loop = loop_3d[:, a : b + 1] - loop_3d[:, [a - 2]]
            r_peak = r_peaks[(r_peaks >= a) & (r_peaks <= b)][0]
            assert abs(a + np.argmax(loop.sum(axis=1) @ loop) - r_peak) <= 5


def test_normal_ecg_is_isoelectric_outside_the_masks(dataset):
    """The masks hold every wave: between waves only noise and baseline wander remain, so the gaps, averaged over
    20 ms (which also cancels 50 Hz hum) and detrended, stay within 0.1 mV in every lead; every QRS spans more."""
    width = int(0.02 * FS)
    kernel = np.ones(width) / width
    for i in single_class(dataset, "NORM")[:30]:
        row, signal = dataset.masks[i, 0], dataset.signals[i].astype(float)
        for a, b in complete_runs(row, 0):
            if b - a < 3 * width:
                continue
            for lead in signal[:, a : b + 1]:
                smooth = np.convolve(lead, kernel, mode="valid")
                x = np.arange(len(smooth))
                assert np.ptp(smooth - np.polyval(np.polyfit(x, smooth, 1), x)) < 0.1
        for a, b in complete_runs(row, QRS):
            assert np.ptp(signal[:, a : b + 1], axis=1).max() > 0.4


def test_st_shift_and_qrs_axis_match_meta(dataset):
    """ST level 30-50 ms after the J point against the last 10 ms of the PR segment, in its largest lead,
    equals the reported ``st_shift_mv`` within 0.06 mV + 15 % (baseline wander, noise, lead gains). The frontal
    QRS axis from the net QRS area in I and aVF (Einthoven: I ~ cos, aVF ~ sqrt(3)/2 sin) equals ``qrs_axis_deg``
    within 15 deg, and is normal (-30 to +100 deg) in NORM."""
    lead_i, lead_avf = LEADS.index("I"), LEADS.index("aVF")
    norm, sttc = single_class(dataset, "NORM"), single_class(dataset, "STTC")
    shifted = [i for i in sttc if dataset.meta[i]["st_pattern"]]
    assert len(shifted) >= 5
    for i in list(shifted) + list(norm[:30]):
        row, signal = dataset.masks[i, 0], dataset.signals[i]
        qrs = complete_runs(row, QRS)
        qrs = qrs[(qrs[:, 0] > int(0.012 * FS)) & (qrs[:, 1] + int(0.05 * FS) < len(row))]
        st = np.median([signal[:, b + int(0.03 * FS) : b + int(0.05 * FS)].mean(axis=1)
                        - signal[:, a - int(0.012 * FS) : a - 1].mean(axis=1) for a, b in qrs], axis=0)
        assert np.abs(st).max() == pytest.approx(dataset.meta[i]["st_shift_mv"], rel=0.15, abs=0.06)
    assert all(0.1 <= dataset.meta[i]["st_shift_mv"] <= 0.3 for i in shifted)
    for i in norm:
        row, signal = dataset.masks[i, 0], dataset.signals[i]
        area = np.mean([(signal[:, a : b + 1] - signal[:, [a - 2]]).sum(axis=1) for a, b in complete_runs(row, QRS)], 0)
        axis = np.degrees(np.arctan2(2 * area[lead_avf] / np.sqrt(3), area[lead_i]))
        assert -30 <= axis <= 100 and abs(axis - dataset.meta[i]["qrs_axis_deg"]) <= 15


def test_class_frequencies_follow_ptbxl(dataset):
    """PTB-XL superclass shares (NORM 44 %, MI 25 %, STTC 24 %, CD 22 %, HYP 12 %) within sampling noise of 400
    records; folds exactly balanced; ``meta['classes']`` agrees with the multi-hot labels."""
    share = dict(zip(SUPERCLASSES, dataset.labels.mean(axis=0)))
    for name, expected in {"NORM": 0.45, "MI": 0.25, "STTC": 0.24, "CD": 0.21, "HYP": 0.12}.items():
        assert abs(share[name] - expected) < 0.07, (name, share[name])
    assert (np.bincount(dataset.folds, minlength=11)[1:] == len(dataset) // 10).all()
    for labels, meta in zip(dataset.labels, dataset.meta):
        assert set(meta["classes"]) == {name for name, on in zip(SUPERCLASSES, labels) if on}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_synthetic_dataset(n_records=2, seed=-3), "seed"),
        (lambda: make_synthetic_record(label=7), "label"),
        (lambda: make_synthetic_record(label=("MI", "CD", "HYP")), "at most two"),
        (lambda: make_synthetic_record(label="NORM", rhythm="afib-like"), "NORM"),
    ],
)
def test_more_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
