"""Beat classes for the hard beat targets: an AAMI-like N / S / V / F / Q rule set on one record's beat features.

**[paper]** Beat-SSL's hard beat targets come from a precomputed beat classifier whose details are unknown.
**[ours]** ``classify_beats`` is a transparent rule set on four beat features of ``features.extract`` (prematurity,
QRS width, P-wave presence), with the classes of ANSI/AAMI EC57 (``vocabulary.BEAT_CLASSES``). Any callable with
the ``BeatClassifier`` signature can replace it (``precompute.precompute(..., classifier=...)``).
Per-record numpy: it runs once per record, before training, inside ``precompute``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .vocabulary import BEAT_CLASSES


class BeatClassifier(Protocol):
    """Any beat classifier usable for hard beat targets: one record's features in, one class code per beat out.

    ``classifier(ecg_features) -> (n_beats,) int`` codes into ``BEAT_CLASSES``, where ``ecg_features`` is the
    ``features.ECGFeatures`` result of ``features.extract`` for one record (``.beats``, ``.r_peaks``,
    ``.record``). ``precompute`` calls it in worker processes, so it must be picklable (a module-level function or
    a ``functools.partial`` of one).
    """

    def __call__(self, ecg_features) -> np.ndarray: ...


_CLASSIFIER_INPUTS = ("rr_pre_ms", "rr_post_ms", "qrs_ms", "p_present")


def classify_beats(
    features,
    names=None,
    premature_ratio: float = 0.85,
    wide_qrs_ms: float = 120.0,
    widening_ms: float = 30.0,
) -> np.ndarray:
    """AAMI-like beat classes N / S / V / F / Q of one record's beats, from four features [ours].

    features: the result of ``features.extract`` for one record, or its (n_beats, F_b) beat feature array with
        column ``names`` (default ``features.BEAT_FEATURES``); the columns used are rr_pre_ms, rr_post_ms, qrs_ms
        and p_present. The beats must come from one record: prematurity and width are judged against that record.
    Returns (n_beats,) int8 codes into ``BEAT_CLASSES``.

    Reference values of the record: RR_ref = median of its RR intervals (every finite rr_pre and rr_post: robust to
    a few ectopic beats, and over a 10 s ECG the local mean is the record's); QRS_dom = median QRS duration of its
    beats that are not premature (the conducted, dominant beats). Per beat:
      premature = rr_pre < premature_ratio * RR_ref (unknown rr_pre, as for the first beat, is not premature);
      wide      = qrs >= wide_qrs_ms: 120 ms is the conventional limit above which QRS prolongation is complete
                  bundle branch block or a ventricular origin (Surawicz et al., AHA/ACCF/HRS recommendations,
                  Circulation 2009);
      widened   = qrs >= QRS_dom + widening_ms: unlike the record's conducted beats (keeps the beats of a record in
                  bundle branch block, wide in every beat, in N as AAMI EC57 does);
      sinus     = P waves in at least half of the record's beats: ectopy is judged against a sinus rhythm, so the
                  irregular beats of atrial fibrillation are not called premature.
    Rules, first match wins (classes of ANSI/AAMI EC57; thresholds: QRS 120 ms clinical convention, the rest ours):
      Q  QRS duration undefined (the beat could not be delineated);
      V  wide and widened, and premature or without P wave (premature ventricular beat, ventricular escape);
      F  widened, on time and preceded by a P wave (fusion of a sinus and a ventricular activation);
      S  premature, not (wide and widened), in a sinus record (atrial or junctional premature beat, with or
         without a visible P, including aberrantly conducted ones);
      N  everything else (sinus beats, bundle branch block, atrial fibrillation beats).
    premature_ratio 0.85 (15 % early) and widening_ms 30 are tunable choices, not standards: 30 ms is three samples
    at 100 Hz, above the jitter of QRS boundaries between the beats of one record. How the rules agree with
    PTB-XL's record-level statements (PVC, PAC, atrial fibrillation) is measured by
    ``benchmarks/bench_precompute.py``.
    """
    beats = features.beats if hasattr(features, "beats") else features
    if names is None:
        from .features import BEAT_FEATURES as names
    names = [str(name) for name in names]
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size == 0:
        beats = beats.reshape(0, len(names))
    if beats.ndim != 2 or beats.shape[1] != len(names):
        raise ValueError(f"features: expected (n_beats, {len(names)}) beat features, one column per name in "
                         f"names, got {beats.shape}")
    if np.isinf(beats).any():
        raise ValueError("features.beats: infinite values; use NaN for undefined features")
    missing = [name for name in _CLASSIFIER_INPUTS if name not in names]
    if missing:
        raise ValueError(f"names: the beat classifier needs feature(s) {missing}, got {names}")
    rr_pre, rr_post, qrs, p_wave = (beats[:, names.index(name)] for name in _CLASSIFIER_INPUTS)
    codes = np.full(len(beats), BEAT_CLASSES.index("N"), dtype=np.int8)
    if len(beats) == 0:
        return codes

    rr = np.concatenate([rr_pre, rr_post])
    rr_ref = np.median(rr[np.isfinite(rr)]) if np.isfinite(rr).any() else np.nan
    with np.errstate(invalid="ignore"):
        premature = rr_pre < premature_ratio * rr_ref
    conducted = qrs[~premature & np.isfinite(qrs)]
    if len(conducted) == 0:  # every measured beat is premature: compare with all of them
        conducted = qrs[np.isfinite(qrs)]
    qrs_dom = np.median(conducted) if len(conducted) else np.nan
    with np.errstate(invalid="ignore"):
        wide = qrs >= wide_qrs_ms
        widened = qrs >= qrs_dom + widening_ms
    has_p = p_wave == 1
    known_p = np.isfinite(p_wave)
    sinus = known_p.any() and has_p[known_p].mean() >= 0.5

    rules = (
        ("Q", ~np.isfinite(qrs)),
        ("V", wide & widened & (premature | ~has_p)),
        ("F", widened & ~premature & has_p),
        ("S", premature & ~(wide & widened) & sinus),
    )
    unassigned = np.ones(len(beats), dtype=bool)
    for name, rule in rules:
        hit = rule & unassigned
        codes[hit] = BEAT_CLASSES.index(name)
        unassigned &= ~hit
    return codes
