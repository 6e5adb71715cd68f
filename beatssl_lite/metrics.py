"""Scores of the two downstream tasks: multilabel classification (PTB-XL superdiagnostic) and ECG segmentation
(LUDB), with the protocol each number depends on.

Classification **[ref: Strodthoff et al. 2021; paper: AUROC and F1]**:

- ``multilabel_auroc``: AUROC of each class (the Mann-Whitney statistic: the probability that a random positive
  scores above a random negative, ties counting one half; computed from average ranks) and their unweighted mean.
  A class that never occurs, or always occurs, in the scored split has no AUROC: it is NaN, a ``logging`` warning
  names it, and the macro average is taken over the remaining classes, whose number (``n_averaged``) is returned
  with it **[ours]**. So 1 % of PTB-XL's training folds (~15 records, ~1.6 HYP positives) never crashes a run.
- ``multilabel_f1``: per-class F1 = 2 TP / (2 TP + FP + FN) of ``score >= threshold`` and their mean; the threshold
  is 0.5 or one per class. A class with nothing to score (no positive and no predicted positive) is NaN and left out
  of the mean the same way.
- ``tune_thresholds``: per-class thresholds that maximise F1 on the validation split (PTB-XL fold 9), then applied
  unchanged to the test split (fold 10) **[ours; the common practice]**. Candidates are the midpoints between
  consecutive distinct validation scores, so each candidate is one distinct partition of the validation set and
  the chosen one sits halfway to its neighbours (not on a validation score). Ties go to the highest threshold
  (fewest positives). A class without positives in the validation split keeps 0.5 (warned).

Segmentation **[paper: sample-wise F1 and Dice on samples 500-4500 of each 5000-sample LUDB record at 500 Hz]**:

- masks hold ``vocabulary.WAVES`` codes per sample (0 none, 1 P, 2 QRS, 3 T), shape (records, samples) or
  (records, leads, samples); only the window ``[start, stop)`` (default 500-4500, 4000 samples = 8 s at 500 Hz) is
  scored, and the record must be exactly ``record_length`` samples (default 5000) so the window means what it says.
- For one wave and binary masks, sample-wise F1 and Dice are the same formula, 2 TP / (2 TP + FP + FN). We report
  the two ways the literature aggregates it **[ours]**: **F1 pooled** over every scored sample of every record and
  lead (micro), and **Dice as the mean over records** of each record's value (macro; a record where the wave is
  neither annotated nor predicted in the window, e.g. P in atrial fibrillation, has no Dice and is left out).
  The mean over waves of each is returned too. Per-record counts come back as well, for the bootstrap over records
  (``stats``).
- ``boundary_f1``: onsets and offsets of the predicted and annotated waves in the window (``boundary_metrics.
  mask_to_waves``; a wave cut by the window edge has no bound there), matched one to one within ``tolerance_ms``
  (default 150 ms, the LUDB delineation literature's tolerance) by ``boundary_metrics``; F1 per boundary kind
  pooled over leads and records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from .boundary_metrics import DEFAULT_TOLERANCE_MS, combine_waves, mask_to_waves, score_waves
from .vocabulary import SUPERCLASSES, WAVES

logger = logging.getLogger(__name__)

#: The paper's scoring window on LUDB: samples [500, 4500) of each 5000-sample record at 500 Hz.
SEGMENTATION_WINDOW = (500, 4500)
SEGMENTATION_RECORD_LENGTH = 5000
SEGMENTATION_FS = 500.0
#: Default decision threshold of the multilabel F1.
DEFAULT_THRESHOLD = 0.5
#: The scored waves (codes 1..3 of ``vocabulary.WAVES``).
SCORED_WAVES = tuple(WAVES[1:])


# --- classification ------------------------------------------------------------------------------------------------

def _check_multilabel(y_true, y_score, class_names, score_name: str = "y_score") -> tuple:
    """Validated (y_true bool (n, k), y_score float64 (n, k), class names)."""
    truth = np.asarray(y_true)
    scores = np.asarray(y_score)
    if truth.ndim != 2:
        raise ValueError(f"y_true: expected (n_records, n_classes) multi-hot labels, got shape {truth.shape}")
    if scores.shape != truth.shape:
        raise ValueError(f"{score_name}: expected the shape of y_true {truth.shape} (one row per record, one column "
                         f"per class), got {scores.shape}")
    if len(truth) == 0:
        raise ValueError("y_true: the scored split is empty (0 records)")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("y_true: expected multi-hot labels of 0 and 1")
    if not np.issubdtype(scores.dtype, np.number) or not np.isfinite(scores).all():
        raise ValueError(f"{score_name}: expected finite numbers")
    if class_names is None:
        class_names = SUPERCLASSES if truth.shape[1] == len(SUPERCLASSES) else tuple(
            f"class{k}" for k in range(truth.shape[1]))
    class_names = tuple(class_names)
    if len(class_names) != truth.shape[1]:
        raise ValueError(f"class_names: expected {truth.shape[1]} names, got {len(class_names)}")
    return truth.astype(bool), scores.astype(np.float64), class_names


def binary_auroc(y_true, y_score) -> float:
    """AUROC of one class: (sum of positive ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg), average ranks for
    ties (so a tie between a positive and a negative counts one half). NaN when a class is missing."""
    truth = np.asarray(y_true, dtype=bool)
    scores = np.asarray(y_score, dtype=np.float64)
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@dataclass
class MultilabelScore:
    """A macro score and its per-class parts.

    macro: the mean over the classes with a defined score (NaN when none is defined).
    per_class: {class name: score}, NaN where undefined.
    n_averaged: how many classes the macro mean averages; undefined: the classes left out.
    """

    metric: str
    macro: float
    per_class: dict
    n_averaged: int
    undefined: list = field(default_factory=list)
    thresholds: dict | None = None

    def to_dict(self) -> dict:
        out = {"metric": self.metric, "macro": self.macro, "per_class": dict(self.per_class),
               "n_classes_averaged": self.n_averaged, "undefined_classes": list(self.undefined)}
        if self.thresholds is not None:
            out["thresholds"] = dict(self.thresholds)
        return out


def _macro(metric: str, values: list, class_names: tuple, why: str, warn: bool,
           thresholds: dict | None = None) -> MultilabelScore:
    per_class = dict(zip(class_names, (float(v) for v in values)))
    undefined = [name for name, value in per_class.items() if np.isnan(value)]
    defined = [value for value in per_class.values() if not np.isnan(value)]
    if undefined and warn:
        logger.warning("%s undefined for %s (%s): left out of the macro average, which averages %d of %d classes",
                       metric, ", ".join(undefined), why, len(defined), len(class_names))
    macro = float(np.mean(defined)) if defined else float("nan")
    return MultilabelScore(metric, macro, per_class, len(defined), undefined, thresholds)


def multilabel_auroc(y_true, y_score, class_names=None, warn: bool = True) -> MultilabelScore:
    """Per-class AUROC and their macro mean over the classes where it is defined (module docstring).

    y_true: (n, k) multi-hot; y_score: (n, k) any real scores (probabilities or logits). class_names default to
    ``SUPERCLASSES`` for k = 5. warn: log a warning naming undefined classes.
    """
    truth, scores, names = _check_multilabel(y_true, y_score, class_names)
    values = [binary_auroc(truth[:, k], scores[:, k]) for k in range(truth.shape[1])]
    return _macro("AUROC", values, names, "the class is absent or present in every scored record", warn)


def _thresholds_array(thresholds, class_names: tuple) -> np.ndarray:
    if isinstance(thresholds, dict):
        missing = [name for name in class_names if name not in thresholds]
        if missing:
            raise ValueError(f"thresholds: no threshold for {', '.join(missing)}")
        values = np.array([thresholds[name] for name in class_names], dtype=np.float64)
    elif np.ndim(thresholds) == 0:
        values = np.full(len(class_names), thresholds, dtype=np.float64)
    else:
        values = np.asarray(thresholds, dtype=np.float64)
    if values.shape != (len(class_names),) or not np.isfinite(values).all():
        raise ValueError(f"thresholds: expected one number or {len(class_names)} finite numbers, got {thresholds!r}")
    return values


def binary_f1(y_true, y_pred) -> float:
    """2 TP / (2 TP + FP + FN) of boolean predictions; NaN with no positive and no predicted positive."""
    truth = np.asarray(y_true, dtype=bool)
    pred = np.asarray(y_pred, dtype=bool)
    tp = int(np.count_nonzero(truth & pred))
    wrong = int(np.count_nonzero(truth != pred))
    return 2 * tp / (2 * tp + wrong) if 2 * tp + wrong else float("nan")


def multilabel_f1(y_true, y_score, thresholds=DEFAULT_THRESHOLD, class_names=None,
                  warn: bool = True) -> MultilabelScore:
    """Per-class F1 of ``y_score >= threshold`` and their macro mean (module docstring).

    thresholds: one number for every class, a sequence of k numbers, or {class name: threshold}
    (``tune_thresholds``'s output). y_score must be on the thresholds' scale (probabilities for 0.5).
    """
    truth, scores, names = _check_multilabel(y_true, y_score, class_names)
    cut = _thresholds_array(thresholds, names)
    values = [binary_f1(truth[:, k], scores[:, k] >= cut[k]) for k in range(len(names))]
    return _macro("F1", values, names, "no positive and nothing predicted positive", warn,
                  thresholds=dict(zip(names, cut.tolist())))


def tune_thresholds(y_true, y_score, class_names=None, default: float = DEFAULT_THRESHOLD) -> dict:
    """{class name: threshold} maximising each class's F1 on this (validation) split (module docstring)."""
    truth, scores, names = _check_multilabel(y_true, y_score, class_names)
    chosen = {}
    for k, name in enumerate(names):
        n_pos = int(truth[:, k].sum())
        if n_pos == 0:
            logger.warning("tune_thresholds: no positive %s in the validation split: its threshold stays %g",
                           name, default)
            chosen[name] = float(default)
            continue
        order = np.argsort(-scores[:, k], kind="stable")
        sorted_scores, sorted_truth = scores[order, k], truth[order, k]
        # predicting the top m records positive: TP = cumulative positives; only m at the end of a run of ties counts
        last_of_run = np.flatnonzero(np.r_[np.diff(sorted_scores) != 0, True])
        tp = np.cumsum(sorted_truth)[last_of_run]
        predicted = last_of_run + 1
        f1 = 2 * tp / (predicted + n_pos)
        best = int(np.flatnonzero(f1 == f1.max())[0])  # first maximum = the highest threshold
        below = sorted_scores[last_of_run[best] + 1] if last_of_run[best] + 1 < len(sorted_scores) else None
        at = sorted_scores[last_of_run[best]]
        chosen[name] = float(at if below is None else (at + below) / 2.0)
    return chosen


# --- segmentation --------------------------------------------------------------------------------------------------

def _check_masks(predicted, annotated, window, record_length) -> tuple:
    """(predicted, annotated) int arrays (records, leads, samples) cut to the window, validated."""
    pred, true = np.asarray(predicted), np.asarray(annotated)
    for name, mask in (("predicted", pred), ("annotated", true)):
        if mask.ndim not in (2, 3):
            raise ValueError(f"{name}: expected (records, samples) or (records, leads, samples) wave codes, got "
                             f"shape {mask.shape}")
        if mask.size and (not np.issubdtype(mask.dtype, np.integer) or mask.min() < 0 or mask.max() >= len(WAVES)):
            raise ValueError(f"{name}: expected integer codes 0..{len(WAVES) - 1} ({', '.join(WAVES)})")
    if pred.shape != true.shape:
        raise ValueError(f"predicted, annotated: expected the same shape, got {pred.shape} and {true.shape}")
    if len(pred) == 0:
        raise ValueError("predicted, annotated: the scored split is empty (0 records)")
    start, stop = window
    if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer)) and 0 <= start < stop):
        raise ValueError(f"window: expected integer samples (start, stop) with 0 <= start < stop, got {window!r}")
    if record_length is not None and pred.shape[-1] != record_length:
        raise ValueError(f"predicted, annotated: expected records of {record_length} samples (the window {start}-"
                         f"{stop} is defined on them), got {pred.shape[-1]}")
    if stop > pred.shape[-1]:
        raise ValueError(f"window: stop={stop} is past the {pred.shape[-1]} samples of the records")
    if pred.ndim == 2:
        pred, true = pred[:, None], true[:, None]
    return pred[..., start:stop].astype(np.int64), true[..., start:stop].astype(np.int64)


def wave_counts(predicted, annotated, window=SEGMENTATION_WINDOW,
                record_length: int | None = SEGMENTATION_RECORD_LENGTH) -> np.ndarray:
    """Sample counts per record in the window: (records, 3 waves P/QRS/T, 3) int64 of TP, FP, FN (leads summed)."""
    pred, true = _check_masks(predicted, annotated, window, record_length)
    counts = np.zeros((len(pred), len(SCORED_WAVES), 3), dtype=np.int64)
    for w, code in enumerate(range(1, len(WAVES))):
        p, t = pred == code, true == code
        counts[:, w, 0] = np.count_nonzero(p & t, axis=(1, 2))
        counts[:, w, 1] = np.count_nonzero(p & ~t, axis=(1, 2))
        counts[:, w, 2] = np.count_nonzero(~p & t, axis=(1, 2))
    return counts


def scores_from_counts(counts: np.ndarray) -> dict:
    """Pooled F1 and per-record-mean Dice per wave and their means, from ``wave_counts`` output (records may
    repeat: the bootstrap passes resampled rows)."""
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[1:] != (len(SCORED_WAVES), 3) or len(counts) == 0:
        raise ValueError(f"counts: expected (records >= 1, {len(SCORED_WAVES)}, 3) TP/FP/FN, got {counts.shape}")
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    pooled_tp, pooled_wrong = tp.sum(0), (fp + fn).sum(0)
    denominator = 2 * pooled_tp + pooled_wrong
    f1 = np.where(denominator > 0, 2 * pooled_tp / np.maximum(denominator, 1), np.nan)
    record_denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        record_dice = np.where(record_denominator > 0, 2 * tp / record_denominator, np.nan)
    dice = np.array([np.nanmean(column) if np.isfinite(column).any() else np.nan for column in record_dice.T])
    out = {f"f1_{wave}": float(v) for wave, v in zip(SCORED_WAVES, f1)}
    out.update({f"dice_{wave}": float(v) for wave, v in zip(SCORED_WAVES, dice)})
    out["f1_mean"] = float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")
    out["dice_mean"] = float(np.nanmean(dice)) if np.isfinite(dice).any() else float("nan")
    return out


def segmentation_scores(predicted, annotated, window=SEGMENTATION_WINDOW,
                        record_length: int | None = SEGMENTATION_RECORD_LENGTH, fs: float = SEGMENTATION_FS) -> dict:
    """Sample-wise F1 (pooled) and Dice (mean over records) of P, QRS and T, and their means, in the window.

    predicted, annotated: (records, samples) or (records, leads, samples) ``WAVES`` codes at ``fs``, records of
    ``record_length`` samples (None: any length that holds the window). Returns the scores, the protocol that
    produced them (``protocol``) and the per-record ``counts`` (``wave_counts``) for the bootstrap.
    """
    counts = wave_counts(predicted, annotated, window, record_length)
    out = scores_from_counts(counts)
    out["protocol"] = {"fs": float(fs), "window": [int(window[0]), int(window[1])], "record_length": record_length,
                       "f1": "sample-wise, pooled over records and leads",
                       "dice": "sample-wise, mean over records of each record's value (leads pooled)",
                       "n_records": int(len(counts))}
    out["counts"] = counts
    return out


def boundary_f1(predicted, annotated, fs: float = SEGMENTATION_FS, tolerance_ms: float = DEFAULT_TOLERANCE_MS,
                window=SEGMENTATION_WINDOW, record_length: int | None = SEGMENTATION_RECORD_LENGTH) -> dict:
    """Onset/offset F1 of masks within ``tolerance_ms``, boundaries taken in the window (module docstring).

    Returns {"P_on": f1, ..., "T_off": f1, "mean": mean of the six, "scores": pooled ``BoundaryScore`` per kind,
    "protocol": ...}.
    """
    pred, true = _check_masks(predicted, annotated, window, record_length)
    per_lead = [score_waves(mask_to_waves(p), mask_to_waves(t), fs, tolerance_ms, restrict_to_stretch=True)
                for p_record, t_record in zip(pred, true) for p, t in zip(p_record, t_record)]
    pooled = combine_waves(per_lead)
    out = {name: score.f1 for name, score in pooled.items()}
    values = [v for v in out.values() if not np.isnan(v)]
    out["mean"] = float(np.mean(values)) if values else float("nan")
    out["scores"] = pooled
    out["protocol"] = {"fs": float(fs), "tolerance_ms": float(tolerance_ms), "window": [int(window[0]), int(window[1])],
                       "matching": "optimal one-to-one within the tolerance (boundary_metrics), pooled over leads "
                                   "and records; unmatched predictions outside the annotated stretch not counted"}
    return out
