"""Uncertainty of the downstream scores: bootstrap confidence intervals over test records, Wilcoxon signed-rank
tests with Bonferroni correction over seeds (and folds), and whether a difference is resolvable at all.

- **Bootstrap [ref: Efron; the percentile interval]**: the test records are resampled with replacement (as many
  as there are), the metric recomputed on each resample, and the interval is the (alpha/2, 1 - alpha/2)
  percentiles of those values (default 95 %, 1000 resamples, ``seed`` fixed: same call, same interval). The unit
  is the *record*: for segmentation a record's leads and samples travel together (``metrics.wave_counts`` rows).
- **Multilabel AUROC in a resample [ours]**: a resample can miss every positive of a rare class (HYP on a small
  test fold), leaving its AUROC undefined. ``bootstrap_macro_auroc`` fixes the classes to average *on the full
  test split* (those with a defined AUROC there) and *skips* a resample in which one of them has no positive or no
  negative, rather than averaging a different set of classes; the number skipped is returned (``n_skipped``) and
  a warning is logged when more than 10 % are skipped (the interval then describes resamples that contain every
  class, slightly narrower than the truth). The generic ``bootstrap_ci`` follows the same rule: a metric returning
  NaN skips that resample.
- **Paired bootstrap** (``paired_bootstrap_difference``): two configurations scored on the *same* test records,
  the difference recomputed on the same resamples. Its interval is narrower than what comparing two separate
  intervals suggests, because the records' difficulty is shared.
- **Wilcoxon signed-rank with Bonferroni [paper]** (``wilcoxon_bonferroni``, ``scipy.stats.wilcoxon``): the
  paper does not say over which units it pairs. **We pair per seed** (the same seed of pretraining and of the
  downstream run for both configurations), **and per (seed, fold) for LUDB k-fold** [ours]: each unit is one full
  evaluation on one test set, so two configurations are compared on equal footing. The exact two-sided test of n
  pairs cannot give p below 2 / 2**n (``min_wilcoxon_p``): **with 3 seeds that is 0.25, so no difference can be
  significant at 0.05**; 3 seeds x 5 LUDB folds (15 pairs) can reach 6e-5. Zero differences are dropped
  (``zero_method="wilcox"``); all-zero pairs give p = 1. Bonferroni: p x the number of comparisons made, capped
  at 1 (all pairs, or each configuration against a reference).
- **Resolvable or not** (``difference_resolvable``): two intervals that do not overlap resolve the difference
  (conservative); overlapping ones do not, unless a paired difference interval excludes 0. With ~250 PTB-XL test
  records a macro-AUROC interval is about +-0.026 wide, so most Table-1 differences are within the noise.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from itertools import combinations

import numpy as np
from scipy import stats as scipy_stats

from .metrics import binary_auroc

logger = logging.getLogger(__name__)

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
#: Above this fraction of skipped resamples the bootstrap warns.
SKIP_WARNING_FRACTION = 0.1


@dataclass
class ConfidenceInterval:
    """A point estimate (on the full test split) with its percentile bootstrap interval and how it was drawn."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_skipped: int
    seed: int
    n_records: int
    method: str = "percentile bootstrap over test records"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}] ({self.confidence:.0%} {self.method}, "
                f"{self.n_resamples - self.n_skipped}/{self.n_resamples} resamples of {self.n_records} records)")


def _check_bootstrap_args(arrays, n_resamples, confidence) -> int:
    if not arrays:
        raise ValueError("arrays: expected at least one array with one row per test record")
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"arrays: expected one row per test record in each, got lengths {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        raise ValueError("arrays: the test split is empty (0 records)")
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 1):
        raise ValueError(f"n_resamples: expected a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a number between 0 and 1, got {confidence!r}")
    return n


def resample_indices(n_records: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_records) record indices drawn with replacement, from ``np.random.default_rng(seed)``."""
    return np.random.default_rng(seed).integers(0, n_records, size=(n_resamples, n_records))


def _interval(estimate, values, confidence, n_resamples, seed, n_records, method) -> ConfidenceInterval:
    values = np.asarray(values, dtype=np.float64)
    valid = values[np.isfinite(values)]
    n_skipped = n_resamples - len(valid)
    if n_skipped > SKIP_WARNING_FRACTION * n_resamples:
        logger.warning("bootstrap: %d of %d resamples skipped (metric undefined in them): the interval describes "
                       "the rest", n_skipped, n_resamples)
    if len(valid) == 0:
        low = high = float("nan")
    else:
        alpha = 1.0 - confidence
        low, high = (float(v) for v in np.percentile(valid, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    return ConfidenceInterval(float(estimate), low, high, float(confidence), int(n_resamples), int(n_skipped),
                              int(seed), int(n_records), method)


def bootstrap_ci(metric, *arrays, n_resamples: int = DEFAULT_RESAMPLES, confidence: float = DEFAULT_CONFIDENCE,
                 seed: int = 0) -> ConfidenceInterval:
    """Percentile bootstrap interval of ``metric(*arrays)`` over records (the first axis of every array).

    metric: a function of the arrays' resampled rows returning a float; NaN marks a resample it cannot score
    (skipped and counted). E.g. ``bootstrap_ci(lambda c: metrics.scores_from_counts(c)["f1_mean"], counts)``.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    n = _check_bootstrap_args(arrays, n_resamples, confidence)
    estimate = metric(*arrays)
    values = [metric(*(a[index] for a in arrays)) for index in resample_indices(n, n_resamples, seed)]
    return _interval(estimate, values, confidence, n_resamples, seed, n, "percentile bootstrap over test records")


def _fixed_class_macro_auroc(truth: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> float:
    """Mean AUROC over ``classes``; NaN when any of them is undefined (the resample is then skipped)."""
    values = [binary_auroc(truth[:, k], scores[:, k]) for k in classes]
    return float("nan") if np.isnan(values).any() else float(np.mean(values))


def _macro_auroc_setup(y_true, y_score) -> tuple:
    truth, scores = np.asarray(y_true).astype(bool), np.asarray(y_score, dtype=np.float64)
    if truth.ndim != 2 or scores.shape != truth.shape:
        raise ValueError(f"y_true, y_score: expected equal (n_records, n_classes) shapes, got {truth.shape} and "
                         f"{scores.shape}")
    if len(truth) == 0:
        raise ValueError("y_true: the test split is empty (0 records)")
    positives = truth.sum(0)
    classes = np.flatnonzero((positives > 0) & (positives < len(truth)))
    if len(classes) == 0:
        raise ValueError("y_true: no class has both positives and negatives: AUROC is undefined for every class")
    if len(classes) < truth.shape[1]:
        logger.warning("bootstrap_macro_auroc: %d of %d classes have an AUROC on the full split; the interval "
                       "averages those %d", len(classes), truth.shape[1], len(classes))
    return truth, scores, classes


def bootstrap_macro_auroc(y_true, y_score, n_resamples: int = DEFAULT_RESAMPLES,
                          confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> ConfidenceInterval:
    """Interval of the macro AUROC over the classes defined on the full split; resamples missing one are skipped
    (module docstring)."""
    truth, scores, classes = _macro_auroc_setup(y_true, y_score)
    _check_bootstrap_args((truth,), n_resamples, confidence)
    estimate = _fixed_class_macro_auroc(truth, scores, classes)
    values = [_fixed_class_macro_auroc(truth[i], scores[i], classes)
              for i in resample_indices(len(truth), n_resamples, seed)]
    return _interval(estimate, values, confidence, n_resamples, seed, len(truth),
                     f"percentile bootstrap over test records, macro over {len(classes)} classes, resamples "
                     f"missing one skipped")


def paired_bootstrap_difference(metric, y_true, score_a, score_b, n_resamples: int = DEFAULT_RESAMPLES,
                                confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> ConfidenceInterval:
    """Interval of metric(y_true, score_a) - metric(y_true, score_b) with the same records drawn for both.

    metric(y_true, y_score) -> float (NaN skips the resample), e.g.
    ``lambda y, s: multilabel_auroc(y, s, warn=False).macro``.
    """
    interval = bootstrap_ci(lambda y, a, b: metric(y, a) - metric(y, b), y_true, score_a, score_b,
                            n_resamples=n_resamples, confidence=confidence, seed=seed)
    return replace(interval, method="paired percentile bootstrap over test records (difference a - b)")


def difference_resolvable(ci_a: ConfidenceInterval, ci_b: ConfidenceInterval,
                          paired: ConfidenceInterval | None = None) -> dict:
    """Can the data tell a from b? {"resolvable": bool, "reason": str}.

    Disjoint intervals: yes. Overlapping ones: only if a paired difference interval (``paired``) excludes 0;
    otherwise the difference is within the noise and the two must not be ranked.
    """
    for name, ci in (("ci_a", ci_a), ("ci_b", ci_b)) + ((("paired", paired),) if paired is not None else ()):
        if not isinstance(ci, ConfidenceInterval):
            raise TypeError(f"{name}: expected a ConfidenceInterval, got {type(ci).__name__}")
        if not (np.isfinite(ci.low) and np.isfinite(ci.high)):
            raise ValueError(f"{name}: the interval is undefined ({ci.low}, {ci.high})")
    difference = ci_a.estimate - ci_b.estimate
    if ci_a.low > ci_b.high or ci_b.low > ci_a.high:
        return {"resolvable": True, "difference": difference,
                "reason": f"the intervals [{ci_a.low:.3f}, {ci_a.high:.3f}] and [{ci_b.low:.3f}, {ci_b.high:.3f}] "
                          f"do not overlap"}
    if paired is not None and (paired.low > 0 or paired.high < 0):
        return {"resolvable": True, "difference": difference,
                "reason": f"the intervals overlap but the paired difference interval [{paired.low:.3f}, "
                          f"{paired.high:.3f}] excludes 0"}
    why = "the intervals overlap" + (f" and the paired difference interval [{paired.low:.3f}, {paired.high:.3f}] "
                                     f"contains 0" if paired is not None else " (no paired interval given)")
    return {"resolvable": False, "difference": difference, "reason": why + ": within the noise, do not rank"}


# --- Wilcoxon signed-rank with Bonferroni -----------------------------------------------------------------------

def min_wilcoxon_p(n_pairs: int, alternative: str = "two-sided") -> float:
    """The smallest p the exact signed-rank test can give with n non-zero pairs: 2 / 2**n two-sided, 1 / 2**n
    one-sided (every difference of one sign)."""
    if not (isinstance(n_pairs, (int, np.integer)) and n_pairs >= 1):
        raise ValueError(f"n_pairs: expected a positive integer, got {n_pairs!r}")
    return min(1.0, (2.0 if alternative == "two-sided" else 1.0) / 2.0 ** n_pairs)


def _paired_values(name_a: str, a, name_b: str, b) -> tuple:
    """Two aligned float arrays: mappings are matched on their unit keys (seed or (seed, fold)), sequences by
    position."""
    if isinstance(a, dict) != isinstance(b, dict):
        raise TypeError(f"{name_a}, {name_b}: give both as {{unit: value}} mappings or both as sequences")
    if isinstance(a, dict):
        if set(a) != set(b):
            raise ValueError(f"{name_a}, {name_b}: expected the same units (seeds/folds), got only in {name_a}: "
                             f"{sorted(map(str, set(a) - set(b)))}, only in {name_b}: "
                             f"{sorted(map(str, set(b) - set(a)))}")
        units = sorted(a, key=str)
        a, b = [a[u] for u in units], [b[u] for u in units]
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"{name_a}, {name_b}: expected paired 1-D values of equal length, got {a.shape} and "
                         f"{b.shape}")
    if len(a) == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"{name_a}, {name_b}: expected at least one pair of finite values")
    return a, b


def wilcoxon_test(a, b, alternative: str = "two-sided") -> dict:
    """Signed-rank test of paired scores a vs b (``scipy.stats.wilcoxon``, zero differences dropped).

    a, b: {unit: value} mappings with the same units, or equal-length sequences paired by position.
    """
    a, b = _paired_values("a", a, "b", b)
    nonzero = int(np.count_nonzero(a - b))
    if nonzero == 0:
        statistic, p = 0.0, 1.0
    else:
        result = scipy_stats.wilcoxon(a, b, zero_method="wilcox", alternative=alternative)
        statistic, p = float(result.statistic), float(result.pvalue)
    return {"statistic": statistic, "p": p, "n_pairs": len(a), "n_nonzero": nonzero,
            "median_difference": float(np.median(a - b)),
            "min_attainable_p": min_wilcoxon_p(max(nonzero, 1), alternative)}


def wilcoxon_bonferroni(scores: dict, reference: str | None = None, alpha: float = 0.05,
                        alternative: str = "two-sided", shared_units: bool = False) -> list:
    """Pairwise signed-rank tests between configurations, Bonferroni-corrected.

    scores: {configuration: {unit: value}} (units: seeds, or (seed, fold) for LUDB k-fold) or {configuration:
    sequence} paired by position. shared_units: False, every configuration must have the same units; True, each
    comparison is paired on the units its two configurations share (mappings only; ``n_pairs`` says how many).
    reference: compare every other configuration with it (k - 1 tests); None: all pairs (k (k - 1) / 2 tests).
    Returns one dict per comparison: a, b, n_pairs, statistic, p, p_bonferroni = min(1, p m), significant
    (p_bonferroni < alpha), min_attainable_p (when that is already above alpha / m the test could never be
    significant: ``powerless``).
    """
    if not isinstance(scores, dict) or len(scores) < 2:
        raise ValueError("scores: expected {configuration: paired values} with at least two configurations")
    if reference is not None and reference not in scores:
        raise ValueError(f"reference: {reference!r} is not one of the configurations {sorted(scores)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a number between 0 and 1, got {alpha!r}")
    names = list(scores)
    pairs = ([(reference, name) for name in names if name != reference] if reference is not None
             else list(combinations(names, 2)))
    m = len(pairs)
    rows = []
    for name_a, name_b in pairs:
        a, b = scores[name_a], scores[name_b]
        if shared_units:
            if not (isinstance(a, dict) and isinstance(b, dict)):
                raise TypeError(f"{name_a}, {name_b}: shared_units pairs {{unit: value}} mappings; got sequences")
            a, b = ({u: values[u] for u in values if u in a and u in b} for values in (a, b))
        _paired_values(name_a, a, name_b, b)  # names the configurations in errors
        test = wilcoxon_test(a, b, alternative)
        p_corrected = min(1.0, test["p"] * m)
        rows.append({"a": name_a, "b": name_b, **test, "n_comparisons": m, "p_bonferroni": p_corrected,
                     "significant": bool(p_corrected < alpha), "alpha": alpha,
                     "powerless": bool(test["min_attainable_p"] * m >= alpha)})
    return rows


def friedman(scores: dict) -> dict:
    """Friedman test over configurations measured on the same units (``scipy.stats.friedmanchisquare``), the omnibus
    test the paper's figures suggest precedes its pairwise tests. scores as ``wilcoxon_bonferroni``."""
    if not isinstance(scores, dict) or len(scores) < 3:
        raise ValueError("scores: expected {configuration: paired values} with at least three configurations")
    names = list(scores)
    columns = [_paired_values(names[0], scores[names[0]], name, scores[name])[1] for name in names]
    result = scipy_stats.friedmanchisquare(*columns)
    return {"statistic": float(result.statistic), "p": float(result.pvalue), "n_units": len(columns[0]),
            "n_configurations": len(names)}
