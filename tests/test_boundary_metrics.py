"""boundary_metrics: optimal one-to-one matching within a tolerance, Se / PPV / F1 / error, annotated stretch."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from beatssl_lite.boundary_metrics import (BOUNDARIES, DEFAULT_TOLERANCE_MS, BoundaryScore, annotated_stretch,
                                           combine, combine_waves, mask_to_waves, match_boundaries, score_boundaries,
                                           score_waves)
from beatssl_lite.wfdb_io import waves_to_mask


def brute_force(detected, annotated, tolerance):
    """(pairs, total |error|) of the best matching by enumerating every partial one-to-one matching."""
    best = (0, 0.0)

    def extend(i, used, pairs, cost):
        nonlocal best
        if i == len(annotated):
            if pairs > best[0] or (pairs == best[0] and cost < best[1] - 1e-9):
                best = (pairs, cost)
            return
        extend(i + 1, used, pairs, cost)  # annotation i left unmatched
        for j, d in enumerate(detected):
            gap = abs(d - annotated[i])
            if j not in used and gap <= tolerance:
                extend(i + 1, used | {j}, pairs + 1, cost + gap)

    extend(0, frozenset(), 0, 0.0)
    return best


def assignment(detected, annotated, tolerance):
    """The same optimum from scipy's Hungarian solver: a cost above any total error makes pairs count first."""
    if not len(detected) or not len(annotated):
        return 0, 0.0
    gap = np.abs(np.subtract.outer(np.asarray(detected, float), np.asarray(annotated, float)))
    big = 1.0 + gap[gap <= tolerance].sum()
    rows, cols = linear_sum_assignment(np.where(gap <= tolerance, gap, big))
    ok = gap[rows, cols] <= tolerance
    return int(ok.sum()), float(gap[rows, cols][ok].sum())


def test_hand_computed_counts_rates_and_errors():
    # fs 500 Hz, 150 ms = 75 samples: 110 pairs with 100 (+20 ms), 590 with 600 (-20 ms), 300 is 200 samples away
    score = score_boundaries([110, 300, 590], [100, 600], fs=500.0)
    assert (score.tp, score.fp, score.fn) == (2, 1, 0)
    assert score.se == 1.0 and score.ppv == pytest.approx(2 / 3) and score.f1 == pytest.approx(0.8)
    np.testing.assert_allclose(np.sort(score.errors_ms), [-20.0, 20.0])
    assert score.mean_error_ms == pytest.approx(0.0)
    assert score.sd_error_ms == pytest.approx(np.sqrt(800.0))  # sample SD of (+20, -20)
    assert score.f1 == pytest.approx(2 * score.se * score.ppv / (score.se + score.ppv))


def test_greedy_nearest_first_is_beaten():
    # greedy would pair annotation 10 with detection 9 (1 apart) and then leave 0 and 19 alone
    det_index, ann_index = match_boundaries([9, 19], [0, 10], tolerance=10)
    assert det_index.tolist() == [0, 1] and ann_index.tolist() == [0, 1]


def test_fewest_errors_among_maximal_matchings():
    # both pairings have one pair; the closer detection (+2) must win over the farther one (-7)
    det_index, ann_index = match_boundaries([93, 102], [100], tolerance=10)
    assert det_index.tolist() == [1] and ann_index.tolist() == [0]


def test_indices_refer_to_unsorted_inputs():
    detected = [505, 95, 300]
    annotated = [500, 100]
    det_index, ann_index = match_boundaries(detected, annotated, tolerance=10)
    pairs = {(detected[d], annotated[a]) for d, a in zip(det_index, ann_index)}
    assert pairs == {(95, 100), (505, 500)}


@pytest.mark.parametrize("seed", range(300))
def test_matches_brute_force_and_hungarian_on_small_random_cases(seed):
    rng = np.random.default_rng(seed)
    detected = rng.integers(0, 60, rng.integers(0, 7)).tolist()
    annotated = rng.integers(0, 60, rng.integers(0, 7)).tolist()
    tolerance = float(rng.integers(0, 15))
    det_index, ann_index = match_boundaries(detected, annotated, tolerance)
    # a valid one-to-one matching within the tolerance
    assert len(set(det_index.tolist())) == len(det_index) and len(set(ann_index.tolist())) == len(ann_index)
    gaps = np.abs(np.asarray(detected)[det_index] - np.asarray(annotated)[ann_index]) if len(det_index) else []
    assert np.all(np.asarray(gaps) <= tolerance)
    found = (len(det_index), float(np.sum(gaps)))
    expected = brute_force(detected, annotated, tolerance)
    assert found[0] == expected[0] and found[1] == pytest.approx(expected[1])
    assert (found[0], pytest.approx(found[1])) == assignment(detected, annotated, tolerance)


def test_long_sequences_agree_with_hungarian():
    rng = np.random.default_rng(7)
    annotated = np.sort(rng.uniform(0, 5000, 40))
    detected = np.concatenate([annotated + rng.normal(0, 30, 40), rng.uniform(0, 5000, 10)])
    det_index, ann_index = match_boundaries(detected, annotated, tolerance=75.0)
    pairs, total = assignment(detected, annotated, 75.0)
    assert len(det_index) == pairs
    assert np.abs(detected[det_index] - annotated[ann_index]).sum() == pytest.approx(total)


def test_tolerance_edges_in_samples_and_ms():
    assert len(match_boundaries([175], [100], tolerance=75)[0]) == 1  # exactly at the tolerance: a match
    assert len(match_boundaries([175.001], [100], tolerance=75)[0]) == 0
    # 150 ms at 500 Hz is 75 samples, at 250 Hz 37.5 samples
    assert score_boundaries([175], [100], fs=500.0).tp == 1
    assert score_boundaries([176], [100], fs=500.0).tp == 0
    assert score_boundaries([137], [100], fs=250.0).tp == 1
    assert score_boundaries([138], [100], fs=250.0).tp == 0
    assert score_boundaries([120], [100], fs=500.0, tolerance_ms=40.0).tp == 1
    assert score_boundaries([121], [100], fs=500.0, tolerance_ms=40.0).tp == 0
    assert DEFAULT_TOLERANCE_MS == 150.0
    assert score_boundaries([100], [100], fs=500.0, tolerance_ms=0.0).tp == 1


def test_empty_inputs():
    for detected, annotated, counts in (([], [], (0, 0, 0)), ([5, 9], [], (0, 2, 0)), ([], [5], (0, 0, 1))):
        score = score_boundaries(detected, annotated, fs=500.0)
        assert (score.tp, score.fp, score.fn) == counts
        assert len(score.errors_ms) == 0 and np.isnan(score.mean_error_ms) and np.isnan(score.sd_error_ms)
    assert np.isnan(score_boundaries([], [], fs=500.0).f1)
    assert np.isnan(score_boundaries([5], [], fs=500.0).se) and score_boundaries([5], [], fs=500.0).ppv == 0.0
    assert np.isnan(score_boundaries([], [5], fs=500.0).ppv) and score_boundaries([], [5], fs=500.0).se == 0.0
    assert [len(x) for x in match_boundaries([], [], 10)] == [0, 0]


def test_stretch_drops_only_unmatched_detections_outside_it():
    annotated = [1000, 1400]
    detected = [
        700,   # outside the stretch, unmatched: not counted
        960,   # outside the stretch [1000, 1400], but matches 1000: TP
        1200,  # inside, unmatched: FP
        1420,  # matches 1400: TP
        2000,  # outside, unmatched: not counted
    ]
    score = score_boundaries(detected, annotated, fs=500.0, stretch=(1000, 1400))
    assert (score.tp, score.fp, score.fn) == (2, 1, 0)
    everything = score_boundaries(detected, annotated, fs=500.0)
    assert (everything.tp, everything.fp, everything.fn) == (2, 3, 0)
    # the stretch's ends themselves are inside it
    assert score_boundaries([1000], [1400], fs=500.0, stretch=(1000, 1400)).fp == 1


def lead(p=(), qrs=(), t=()):
    return {kind: np.asarray(rows, dtype=np.int64).reshape(-1, 3) for kind, rows in (("P", p), ("QRS", qrs), ("T", t))}


def test_score_waves_per_boundary_stretch_and_missing_bounds():
    annotated = lead(p=[(500, 530, 560)], qrs=[(580, 600, 630), (980, 1000, 1030)],
                     t=[(700, 760, 820), (-1, 1160, 1220)])  # the second T's onset was left out by the annotator
    assert annotated_stretch(annotated) == (500, 1220)
    detected = lead(p=[(100, 130, 160), (505, 530, 555), (900, 930, 960)],  # an early P outside, an extra P inside
                    qrs=[(585, 600, 625), (985, 1000, 1035)],
                    t=[(710, 760, 830), (1100, 1160, 1230)])
    scores = score_waves(detected, annotated, fs=500.0)
    assert set(scores) == set(BOUNDARIES)
    assert (scores["P_on"].tp, scores["P_on"].fp, scores["P_on"].fn) == (1, 1, 0)  # 900 is inside: FP; 100 is not
    assert (scores["P_off"].tp, scores["P_off"].fp, scores["P_off"].fn) == (1, 1, 0)
    np.testing.assert_allclose(scores["P_on"].errors_ms, [10.0])
    np.testing.assert_allclose(scores["QRS_off"].errors_ms, [-10.0, 10.0])
    # T onset: one annotation (700); the detection at 1100 has no annotation to match (the annotator left it out)
    assert (scores["T_on"].tp, scores["T_on"].fp, scores["T_on"].fn) == (1, 1, 0)
    assert (scores["T_off"].tp, scores["T_off"].fp, scores["T_off"].fn) == (2, 0, 0)
    unrestricted = score_waves(detected, annotated, fs=500.0, restrict_to_stretch=False)
    assert unrestricted["P_on"].fp == 2
    # absent detections (-1) are ignored, not scored at position -1
    assert score_waves(lead(p=[(-1, 530, -1)]), annotated, fs=500.0)["P_on"].fp == 0


def test_lead_without_annotations_scores_nothing():
    scores = score_waves(lead(qrs=[(580, 600, 630)]), lead(), fs=500.0)
    assert all((s.tp, s.fp, s.fn) == (0, 0, 0) for s in scores.values())
    assert annotated_stretch(lead()) is None


def test_combine_pools_counts_and_errors():
    a = score_boundaries([110, 300], [100], fs=500.0)
    b = score_boundaries([590], [600, 900], fs=500.0)
    pooled = combine([a, b])
    assert (pooled.tp, pooled.fp, pooled.fn) == (2, 1, 1)
    np.testing.assert_allclose(np.sort(pooled.errors_ms), [-20.0, 20.0])
    assert pooled.se == pytest.approx(2 / 3) and pooled.ppv == pytest.approx(2 / 3)
    assert (combine([]).tp, combine([]).fp, combine([]).fn) == (0, 0, 0)
    both = combine_waves([score_waves(lead(qrs=[(580, 600, 630)]), lead(qrs=[(590, 600, 630)]), fs=500.0)] * 3)
    assert both["QRS_on"].tp == 3 and both["QRS_on"].mean_error_ms == pytest.approx(-20.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="detected"):
        match_boundaries([[1, 2]], [1], 5)
    with pytest.raises(ValueError, match="annotated"):
        match_boundaries([1], [np.nan], 5)
    with pytest.raises(ValueError, match="detected"):
        match_boundaries(["a"], [1], 5)
    with pytest.raises(ValueError, match="tolerance"):
        match_boundaries([1], [1], -1)
    with pytest.raises(ValueError, match="fs"):
        score_boundaries([1], [1], fs=0)
    with pytest.raises(ValueError, match="tolerance_ms"):
        score_boundaries([1], [1], fs=500.0, tolerance_ms=float("nan"))
    with pytest.raises(ValueError, match="stretch"):
        score_boundaries([1], [1], fs=500.0, stretch=(10, 5))
    with pytest.raises(ValueError, match="annotated"):
        score_waves(lead(), {"P": np.zeros((2, 2))}, fs=500.0)
    with pytest.raises(TypeError, match="scores\\[1\\]"):
        combine([BoundaryScore(), 3])


def test_enumeration_helper_is_itself_right():
    # the brute force used above, on a case small enough to list by hand: a 0 and 10, d 9 and 19, tolerance 10
    assert brute_force([9, 19], [0, 10], 10) == (2, 18.0)


def test_mask_to_waves_hand_case_and_window_edges():
    mask = np.array([2, 2, 0, 1, 1, 1, 0, 0, 2, 2, 2, 3, 3, 0, 3])
    waves = mask_to_waves(mask)
    assert waves["P"].tolist() == [[3, -1, 5]]
    assert waves["QRS"].tolist() == [[-1, -1, 1], [8, -1, 10]]  # the first QRS is cut by the window's start
    assert waves["T"].tolist() == [[11, -1, 12], [14, -1, -1]]  # the last T is cut by the window's end
    assert {kind: rows.shape for kind, rows in mask_to_waves(np.zeros(0, dtype=int)).items()} == \
        {"P": (0, 3), "QRS": (0, 3), "T": (0, 3)}


def test_mask_to_waves_inverts_the_mask_painter():
    rng = np.random.default_rng(3)
    for _ in range(20):
        waves, t = {"P": [], "QRS": [], "T": []}, int(rng.integers(5, 40))
        while t < 4900:
            for kind, width in (("P", 50), ("QRS", 45), ("T", 120)):
                on = t + int(rng.integers(1, 30))
                waves[kind].append((on, on + width // 2, on + width + int(rng.integers(0, 20))))
                t = waves[kind][-1][2] + 1
        mask = waves_to_mask({k: np.array(v).reshape(-1, 3) for k, v in waves.items()}, t + 10)
        back = mask_to_waves(mask)
        for kind in waves:
            expected = np.array(waves[kind])[:, [0, 2]]
            np.testing.assert_array_equal(back[kind][:, [0, 2]], expected)


def test_masks_score_like_delineations():
    truth = np.zeros(1000, dtype=np.int8)
    truth[100:150], truth[200:250], truth[300:450] = 1, 2, 3
    predicted = np.zeros(1000, dtype=np.int8)
    predicted[105:150], predicted[200:255], predicted[310:440], predicted[600:640] = 1, 2, 3, 1
    scores = score_waves(mask_to_waves(predicted), mask_to_waves(truth), fs=500.0)
    assert (scores["P_on"].tp, scores["P_on"].fp) == (1, 0)  # the extra P at 600 lies outside the stretch [100, 449]
    np.testing.assert_allclose(scores["P_on"].errors_ms, [10.0])
    np.testing.assert_allclose(scores["QRS_off"].errors_ms, [10.0])
    np.testing.assert_allclose(scores["T_off"].errors_ms, [-20.0])
    with pytest.raises(ValueError, match="mask"):
        mask_to_waves(np.array([0, 4]))
    with pytest.raises(ValueError, match="mask"):
        mask_to_waves(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="mask"):
        mask_to_waves(np.array([0.0, 1.0]))
