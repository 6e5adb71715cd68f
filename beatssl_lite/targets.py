"""Contrastive targets from ECG features: similarity, soft and hard target matrices, beat classes, precompute.

What Beat-SSL prescribes and what is ours:

- **[paper]** Targets are precomputed from the raw (un-augmented) ECG: peak detector -> feature extractor ->
  ECG / beat feature similarity -> soft targets in [0, 1]; peak detector -> beat classifier -> hard beat targets.
  For a batch of B ECGs x 2 views (rows 0..B-1 view 1, B..2B-1 view 2) the target of a row is 0 at itself, 1 at its
  partner view and, for soft targets, the similarity of the two *original* ECGs elsewhere (the same for both
  views). Soft targets are raised to a power (1 or 50). Two soft strategies exist, soft_1 and soft_2.
- **[ours] soft_1** = cosine similarity of the raw, unstandardised feature vectors (intervals in ms, amplitudes in
  mV), clipped to [0, 1], to the power ``power``. Undoing the paper's power 50 on its example matrix gives raw
  similarities of 0.993-0.9994, which is what raw cosine of positive physiological vectors looks like; and
  s**p = exp(p log s) ~ exp(-p (1 - s)) for s near 1, so the power turns a sliver of cosine range into a spread of
  targets. Missing features (NaN) are dropped pairwise: a pair is compared on the features both have.
- **[ours] soft_2** = a Gaussian (RBF) kernel on features divided by fixed per-feature scales taken from clinical
  normal ranges (``FEATURE_SCALES``): k = exp(-mean_f d_f**2 / 2), d_f = (x_f - y_f) / scale_f. Why: raw cosine is
  dominated by the largest numbers (RR, QT in ms) and nearly blind to amplitudes, the ST level and P presence; the
  kernel gives every feature a say in units of its clinical variability, spreads targets over [0, 1] without a
  power (the paper runs soft_2 only at power 1), and, with fixed scales rather than dataset or batch statistics,
  the target of a pair does not depend on the dataset or on which other ECGs share the batch.
- **[ours] beat classes**: a transparent AAMI-like N / S / V / F / Q rule set (``classify_beats``); the paper's
  beat classifier is unknown. Any callable with the ``BeatClassifier`` signature can replace it.
- **[ours] per batch**, unlike SoftCLT's N x N matrix over the training set **[ref]**: every target matrix
  is built from a batch's cached feature vectors, so nothing scales with the dataset size squared. What is cached
  per dataset (``precompute``) is per record and per beat only: features, R peaks, beat classes.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import shutil
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
from tqdm import tqdm

from .vocabulary import BEAT_CLASSES

STRATEGIES = ("hard", "soft_1", "soft_2")

#: soft_2 scale of each feature, in the feature's unit: a quarter of the adult resting normal range (a normal range
#: spans about mean +- 2 SD, so one scale ~ one SD of a healthy population) [ours, ranges from clinical convention:
#: Surawicz et al. / Rautaharju et al., AHA/ACCF/HRS recommendations for ECG interpretation, 2009; short-term HRV
#: norms from Nunan et al., Pacing Clin Electrophysiol 2010]. ``features`` measures amplitudes and the ST level as
#: heart-vector lengths; the lead-amplitude ranges stand in for theirs. Record features named
#: 'median_<beat feature>' use the beat feature's scale.
FEATURE_SCALES = {
    "rr_pre_ms": 100.0,  # RR 600-1000 ms (heart rate 60-100 bpm)
    "rr_post_ms": 100.0,
    "pr_ms": 20.0,  # PR 120-200 ms
    "qrs_ms": 10.0,  # QRS 70-110 ms
    "qt_ms": 30.0,  # QT 320-440 ms at normal rates
    "qtc_ms": 25.0,  # QTc 350-450 ms
    "p_amp_mv": 0.05,  # P 0.05-0.25 mV
    "r_amp_mv": 0.5,  # R 0.5-2.5 mV
    "t_amp_mv": 0.1,  # T 0.1-0.5 mV
    "st_mv": 0.05,  # the 0.1 mV (1 mm) significance threshold of ST deviation counts as two scales
    "qrs_axis_deg": 30.0,  # axis -30 to +90 degrees
    "p_present": 0.5,  # 0/1: a mismatch counts as two scales
    "hr_bpm": 10.0,  # 60-100 bpm
    "rr_std_ms": 15.0,  # short-term SDNN, healthy adults about 50 +- 15 ms
    "rmssd_ms": 15.0,  # short-term RMSSD, healthy adults about 40 +- 15 ms
}
#: Features that are angles in degrees: soft_2 measures their difference on the circle.
ANGULAR_FEATURES = frozenset({"qrs_axis_deg"})


def _check_features(features, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (n_items, n_features) array, got shape {features.shape}")
    if np.isinf(features).any():
        raise ValueError(f"{name}: infinite values; use NaN for undefined features")
    return features


def _check_power(power) -> float:
    power = float(power)
    if not (np.isfinite(power) and power > 0):
        raise ValueError(f"power: expected a positive finite exponent (1 or 50 in the paper), got {power!r}")
    return power


def cosine_similarity(features: np.ndarray) -> np.ndarray:
    """Cosine similarity of raw feature vectors, NaN features dropped pairwise, clipped to [0, 1].

    features: (N, F) raw, unstandardised feature vectors; NaN marks a feature that is undefined for an item.
    Returns (N, N) float64: S[i, j] = sum_f x_if x_jf / sqrt(sum_f x_if**2 * sum_f x_jf**2), every sum over the
    features finite in both i and j. A pair with no common feature, or whose common part is zero in one of them,
    gets 0 (no evidence of similarity). Negative cosines (possible with signed features such as the QRS axis or
    the ST level) are clipped to 0: a target is a weight, not a repulsion. The diagonal is 1 for any item with a
    nonzero finite feature.
    """
    features = _check_features(features, "features")
    finite = np.isfinite(features)
    mask = finite.astype(np.float64)
    x = np.where(finite, features, 0.0)
    squares = x * x
    # In place on as few (N, N) arrays as possible: for the thousands of beats of a batch, allocating and touching
    # each (N, N) temporary costs more than the arithmetic. x.T.copy() makes numpy use gemm, faster than syrk here.
    sim = x @ x.T.copy()
    # denom[i, j] = |x_i|^2 over the features j has  *  |x_j|^2 over the features i has
    denom = squares @ mask.T
    denom *= mask @ squares.T
    np.sqrt(denom, out=denom)
    empty = denom == 0
    denom[empty] = 1.0
    sim /= denom
    sim[empty] = 0.0
    return np.clip(sim, 0.0, 1.0, out=sim)


def feature_scales(names) -> np.ndarray:
    """(F,) soft_2 scales for the feature ``names`` (``FEATURE_SCALES``; 'median_x' uses the scale of 'x')."""
    names = [str(n) for n in names]
    keys = [n[len("median_"):] if n.startswith("median_") and n not in FEATURE_SCALES else n for n in names]
    missing = [n for n, k in zip(names, keys) if k not in FEATURE_SCALES]
    if missing:
        raise KeyError(
            f"no soft_2 scale for feature(s) {missing}: pass scales= explicitly or add them to FEATURE_SCALES"
        )
    return np.array([FEATURE_SCALES[k] for k in keys], dtype=np.float64)


def rbf_similarity(features: np.ndarray, names=None, scales=None) -> np.ndarray:
    """soft_2 similarity: Gaussian kernel on features scaled by fixed physiological scales, in (0, 1].

    features: (N, F), NaN where undefined. names: F feature names, to look up ``FEATURE_SCALES`` and which features
    are angles (``ANGULAR_FEATURES``); or scales: (F,) explicit positive scales (all features linear).
    Returns (N, N) float64: K[i, j] = exp(-(1/2) mean_f d_f**2) over the features finite in both, with
    d_f = (x_if - x_jf) / scale_f, and for an angle d_f = 2 sin(delta / 2) / scale_f (the chord between the two
    directions, scale in radians: ~ delta for small differences, and opposite axes are the farthest apart).
    A pair with no common feature gets 0. Computed as matrix products, (N, N) memory only.
    """
    features = _check_features(features, "features")
    n, f = features.shape
    if (names is None) == (scales is None):
        raise ValueError("rbf_similarity: pass exactly one of names= (feature names) or scales= (per-feature scales)")
    if names is not None:
        names = [str(name) for name in names]
        if len(names) != f:
            raise ValueError(f"names: expected {f} feature names for features of shape {features.shape}, "
                             f"got {len(names)}")
        scales = feature_scales(names)
        angular = np.array([name in ANGULAR_FEATURES for name in names])
    else:
        scales = np.asarray(scales, dtype=np.float64)
        if scales.shape != (f,) or not (scales > 0).all():
            raise ValueError(f"scales: expected ({f},) positive scales, got {scales!r}")
        angular = np.zeros(f, dtype=bool)

    finite = np.isfinite(features)
    # Embed every feature so that squared Euclidean distance per feature is d_f**2: a linear feature as x / scale,
    # an angle as (cos, sin) / scale_rad. Each column carries the finite-mask of its feature.
    columns, masks = [], []
    for k in range(f):
        value = np.where(finite[:, k], features[:, k], 0.0)
        if angular[k]:
            theta, scale = np.deg2rad(value), np.deg2rad(scales[k])
            columns += [np.cos(theta) / scale, np.sin(theta) / scale]
            masks += [finite[:, k]] * 2
        else:
            columns.append(value / scales[k])
            masks.append(finite[:, k])
    e = np.stack(columns, axis=1) if columns else np.zeros((n, 0))
    m = np.stack(masks, axis=1).astype(np.float64) if masks else np.zeros((n, 0))
    e = e * m
    squares = e * e
    # sum over common columns of (e_i - e_j)**2 = sum e_i**2 m_j + sum e_j**2 m_i - 2 e_i . e_j, built in place
    # (as in cosine_similarity: (N, N) temporaries cost more than the arithmetic).
    d2 = e @ e.T.copy()
    d2 *= -2.0
    d2 += squares @ m.T
    d2 += m @ squares.T
    np.maximum(d2, 0.0, out=d2)
    # k = exp(-d2 / (2 common)) where the pair shares a feature, else 0
    common = finite.astype(np.float64) @ finite.T.astype(np.float64)
    none = common == 0
    common[none] = 1.0
    common *= -2.0
    d2 /= common
    sim = np.exp(d2, out=d2)
    sim[none] = 0.0
    return sim


def similarity(features: np.ndarray, strategy: str = "soft_1", power: float = 1.0, names=None, scales=None):
    """(N, N) similarity in [0, 1] of N items for a target ``strategy``, raised to ``power``.

    'hard': the identity (an item is only similar to itself); 'soft_1': ``cosine_similarity`` ** power;
    'soft_2': ``rbf_similarity(features, names, scales)`` ** power. The diagonal is the item's self-similarity;
    target builders overwrite it.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    power = _check_power(power)
    features = _check_features(features, "features")
    if strategy == "hard":
        return np.eye(len(features))
    sim = cosine_similarity(features) if strategy == "soft_1" else rbf_similarity(features, names, scales)
    if power != 1.0:
        # sim ** power as exp(power * log(sim)), in place: several times faster than np.power on (M, M) beat
        # matrices, and log(0) = -inf gives exactly 0.
        with np.errstate(divide="ignore"):
            np.log(sim, out=sim)
        sim *= power
        np.exp(sim, out=sim)
    return sim


def two_view_targets(targets: np.ndarray) -> np.ndarray:
    """Lay out (N, N) item targets for 2 views: (2N, 2N), rows/cols [view 1 of 0..N-1, view 2 of 0..N-1].

    targets: (N, N), the target between two different items; its diagonal is ignored.
    Returns T with T[a, a] = 0 (self excluded), T[i, i + N] = T[i + N, i] = 1 (the partner view) and
    T[i (+N), j (+N)] = targets[i, j] for i != j, whichever views the two rows come from: a soft target belongs to
    the original ECGs (or beats), not to their augmented views.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or targets.shape[0] != targets.shape[1]:
        raise ValueError(f"targets: expected a square (N, N) matrix, got shape {targets.shape}")
    n = len(targets)
    out = np.empty((2 * n, 2 * n))
    for rows in (slice(0, n), slice(n, 2 * n)):
        for cols in (slice(0, n), slice(n, 2 * n)):
            out[rows, cols] = targets
    item = np.arange(n)
    out[item, item] = out[item + n, item + n] = 0.0
    out[item, item + n] = out[item + n, item] = 1.0
    return out


def rhythm_targets(record_features: np.ndarray, strategy: str = "soft_1", power: float = 1.0, names=None):
    """(2B, 2B) rhythm-contrasting targets for a batch of B ECGs x 2 views, from their cached record features.

    record_features: (B, F_r), one row per ECG of the batch (``TargetCache.batch(...).record_features``).
    strategy: 'hard' (one-hot partner view, SimCLR / NT-Xent) [paper], 'soft_1' or 'soft_2' (module docstring).
    power: exponent of the soft similarity (1 or 50 [paper]).
    names: F_r feature names for soft_2 (default ``features.RECORD_FEATURES``).
    Layout as ``two_view_targets``: rows/cols 0..B-1 are view 1, B..2B-1 view 2; 0 on the diagonal, 1 at the
    partner, the similarity of the two original ECGs elsewhere. Values in [0, 1].
    """
    record_features = _check_features(record_features, "record_features")
    if strategy == "soft_2" and names is None:
        from .features import RECORD_FEATURES as names
    sim = similarity(record_features, strategy, power, names=names)
    return two_view_targets(sim)


def beat_targets(
    beat_features: np.ndarray,
    beat_record_index: np.ndarray,
    beat_classes: np.ndarray,
    strategy: str = "hard",
    power: float = 1.0,
    names=None,
    scope: str = "batch",
) -> np.ndarray:
    """(M, M) beat-contrasting targets for the M beats of a batch, pooled over its ECGs; 0 on the diagonal.

    beat_features: (M, F_b) per-beat features; beat_record_index: (M,) which ECG of the batch each beat belongs to;
    beat_classes: (M,) codes into ``BEAT_CLASSES`` (all three from ``TargetCache.batch``).
    strategy: 'hard' [paper: hard beat targets come from a beat classifier]: 1 between two different beats of the
        same class, wherever they come from, 0 otherwise; Q (unclassifiable) beats have no positive [ours].
        'soft_1' / 'soft_2': the beat feature similarity (``similarity``) ** power.
    names: F_b feature names for soft_2 (default ``features.BEAT_FEATURES``).
    scope: 'batch' (default: beats of all ECGs of the batch are compared) or 'record' (targets only between beats
        of the same ECG; beats of other ECGs get 0).
    The beats come from R peaks found on the un-augmented ECG, so both augmented views hold the same M beats; for a
    loss over the 2M beats of both views, ``two_view_targets(beat_targets(...))`` gives the (2M, 2M) layout of
    ``rhythm_targets`` (partner = the same beat in the other view). A batch without beats gives a (0, 0) matrix.
    """
    beat_features = _check_features(beat_features, "beat_features")
    m = len(beat_features)
    beat_record_index = np.asarray(beat_record_index)
    beat_classes = np.asarray(beat_classes)
    for name, values in (("beat_record_index", beat_record_index), ("beat_classes", beat_classes)):
        if values.shape != (m,) or (m and not np.issubdtype(values.dtype, np.integer)):
            raise ValueError(f"{name}: expected ({m},) integers, one per beat, got {values.dtype} {values.shape}")
    if m and (beat_classes.min() < 0 or beat_classes.max() >= len(BEAT_CLASSES)):
        raise ValueError(f"beat_classes: expected codes 0-{len(BEAT_CLASSES) - 1} into {BEAT_CLASSES}")
    if scope not in ("batch", "record"):
        raise ValueError(f"scope: expected 'batch' or 'record', got {scope!r}")
    if strategy == "hard":
        _check_power(power)
        # Give every Q beat a code of its own (-1, -2, ...) so that it matches no other beat, then compare codes.
        codes = np.where(beat_classes == BEAT_CLASSES.index("Q"), -1 - np.arange(m), beat_classes)
        targets = (codes[:, None] == codes[None, :]).astype(np.float64)
    else:
        if strategy == "soft_2" and names is None:
            from .features import BEAT_FEATURES as names
        targets = similarity(beat_features, strategy, power, names=names)
    if scope == "record":
        targets *= beat_record_index[:, None] == beat_record_index[None, :]
    np.fill_diagonal(targets, 0.0)
    return targets


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
    beats = _check_features(beats, "features.beats")
    if beats.shape[1] != len(names):
        raise ValueError(f"features: expected (n_beats, {len(names)}) beat features, one column per name in "
                         f"names, got {beats.shape}")
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


# ---------------------------------------------------------------------------------------------------------------
# Precompute for a whole dataset: per record and per beat only, never pairwise.

#: Bump when the layout of the cache file changes.
CACHE_FORMAT = "beatssl_lite.targets.cache/1"
#: Modules whose code determines the cached features: their source is part of the cache key.
_FEATURE_MODULES = ("vcg", "beats", "delineation", "features")


class TargetBatch(NamedTuple):
    """What the targets of one batch of B records are built from (``TargetCache.batch``).

    record_features: (B, F_r); beat_features: (M, F_b), the beats of the B records concatenated in batch order;
    beat_record_index: (M,) int64 position 0..B-1 in the batch of each beat's record; beat_classes: (M,) int8 codes
    into ``BEAT_CLASSES``; r_peaks: B arrays of R-peak sample indices, one per record (length = its beat count).
    """

    record_features: np.ndarray
    beat_features: np.ndarray
    beat_record_index: np.ndarray
    beat_classes: np.ndarray
    r_peaks: list


@dataclass
class TargetCache:
    """Precomputed per-record and per-beat features, R peaks and beat classes of a dataset (``precompute``).

    Beats are stored concatenated over records, CSR-like: the beats of record i are rows
    ``beat_offsets[i]:beat_offsets[i + 1]`` of ``beat_features``, ``r_peaks`` and ``beat_classes``.
    record_ids: (N,) str; record_features: (N, F_r) float64 (NaN where undefined, e.g. a record without beats);
    beat_features: (M, F_b) float64; beat_offsets: (N + 1,) int64; r_peaks: (M,) int64 samples at ``fs``;
    beat_classes: (M,) int8.
    """

    record_ids: np.ndarray
    fs: float
    record_features: np.ndarray
    record_feature_names: tuple
    beat_features: np.ndarray
    beat_feature_names: tuple
    beat_offsets: np.ndarray
    r_peaks: np.ndarray
    beat_classes: np.ndarray
    version: str = ""
    path: Path | None = None

    def __post_init__(self):
        n, m = len(self.record_ids), len(self.beat_features)
        checks = (
            ("record_features", self.record_features.shape, (n, len(self.record_feature_names))),
            ("beat_features", self.beat_features.shape, (m, len(self.beat_feature_names))),
            ("beat_offsets", self.beat_offsets.shape, (n + 1,)),
            ("r_peaks", self.r_peaks.shape, (m,)),
            ("beat_classes", self.beat_classes.shape, (m,)),
        )
        for name, got, expected in checks:
            if got != expected:
                raise ValueError(f"TargetCache.{name}: expected shape {expected}, got {got}")
        if self.beat_offsets[0] != 0 or self.beat_offsets[-1] != m or (np.diff(self.beat_offsets) < 0).any():
            raise ValueError(f"TargetCache.beat_offsets: expected non-decreasing offsets from 0 to {m}")

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def beat_counts(self) -> np.ndarray:
        """(N,) number of beats of each record."""
        return np.diff(self.beat_offsets)

    def batch(self, indices) -> TargetBatch:
        """The cached features of the records at ``indices`` ((B,) ints into the dataset), in that order."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or (len(indices) and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(f"indices: expected a 1-D array of record indices, got {indices.dtype} {indices.shape}")
        if len(indices) and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise IndexError(f"indices: out of range for a cache of {len(self)} records")
        indices = indices % max(len(self), 1)
        starts, stops = self.beat_offsets[indices], self.beat_offsets[indices + 1]
        counts = stops - starts
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)]) if len(indices) else np.zeros(0, int)
        rows = rows.astype(np.int64)
        return TargetBatch(
            record_features=self.record_features[indices],
            beat_features=self.beat_features[rows],
            beat_record_index=np.repeat(np.arange(len(indices), dtype=np.int64), counts),
            beat_classes=self.beat_classes[rows],
            r_peaks=[self.r_peaks[a:b] for a, b in zip(starts, stops)],
        )

    def save(self, path) -> Path:
        """Write the cache to ``path`` (.npz), atomically."""
        path = Path(path)
        _atomic_savez(
            path,
            format=np.array(CACHE_FORMAT),
            version=np.array(self.version),
            record_ids=np.asarray(self.record_ids, dtype=str),
            fs=np.array(float(self.fs)),
            record_features=self.record_features,
            record_feature_names=np.asarray(self.record_feature_names, dtype=str),
            beat_features=self.beat_features,
            beat_feature_names=np.asarray(self.beat_feature_names, dtype=str),
            beat_offsets=self.beat_offsets,
            r_peaks=self.r_peaks,
            beat_classes=self.beat_classes,
        )
        return path

    @classmethod
    def load(cls, path) -> "TargetCache":
        """Read a cache written by ``save``."""
        path = Path(path)
        with np.load(path) as z:
            if str(z["format"]) != CACHE_FORMAT:
                raise ValueError(f"{path}: cache format {str(z['format'])!r}, expected {CACHE_FORMAT!r}")
            return cls(
                record_ids=z["record_ids"],
                fs=float(z["fs"]),
                record_features=z["record_features"],
                record_feature_names=tuple(str(n) for n in z["record_feature_names"]),
                beat_features=z["beat_features"],
                beat_feature_names=tuple(str(n) for n in z["beat_feature_names"]),
                beat_offsets=z["beat_offsets"],
                r_peaks=z["r_peaks"],
                beat_classes=z["beat_classes"],
                version=str(z["version"]),
                path=path,
            )


def _atomic_savez(path: Path, **arrays) -> None:
    """np.savez to a temporary file next to ``path``, then os.replace: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe(function) -> str:
    """Source (or qualified name) of a callable, with a partial's bound arguments: part of the cache key."""
    if isinstance(function, functools.partial):
        return _describe(function.func) + repr((function.args, sorted(function.keywords.items())))
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}"


def feature_code_version(classifier: BeatClassifier = classify_beats) -> str:
    """A hash of the code that produces the cached values: the source of the feature modules and of the classifier.

    Any edit to beats / delineation / features / vcg or to the classifier gives a new version, hence a fresh cache:
    a stale cache can never be read by mistake.
    """
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    for module in _FEATURE_MODULES:
        source = Path(__file__).with_name(f"{module}.py")
        if source.exists():
            digest.update(source.read_bytes())
    digest.update(_describe(classifier).encode())
    return digest.hexdigest()[:16]


def cache_key(dataset, version: str) -> str:
    """Hash of what identifies a dataset's precompute: record ids, fs, signal shape, name, code ``version``, and the
    first and last signals (so that two synthetic sets with the same ids but different seeds do not collide)."""
    digest = hashlib.sha256(f"{version}|{dataset.name}|{float(dataset.fs)!r}|{tuple(dataset.signals.shape)}".encode())
    for record_id in dataset.record_ids:
        digest.update(str(record_id).encode() + b"\0")
    if len(dataset):
        for i in (0, len(dataset) - 1):
            digest.update(np.ascontiguousarray(dataset.signals[i], dtype=np.float32).tobytes())
    return digest.hexdigest()[:20]


def _extract_chunk(signals: np.ndarray, fs: float, record_ids, classifier: BeatClassifier) -> dict:
    """Features, R peaks and beat classes of a chunk of records (runs in a worker process)."""
    from . import features

    n_beat_features = len(features.BEAT_FEATURES)
    records, beats, counts, peaks, classes = [], [], [], [], []
    for signal, record_id in zip(signals, record_ids):
        try:
            ecg = features.extract(np.asarray(signal, dtype=np.float32), fs)
            codes = np.asarray(classifier(ecg))
        except Exception as err:
            raise RuntimeError(f"precompute: record {record_id!r} failed: {type(err).__name__}: {err}") from err
        n = len(ecg.r_peaks)
        if codes.shape != (n,):
            raise ValueError(f"classifier: expected ({n},) class codes for record {record_id!r}, got {codes.shape}")
        records.append(np.asarray(ecg.record, dtype=np.float64))
        beats.append(np.asarray(ecg.beats, dtype=np.float64).reshape(n, n_beat_features))
        counts.append(n)
        peaks.append(np.asarray(ecg.r_peaks, dtype=np.int64))
        classes.append(codes.astype(np.int8))
    return dict(
        record_features=np.stack(records),
        beat_features=np.concatenate(beats),
        beat_counts=np.asarray(counts, dtype=np.int64),
        r_peaks=np.concatenate(peaks),
        beat_classes=np.concatenate(classes),
    )


def _n_workers(n_jobs: int, n_tasks: int) -> int:
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs: expected a positive number of processes or -1 (all cores), got {n_jobs!r}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores if n_jobs == -1 else int(n_jobs), n_tasks))


def precompute(
    dataset,
    cache_dir=None,
    n_jobs: int = -1,
    progress: bool = True,
    classifier: BeatClassifier = classify_beats,
    chunk_size: int = 64,
) -> TargetCache:
    """``features.extract`` + beat classes for every record of ``dataset``, in parallel, cached on disk.

    dataset: a ``data.ECGDataset``. cache_dir: where caches live (default ``data.user_cache_dir() / 'targets'``).
    n_jobs: worker processes (-1: all cores; 1: in this process, no pool). classifier: a ``BeatClassifier``.
    chunk_size: records per work unit and per on-disk shard.

    The cache file ``targets-<key>.npz`` is keyed by ``cache_key`` (record ids, fs, shape, a hash of the feature
    code and classifier): a second call loads it without extracting anything. While running, each finished chunk
    is written as a shard under ``targets-<key>.part/``; an interrupted run resumes from the shards it left, and the
    merged file replaces them at the end. Every write is atomic (temporary file, then os.replace). Results do not
    depend on n_jobs or chunk_size: each record is processed on its own, deterministically.
    """
    from . import features
    from .data import user_cache_dir

    for attribute in ("signals", "fs", "record_ids", "name"):
        if not hasattr(dataset, attribute):
            raise TypeError(f"dataset: expected a beatssl_lite.data.ECGDataset, got {type(dataset).__name__}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive number of records, got {chunk_size!r}")
    _n_workers(n_jobs, 1)  # validates n_jobs before anything is written
    cache_dir = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "targets"
    version = feature_code_version(classifier)
    key = cache_key(dataset, version)
    final = cache_dir / f"targets-{key}.npz"
    if final.exists():
        return TargetCache.load(final)

    parts = cache_dir / f"targets-{key}.part"
    parts.mkdir(parents=True, exist_ok=True)
    n = len(dataset)
    chunks = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]

    def shard(chunk) -> Path:
        return parts / f"records-{chunk[0]:07d}-{chunk[1]:07d}.npz"

    todo = [chunk for chunk in chunks if not shard(chunk).exists()]
    ids = [str(record_id) for record_id in dataset.record_ids]

    def job(chunk):
        a, b = chunk
        return np.asarray(dataset.signals[a:b], dtype=np.float32), float(dataset.fs), ids[a:b], classifier

    done = n - sum(b - a for a, b in todo)
    with tqdm(total=n, initial=done, disable=not progress, desc=f"features {dataset.name}", unit="rec") as bar:
        workers = _n_workers(n_jobs, len(todo))
        if workers == 1:
            for chunk in todo:
                _atomic_savez(shard(chunk), **_extract_chunk(*job(chunk)))
                bar.update(chunk[1] - chunk[0])
        elif todo:
            # At most 2 chunks per worker in flight, so a memmapped dataset is never copied whole.
            pool = ProcessPoolExecutor(workers)
            try:
                queue, running = list(todo), {}
                while queue or running:
                    while queue and len(running) < 2 * workers:
                        chunk = queue.pop(0)
                        running[pool.submit(_extract_chunk, *job(chunk))] = chunk
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        chunk = running.pop(future)
                        _atomic_savez(shard(chunk), **future.result())
                        bar.update(chunk[1] - chunk[0])
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    pieces = []
    for chunk in chunks:
        with np.load(shard(chunk)) as z:
            pieces.append({name: z[name] for name in z.files})
    counts = np.concatenate([p["beat_counts"] for p in pieces]) if pieces else np.zeros(0, np.int64)
    n_record, n_beat = len(features.RECORD_FEATURES), len(features.BEAT_FEATURES)
    cache = TargetCache(
        record_ids=np.asarray(ids, dtype=str),
        fs=float(dataset.fs),
        record_features=np.concatenate([p["record_features"] for p in pieces]) if pieces else np.zeros((0, n_record)),
        record_feature_names=tuple(features.RECORD_FEATURES),
        beat_features=np.concatenate([p["beat_features"] for p in pieces]) if pieces else np.zeros((0, n_beat)),
        beat_feature_names=tuple(features.BEAT_FEATURES),
        beat_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        r_peaks=np.concatenate([p["r_peaks"] for p in pieces]) if pieces else np.zeros(0, np.int64),
        beat_classes=np.concatenate([p["beat_classes"] for p in pieces]) if pieces else np.zeros(0, np.int8),
        version=version,
    )
    cache.path = cache.save(final)
    shutil.rmtree(parts, ignore_errors=True)
    return cache
