"""Scoring detected wave boundaries against annotated ones: one-to-one matching within a tolerance.

The standard protocol of the delineation literature (Martinez et al., IEEE TBME 2004; Moskalenko et al. 2020,
arXiv 2001.04689; LUDB, Kalyakulina et al., IEEE Access 2020) **[ref]**: each annotated boundary (the onset or the
offset of a P wave, a QRS complex or a T wave, in one lead) is matched to at most one detected boundary of the same
kind, and each detection to at most one annotation, when they are at most ``tolerance`` apart (150 ms by default,
the AAMI-style window those papers use). Matched pairs are true positives (TP), unmatched annotations false
negatives (FN), unmatched detections false positives (FP); Se = TP / (TP + FN), PPV = TP / (TP + FP),
F1 = 2 TP / (2 TP + FP + FN), and the signed error detected - annotated (ms) over the matched pairs is reported as
mean +- SD (sample SD, ddof = 1).

**Which matching** **[ours]**, since the papers do not pin it down: the optimal one, i.e. the most pairs, and among
matchings with the most pairs the smallest total absolute error. Greedy nearest-first matching is not optimal
(annotations at 0 and 10 with detections at 9 and 19, tolerance 10: greedy pairs 10-9 first, 1 apart, and leaves
0 and 19 alone; the optimum pairs 0-9 and 10-19). ``match_boundaries`` computes the optimum exactly by dynamic
programming on the two sorted sequences: on a line an optimal matching never needs crossing pairs (if a1 <= a2
were paired with d2 >= d1 respectively, pairing a1-d1 and a2-d2 keeps both pairs within the tolerance and does not
increase the total absolute error), so the optimum is the best non-crossing alignment, which the classic alignment
recursion finds in O(n m). No pair spans a gap wider than the tolerance, so the sorted union of both sequences is
first cut at such gaps and each piece solved alone (on ECG boundaries a piece holds a few points: linear cost).
The tests check it against brute-force enumeration and against ``scipy.optimize.linear_sum_assignment``. Ties
(equal count and equal total error) are broken deterministically, in favour of the earlier annotation.

**Annotated stretch** **[ours]**: LUDB annotates only part of each 10 s record (cardiologists skipped the first
and last beats), so a detection of a real wave outside the annotated part would count as a false positive. The
stretch of one lead is [first, last], the smallest and largest annotated sample of any kind (onset, peak or
offset of any P, QRS or T) in that lead. All detections take part in the matching; afterwards an *unmatched*
detection outside the stretch is dropped instead of counted as FP. So a detection just outside the stretch still
scores a TP when it matches an annotation (within the tolerance), and nothing outside the stretch is ever
penalised. Annotations all lie inside the stretch by construction, so FN is unaffected.

Segmentation output (a per-sample label mask) is scored the same way after ``mask_to_waves``.

An annotated wave whose onset or offset the annotators left out (-1 in ``wfdb_io.annotations_to_waves``) contributes
no annotation for that bound: a detection of it counts as FP unless it matches another annotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .vocabulary import WAVES

#: Default matching window, ms: the AAMI-style tolerance of the LUDB delineation literature.
DEFAULT_TOLERANCE_MS = 150.0
#: Boundary names in reporting order: (wave kind in ``vocabulary.WAVES`` spelling, column in an (n, 3) onset /
#: peak / offset array).
BOUNDARIES = {"P_on": ("P", 0), "P_off": ("P", 2), "QRS_on": ("QRS", 0), "QRS_off": ("QRS", 2),
              "T_on": ("T", 0), "T_off": ("T", 2)}


def _positions(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of boundary positions, got shape {array.shape}")
    if len(array) and (array.dtype == bool or not np.issubdtype(array.dtype, np.number)):
        raise ValueError(f"{name}: expected numeric positions, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: positions must be finite (drop missing boundaries before scoring)")
    return array


def _align(a: np.ndarray, d: np.ndarray, tolerance: float) -> list:
    """Best non-crossing matching of sorted ``a`` with sorted ``d``: [(i, j), ...] index pairs, increasing.

    The alignment recursion on (pairs, total error), compared lexicographically (most pairs, then least error).
    """
    n, m = len(a), len(d)
    pairs = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost = np.zeros((n + 1, m + 1), dtype=np.float64)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0: leave a[i-1] out, 1: leave d[j-1] out, 2: pair them
    move[0, 1:] = 1
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best_pairs, best_cost, best_move = pairs[i - 1, j], cost[i - 1, j], 0
            if pairs[i, j - 1] > best_pairs or (pairs[i, j - 1] == best_pairs and cost[i, j - 1] < best_cost):
                best_pairs, best_cost, best_move = pairs[i, j - 1], cost[i, j - 1], 1
            gap = abs(a[i - 1] - d[j - 1])
            if gap <= tolerance:
                p, c = pairs[i - 1, j - 1] + 1, cost[i - 1, j - 1] + gap
                if p > best_pairs or (p == best_pairs and c < best_cost):
                    best_pairs, best_cost, best_move = p, c, 2
            pairs[i, j], cost[i, j], move[i, j] = best_pairs, best_cost, best_move
    matched = []
    i, j = n, m
    while i > 0 and j > 0:
        if move[i, j] == 2:
            matched.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif move[i, j] == 1:
            j -= 1
        else:
            i -= 1
    return matched[::-1]


def match_boundaries(detected, annotated, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of detected to annotated positions at most ``tolerance`` apart.

    detected, annotated: 1-D positions (any order, same unit as ``tolerance``, e.g. samples). Returns
    (detected_index, annotated_index): int64 arrays of equal length, indices into the inputs, in increasing order of
    the annotated position. The matching has the most pairs possible and, among those, the smallest total
    absolute difference (module docstring).
    """
    det = _positions(detected, "detected")
    ann = _positions(annotated, "annotated")
    if not (np.isscalar(tolerance) and np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance: expected a finite number >= 0, got {tolerance!r}")
    empty = np.zeros(0, dtype=np.int64)
    if len(det) == 0 or len(ann) == 0:
        return empty, empty
    det_order = np.argsort(det, kind="stable")
    ann_order = np.argsort(ann, kind="stable")
    d, a = det[det_order], ann[ann_order]
    # cut the sorted union where neighbours are more than the tolerance apart: no pair can span such a gap
    union = np.concatenate([a, d])
    is_annotation = np.concatenate([np.ones(len(a), dtype=bool), np.zeros(len(d), dtype=bool)])
    order = np.argsort(union, kind="stable")
    cuts = np.flatnonzero(np.diff(union[order]) > tolerance) + 1
    det_index, ann_index = [], []
    a_start = d_start = 0
    for piece in np.split(order, cuts):
        n_a = int(np.count_nonzero(is_annotation[piece]))
        n_d = len(piece) - n_a
        if n_a and n_d:
            for i, j in _align(a[a_start:a_start + n_a], d[d_start:d_start + n_d], tolerance):
                ann_index.append(ann_order[a_start + i])
                det_index.append(det_order[d_start + j])
        a_start, d_start = a_start + n_a, d_start + n_d
    return np.asarray(det_index, dtype=np.int64), np.asarray(ann_index, dtype=np.int64)


@dataclass
class BoundaryScore:
    """Counts and matched errors of one boundary kind, for one lead or pooled over many (``combine``).

    errors_ms: signed errors detected - annotated, ms, of the matched pairs.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def se(self) -> float:
        """Sensitivity TP / (TP + FN); NaN without annotations."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def ppv(self) -> float:
        """Positive predictive value TP / (TP + FP); NaN without detections."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN): the harmonic mean of Se and PPV; NaN when there is nothing to score."""
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else float("nan")

    @property
    def mean_error_ms(self) -> float:
        return float(np.mean(self.errors_ms)) if len(self.errors_ms) else float("nan")

    @property
    def sd_error_ms(self) -> float:
        """Sample standard deviation (ddof 1) of the matched errors; NaN with fewer than two matches."""
        return float(np.std(self.errors_ms, ddof=1)) if len(self.errors_ms) > 1 else float("nan")

    def __repr__(self) -> str:
        return (f"BoundaryScore(tp={self.tp}, fp={self.fp}, fn={self.fn}, se={self.se:.4f}, ppv={self.ppv:.4f}, "
                f"f1={self.f1:.4f}, error={self.mean_error_ms:+.1f} +- {self.sd_error_ms:.1f} ms)")


def combine(scores) -> BoundaryScore:
    """Pool scores over leads and records: counts add up and errors are concatenated (micro-averaging, as the
    delineation literature reports Se, PPV and m +- s over all boundaries of a database)."""
    scores = list(scores)
    for k, score in enumerate(scores):
        if not isinstance(score, BoundaryScore):
            raise TypeError(f"scores[{k}]: expected a BoundaryScore, got {type(score).__name__}")
    if not scores:
        return BoundaryScore()
    return BoundaryScore(tp=sum(s.tp for s in scores), fp=sum(s.fp for s in scores), fn=sum(s.fn for s in scores),
                         errors_ms=np.concatenate([np.asarray(s.errors_ms, dtype=np.float64) for s in scores]))


def score_boundaries(detected, annotated, fs: float, tolerance_ms: float = DEFAULT_TOLERANCE_MS,
                     stretch: tuple[float, float] | None = None) -> BoundaryScore:
    """Score one kind of boundary in one lead: optimal matching, then TP / FP / FN and errors in ms.

    detected, annotated: 1-D sample positions. fs: Hz. stretch: (first, last) sample of the annotated part of the
    lead (``annotated_stretch``); unmatched detections outside it are not counted (module docstring). None scores
    every detection.
    """
    if not (np.isscalar(fs) and np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs: expected a positive sampling rate in Hz, got {fs!r}")
    if not (np.isscalar(tolerance_ms) and np.isfinite(tolerance_ms) and tolerance_ms >= 0):
        raise ValueError(f"tolerance_ms: expected a finite number >= 0, got {tolerance_ms!r}")
    det = _positions(detected, "detected")
    ann = _positions(annotated, "annotated")
    det_index, ann_index = match_boundaries(det, ann, tolerance_ms * fs / 1000.0)
    unmatched = np.ones(len(det), dtype=bool)
    unmatched[det_index] = False
    if stretch is not None:
        first, last = stretch
        if not first <= last:
            raise ValueError(f"stretch: expected (first, last) with first <= last, got {stretch!r}")
        fp = int(np.count_nonzero(unmatched & (det >= first) & (det <= last)))
    else:
        fp = int(np.count_nonzero(unmatched))
    return BoundaryScore(tp=len(det_index), fp=fp, fn=len(ann) - len(ann_index),
                         errors_ms=(det[det_index] - ann[ann_index]) * 1000.0 / fs)


def _wave_rows(waves: dict, kind: str, name: str) -> np.ndarray:
    rows = np.asarray(waves.get(kind, np.zeros((0, 3))))
    if rows.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] != 3:
        raise ValueError(f"{name}[{kind!r}]: expected an (n, 3) onset, peak, offset array, got shape {rows.shape}")
    return rows


def annotated_stretch(waves: dict) -> tuple[int, int] | None:
    """(first, last) annotated sample of one lead over every bound of every wave, or None if nothing is annotated.

    waves: {"P"|"QRS"|"T": (n, 3) onset, peak, offset}, -1 for a bound left out (LUDB's per-lead form).
    """
    values = [v for kind in ("P", "QRS", "T") for v in _wave_rows(waves, kind, "waves").ravel() if v >= 0]
    return (int(min(values)), int(max(values))) if values else None


def score_waves(detected: dict, annotated: dict, fs: float, tolerance_ms: float = DEFAULT_TOLERANCE_MS,
                restrict_to_stretch: bool = True) -> dict:
    """Score every boundary of ``BOUNDARIES`` in one lead: {"P_on": BoundaryScore, ...}.

    detected, annotated: {"P"|"QRS"|"T": (n, 3) onset, peak, offset sample arrays}, -1 for a bound that is absent
    (it is left out of the scoring); a missing kind counts as no waves. With ``restrict_to_stretch`` unmatched
    detections outside ``annotated_stretch(annotated)`` are not counted; a lead with nothing annotated then
    scores nothing at all (all zeros), since nothing about it is known.
    """
    rows = {kind: (_wave_rows(detected, kind, "detected"), _wave_rows(annotated, kind, "annotated"))
            for kind in ("P", "QRS", "T")}
    stretch = annotated_stretch(annotated) if restrict_to_stretch else None
    result = {}
    for name, (kind, column) in BOUNDARIES.items():
        det, ann = rows[kind][0][:, column], rows[kind][1][:, column]
        det, ann = det[det >= 0], ann[ann >= 0]
        if restrict_to_stretch and stretch is None:
            result[name] = BoundaryScore()
        else:
            result[name] = score_boundaries(det, ann, fs, tolerance_ms, stretch)
    return result


def combine_waves(per_lead) -> dict:
    """Pool ``score_waves`` results (an iterable of dicts) boundary by boundary."""
    per_lead = list(per_lead)
    return {name: combine(scores[name] for scores in per_lead) for name in BOUNDARIES}


def mask_to_waves(mask) -> dict:
    """Per-sample ``vocabulary.WAVES`` codes (0 none, 1 P, 2 QRS, 3 T) of one lead -> {kind: (n, 3) rows}.

    Each maximal run of one nonzero code is a wave: (onset, -1, offset), the first and last sample of the run (the
    peak is not defined by a mask: -1). A run that touches the first or the last sample of ``mask`` is cut by the
    window, so that bound is -1 (not a boundary; left out when scoring). Two waves of the same kind with no sample
    between them are one run, hence one wave. The inverse of ``wfdb_io.waves_to_mask`` for separated waves, so
    predicted and annotated masks go through ``score_waves`` like delineations.
    """
    labels = np.asarray(mask)
    if labels.ndim != 1:
        raise ValueError(f"mask: expected a 1-D array of per-sample wave codes, got shape {labels.shape}")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= len(WAVES)):
        raise ValueError(f"mask: expected integer codes 0..{len(WAVES) - 1} ({', '.join(WAVES)}), got dtype "
                         f"{labels.dtype}" + (f", range {labels.min()}..{labels.max()}" if len(labels) else ""))
    result = {kind: np.zeros((0, 3), dtype=np.int64) for kind in WAVES[1:]}
    if len(labels) == 0:
        return result
    starts = np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1])
    stops = np.concatenate([starts[1:] - 1, [len(labels) - 1]])
    codes = labels[starts]
    onsets = np.where(starts == 0, -1, starts)
    offsets = np.where(stops == len(labels) - 1, -1, stops)
    for code, kind in enumerate(WAVES):
        if code == 0:
            continue
        keep = codes == code
        result[kind] = np.stack([onsets[keep], np.full(keep.sum(), -1), offsets[keep]], axis=1).astype(np.int64)
    return result
