"""Beat classes: the AAMI-like rules on constructed beats, and on synthetic records through the real feature
extractor (no ectopic beats in the synthetic ECG)."""

import numpy as np
import pytest

from beatssl_lite.beat_classes import classify_beats
from beatssl_lite.vocabulary import BEAT_CLASSES

CLASSIFIER_NAMES = ("rr_pre_ms", "rr_post_ms", "qrs_ms", "p_present")


def record(beats):
    """Beat rows of one record from (rr_pre_ms, qrs_ms, p_present) triples; rr_post is the next beat's rr_pre."""
    rr_pre = np.array([b[0] for b in beats], dtype=float)
    rr_post = np.append(rr_pre[1:], np.nan)
    return np.column_stack([rr_pre, rr_post, [b[1] for b in beats], [b[2] for b in beats]])


def classes_of(beats, **kwargs):
    codes = classify_beats(record(beats), names=CLASSIFIER_NAMES, **kwargs)
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
    assert classify_beats(np.zeros((0, 4)), names=CLASSIFIER_NAMES).shape == (0,)
    assert classes_of([(np.nan, 90, 1)]) == "N"  # one beat, no RR at all
    with pytest.raises(ValueError, match="needs feature"):
        classify_beats(np.zeros((2, 3)), names=("rr_pre_ms", "qrs_ms", "p_present"))
    with pytest.raises(ValueError, match="one column per name"):
        classify_beats(np.zeros((3, 5)), names=CLASSIFIER_NAMES)
    # no RR at all: prematurity is unknown, width alone still tells a ventricular beat
    assert classes_of([(np.nan, 90, 1), (np.nan, 90, 1)]) == "NN"
    assert classes_of([(np.nan, 90, 1), (np.nan, 90, 1), (np.nan, 160, 0)]) == "NNV"


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
        codes = classify_beats(features.extract(signal, synthetic_100hz.fs))
        counts = np.bincount(codes, minlength=len(BEAT_CLASSES))
        if meta["rhythm"] == "sinus":
            sinus += counts
        else:
            fibrillation += counts
    classified = sinus[:4].sum()  # Q beats (cut by the record's edges) aside
    assert sinus[0] / classified >= 0.97, dict(zip(BEAT_CLASSES, sinus))
    assert fibrillation.sum() > 20 and fibrillation[1] == 0, dict(zip(BEAT_CLASSES, fibrillation))


# ------------------------------------------------------------------ atrial fibrillation (irregular RR, no P wave)

AFIB_CASES = [(seed, label) for seed in range(4) for label in ("MI", "STTC", "CD", "HYP")]


def afib_like_classes(fs):
    """Beat classes and P-wave flags of afib-like synthetic records (irregular RR, fibrillatory baseline, no P)."""
    from beatssl_lite import features
    from beatssl_lite.synthetic import make_synthetic_record

    out = []
    for seed, label in AFIB_CASES:
        ecg = features.extract(make_synthetic_record(seed, label=label, fs=fs, rhythm="afib-like").signal, fs)
        p_present = ecg.beats[:, features.BEAT_FEATURES.index("p_present")]
        out.append((f"{label} seed {seed}", classify_beats(ecg), p_present))
    return out


@pytest.mark.parametrize("fs", [100.0, 500.0])
def test_afib_like_records_are_not_sinus_and_get_no_premature_beat(fs):
    """Docstring: sinus needs P waves in at least half of the beats, so AF beats are never called premature (S)."""
    for name, codes, p_present in afib_like_classes(fs):
        assert np.nanmean(p_present) < 0.5, f"{name}: P waves found in most beats of an afib-like record"
        assert BEAT_CLASSES.index("S") not in codes, f"{name}: {''.join(BEAT_CLASSES[c] for c in codes)}"


@pytest.mark.xfail(reason="delineation: in afib-like records the QRS offset is misplaced on some beats (e.g. "
                          "synthetic MI seed 2 at 100 Hz: 130 ms for a true 80 ms), and a wide, widened beat without "
                          "P is V by the rules", strict=False)
@pytest.mark.parametrize("fs", [100.0, 500.0])
def test_afib_like_beats_are_normal(fs):
    """Docstring: N for atrial fibrillation beats; the synthetic ECG has no ectopic beat, so every delineated beat
    (Q aside: QRS undefined) must be N."""
    wrong = {name: "".join(BEAT_CLASSES[c] for c in codes) for name, codes, _ in afib_like_classes(fs)
             if np.isin(codes, [BEAT_CLASSES.index(c) for c in "SVF"]).any()}
    assert not wrong, wrong


@pytest.mark.realdata
def test_ptbxl_atrial_fibrillation_beats_are_not_premature(ptbxl_root):
    """PTB-XL's AFIB records (record-level statement): at most 3.5 % of them (3 of the subset's 99) may get an S
    beat. Before the P search refused a maximum at its window's edge (the slope into the QRS), 6 of the 99 did; today
    3 do (699, 1508, 1965: fibrillatory waves that the P rules tuned on LUDB accept in most beats, so the record is
    judged sinus and its irregular RR looks premature). PR-interval spread does not separate them from sinus records
    with PACs."""
    from beatssl_lite import features
    from beatssl_lite.datasets import load_ptbxl

    dataset = load_ptbxl(root=ptbxl_root, fs=100, progress=False)
    afib = [i for i, meta in enumerate(dataset.meta) if "AFIB" in meta["scp_codes"]]
    assert len(afib) >= 50
    with_s = [dataset.record_ids[i] for i in afib
              if BEAT_CLASSES.index("S") in classify_beats(features.extract(dataset.signals[i], dataset.fs))]
    assert len(with_s) <= 0.035 * len(afib), f"{len(with_s)} of {len(afib)} AFIB records with an S beat: {with_s}"
