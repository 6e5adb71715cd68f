"""stats: bootstrap intervals against scipy.stats.bootstrap and closed forms, the skipping rule of the multilabel
AUROC bootstrap, Wilcoxon/Bonferroni against hand-computed exact p values, resolvability."""

import logging

import numpy as np
import pytest
from scipy import stats as scipy_stats

from beatssl_lite.metrics import multilabel_auroc, scores_from_counts, segmentation_scores
from beatssl_lite.stats import (ConfidenceInterval, bootstrap_ci, bootstrap_macro_auroc, difference_resolvable,
                                friedman, min_wilcoxon_p, paired_bootstrap_difference, resample_indices,
                                wilcoxon_bonferroni, wilcoxon_test)


def test_bootstrap_of_a_mean_matches_scipy_percentile_interval():
    x = np.random.default_rng(1).normal(size=200)
    ours = bootstrap_ci(np.mean, x, n_resamples=2000, seed=0)
    theirs = scipy_stats.bootstrap((x,), np.mean, n_resamples=2000, method="percentile", confidence_level=0.95,
                                   random_state=0).confidence_interval
    # two Monte Carlo estimates of the same percentiles (different draws): agree to ~ a tenth of the width
    width = ours.high - ours.low
    assert abs(ours.low - theirs.low) < 0.1 * width and abs(ours.high - theirs.high) < 0.1 * width
    # and the normal closed form: mean +- 1.96 s / sqrt(n)
    assert width / 2 == pytest.approx(1.96 * x.std(ddof=1) / np.sqrt(len(x)), rel=0.1)
    assert ours.estimate == x.mean() and ours.n_skipped == 0 and ours.n_records == 200


def test_bootstrap_is_a_naive_loop_over_resampled_records_and_deterministic():
    x = np.random.default_rng(2).normal(size=30)
    ci = bootstrap_ci(np.median, x, n_resamples=300, seed=7)
    rng = np.random.default_rng(7)
    values = [np.median(x[rng.integers(0, 30, size=30)]) for _ in range(300)]
    np.testing.assert_allclose((ci.low, ci.high), np.percentile(values, [2.5, 97.5]), rtol=0, atol=1e-12)
    assert bootstrap_ci(np.median, x, n_resamples=300, seed=7) == ci
    assert bootstrap_ci(np.median, x, n_resamples=300, seed=8) != ci


def test_segmentation_bootstrap_resamples_records_with_their_counts():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=(12, 5000)).astype(np.int8)
    pred = np.where(rng.random(truth.shape) < 0.8, truth, 0).astype(np.int8)
    counts = segmentation_scores(pred, truth)["counts"]
    ci = bootstrap_ci(lambda c: scores_from_counts(c)["f1_mean"], counts, n_resamples=200)
    assert ci.low <= ci.estimate <= ci.high
    index = resample_indices(12, 200, 0)[0]
    assert scores_from_counts(counts[index])["f1_mean"] == pytest.approx(
        segmentation_scores(pred[index], truth[index])["f1_mean"])


def test_multilabel_auroc_bootstrap_skips_resamples_missing_a_class(caplog):
    rng = np.random.default_rng(0)
    n = 20
    y = (rng.random((n, 5)) < 0.5).astype(int)
    y[:, 4] = 0
    y[3, 4] = 1  # HYP: one positive in 20 records
    y[0, :4], y[1, :4] = 1, 0
    s = rng.normal(size=(n, 5)) + y
    with caplog.at_level(logging.WARNING, logger="beatssl_lite.stats"):
        ci = bootstrap_macro_auroc(y, s, n_resamples=1000, seed=0)
    # a resample misses the single HYP positive with probability (1 - 1/20)**20 = 0.358
    assert ci.n_skipped / 1000 == pytest.approx((1 - 1 / n) ** n, abs=0.05)
    assert "skipped" in caplog.text
    # the estimate averages the 5 classes of the full split, as multilabel_auroc does
    assert ci.estimate == pytest.approx(multilabel_auroc(y, s).macro)
    # naive count of skipped resamples with the same draws
    skipped = sum(y[index, 4].sum() == 0 or (y[index, :4].sum(0) % len(index) == 0).any()
                  for index in resample_indices(n, 1000, 0))
    assert ci.n_skipped == skipped


def test_multilabel_auroc_bootstrap_fixes_classes_on_the_full_split(caplog):
    rng = np.random.default_rng(1)
    y = (rng.random((40, 5)) < 0.5).astype(int)
    y[:, 4] = 0  # HYP absent from the whole test split: averaged over the other 4
    s = rng.normal(size=(40, 5)) + y
    with caplog.at_level(logging.WARNING, logger="beatssl_lite.stats"):
        ci = bootstrap_macro_auroc(y, s, n_resamples=100)
    assert "4 of 5 classes" in caplog.text and "over 4 classes" in ci.method
    assert ci.estimate == pytest.approx(multilabel_auroc(y, s, warn=False).macro)


def test_paired_difference_is_narrower_than_the_separate_intervals():
    rng = np.random.default_rng(3)
    y = (rng.random((150, 5)) < 0.4).astype(int)
    difficulty = rng.normal(size=(150, 5))
    a = y + difficulty + 0.3 * rng.normal(size=(150, 5))
    b = y + difficulty + 0.3 * rng.normal(size=(150, 5)) + 0.4 * y  # b a little better
    auroc = lambda yy, ss: multilabel_auroc(yy, ss, warn=False).macro  # noqa: E731
    ci_a, ci_b = (bootstrap_ci(auroc, y, s, n_resamples=300) for s in (a, b))
    paired = paired_bootstrap_difference(auroc, y, b, a, n_resamples=300)
    assert paired.high - paired.low < min(ci_a.high - ci_a.low, ci_b.high - ci_b.low)
    assert paired.estimate == pytest.approx(ci_b.estimate - ci_a.estimate)
    assert "paired" in paired.method


def test_bootstrap_errors():
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci(np.mean, np.zeros(0))
    with pytest.raises(ValueError, match="one row per test record"):
        bootstrap_ci(lambda a, b: 0.0, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="no class has both"):
        bootstrap_macro_auroc(np.ones((5, 5)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(np.mean, np.zeros(3), confidence=95)


def _ci(estimate, low, high):
    return ConfidenceInterval(estimate, low, high, 0.95, 1000, 0, 0, 250)


def test_difference_resolvable_hand_cases():
    assert difference_resolvable(_ci(0.84, 0.81, 0.87), _ci(0.78, 0.75, 0.80))["resolvable"]
    overlapping = difference_resolvable(_ci(0.843, 0.817, 0.869), _ci(0.834, 0.808, 0.860))
    assert not overlapping["resolvable"] and "do not rank" in overlapping["reason"]
    assert difference_resolvable(_ci(0.843, 0.817, 0.869), _ci(0.834, 0.808, 0.860),
                                 paired=_ci(0.009, 0.002, 0.016))["resolvable"]
    assert not difference_resolvable(_ci(0.843, 0.817, 0.869), _ci(0.834, 0.808, 0.860),
                                     paired=_ci(0.009, -0.004, 0.02))["resolvable"]
    with pytest.raises(TypeError, match="ci_b"):
        difference_resolvable(_ci(0.8, 0.7, 0.9), (0.7, 0.9))


def test_wilcoxon_exact_p_hand_cases():
    # 5 pairs, all a > b: P(all signs +) = 1/32, two-sided 2/32
    result = wilcoxon_test([0.9, 0.8, 0.85, 0.7, 0.75], [0.8, 0.75, 0.6, 0.65, 0.7])
    assert result["p"] == pytest.approx(2 / 32) and result["n_pairs"] == 5
    # 3 seeds can never reach p < 0.25
    assert wilcoxon_test([0.9, 0.8, 0.85], [0.1, 0.2, 0.3])["p"] == pytest.approx(0.25) == min_wilcoxon_p(3)
    assert min_wilcoxon_p(15) == pytest.approx(2 / 32768)
    assert min_wilcoxon_p(3, "greater") == 1 / 8
    # differences +1, -2, +3, +4 -> ranks 1, 2, 3, 4; W- = 2: exact two-sided p = 2 * #{W <= 2} / 16 = 2 * 3 / 16
    assert wilcoxon_test([1, 0, 3, 4], [0, 2, 0, 0])["p"] == pytest.approx(6 / 16)
    assert wilcoxon_test([1, 2], [1, 2])["p"] == 1.0  # no difference at all


def test_wilcoxon_pairs_on_units_not_on_order():
    a = {(0, 1): 0.9, (0, 2): 0.8, (1, 1): 0.85, (1, 2): 0.7, (2, 1): 0.75}
    b = {(1, 2): 0.65, (0, 1): 0.8, (2, 1): 0.7, (0, 2): 0.75, (1, 1): 0.6}
    assert wilcoxon_test(a, b)["p"] == pytest.approx(2 / 32)
    with pytest.raises(ValueError, match="same units"):
        wilcoxon_test(a, {**b, (3, 1): 0.5})
    with pytest.raises(TypeError, match="mappings"):
        wilcoxon_test(a, [0.1] * 5)


def test_wilcoxon_bonferroni_hand_case():
    scores = {"row9": [0.90, 0.91, 0.92, 0.93, 0.94, 0.95],
              "row1": [0.80, 0.81, 0.82, 0.83, 0.84, 0.85],
              "random-init": [0.70, 0.72, 0.71, 0.90, 0.60, 0.96]}
    rows = wilcoxon_bonferroni(scores, reference="row9")
    assert [(r["a"], r["b"]) for r in rows] == [("row9", "row1"), ("row9", "random-init")]
    first = rows[0]
    assert first["p"] == pytest.approx(2 / 64) and first["p_bonferroni"] == pytest.approx(4 / 64)
    assert not first["significant"] and first["n_comparisons"] == 2
    assert rows[1]["p"] == pytest.approx(scipy_stats.wilcoxon(scores["row9"], scores["random-init"]).pvalue)
    all_pairs = wilcoxon_bonferroni(scores)
    assert len(all_pairs) == 3 and all_pairs[0]["p_bonferroni"] == pytest.approx(min(1, 3 * 2 / 64))
    assert wilcoxon_bonferroni({k: v[:3] for k, v in scores.items()})[0]["powerless"]
    with pytest.raises(ValueError, match="reference"):
        wilcoxon_bonferroni(scores, reference="row2")
    with pytest.raises(ValueError, match="row1, random-init"):
        wilcoxon_bonferroni({"row1": [0.1, 0.2], "random-init": [0.1]})


def test_wilcoxon_bonferroni_on_shared_units():
    rng = np.random.default_rng(1)
    full = {s: float(v) for s, v in enumerate(rng.random(8))}
    other = {s: float(v) for s, v in enumerate(rng.random(8)) if s != 2}  # one unit missing
    third = {s: float(v) for s, v in enumerate(rng.random(10))}  # two units the reference lacks
    with pytest.raises(ValueError, match="same units"):
        wilcoxon_bonferroni({"row9": full, "row1": other}, reference="row9")
    rows = wilcoxon_bonferroni({"row9": full, "row1": other, "row3": third}, reference="row9", shared_units=True)
    shared = [s for s in full if s != 2]
    assert [r["n_pairs"] for r in rows] == [7, 8]
    assert rows[0]["p"] == pytest.approx(scipy_stats.wilcoxon([full[s] for s in shared],
                                                              [other[s] for s in shared]).pvalue)
    assert rows[1]["p"] == pytest.approx(scipy_stats.wilcoxon(list(full.values()), [third[s] for s in full]).pvalue)
    assert rows[0]["p_bonferroni"] == pytest.approx(min(1, 2 * rows[0]["p"]))
    with pytest.raises(ValueError, match="row9, row5"):
        wilcoxon_bonferroni({"row9": full, "row5": {99: 0.5}}, reference="row9", shared_units=True)
    with pytest.raises(TypeError, match="mappings"):
        wilcoxon_bonferroni({"row9": [0.1, 0.2], "row1": [0.2, 0.3]}, shared_units=True)


def test_friedman_matches_scipy():
    scores = {"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 3.0, 3.5, 5.0], "c": [0.5, 1.0, 4.0, 3.0]}
    assert friedman(scores)["p"] == pytest.approx(scipy_stats.friedmanchisquare(*scores.values()).pvalue)
