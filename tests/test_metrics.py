"""metrics: AUROC/F1 against scikit-learn and hand cases; segmentation scores on constructed masks (the 500-4500
window, F1 vs Dice aggregation, boundary tolerance); clear errors."""

import logging

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from beatssl_lite import metrics
from beatssl_lite.metrics import (binary_auroc, boundary_f1, multilabel_auroc, multilabel_f1, segmentation_scores,
                                  tune_thresholds, wave_counts)
from beatssl_lite.vocabulary import SUPERCLASSES


def _multilabel(n=60, k=5, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < 0.35).astype(int)
    y[0], y[1] = 1, 0  # every class both present and absent
    s = rng.normal(size=(n, k)) + 0.8 * y
    if ties:
        s = np.round(s, 0)  # many ties, between positives and negatives too
    return y, s


@pytest.mark.parametrize("ties", [False, True])
def test_auroc_matches_sklearn(ties):
    y, s = _multilabel(ties=ties)
    result = multilabel_auroc(y, s)
    expected = [roc_auc_score(y[:, k], s[:, k]) for k in range(5)]
    np.testing.assert_allclose([result.per_class[c] for c in SUPERCLASSES], expected, rtol=0, atol=1e-12)
    assert result.macro == pytest.approx(roc_auc_score(y, s, average="macro"), abs=1e-12)
    assert result.n_averaged == 5 and result.undefined == []


def test_auroc_hand_case():
    # positives score 3 and 1, negatives 2 and 0: pairs (3>2, 3>0, 1<2, 1>0) -> 3/4; a tie counts one half
    assert binary_auroc([1, 0, 1, 0], [3, 2, 1, 0]) == 0.75
    assert binary_auroc([1, 0], [1, 1]) == 0.5


def test_auroc_undefined_class_is_nan_warned_and_left_out(caplog):
    y, s = _multilabel()
    y[:, 4] = 0  # HYP never occurs (1 % label fraction)
    y[:, 2] = 1  # STTC in every record
    with caplog.at_level(logging.WARNING, logger="beatssl_lite.metrics"):
        result = multilabel_auroc(y, s)
    assert np.isnan(result.per_class["HYP"]) and np.isnan(result.per_class["STTC"])
    assert result.undefined == ["STTC", "HYP"] and result.n_averaged == 3
    assert result.macro == pytest.approx(np.mean([roc_auc_score(y[:, k], s[:, k]) for k in (0, 1, 3)]))
    assert "STTC, HYP" in caplog.text and "3 of 5" in caplog.text
    assert result.to_dict()["n_classes_averaged"] == 3


def test_f1_matches_sklearn_at_05_and_per_class_thresholds():
    y, s = _multilabel()
    p = 1 / (1 + np.exp(-s))
    result = multilabel_f1(y, p)
    assert result.macro == pytest.approx(f1_score(y, p >= 0.5, average="macro"), abs=1e-12)
    cut = np.array([0.3, 0.5, 0.6, 0.7, 0.45])
    result = multilabel_f1(y, p, thresholds=dict(zip(SUPERCLASSES, cut)))
    np.testing.assert_allclose([result.per_class[c] for c in SUPERCLASSES],
                               f1_score(y, p >= cut, average=None), atol=1e-12)


def test_f1_undefined_class_matches_sklearn_nan_policy():
    y, s = _multilabel()
    y[:, 1] = 0
    p = np.where(np.arange(5) == 1, 0.1, 1 / (1 + np.exp(-s)))  # MI: no positive, none predicted
    result = multilabel_f1(y, p, warn=False)
    assert result.undefined == ["MI"] and result.n_averaged == 4
    assert result.macro == pytest.approx(f1_score(y, p >= 0.5, average="macro", zero_division=np.nan))


def test_tuned_thresholds_reach_the_best_f1_of_a_dense_search():
    y, s = _multilabel(n=80, seed=3)
    thresholds = tune_thresholds(y, s)
    for k, name in enumerate(SUPERCLASSES):
        # every partition "score >= t" is reached by some t in the scores or above them all
        candidates = np.r_[s[:, k], s[:, k].max() + 1]
        best = max(f1_score(y[:, k], s[:, k] >= t, zero_division=0.0) for t in candidates)
        assert f1_score(y[:, k], s[:, k] >= thresholds[name]) == pytest.approx(best)


def test_tuned_threshold_hand_case_is_a_midpoint():
    # 0.9 pos, 0.8 pos, 0.4 neg, 0.3 neg, 0.2 pos: F1 of the top 1, 2, 3, 4, 5 = 2/4, 4/5, 4/6, 4/7, 6/8
    # -> the top two, threshold halfway between 0.8 and 0.4
    y = np.array([[1], [1], [0], [0], [1]])
    s = np.array([[0.9], [0.8], [0.4], [0.3], [0.2]])
    assert tune_thresholds(y, s, class_names=["A"]) == {"A": pytest.approx(0.6)}


def test_tuned_threshold_without_positives_keeps_default(caplog):
    y, s = _multilabel()
    y[:, 3] = 0
    with caplog.at_level(logging.WARNING, logger="beatssl_lite.metrics"):
        assert tune_thresholds(y, s)["CD"] == 0.5
    assert "no positive CD" in caplog.text


@pytest.mark.parametrize("call, message", [
    (lambda: multilabel_auroc(np.ones((4, 5)), np.ones((3, 5))), "y_score: expected the shape"),
    (lambda: multilabel_auroc(np.zeros((0, 5)), np.zeros((0, 5))), "empty"),
    (lambda: multilabel_auroc(np.ones(5), np.ones(5)), "y_true: expected"),
    (lambda: multilabel_f1(np.ones((4, 5)), np.ones((4, 5)), thresholds=[0.5, 0.5]), "thresholds"),
    (lambda: multilabel_auroc(np.full((4, 5), 2), np.ones((4, 5))), "0 and 1"),
    (lambda: multilabel_auroc(np.ones((4, 5)), np.full((4, 5), np.nan)), "finite"),
])
def test_classification_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- segmentation ---------------------------------------------------------------------------------------------------

def _mask(n=5000, waves=()):
    mask = np.zeros(n, dtype=np.int8)
    for code, start, stop in waves:
        mask[start:stop] = code
    return mask


def test_window_only_scores_samples_500_to_4500():
    truth = _mask(waves=[(2, 1000, 1050)])
    # predictions wrong only outside the window: a QRS at 100-400 and at 4500-4700 (4500 is the first sample left out)
    outside = _mask(waves=[(2, 1000, 1050), (2, 100, 400), (2, 4500, 4700), (1, 0, 500)])
    result = segmentation_scores(outside[None], truth[None])
    assert result["f1_QRS"] == 1.0 and np.isnan(result["f1_P"])
    # one wrong sample at 499 is out, at 500 and at 4499 it is in
    for sample, inside in ((499, False), (500, True), (4499, True), (4500, False)):
        pred = truth.copy()
        pred[sample] = 2
        counts = wave_counts(pred[None], truth[None])
        assert counts[0, 1, 1] == int(inside), sample  # QRS false positives


def test_window_is_a_parameter():
    truth = _mask(n=1000, waves=[(2, 100, 150)])
    pred = _mask(n=1000, waves=[(2, 100, 150), (2, 20, 40)])
    assert segmentation_scores(pred[None], truth[None], window=(50, 950), record_length=1000)["f1_QRS"] == 1.0
    assert segmentation_scores(pred[None], truth[None], window=(0, 1000), record_length=1000)["f1_QRS"] == \
        pytest.approx(2 * 50 / (2 * 50 + 20))


def test_f1_pooled_and_dice_per_record_hand_case():
    # record A: QRS 100 annotated samples, 50 predicted (all inside) -> TP 50, FN 50: Dice 100/150
    # record B: QRS 100 annotated, predicted exactly -> Dice 1
    a_true = _mask(waves=[(2, 1000, 1100)])
    a_pred = _mask(waves=[(2, 1000, 1050)])
    b_true = _mask(waves=[(2, 2000, 2100)])
    result = segmentation_scores(np.stack([a_pred, b_true]), np.stack([a_true, b_true]))
    assert result["f1_QRS"] == pytest.approx(2 * 150 / (2 * 150 + 50))  # pooled: TP 150, FN 50
    assert result["dice_QRS"] == pytest.approx((100 / 150 + 1.0) / 2)  # mean over records
    assert np.isnan(result["dice_P"]) and np.isnan(result["f1_T"])
    assert result["f1_mean"] == pytest.approx(result["f1_QRS"])
    # a single record: F1 and Dice are the same formula
    one = segmentation_scores(a_pred[None], a_true[None])
    assert one["f1_QRS"] == one["dice_QRS"] == pytest.approx(100 / 150)


def test_segmentation_matches_sklearn_per_wave():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=(3, 2, 5000)).astype(np.int8)
    pred = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, 4, size=truth.shape)).astype(np.int8)
    result = segmentation_scores(pred, truth)
    flat_t, flat_p = truth[..., 500:4500].ravel(), pred[..., 500:4500].ravel()
    expected = f1_score(flat_t, flat_p, labels=[1, 2, 3], average=None)
    np.testing.assert_allclose([result["f1_P"], result["f1_QRS"], result["f1_T"]], expected, atol=1e-12)
    dice_qrs = np.mean([f1_score(truth[r, :, 500:4500].ravel() == 2, pred[r, :, 500:4500].ravel() == 2)
                        for r in range(3)])
    assert result["dice_QRS"] == pytest.approx(dice_qrs)


def test_boundary_f1_tolerance_on_constructed_masks():
    truth = _mask(waves=[(2, 1000, 1050), (2, 2000, 2050), (2, 3000, 3050)])
    # first QRS shifted by 70 samples = 140 ms (inside 150 ms); second by 80 = 160 ms (outside); third exact
    pred = _mask(waves=[(2, 1070, 1120), (2, 2080, 2130), (2, 3000, 3050)])
    result = boundary_f1(pred[None], truth[None], fs=500, tolerance_ms=150)
    # per boundary kind: 2 TP, 1 FP, 1 FN -> F1 = 4 / 6
    assert result["QRS_on"] == pytest.approx(2 / 3) and result["QRS_off"] == pytest.approx(2 / 3)
    assert result["scores"]["QRS_on"].tp == 2
    assert np.isnan(result["P_on"])
    wider = boundary_f1(pred[None], truth[None], fs=500, tolerance_ms=160)
    assert wider["QRS_on"] == 1.0 and wider["protocol"]["tolerance_ms"] == 160


def test_boundary_f1_ignores_bounds_cut_by_the_window():
    # a T wave running over sample 4500 has no offset inside the window: neither side scores it
    truth = _mask(waves=[(3, 4400, 4600), (2, 3000, 3050)])
    pred = _mask(waves=[(3, 4400, 4700), (2, 3000, 3050)])
    result = boundary_f1(pred[None], truth[None])
    assert result["T_on"] == 1.0 and np.isnan(result["T_off"])


@pytest.mark.parametrize("pred, true, kwargs, message", [
    (np.zeros((2, 5000), np.int8), np.zeros((2, 4999), np.int8), {}, "same shape"),
    (np.zeros((0, 5000), np.int8), np.zeros((0, 5000), np.int8), {}, "empty"),
    (np.zeros((2, 1000), np.int8), np.zeros((2, 1000), np.int8), {}, "5000 samples"),
    (np.zeros(5000, np.int8), np.zeros(5000, np.int8), {}, "expected \\(records"),
    (np.full((1, 5000), 4), np.zeros((1, 5000), np.int8), {}, "codes 0..3"),
    (np.zeros((1, 5000), np.int8), np.zeros((1, 5000), np.int8), {"window": (4500, 500)}, "window"),
    (np.zeros((1, 1000), np.int8), np.zeros((1, 1000), np.int8), {"record_length": None}, "past the 1000"),
])
def test_segmentation_errors(pred, true, kwargs, message):
    with pytest.raises(ValueError, match=message):
        segmentation_scores(pred, true, **kwargs)


def test_protocol_constants():
    assert metrics.SEGMENTATION_WINDOW == (500, 4500) and metrics.SEGMENTATION_RECORD_LENGTH == 5000
    assert metrics.SEGMENTATION_FS == 500.0 and metrics.DEFAULT_THRESHOLD == 0.5
