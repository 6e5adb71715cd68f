"""Contrastive targets of a batch from its ECG and beat features: similarity, soft and hard target layouts.

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
  targets. Missing features (NaN) are dropped pairwise: a pair is compared on the features both have. An angle
  (the QRS axis) enters as the point (R cos a, R sin a) on a circle of radius R = 180/pi degrees rather than as a
  signed number: the distance between two axes is then the chord, ~ their difference in degrees when it is small
  (the scale the raw number had), and +179 and -179 degrees are 2 degrees apart instead of 358.
- **[ours] soft_2** = a Gaussian (RBF) kernel on features divided by fixed per-feature scales taken from clinical
  normal ranges (``FEATURE_SCALES``): k = exp(-mean_f d_f**2 / 2), d_f = (x_f - y_f) / scale_f. Why: raw cosine is
  dominated by the largest numbers (RR, QT in ms) and nearly blind to amplitudes, the ST level and P presence; the
  kernel gives every feature a say in units of its clinical variability, spreads targets over [0, 1] without a
  power (the paper runs soft_2 only at power 1), and, with fixed scales rather than dataset or batch statistics,
  the target of a pair does not depend on the dataset or on which other ECGs share the batch.
- **[ours] hard beat targets** compare beat classes (``beat_classes.classify_beats``, AAMI-like N / S / V / F / Q,
  codes into ``vocabulary.BEAT_CLASSES``); the paper's beat classifier is unknown.
- **[ours] per batch**, unlike SoftCLT's N x N matrix over the training set **[ref]**: every target matrix
  is built from a batch's cached feature rows (``precompute.FeatureCache.batch``), so nothing scales with the
  dataset size squared.

Two implementations of the same targets:

- numpy, float64, the tested reference (``similarity``, ``two_view_targets``, ``rhythm_targets``,
  ``beat_targets``): full (2N, 2N) layouts, for the book, plots and tests.
- torch, for a training step (``rhythm_target_block``, ``beat_target_block``): float32, on the batch's device, no
  gradient, and only the (N, N) *cross-view block* P. With the 2N items of a step stacked as [view 1 of items
  0..N-1, view 2 of items 0..N-1], the full target is [[P, P], [P, P]] with its main diagonal (each row with
  itself) excluded; P[i, i] = 1 is the partner (the other view of the same ECG or beat), P[i, j] for i != j the
  target of two different items, whichever views they come from (symmetric, in [0, 1]). The hard rhythm block is
  the identity (SimCLR). A loss applies the block structure itself; ``two_view_from_block(P)`` builds the
  (2N, 2N) matrix for tests and plots, and equals the numpy layout to float32 rounding. For the ~2,600 beats of a
  256-ECG batch P is 27 MB where the (2M, 2M) float64 matrix is 216 MB.
  Separate functions rather than one accepting both array kinds, because they return different things: the numpy
  reference the full layout with 0 on its diagonal, the step the block with 1 on its diagonal.
"""

from __future__ import annotations

import numpy as np
import torch

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


def cosine_similarity(features: np.ndarray, names=None) -> np.ndarray:
    """Cosine similarity of raw feature vectors, NaN features dropped pairwise, clipped to [0, 1].

    features: (N, F) raw, unstandardised feature vectors; NaN marks a feature that is undefined for an item.
    names: F feature names, to find the angles among them (``angular_features``); None: every feature linear.
    Returns (N, N) float64: S[i, j] = sum_f x_if x_jf / sqrt(sum_f x_if**2 * sum_f x_jf**2), every sum over the
    features finite in both i and j, where an angle a (degrees) counts as the two coordinates
    (R cos a, R sin a), R = ``ANGLE_RADIUS_DEG`` (product term R**2 cos(a_i - a_j), square R**2).
    A pair with no common feature, or whose common part is zero in one of them, gets 0 (no evidence of
    similarity). Negative cosines (possible with signed features such as the ST level) are clipped to 0: a target
    is a weight, not a repulsion. The diagonal is 1 for any item with a nonzero finite feature.
    """
    features = _check_features(features, "features")
    if names is not None:
        features = _circle_embedded(features, angular_features(_check_name_count(names, features.shape[1])))
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


#: Radius, in degrees, of the circle on which soft_1 places an angle: 180/pi, so that the chord between two nearby
#: angles is their difference in degrees, the scale the angle had as a signed number.
ANGLE_RADIUS_DEG = 180.0 / np.pi


def _check_name_count(names, n_features: int) -> list:
    names = [str(name) for name in names]
    if len(names) != n_features:
        raise ValueError(f"names: expected {n_features} feature names, one per feature column, got {len(names)} (the "
                         "default is the package's features.RECORD_FEATURES / BEAT_FEATURES: pass names= for other "
                         "feature columns)")
    return names


def _circle_embedded(features: np.ndarray, angular: np.ndarray) -> np.ndarray:
    """(N, F + n_angles): the linear features, then each angle (degrees) as R cos a and R sin a (NaN stays NaN)."""
    theta = np.deg2rad(features[:, angular])
    return np.concatenate([features[:, ~angular], ANGLE_RADIUS_DEG * np.cos(theta),
                           ANGLE_RADIUS_DEG * np.sin(theta)], axis=1)


def _base_feature(name: str) -> str:
    """The beat feature a record feature summarises ('median_qrs_axis_deg' -> 'qrs_axis_deg'), else ``name``."""
    return name[len("median_"):] if name.startswith("median_") and name not in FEATURE_SCALES else name


def feature_scales(names) -> np.ndarray:
    """(F,) soft_2 scales for the feature ``names`` (``FEATURE_SCALES``; 'median_x' uses the scale of 'x')."""
    names = [str(n) for n in names]
    keys = [_base_feature(n) for n in names]
    missing = [n for n, k in zip(names, keys) if k not in FEATURE_SCALES]
    if missing:
        raise KeyError(
            f"no soft_2 scale for feature(s) {missing}: pass scales= explicitly or add them to FEATURE_SCALES"
        )
    return np.array([FEATURE_SCALES[k] for k in keys], dtype=np.float64)


def angular_features(names) -> np.ndarray:
    """(F,) bool: which of the feature ``names`` are angles (``ANGULAR_FEATURES``; 'median_x' is one if 'x' is).

    The one lookup of angular features: soft_1 and soft_2 compare these on the circle."""
    return np.array([_base_feature(str(n)) in ANGULAR_FEATURES for n in names], dtype=bool)


def rbf_similarity(features: np.ndarray, names=None, scales=None) -> np.ndarray:
    """soft_2 similarity: Gaussian kernel on features scaled by fixed physiological scales, in (0, 1].

    features: (N, F), NaN where undefined. names: F feature names, to look up ``FEATURE_SCALES`` and which features
    are angles (``angular_features``: 'qrs_axis_deg' and the record's 'median_qrs_axis_deg'); or scales: (F,)
    explicit positive scales (all features linear).
    Returns (N, N) float64: K[i, j] = exp(-(1/2) mean_f d_f**2) over the features finite in both, with
    d_f = (x_if - x_jf) / scale_f, and for an angle d_f = 2 sin(delta / 2) / scale_f with delta the wrapped
    difference in (-180, 180] degrees (the chord between the two directions, scale in radians: ~ delta for small
    differences, +179 and -179 degrees are 2 degrees apart, and opposite axes are the farthest apart).
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
        angular = angular_features(names)
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

    'hard': the identity (an item is only similar to itself); 'soft_1': ``cosine_similarity(features, names)`` **
    power (names None: every feature linear); 'soft_2': ``rbf_similarity(features, names, scales)`` ** power. The
    diagonal is the item's self-similarity; target builders overwrite it.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    power = _check_power(power)
    features = _check_features(features, "features")
    if strategy == "hard":
        return np.eye(len(features))
    sim = cosine_similarity(features, names) if strategy == "soft_1" else rbf_similarity(features, names, scales)
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

    record_features: (B, F_r), one row per ECG of the batch (``FeatureCache.batch(...).record_features``).
    strategy: 'hard' (one-hot partner view, SimCLR / NT-Xent) [paper], 'soft_1' or 'soft_2' (module docstring).
    power: exponent of the soft similarity (1 or 50 [paper]).
    names: F_r feature names, for soft_2's scales and both soft strategies' angles (default
        ``features.RECORD_FEATURES``).
    Layout as ``two_view_targets``: rows/cols 0..B-1 are view 1, B..2B-1 view 2; 0 on the diagonal, 1 at the
    partner, the similarity of the two original ECGs elsewhere. Values in [0, 1]. The float64 reference of
    ``rhythm_target_block`` (torch, for a training step).
    """
    record_features = _check_features(record_features, "record_features")
    if strategy != "hard" and names is None:
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
    beat_classes: (M,) codes into ``BEAT_CLASSES`` (all three from ``FeatureCache.batch``).
    strategy: 'hard' [paper: hard beat targets come from a beat classifier]: 1 between two different beats of the
        same class, wherever they come from, 0 otherwise; Q (unclassifiable) beats have no positive [ours].
        'soft_1' / 'soft_2': the beat feature similarity (``similarity``) ** power.
    names: F_b feature names, for soft_2's scales and both soft strategies' angles (default
        ``features.BEAT_FEATURES``).
    scope: 'batch' (default: beats of all ECGs of the batch are compared) or 'record' (targets only between beats
        of the same ECG; beats of other ECGs get 0).
    The beats come from R peaks found on the un-augmented ECG, so both augmented views hold the same M beats; for a
    loss over the 2M beats of both views, ``two_view_targets(beat_targets(...))`` gives the (2M, 2M) layout of
    ``rhythm_targets`` (partner = the same beat in the other view). A batch without beats gives a (0, 0) matrix.
    The float64 reference of ``beat_target_block`` (torch, for a training step: the block with 1 on its diagonal).
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
        if names is None:
            from .features import BEAT_FEATURES as names
        targets = similarity(beat_features, strategy, power, names=names)
    if scope == "record":
        targets *= beat_record_index[:, None] == beat_record_index[None, :]
    np.fill_diagonal(targets, 0.0)
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Targets of a training step, in torch on the batch's device: the cross-view block only.
#
# The two-view target matrix of N items (ECGs or beats) x 2 views is a block structure: with P the (N, N) target
# between view 1 of item i and view 2 of item j, it is [[P, P], [P, P]] with its main diagonal (an item with
# itself) excluded. P carries everything: P[i, i] = 1 is the partner, P[i, j] the target of two different items,
# the same whichever views they come from. So a step builds P, never the (2N, 2N) matrix: for 2,600 beats that
# is 27 MB of float32 instead of the 216 MB float64 (2M, 2M) matrix of ``two_view_targets(beat_targets(...))``.

#: Rows per block of the pairwise computation: a (rows, N) float64 block stays near 8 MB whatever N is.
_BLOCK_ELEMENTS = 1 << 20


def _as_device(values, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    return values.device if isinstance(values, torch.Tensor) else torch.device("cpu")


def _as_tensor(values, name: str, device: torch.device, ndim: int) -> torch.Tensor:
    """``values`` (tensor or array-like) as a tensor on ``device``, or a ValueError naming it."""
    tensor = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    if tensor.ndim != ndim:
        shape = "(n_items, n_features)" if ndim == 2 else "(n_items,)"
        raise ValueError(f"{name}: expected a {ndim}-D {shape} tensor, got shape {tuple(tensor.shape)}")
    return tensor.to(device)


def _check_features_torch(features, name: str, device: torch.device) -> torch.Tensor:
    tensor = _as_tensor(features, name, device, ndim=2)
    if not tensor.dtype.is_floating_point:
        tensor = tensor.to(_work_dtype(device))
    if torch.isinf(tensor).any():
        raise ValueError(f"{name}: infinite values; use NaN for undefined features")
    return tensor


def _work_dtype(device: torch.device) -> torch.dtype:
    """float64 for the pairwise arithmetic (MPS has none: float32 there)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _soft_columns(x: torch.Tensor, strategy: str, names) -> tuple:
    """Per-item columns whose pairwise products give the strategy's similarity (see ``_similarity_rows``).

    soft_1: (x0, x0**2, mask) with x0 the features, 0 where undefined, each angle as (R cos a, R sin a)
    (``cosine_similarity``; names None: every feature linear). soft_2: (e, e**2, mask, finite): every
    feature embedded so that the squared distance over a column pair is d_f**2 (``rbf_similarity``), e centred per
    column over the items that have it (distances do not change; the products then cancel less), each column with
    its feature's finite-mask, plus the (N, F) finite-mask of the features (for the number of common features).
    """
    if strategy == "soft_1" and names is not None:
        angular = torch.as_tensor(angular_features(names), device=x.device)
        theta = torch.deg2rad(x[:, angular])
        x = torch.cat([x[:, ~angular], ANGLE_RADIUS_DEG * torch.cos(theta), ANGLE_RADIUS_DEG * torch.sin(theta)], 1)
    finite = torch.isfinite(x)
    x0 = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
    if strategy == "soft_1":
        return x0, x0 * x0, finite.to(x.dtype)
    scales = torch.as_tensor(feature_scales(names), dtype=x.dtype, device=x.device)
    angular = torch.as_tensor(angular_features(names), device=x.device)
    linear = ~angular
    theta = torch.deg2rad(x0[:, angular])
    scale_rad = torch.deg2rad(scales[angular])
    e = torch.cat([x0[:, linear] / scales[linear], torch.cos(theta) / scale_rad, torch.sin(theta) / scale_rad], 1)
    m = torch.cat([finite[:, linear], finite[:, angular], finite[:, angular]], 1).to(x.dtype)
    count = m.sum(0).clamp_min(1.0)
    e = (e - (e * m).sum(0) / count) * m
    return e, e * e, m, finite.to(x.dtype)


def _similarity_rows(columns: tuple, rows: slice, strategy: str) -> torch.Tensor:
    """Rows ``rows`` of the (N, N) similarity, in the columns' dtype: the formulas of ``cosine_similarity`` and
    ``rbf_similarity``, as matrix products over the features both items have."""
    if strategy == "soft_1":
        x0, squares, m = columns
        sim = x0[rows] @ x0.T
        denom = (squares[rows] @ m.T).mul_(m[rows] @ squares.T).sqrt_()
        empty = denom == 0
        return sim.div_(denom.masked_fill_(empty, 1.0)).masked_fill_(empty, 0.0).clamp_(0.0, 1.0)
    e, squares, m, finite = columns
    d2 = squares[rows] @ m.T
    d2.addmm_(m[rows], squares.T).addmm_(e[rows], e.T, alpha=-2.0).clamp_min_(0.0)
    common = finite[rows] @ finite.T
    none = common == 0
    return d2.div_(common.masked_fill_(none, 1.0).mul_(-2.0)).exp_().masked_fill_(none, 0.0)


def _check_rows(rows, n: int) -> tuple:
    """``rows`` (None or a slice with step 1) as (start, stop) within 0..n, or a ValueError naming it."""
    if rows is None:
        return 0, n
    if not isinstance(rows, slice) or rows.step not in (None, 1):
        raise ValueError(f"rows: expected None or a slice of consecutive items, e.g. slice(0, 128), got {rows!r}")
    start, stop, _ = rows.indices(n)
    return start, max(start, stop)


def _set_partners(block: torch.Tensor, start: int) -> torch.Tensor:
    """Set the partner entries of the rows start..start + len(block) - 1 of a block to 1: block[k, start + k]."""
    k = torch.arange(len(block), device=block.device)
    block[k, start + k] = 1.0
    return block


@torch.no_grad()
def _target_block(features: torch.Tensor, strategy: str, power: float, names, start: int, stop: int):
    """Rows start..stop-1 of the (N, N) float32 block: similarity ** power of the rows of ``features`` (already on
    the device), 1 at the partners."""
    n, device = len(features), features.device
    out = torch.zeros((stop - start, n), dtype=torch.float32, device=device)
    if strategy == "hard":
        return _set_partners(out, start)
    # The targets keep full precision inside a mixed-precision step (s ** 50 multiplies the relative error of s by
    # 50): autocast is off here, and the pairwise products run in float64, to which TF32 does not apply.
    with torch.autocast(device_type=device.type, enabled=False):
        x = features.to(_work_dtype(device))
        columns = _soft_columns(x, strategy, names)
        step = max(1, _BLOCK_ELEMENTS // max(n, 1))
        for first in range(start, stop, step):
            rows = slice(first, min(first + step, stop))
            out[first - start:rows.stop - start] = _similarity_rows(columns, rows, strategy)
        if power != 1.0:
            out.log_().mul_(power).exp_()  # s ** power, and log(0) = -inf gives exactly 0
    return _set_partners(out, start)


def rhythm_target_block(record_features, strategy: str = "soft_1", power: float = 1.0, names=None,
                        device=None, rows: slice | None = None) -> torch.Tensor:
    """(B, B) float32 cross-view rhythm target block of a batch of B ECGs, on the batch's device (torch).

    record_features: (B, F_r) tensor (or array) of the batch's record feature rows (``FeatureBatch.record_features``),
        NaN where undefined. strategy, power, names: as ``rhythm_targets`` (names default to
        ``features.RECORD_FEATURES``). device: where to build the block (default: record_features' device; CPU for
        an array). rows: only these rows of P, a slice of consecutive ECGs (default all): in a data-parallel step
        this rank's ECGs among the gathered batch, (B_local, B_total) instead of (B_total, B_total).
    Returns P, float32, on ``device``, no gradient: P[i, j] = target between view 1 of ECG i and view 2 of ECG j.
        P[i, i] = 1 (the partner view); for i != j, P[i, j] = P[j, i] = the similarity of the two original ECGs
        ** power in [0, 1] (0 for 'hard'); 'hard' gives the identity (SimCLR / NT-Xent). With rows=slice(a, b):
        P[a:b], (b - a, B), its partners at [k, a + k].
    The full (2B, 2B) target over the stacked views [view 1 of 0..B-1, view 2 of 0..B-1] is [[P, P], [P, P]] with
    its main diagonal (each row with itself) excluded: exactly ``rhythm_targets`` (the float64 numpy reference),
    which ``two_view_from_block(P)`` rebuilds. A loss applies that structure itself; it never needs (2B, 2B).
    """
    device = _as_device(record_features, device)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    power = _check_power(power)
    features = _check_features_torch(record_features, "record_features", device)
    if strategy != "hard":
        if names is None:
            from .features import RECORD_FEATURES as names
        names = _check_name_count(names, features.shape[1])
    return _target_block(features, strategy, power, names, *_check_rows(rows, len(features)))


def beat_target_block(beat_features, beat_record_index, beat_classes, strategy: str = "hard", power: float = 1.0,
                      names=None, scope: str = "batch", device=None, rows: slice | None = None) -> torch.Tensor:
    """(M, M) float32 cross-view beat target block of the M beats of a batch, on the batch's device (torch).

    beat_features: (M, F_b) tensor (or array) of the batch's beat feature rows; beat_record_index: (M,) integer
        position in the batch of each beat's ECG; beat_classes: (M,) integer codes into ``BEAT_CLASSES`` (all
        three from ``FeatureBatch``). strategy, power, names, scope: as ``beat_targets`` (names default to
        ``features.BEAT_FEATURES``). device: where to build the block (default: beat_features' device; CPU for an
        array). rows: only these rows of P, a slice of consecutive beats (default all): in a data-parallel step
        this rank's beats among the gathered batch, (M_local, M_total) instead of (M_total, M_total).
    Returns P, float32, on ``device``, no gradient: P[k, l] = target between beat k in view 1 and beat l in view 2.
        P[k, k] = 1 (the same beat in the other view: its partner, whatever its class, Q included); for k != l:
        'hard': 1 if beats k and l have the same class and it is not Q, else 0 (the hard beat positives: the same
        class from ``beat_classes``, or the same beat in the other view); 'soft_1' / 'soft_2': the beat feature
        similarity ** power in [0, 1]. scope='record' sets P[k, l] = 0 for beats of different ECGs. With
        rows=slice(a, b): P[a:b], (b - a, M), its partners at [k, a + k].
    The full (2M, 2M) target over the stacked beats [view 1 of beats 0..M-1, view 2 of beats 0..M-1] is
    [[P, P], [P, P]] with its main diagonal (each beat with itself) excluded: exactly
    ``two_view_targets(beat_targets(...))`` (the float64 numpy reference). A batch without beats gives (0, 0).
    """
    device = _as_device(beat_features, device)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
    power = _check_power(power)
    if scope not in ("batch", "record"):
        raise ValueError(f"scope: expected 'batch' or 'record', got {scope!r}")
    features = _check_features_torch(beat_features, "beat_features", device)
    m = len(features)
    index = _as_tensor(beat_record_index, "beat_record_index", device, ndim=1)
    classes = _as_tensor(beat_classes, "beat_classes", device, ndim=1)
    for name, values in (("beat_record_index", index), ("beat_classes", classes)):
        if values.shape != (m,) or (m and (values.dtype.is_floating_point or values.dtype.is_complex
                                           or values.dtype == torch.bool)):
            raise ValueError(f"{name}: expected ({m},) integers, one per beat, got {values.dtype} "
                             f"{tuple(values.shape)}")
    if m and (int(classes.min()) < 0 or int(classes.max()) >= len(BEAT_CLASSES)):
        raise ValueError(f"beat_classes: expected codes 0-{len(BEAT_CLASSES) - 1} into {BEAT_CLASSES}")
    start, stop = _check_rows(rows, m)
    with torch.no_grad():
        if strategy == "hard":
            # same class = the product of one-hot class rows (exact in any precision: 0/1 values, one term per
            # entry), a matrix product instead of M x M comparisons; Q beats get an all-zero row (no positive but
            # their partner, set below)
            one_hot = torch.nn.functional.one_hot(classes.to(torch.int64), len(BEAT_CLASSES)).to(torch.float32)
            one_hot[:, BEAT_CLASSES.index("Q")] = 0.0
            with torch.autocast(device_type=device.type, enabled=False):
                block = _set_partners(one_hot[start:stop] @ one_hot.T, start)
        else:
            if names is None:
                from .features import BEAT_FEATURES as names
            names = _check_name_count(names, features.shape[1])
            block = _target_block(features, strategy, power, names, start, stop)
        if scope == "record":
            block.mul_(index[start:stop, None] == index[None, :])
    return block


def two_view_from_block(block) -> torch.Tensor:
    """The (2N, 2N) two-view target [[P, P], [P, P]] with its main diagonal set to 0, from a block P (torch).

    The layout of ``two_view_targets``; for tests, plots and small batches: a training step passes the block."""
    block = block if isinstance(block, torch.Tensor) else torch.as_tensor(np.asarray(block))
    if block.ndim != 2 or block.shape[0] != block.shape[1]:
        raise ValueError(f"block: expected a square (N, N) target block, got shape {tuple(block.shape)}")
    return block.repeat(2, 2).fill_diagonal_(0.0)
