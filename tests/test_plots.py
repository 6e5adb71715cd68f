"""plots: ECG paper geometry against the 25 mm/s, 10 mm/mV convention, wave overlays, label counts, plotly set-up."""

import re
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from beatssl_lite.vocabulary import LEADS  # noqa: E402
from beatssl_lite.plots import (  # noqa: E402
    WAVE_COLOURS,
    plot_ecg_paper,
    plot_label_distribution,
    use_plotly_html,
)

FS = 500.0


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _traces(fig, n_points=None, colour=None):
    """Line2D objects of the ECG axes, optionally only those with n_points points or this colour."""
    lines = fig.axes[0].get_lines()
    if n_points is not None:
        lines = [line for line in lines if len(line.get_xdata()) == n_points]
    if colour is not None:
        lines = [line for line in lines if matplotlib.colors.same_color(line.get_color(), colour)]
    return lines


def test_paper_speed_and_gain():
    n = 1000  # 2 s at 500 Hz
    ramp = np.linspace(-1.0, 2.0, n)  # mV
    signal = np.stack([ramp, -ramp])
    fig = plot_ecg_paper(signal, FS, leads=("X", "Y"), layout="12x1", row_mm=30)
    assert fig.number not in plt.get_fignums()  # returned closed, so a notebook shows it once
    traces = _traces(fig, n_points=n)
    assert len(traces) == 2
    for trace, lead in zip(traces, signal):
        x, y = trace.get_xdata(), trace.get_ydata()
        t = np.arange(n) / FS
        np.testing.assert_allclose(np.diff(x), 25.0 * np.diff(t))  # 25 mm per second
        np.testing.assert_allclose(y - y[0], 10.0 * (lead - lead[0]))  # 10 mm per mV
    # Rows are stacked top-down, lead X above lead Y.
    assert traces[0].get_ydata()[0] - 10 * signal[0, 0] > traces[1].get_ydata()[0] - 10 * signal[1, 0]
    # The calibration pulse of each row is 1 mV = 10 mm high and 0.2 s = 5 mm wide.
    pulses = _traces(fig, n_points=6)
    assert len(pulses) == 2
    for pulse in pulses:
        assert np.ptp(pulse.get_ydata()) == pytest.approx(10.0)
        assert pulse.get_xdata()[4] - pulse.get_xdata()[1] == pytest.approx(5.0)


def test_grid_is_1mm_minor_and_5mm_major():
    fig = plot_ecg_paper(np.zeros((1, 500)), FS, leads=("II",), layout="12x1", row_mm=20)
    minor, major = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    for collection, step in ((minor, 1.0), (major, 5.0)):
        verticals = sorted({seg[0, 0] for seg in collection.get_segments() if seg[0, 0] == seg[1, 0]})
        horizontals = sorted({seg[0, 1] for seg in collection.get_segments() if seg[0, 1] == seg[1, 1]})
        np.testing.assert_allclose(np.diff(verticals), step)
        np.testing.assert_allclose(np.diff(horizontals), step)
        assert horizontals[-1] == pytest.approx(20.0)  # one row of 20 mm
    assert minor.get_linewidths()[0] < major.get_linewidths()[0]


def test_3x4_columns_follow_the_standard_layout():
    n = 5000
    signal = np.tile(np.arange(12, dtype=float)[:, None], (1, n))  # lead k is a flat line at k mV
    fig = plot_ecg_paper(signal, FS, rhythm_lead="II")
    labels = {text.get_text(): text.get_position() for text in fig.axes[0].texts}
    assert set(LEADS) <= set(labels)
    # V4 opens the 4th column: its quarter of the record starts at 7.5 s, i.e. 10 mm margin + 187.5 mm.
    v4 = [line for line in _traces(fig) if len(line.get_xdata()) == 1250 and line.get_xdata()[0] == pytest.approx(197.5)]
    assert {round(float(np.ptp(line.get_ydata())), 6) for line in v4} == {0.0}
    assert labels["V4"][0] == pytest.approx(197.5 + 1.0)
    # 12 column segments (3 rows x 4 columns, joined by one sample) and one full-length rhythm strip.
    assert len(_traces(fig, n_points=1251)) + len(_traces(fig, n_points=1250)) == 12
    assert len(_traces(fig, n_points=n)) == 1
    no_rhythm = plot_ecg_paper(signal, FS, rhythm_lead=None)
    assert len(_traces(no_rhythm, n_points=n)) == 0


def test_masks_colour_exactly_the_annotated_samples():
    n = 2000
    signal = np.zeros((12, n))
    masks = np.zeros((12, n), dtype=np.int8)
    masks[LEADS.index("II"), 100:150] = 2  # one QRS of 50 samples in lead II
    masks[LEADS.index("V1"), 300:340] = 1  # one P wave of 40 samples in V1
    fig = plot_ecg_paper(signal, FS, masks=masks, layout="12x1")
    qrs = _traces(fig, colour=WAVE_COLOURS["QRS"])
    p = _traces(fig, colour=WAVE_COLOURS["P"])
    assert [len(line.get_xdata()) for line in qrs] == [50]
    assert [len(line.get_xdata()) for line in p] == [40]
    assert qrs[0].get_xdata()[0] == pytest.approx(10.0 + 25.0 * 100 / FS)
    assert not _traces(fig, colour=WAVE_COLOURS["T"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(signal=np.zeros((11, 100))), "signal"),
        (dict(signal=np.zeros(100)), "signal"),
        (dict(fs=0), "fs"),
        (dict(masks=np.zeros((12, 99), dtype=np.int8)), "masks"),
        (dict(masks=np.full((12, 100), 4, dtype=np.int8)), "masks"),
        (dict(layout="6x2"), "layout"),
        (dict(leads=LEADS[:11] + ("V5",)), "missing V6"),
        (dict(leads=LEADS[:11] + ("X",)), "unknown lead name 'X'"),
    ],
)
def test_ecg_paper_bad_input(kwargs, message):
    args = dict(signal=np.zeros((12, 100)), fs=FS) | kwargs
    with pytest.raises(ValueError, match=message):
        plot_ecg_paper(**args)


def test_label_distribution_counts_match_a_naive_count():
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 5)) < 0.3).astype(np.uint8)
    folds = rng.integers(1, 11, size=200)
    names = ["NORM", "MI", "STTC", "CD", "HYP"]
    fig = plot_label_distribution(labels, names, folds=folds)
    bars = [trace for trace in fig.data if trace.type == "bar"]
    assert len(bars) == len(np.unique(folds))
    for trace in bars:
        fold = int(trace.name.split()[-1])
        for name, count in zip(trace.x, trace.y):
            naive = sum(1 for i in range(200) if folds[i] == fold and labels[i, names.index(name)] == 1)
            assert count == naive
    totals = next(trace for trace in fig.data if trace.type == "scatter")
    assert [int(t) for t in totals.text] == [int(labels[:, k].sum()) for k in range(5)]
    plain = plot_label_distribution(labels, names)
    assert list(plain.data[0].y) == [int(labels[:, k].sum()) for k in range(5)]


def test_label_distribution_bad_input():
    with pytest.raises(ValueError, match="labels"):
        plot_label_distribution(np.zeros((10, 4)), ["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match="multi-hot"):
        plot_label_distribution(np.full((10, 2), 2), ["a", "b"])
    with pytest.raises(ValueError, match="folds"):
        plot_label_distribution(np.zeros((10, 2)), ["a", "b"], folds=np.ones(9))


def _readable_at_page_width(fig, max_width_in=8.5, min_points=9):
    """The figure fits the book's column (~750 px at 100 dpi, so text is not shrunk much) and no text is small."""
    assert fig.get_size_inches()[0] <= max_width_in
    sizes = [text.get_fontsize() for text in fig.findobj(matplotlib.text.Text) if text.get_text().strip()]
    assert sizes and min(sizes) >= min_points


def _synthetic_views(n_views=4):
    from beatssl_lite import augment, make_synthetic_record

    record = make_synthetic_record(seed=3)
    views, params = augment.three_kg(np.repeat(record.signal[None], n_views, axis=0), generator=0)
    n = record.signal.shape[-1]
    masks = augment.time_mask(n, params["mask_start"], augment.mask_length(n, 0.5)).numpy()
    return record, np.asarray(views), masks


def test_augmentations_grid_draws_each_view_over_the_original_readably():
    from beatssl_lite.plots import plot_augmentations

    record, views, masks = _synthetic_views()
    leads = ("I", "II", "V2")
    stop = int(5.0 * record.fs)
    fig = plot_augmentations(record.signal, views, record.fs, masks=masks, leads=leads, stop_s=5.0, layout="grid")
    _readable_at_page_width(fig)
    axes = fig.get_axes()  # one panel per view, one row per lead in each
    assert len(axes) == len(views) * len(leads)
    for k, ax in enumerate(axes):
        view, row = divmod(k, len(leads))
        lead = LEADS.index(leads[row])
        original, drawn = ax.get_lines()
        np.testing.assert_allclose(original.get_ydata(), record.signal[lead, :stop])
        np.testing.assert_allclose(drawn.get_ydata(), views[view, lead, :stop])
        low, high = ax.get_ylim()  # nothing clipped: both traces inside the axes
        assert low <= min(original.get_ydata().min(), drawn.get_ydata().min())
        assert high >= max(original.get_ydata().max(), drawn.get_ydata().max())
        starts = np.diff(np.concatenate([[0], masks[view, lead, :stop].astype(int), [0]])) == 1
        assert len(ax.patches) == starts.sum()  # one shaded span per masked block
    columns = plot_augmentations(record.signal, views[:2], record.fs, leads=leads)  # the compact layout is kept
    assert len(columns.get_axes()) == len(leads) * 3
    with pytest.raises(ValueError, match="layout"):
        plot_augmentations(record.signal, views, record.fs, layout="rows")


def test_rotation_slider_y_ranges_hold_every_frame():
    from beatssl_lite.plots import plot_rotation_slider

    record, _, _ = _synthetic_views(1)
    leads = ("I", "II", "aVF", "V2")
    fig = plot_rotation_slider(record.signal, record.fs, axis="z", angles_deg=[-45, 0, 45], leads=leads, stop_s=2.5)
    for r, lead in enumerate(leads, start=1):
        low, high = fig.layout[f"yaxis{'' if r == 1 else r}"].range
        recorded = np.asarray(fig.data[2 * (r - 1)].y)
        frames = [np.asarray(frame.data[r - 1].y) for frame in fig.frames]
        for y in [recorded, *frames]:
            assert low <= y.min() and y.max() <= high, lead
    # The ranges matter: at +-45 deg some lead leaves the range of the unrotated trace it starts from.
    assert any(np.ptp(np.asarray(frame.data[r].y)) > 1.05 * np.ptp(np.asarray(fig.data[2 * r + 1].y))
               for frame in fig.frames for r in range(len(leads)))


def test_vcg_loops_axes_hold_the_loops_and_the_lead_vectors_to_scale():
    from beatssl_lite import vcg
    from beatssl_lite.plots import plot_vcg_loops

    record, _, _ = _synthetic_views(1)
    dipole = vcg.ecg_to_vcg(record.signal.astype(float))
    dipole[0] *= 3.0  # a loop much wider than deep: the case that used to leave the X axis outside the view
    fig = plot_vcg_loops(dipole, record.fs, masks=record.masks, lead_vectors=vcg.lead_vectors())
    scene = fig.layout.scene
    ranges = np.array([scene.xaxis.range, scene.yaxis.range, scene.zaxis.range])
    for trace in fig.data:
        xyz = np.array([trace.x, trace.y, trace.z], dtype=float)
        assert np.all((np.nan_to_num(xyz, nan=0.0).T >= ranges[:, 0]) & (np.nan_to_num(xyz, nan=0.0).T <= ranges[:, 1]))
    ratio = np.array([scene.aspectratio.x, scene.aspectratio.y, scene.aspectratio.z])
    spans = ranges[:, 1] - ranges[:, 0]
    assert scene.aspectmode == "manual" and ratio.max() == pytest.approx(1.0)  # the box fits the default view
    np.testing.assert_allclose(ratio / spans, ratio[0] / spans[0])  # one mV is one length on every axis


def test_overlay_and_planes_are_readable_at_page_width():
    from beatssl_lite import vcg
    from beatssl_lite.plots import plot_leads_overlay, plot_vcg_planes

    record, _, _ = _synthetic_views(1)
    ecg = record.signal.astype(float)
    _readable_at_page_width(plot_leads_overlay({"a": ecg, "b": 0.5 * ecg}, record.fs, title="t"))
    _readable_at_page_width(plot_vcg_planes({"Kors": vcg.ecg_to_vcg(ecg, "kors")}, masks=record.masks, title="t"))


def test_use_plotly_html_picks_an_html_renderer(monkeypatch):
    import plotly.graph_objects as go
    import plotly.io as pio

    monkeypatch.setattr(pio.renderers, "default", pio.renderers.default)
    use_plotly_html()
    figure = go.Figure(go.Scatter(y=[3.0, 1.0, 2.0]))
    bundle = pio.renderers._build_mime_bundle(figure.to_dict(), renderers_string=pio.renderers.default)
    # The book's HTML form: the figure's <div> and its newPlot call, and no plotly.js of its own (the book serves
    # one copy from _static), so nothing comes from a CDN.
    assert "plotly-graph-div" in bundle["text/html"] and "Plotly.newPlot" in bundle["text/html"]
    assert not re.search(r"<script[^>]*\bsrc=", bundle["text/html"]) and "cdn" not in bundle["text/html"]
    # JupyterLab's form: plotly's own JSON mime type, holding the data.
    assert list(bundle["application/vnd.plotly.v1+json"]["data"][0]["y"]) == [3.0, 1.0, 2.0]
    monkeypatch.setitem(sys.modules, "google.colab", object())
    use_plotly_html()
    assert pio.renderers.default == "colab"


# --- downstream figures: ROC curves, label-fraction curve, segmentation masks ---------------------------------------

def test_roc_points_match_sklearn_with_ties():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from beatssl_lite.plots import roc_points

    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        truth = rng.random(n) < 0.4
        truth[:2] = [True, False]
        scores = np.round(rng.random(n), 1)  # many ties
        fpr, tpr = roc_points(truth, scores)
        ref_fpr, ref_tpr, _ = sklearn_metrics.roc_curve(truth, scores, drop_intermediate=False)
        np.testing.assert_allclose(fpr, ref_fpr)
        np.testing.assert_allclose(tpr, ref_tpr)
        area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
        assert area == pytest.approx(sklearn_metrics.roc_auc_score(truth, scores))


def test_roc_points_bad_input():
    from beatssl_lite.plots import roc_points

    with pytest.raises(ValueError, match="needs both"):
        roc_points([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y_true, y_score"):
        roc_points([1, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="y_score"):
        roc_points([1, 0], [0.1, np.nan])


def test_roc_curves_draw_each_class_and_name_its_auroc():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from beatssl_lite.plots import plot_roc_curves

    rng = np.random.default_rng(2)
    truth = (rng.random((80, 5)) < 0.3).astype(int)
    truth[:, 4] = 0  # HYP absent: no curve
    scores = {"model a": rng.random((80, 5)), "model b": rng.random((80, 5)) + 0.5 * truth}
    fig = plot_roc_curves(truth, scores)
    assert fig.number not in plt.get_fignums()
    axes = fig.axes
    assert [ax.get_title().split()[0] for ax in axes] == ["NORM", "MI", "STTC", "CD", "HYP"]
    for k, ax in enumerate(axes[:4]):
        curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
        assert len(curves) == 2
        areas = [text for text in ax.texts if text.get_text() != "AUROC"]
        for m, (line, (label, score), area) in enumerate(zip(curves, scores.items(), areas)):
            expected = sklearn_metrics.roc_auc_score(truth[:, k], score[:, k])
            assert area.get_text() == f"{expected:.3f}"
            assert matplotlib.colors.same_color(area.get_color(), f"C{m}")
            assert line.get_label() == label
            fpr, tpr, _ = sklearn_metrics.roc_curve(truth[:, k], score[:, k], drop_intermediate=False)
            np.testing.assert_allclose(line.get_xdata(), fpr)
            np.testing.assert_allclose(line.get_ydata(), tpr)
    assert [text.get_text() for text in fig.legends[0].get_texts()] == list(scores)
    assert not [line for line in axes[4].get_lines() if line.get_linestyle() == "-"]
    assert "no ROC curve" in axes[4].texts[0].get_text()
    with pytest.raises(ValueError, match="y_scores"):
        plot_roc_curves(truth, {"a": scores["model a"][:10]})
    with pytest.raises(ValueError, match="class_names"):
        plot_roc_curves(truth, scores["model a"], class_names=["a", "b"])


def test_label_fraction_curve_plots_the_values_given():
    from beatssl_lite.plots import plot_label_fraction_curve

    scores = {"pretrained": {0.01: (0.62, 0.55, 0.70), 0.1: 0.71, 1.0: 0.80},
              "random": {0.01: float("nan"), 0.1: 0.66, 1.0: 0.77}}
    fig = plot_label_fraction_curve(scores, n_train={0.01: 3, 0.1: 32, 1.0: 320})
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(lines[0].get_xdata(), [1.0, 10.0, 100.0])
    np.testing.assert_allclose(lines[0].get_ydata(), [0.62, 0.71, 0.80])
    np.testing.assert_allclose(lines[1].get_xdata(), [10.0, 100.0])  # the NaN point is left out
    np.testing.assert_allclose(lines[1].get_ydata(), [0.66, 0.77])
    # The one interval: a vertical bar from 0.55 to 0.70 at 1 %.
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = np.concatenate([c.get_segments() for c in bars])
    assert len(segments) == 1
    np.testing.assert_allclose(segments[0], [[1.0, 0.55], [1.0, 0.70]])
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 %\n3 records", "10 %\n32 records",
                                                            "100 %\n320 records"]
    with pytest.raises(ValueError, match="fractions"):
        plot_label_fraction_curve({"a": {2.0: 0.5}})
    with pytest.raises(ValueError, match="scores"):
        plot_label_fraction_curve({})


def _runs_of(flags):
    """(start, stop) of the runs of True, by a plain loop (independent of plots._runs)."""
    runs, start = [], None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def test_segmentation_draws_each_mask_in_its_panel():
    from beatssl_lite.plots import plot_segmentation

    n = 2500  # 5 s at 500 Hz
    rng = np.random.default_rng(3)
    signal = rng.normal(0, 0.05, (12, n))
    annotated = np.zeros((12, n), dtype=np.int8)
    predicted = np.zeros((12, n), dtype=np.int8)
    ii = LEADS.index("II")
    annotated[ii, 600:650] = 2
    annotated[ii, 900:1000] = 3
    predicted[ii, 610:655] = 2
    predicted[ii, 200:240] = 1
    predicted[ii, 2000:2100] = 3
    fig = plot_segmentation(signal, FS, predicted, annotated, leads=("II",), window=(500, 2000))
    assert fig.number not in plt.get_fignums()
    panels = {ax.get_title(loc="left"): ax for ax in fig.axes}
    assert set(panels) == {"annotated", "predicted"}
    for name, mask in (("annotated", annotated[ii]), ("predicted", predicted[ii])):
        ax = panels[name]
        for code, wave in ((1, "P"), (2, "QRS"), (3, "T")):
            drawn = [line for line in ax.get_lines()
                     if matplotlib.colors.same_color(line.get_color(), WAVE_COLOURS[wave])]
            expected = _runs_of(mask == code)
            assert len(drawn) == len(expected)
            for line, (a, b) in zip(drawn, expected):
                np.testing.assert_allclose(line.get_xdata()[[0, -1]], 10.0 + 25.0 * np.array([a, b - 1]) / FS)
        # Unscored paper greyed: before sample 500 (1 s = 25 mm) and from sample 2000 (4 s = 100 mm) on.
        grey = sorted((float(p.get_x()), float(p.get_x() + p.get_width())) for p in ax.patches
                      if p.get_alpha() == pytest.approx(0.25))
        assert grey[0] == pytest.approx((10.0, 35.0)) and grey[1] == pytest.approx((110.0, 10.0 + 25.0 * n / FS))
    # A zoom: 1 s to 3 s; the QRS at samples 600-650 is drawn 0.2 s after the start of the paper.
    zoom = plot_segmentation(signal, FS, predicted, annotated, leads=("II",), start_s=1.0, stop_s=3.0)
    qrs = [line for line in zoom.axes[0].get_lines()
           if matplotlib.colors.same_color(line.get_color(), WAVE_COLOURS["QRS"])]
    assert [round(float(line.get_xdata()[0]), 6) for line in qrs] == [10.0 + 25.0 * 100 / FS]
    for kwargs, message in ((dict(predicted=predicted[:, :100]), "predicted"), (dict(window=(0, n + 1)), "window"),
                            (dict(stop_s=9.0), "stop_s"), (dict(signal=signal[:3]), "signal")):
        args = dict(signal=signal, fs=FS, predicted=predicted, annotated=annotated) | kwargs
        with pytest.raises(ValueError, match=message):
            plot_segmentation(**args)


# ------------------------------------------------------------------ chapters 4 and 5: targets, peaks, beats, bounds


def _legend_clear_of_traces(fig, legend):
    """The legend's box lies above the first panel or below the last: it covers no trace."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = legend.get_window_extent(renderer)
    top = max(ax.get_window_extent(renderer).y1 for ax in fig.axes)
    bottom = min(ax.get_window_extent(renderer).y0 for ax in fig.axes)
    assert box.y0 >= top - 1 or box.y1 <= bottom + 1


def test_target_matrix_is_readable_and_groups_blocks():
    from beatssl_lite.plots import plot_target_matrix

    rng = np.random.default_rng(0)
    twelve = rng.uniform(0.98, 1.0, (12, 12))
    fig = plot_target_matrix(twelve, labels=[f"record-{i:05d}" for i in range(12)], fmt=".3f", vmin=0.98)
    _readable_at_page_width(fig)
    assert len(fig.axes[0].texts) == 144  # every value written, at 9 pt
    groups = ["r0"] * 3 + ["r1"] * 5 + ["r2"] * 4
    fig = plot_target_matrix(np.eye(12), groups=groups, annotate=False, colorbar=False)
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # no colour bar
    lines = sorted({line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1})
    assert lines == [2.5, 7.5]  # white lines between the blocks of consecutive rows
    assert [t.get_text() for t in ax.get_xticklabels()] == ["r0", "r1", "r2"]
    np.testing.assert_allclose(ax.get_yticks(), [1.0, 5.0, 9.5])  # one tick at each block's centre
    labelled = plot_target_matrix(np.eye(12), labels=[""] * 11 + ["V"], groups=groups)  # labels win over groups
    assert [t.get_text() for t in labelled.axes[0].get_yticklabels()] == [""] * 11 + ["V"]
    with pytest.raises(ValueError, match="groups"):
        plot_target_matrix(np.eye(3), groups=["a", "b"])


def test_histograms_fit_the_column():
    from beatssl_lite.plots import plot_histograms

    fig = plot_histograms({"a": [1.0, 2.0], "b": [0.5], "c": [3.0, np.nan]}, bins=3, title="t")
    _readable_at_page_width(fig)
    assert [sum(p.get_height() for p in ax.patches) for ax in fig.axes] == [2, 1, 1]


def test_peak_overlay_and_delineation_figures_are_readable_with_the_legend_off_the_traces():
    from beatssl_lite import beats, delineation, make_synthetic_record
    from beatssl_lite.plots import plot_beat_overlay, plot_delineation, plot_r_peaks

    record = make_synthetic_record(seed=3)
    signal, fs = record.signal.astype(float), record.fs
    peaks = beats.detect_r_peaks(signal, fs)
    fig = plot_r_peaks(signal, fs, peaks, reference=peaks, scored=(100, 4900), title="t")
    _readable_at_page_width(fig)
    _legend_clear_of_traces(fig, fig.axes[0].get_legend())
    for ax, lead in zip(fig.axes, ("II", "V1", "V5")):  # nothing clipped
        low, high = ax.get_ylim()
        assert low <= signal[LEADS.index(lead)].min() and signal[LEADS.index(lead)].max() <= high
    windows = beats.beat_windows(signal, peaks, fs, edge="drop")
    fig = plot_beat_overlay(windows, fs, labels=["N"] * (len(windows) - 1) + ["V"], title="t")
    _readable_at_page_width(fig)
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["N", "V"]
    v_line = [line for line in fig.axes[0].get_lines() if line.get_label() == "V"][0]
    n_lines = [line for line in fig.axes[0].get_lines() if line.get_label() == "N"]
    assert all(v_line.get_zorder() > line.get_zorder() and v_line.get_linewidth() > line.get_linewidth()
               for line in n_lines)  # the lone V beat on top of the N beats
    _legend_clear_of_traces(fig, fig.legends[0])
    bounds = delineation.delineate(signal, fs)
    fig = plot_delineation(signal, fs, bounds, 2, reference=bounds, reference_beat=2, title="t")
    _readable_at_page_width(fig)
    _legend_clear_of_traces(fig, fig.axes[0].get_legend())


def test_loss_curve_draws_each_loss_readably_and_smooths_by_a_moving_average():
    from beatssl_lite.plots import plot_loss_curve

    rows = [{"step": s, "loss": 10.0 - s, "rhythm_loss": 6.0 - 0.5 * s, "beat_loss": float(s % 3)} for s in range(8)]
    fig = plot_loss_curve({"row 9": rows, "row 1": rows[:5]}, title="two runs")
    _readable_at_page_width(fig)
    for ax, key in zip(fig.axes, ("loss", "rhythm_loss", "beat_loss")):
        first, second = ax.get_lines()
        np.testing.assert_allclose(first.get_ydata(), [row[key] for row in rows])
        np.testing.assert_allclose(second.get_xdata(), range(5))
    smoothed = plot_loss_curve(rows, smooth=3).axes[2].get_lines()[0]
    beat = np.array([row["beat_loss"] for row in rows])
    np.testing.assert_allclose(smoothed.get_ydata(), [beat[i - 2:i + 1].mean() for i in range(2, 8)])
    np.testing.assert_allclose(smoothed.get_xdata(), range(2, 8))
    with pytest.raises(ValueError, match="smooth"):
        plot_loss_curve(rows, smooth=0)


def test_embeddings_2d_draws_every_ecg_once_readably():
    from beatssl_lite.plots import pca_2d, plot_embeddings_2d

    rng = np.random.default_rng(0)
    labels = np.zeros((30, 3), int)
    labels[np.arange(30), np.arange(30) % 3] = 1
    labels[:4, 0] = 1  # four ECGs with two classes: drawn grey, as "several"
    panels = {"before": rng.normal(size=(30, 8)), "after": rng.normal(size=(30, 8))}
    fig = plot_embeddings_2d(panels, labels, ["A", "B", "C"], title="PCA")
    _readable_at_page_width(fig)
    for ax, values in zip(fig.axes, panels.values()):
        points = np.concatenate([c.get_offsets() for c in ax.collections])
        assert len(points) == 30  # every ECG once, in one of the classes or "several"
        expected = pca_2d(values)
        assert {tuple(np.round(p, 9)) for p in points} == {tuple(np.round(p, 9)) for p in expected}
    with pytest.raises(ValueError, match="rows for"):
        plot_embeddings_2d({"x": np.zeros((29, 8))}, labels, ["A", "B", "C"])
