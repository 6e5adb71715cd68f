"""Figures for the book: ECG on standard ECG paper, label distributions, and the plotly set-up for HTML.

The ECG paper follows the clinical printout convention **[ref]** (AHA/IEC 60601-2-25 recorders): 25 mm/s,
10 mm/mV, a 1 mm minor and 5 mm major pink grid, a 1 mV calibration pulse at the start of each row, and the
standard 3x4 lead arrangement (I/II/III, aVR/aVL/aVF, V1-V3, V4-V6 columns of 2.5 s each) with an optional
full-length rhythm strip. Signals are drawn as given, without the filtering a recorder would apply **[ours]**:
the book shows the data the model sees.

Matplotlib for static figures (they survive any HTML build). A function that makes its own figure makes it with
pyplot (which switches Jupyter's inline display on) and closes it before returning it: a chapter shows it by
leaving it as a cell's last value, once (an open pyplot figure would be shown twice), and nothing piles up in
pyplot's list of open figures. Plotly, imported inside the functions that need it, for interactive ones.
"""

from __future__ import annotations

import sys

import numpy as np

from .data import LEADS, WAVES, normalize_lead_name

PAPER_SPEED_MM_PER_S = 25.0
GAIN_MM_PER_MV = 10.0
#: Rows of the standard 3x4 printout; each column covers a quarter of the record.
LAYOUT_3X4 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
#: Colours of the P, QRS and T overlays (index 1-3 of ``WAVES``).
WAVE_COLOURS = {"P": "#1f77b4", "QRS": "#d62728", "T": "#2ca02c"}

_GRID_MINOR = "#f6c4c4"
_GRID_MAJOR = "#e58f8f"
_PAPER = "#fff7f7"
_CAL_MM = 10.0  # left margin holding the calibration pulse
_FIG_WIDTH_IN = 10.0


def use_plotly_html() -> None:
    """Make plotly figures render as text/html, so they survive into Jupyter Book HTML and show in Colab.

    Sets ``plotly.io.renderers.default``: 'colab' in Colab, else 'notebook_connected' (plotly.js from its CDN,
    which keeps notebooks small).
    """
    import plotly.io as pio

    pio.renderers.default = "colab" if "google.colab" in sys.modules else "notebook_connected"


def _runs(flags: np.ndarray):
    """(start, stop) index pairs of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))


def _draw_grid(ax, width_mm: float, height_mm: float) -> None:
    from matplotlib.collections import LineCollection

    for step, colour, lw in ((1.0, _GRID_MINOR, 0.3), (5.0, _GRID_MAJOR, 0.7)):
        xs = np.arange(0.0, width_mm + 1e-9, step)
        ys = np.arange(0.0, height_mm + 1e-9, step)
        segments = [((x, 0.0), (x, height_mm)) for x in xs] + [((0.0, y), (width_mm, y)) for y in ys]
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=lw, zorder=0))


def plot_ecg_paper(
    signal: np.ndarray,
    fs: float,
    leads=LEADS,
    masks: np.ndarray | None = None,
    layout: str = "3x4",
    rhythm_lead: str | None = "II",
    row_mm: float | None = None,
    title: str | None = None,
    ax=None,
):
    """Draw an ECG on standard ECG paper (25 mm/s, 10 mm/mV); return the matplotlib figure.

    signal: (n_leads, n_samples) in mV, rows named by ``leads``.
    masks: optional (n_leads, n_samples) wave codes (index into ``WAVES``: 0 none, 1 P, 2 QRS, 3 T); each wave
        is shaded in its row and its stretch of trace drawn in its colour (``WAVE_COLOURS``).
    layout: '3x4' (the 12 standard leads in 4 columns of n_samples/4 each, plus a full-length ``rhythm_lead``
        strip unless it is None) or '12x1' (one full-length row per lead, any number of leads, e.g. VCG X, Y, Z).
    row_mm: height of a row in mm (default 35 for 3x4, 25 for 12x1).
    ax: draw into this axes (of a figure the caller shows) instead of a new figure, which is returned closed.
    Axes coordinates are millimetres of paper: x = 10 mm margin + 25 * t, y = row baseline + 10 * mV.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    signal = np.asarray(signal)
    leads = tuple(leads)
    if signal.ndim != 2 or signal.shape[0] != len(leads) or signal.shape[1] < 2:
        raise ValueError(
            f"signal: expected (n_leads, n_samples) with one row per lead in leads ({len(leads)}), "
            f"got {signal.shape}"
        )
    if not fs > 0:
        raise ValueError(f"fs: expected a positive sampling rate in Hz, got {fs!r}")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != signal.shape:
            raise ValueError(f"masks: expected the signal's shape {signal.shape}, got {masks.shape}")
        if masks.min() < 0 or masks.max() >= len(WAVES):
            raise ValueError(f"masks: expected wave codes 0-{len(WAVES) - 1} ({', '.join(WAVES)})")
    n = signal.shape[1]
    time_mm = _CAL_MM + PAPER_SPEED_MM_PER_S * np.arange(n) / fs

    # Each row: list of (lead index, first sample, stop sample).
    if layout == "3x4":
        names = [normalize_lead_name(name) for name in leads]
        missing = [lead for lead in LEADS if lead not in names]
        if missing:
            raise ValueError(f"leads: layout '3x4' needs the 12 standard leads, missing {', '.join(missing)}")
        bounds = np.linspace(0, n, 5).round().astype(int)
        rows = [[(names.index(lead), bounds[c], bounds[c + 1]) for c, lead in enumerate(row)] for row in LAYOUT_3X4]
        if rhythm_lead is not None:
            rows.append([(names.index(normalize_lead_name(rhythm_lead)), 0, n)])
        row_mm = 35.0 if row_mm is None else row_mm
    elif layout == "12x1":
        names = [str(name) for name in leads]
        rows = [[(i, 0, n)] for i in range(len(leads))]
        row_mm = 25.0 if row_mm is None else row_mm
    else:
        raise ValueError(f"layout: expected '3x4' or '12x1', got {layout!r}")

    width_mm = float(np.ceil(time_mm[-1] + 2.0))
    height_mm = row_mm * len(rows)
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(_FIG_WIDTH_IN, _FIG_WIDTH_IN * height_mm / width_mm), layout="constrained")
    else:
        fig = ax.figure
    ax.set_facecolor(_PAPER)
    _draw_grid(ax, width_mm, height_mm)

    for r, row in enumerate(rows):
        top = height_mm - r * row_mm
        baseline = top - 0.55 * row_mm
        # 1 mV calibration pulse, 0.2 s wide.
        ax.plot([1, 2, 2, 7, 7, 8], baseline + np.array([0, 0, 10, 10, 0, 0]), color="k", lw=0.9)
        for lead, start, stop in row:
            # Extend each column by one sample so that adjacent columns join, as on a printout.
            stop_draw = min(stop + 1, n)
            x, y = time_mm[start:stop_draw], baseline + GAIN_MM_PER_MV * signal[lead, start:stop_draw]
            ax.plot(x, y, color="k", lw=0.8, zorder=3)
            ax.text(x[0] + 1.0, top - 4.5, names[lead], fontsize=10, fontweight="bold", zorder=4)
            if start > 0:
                ax.plot([x[0], x[0]], [baseline - 3, baseline + 3], color="k", lw=1.0, zorder=3)
            if masks is None:
                continue
            segment = masks[lead, start:stop_draw]
            for code, wave in enumerate(WAVES[1:], start=1):
                for a, b in _runs(segment == code):
                    ax.fill_between(x[a:b], top - row_mm, top, color=WAVE_COLOURS[wave], alpha=0.12, lw=0, zorder=1)
                    ax.plot(x[a:b], y[a:b], color=WAVE_COLOURS[wave], lw=1.3, zorder=3)

    if masks is not None:
        handles = [Patch(color=WAVE_COLOURS[w], alpha=0.6, label=w) for w in WAVES[1:]]
        ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 0.0), ncol=3, fontsize=8, frameon=False)
    ax.set_xlim(0, width_mm)
    ax.set_ylim(0, height_mm)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{PAPER_SPEED_MM_PER_S:g} mm/s, {GAIN_MM_PER_MV:g} mm/mV, {fs:g} Hz", fontsize=8, loc="left")
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    if own_figure:
        plt.close(fig)
    return fig


def plot_label_distribution(labels: np.ndarray, class_names, folds: np.ndarray | None = None, title: str | None = None):
    """Interactive bar chart of how many records carry each class; stacked by fold when ``folds`` is given.

    labels: (n_records, n_classes) multi-hot (0/1); a record counts once in every class it carries.
    class_names: n_classes names, in the column order of ``labels``.
    folds: optional (n_records,) fold number of each record (e.g. PTB-XL strat_fold 1-10).
    Returns a plotly Figure; bar heights are the per-class counts, each total is written above its bar.
    """
    import plotly.graph_objects as go

    labels = np.asarray(labels)
    class_names = [str(name) for name in class_names]
    if labels.ndim != 2 or labels.shape[1] != len(class_names):
        raise ValueError(
            f"labels: expected (n_records, {len(class_names)}) multi-hot for classes {class_names}, "
            f"got {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels: expected multi-hot values 0 or 1")
    labels = labels.astype(int)
    totals = labels.sum(axis=0)
    fig = go.Figure()
    if folds is None:
        fig.add_bar(x=class_names, y=totals, name="records", hovertemplate="%{x}: %{y} records<extra></extra>")
    else:
        folds = np.asarray(folds)
        if folds.shape != (len(labels),):
            raise ValueError(f"folds: expected ({len(labels)},), one fold per record, got {folds.shape}")
        for fold in np.unique(folds):
            counts = labels[folds == fold].sum(axis=0)
            fig.add_bar(
                x=class_names,
                y=counts,
                name=f"fold {fold}",
                hovertemplate=f"%{{x}}, fold {fold}: %{{y}} records<extra></extra>",
            )
    fig.add_scatter(
        x=class_names, y=totals, text=[str(t) for t in totals], mode="text", textposition="top center",
        showlegend=False, hoverinfo="skip",
    )
    fig.update_layout(
        barmode="stack",
        title=title or f"{len(labels)} records, {int(totals.sum())} labels",
        xaxis_title="class",
        yaxis_title="records",
        yaxis_range=[0, 1.12 * max(int(totals.max()), 1)],
        height=380,
        margin=dict(l=50, r=20, t=50, b=40),
        legend_title_text="fold" if folds is not None else None,
    )
    return fig


def plot_target_matrix(matrix: np.ndarray, labels=None, title: str | None = None, ax=None, annotate: bool | None = None,
                       fmt: str = ".2f", vmin: float = 0.0, vmax: float = 1.0, views: int = 1):
    """Heatmap of a similarity or target matrix; return the matplotlib figure.

    matrix: (N, N) values, shown on a fixed [vmin, vmax] colour scale so that matrices compare across figures.
    labels: N tick labels (default 0..N-1). annotate: write each value in its cell (default: when N <= 12).
    views: 2 draws the lines between the view-1 and view-2 blocks of a (2B, 2B) two-view layout.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a square (N, N) array, got shape {matrix.shape}")
    n = len(matrix)
    if views not in (1, 2) or n % views:
        raise ValueError(f"views: expected 1 or 2 dividing the matrix size {n}, got {views!r}")
    labels = [str(i) for i in range(n)] if labels is None else [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"labels: expected {n} labels, got {len(labels)}")
    annotate = n <= 12 if annotate is None else annotate
    if ax is None:
        size = min(2.0 + 0.45 * n, 6.5)
        fig = Figure(figsize=(size + 1.0, size), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    if n <= 40:
        ax.set_xticks(range(n), labels, rotation=90 if max(map(len, labels)) > 3 else 0, fontsize=8)
        ax.set_yticks(range(n), labels, fontsize=8)
    if annotate:
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                colour = "k" if value > vmin + 0.6 * (vmax - vmin) else "w"
                ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=7, color=colour)
    if views == 2:
        for position in (n / 2 - 0.5,):
            ax.axhline(position, color="w", lw=1.5)
            ax.axvline(position, color="w", lw=1.5)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_histograms(values: dict, bins: int = 50, title: str | None = None, xlabel: str = "value"):
    """Side-by-side histograms, one panel per entry of ``values`` ({panel title: 1-D array}); return the figure."""
    from matplotlib.figure import Figure

    if not values:
        raise ValueError("values: expected at least one {title: array} entry")
    fig = Figure(figsize=(4.0 * len(values), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(values)))
    for ax, (name, array) in zip(axes, values.items()):
        array = np.asarray(array, dtype=float).ravel()
        array = array[np.isfinite(array)]
        ax.hist(array, bins=bins, color="#4c72b0")
        ax.set_title(f"{name} (n = {len(array)})", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("pairs", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
