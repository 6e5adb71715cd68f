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

from .vocabulary import LEADS, WAVES, normalize_lead_name

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
    """Make plotly figures show in the book, in Jupyter and in Colab, without fetching plotly.js from a CDN.

    Sets ``plotly.io.renderers.default``: 'colab' in Colab; elsewhere a renderer whose output holds each figure
    twice: as plotly's JSON mime type, which JupyterLab and VS Code draw with the plotly.js they bundle, and as an
    HTML ``<div>`` without plotly.js, which the book draws with the one copy of plotly.js it serves from its
    ``_static`` folder (``book/_ext/offline_assets.py``), so the built book works offline.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import MimetypeRenderer

    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
        return

    class JsonAndDivRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig_dict)
            bundle["text/html"] = pio.to_html(
                fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False, validate=False
            )
            return bundle

    pio.renderers["beatssl_json_and_div"] = JsonAndDivRenderer()
    pio.renderers.default = "beatssl_json_and_div"


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
        ax.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 0.0), ncol=3, fontsize=9, frameon=False)
    ax.set_xlim(0, width_mm)
    ax.set_ylim(0, height_mm)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{PAPER_SPEED_MM_PER_S:g} mm/s, {GAIN_MM_PER_MV:g} mm/mV, {fs:g} Hz", fontsize=9, loc="left")
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
                       fmt: str = ".2f", vmin: float = 0.0, vmax: float = 1.0, views: int = 1, groups=None,
                       colorbar: bool = True):
    """Heatmap of a similarity or target matrix; return the matplotlib figure.

    matrix: (N, N) values, shown on a fixed [vmin, vmax] colour scale so that matrices compare across figures.
    labels: N tick labels (default 0..N-1; an empty string leaves a row unlabelled). annotate: write each value in
    its cell (default: when N <= 12). views: 2 draws the lines between the view-1 and view-2 blocks of a (2B, 2B)
    two-view layout. groups: optional N group names (e.g. the record of each beat), consecutive rows of one group
    forming a block: white lines separate the blocks and, without ``labels``, each block gets one tick label at
    its centre. colorbar: False leaves the colour bar out (a figure of several panels on one scale draws one).
    Text is 9 pt or larger and the figure it makes is at most 8 in wide, so it reads at the book's column width.
    """
    from matplotlib.figure import Figure

    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a square (N, N) array, got shape {matrix.shape}")
    n = len(matrix)
    if views not in (1, 2) or n % views:
        raise ValueError(f"views: expected 1 or 2 dividing the matrix size {n}, got {views!r}")
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels: expected {n} labels, got {len(labels)}")
    boundaries, centres, names = [], [], []
    if groups is not None:
        groups = [str(g) for g in groups]
        if len(groups) != n:
            raise ValueError(f"groups: expected {n} group names, one per row, got {len(groups)}")
        starts = [0] + [i for i in range(1, n) if groups[i] != groups[i - 1]]
        boundaries = [start - 0.5 for start in starts[1:]]
        for start, stop in zip(starts, starts[1:] + [n]):
            centres.append((start + stop - 1) / 2)
            names.append(groups[start])
    if labels is not None:
        ticks, names = list(range(n)), [str(label) for label in labels]
    elif groups is not None:
        ticks = centres
    else:
        ticks, names = list(range(n)), [str(i) for i in range(n)]
    annotate = n <= 12 if annotate is None else annotate
    if ax is None:
        size = min(2.5 + 0.45 * n, 6.5)
        fig = Figure(figsize=(size + 1.5 if colorbar else size + 0.5, size), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8).ax.tick_params(labelsize=9)
    if len(ticks) <= 40:
        rotation = 90 if max(map(len, names), default=0) > 3 else 0
        ax.set_xticks(ticks, names, rotation=rotation, fontsize=9)
        ax.set_yticks(ticks, names, fontsize=9)
    else:
        ax.tick_params(labelsize=9)  # matplotlib's own index ticks
    if annotate:
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                colour = "k" if value > vmin + 0.6 * (vmax - vmin) else "w"
                ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=9, color=colour)
    for position in ([n / 2 - 0.5] if views == 2 else []) + boundaries:
        ax.axhline(position, color="w", lw=1.5)
        ax.axvline(position, color="w", lw=1.5)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_histograms(values: dict, bins: int = 50, title: str | None = None, xlabel: str = "value"):
    """Side-by-side histograms, one panel per entry of ``values`` ({panel title: 1-D array}); return the figure.

    At most 8 in wide and text of 9 pt or more, to read at the book's column width.
    """
    from matplotlib.figure import Figure

    if not values:
        raise ValueError("values: expected at least one {title: array} entry")
    fig = Figure(figsize=(min(8.0, 4.0 * len(values)), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(values)))
    for ax, (name, array) in zip(axes, values.items()):
        array = np.asarray(array, dtype=float).ravel()
        array = array[np.isfinite(array)]
        ax.hist(array, bins=bins, color="#4c72b0")
        ax.set_title(f"{name} (n = {len(array)})", fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("pairs", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _wave_codes(masks, n_samples: int) -> np.ndarray:
    """One wave code per sample, (n_samples,), from masks (n_samples,) or per lead (n_leads, n_samples): the wave
    most leads mark at that sample (0 where none marks one). Leads disagree at wave edges; the vote settles it."""
    masks = np.asarray(masks)
    if masks.ndim not in (1, 2) or masks.shape[-1] != n_samples:
        raise ValueError(f"masks: expected ({n_samples},) or (n_leads, {n_samples}) wave codes, got {masks.shape}")
    if masks.ndim == 1:
        return masks
    counts = np.stack([(masks == code).sum(0) for code in range(1, len(WAVES))])
    return np.where(counts.max(0) > 0, counts.argmax(0) + 1, 0)


def _check_vcg(vcg) -> np.ndarray:
    vcg = np.asarray(vcg, dtype=float)
    if vcg.ndim != 2 or vcg.shape[0] != 3:
        raise ValueError(f"vcg: expected (3, n_samples) with rows X, Y, Z, got {vcg.shape}")
    return vcg


def plot_vcg_loops(vcg, fs: float, masks=None, lead_vectors=None, lead_names=LEADS, title: str | None = None):
    """Interactive, rotatable 3-D plot of a VCG's loops; return the plotly figure.

    vcg: (3, n_samples) X, Y, Z in mV (Frank axes: X to the patient's left, Y to the feet, Z to the back).
    masks: optional wave codes, (n_samples,) or per lead (n_leads, n_samples) (then the leads' majority vote):
        the P, QRS and T loops are drawn in ``WAVE_COLOURS``, the rest of the record in grey.
    lead_vectors: optional (n_leads, 3) lead vectors (e.g. ``vcg.lead_vectors()``), drawn from the origin, named by
        ``lead_names`` and scaled together so the longest reaches the loops' extent: lead k reads l_k . d(t).
    The camera starts in front of the patient (X to the right, head up), as the frontal plane is drawn in clinics.
    """
    import plotly.graph_objects as go

    vcg = _check_vcg(vcg)
    n = vcg.shape[1]
    time_s = np.arange(n) / fs
    hover = "t = %{customdata:.3f} s<br>X %{x:.2f}, Y %{y:.2f}, Z %{z:.2f} mV<extra>%{fullData.name}</extra>"
    fig = go.Figure()
    fig.add_scatter3d(x=vcg[0], y=vcg[1], z=vcg[2], mode="lines", name="whole record", customdata=time_s,
                      line=dict(color="#b0b0b0", width=2), hovertemplate=hover)
    if masks is not None:
        codes = _wave_codes(masks, n)
        for code, wave in enumerate(WAVES[1:], start=1):
            # NaN outside the wave breaks the line, so beats are not joined to each other.
            part = np.where(codes == code, vcg, np.nan)
            fig.add_scatter3d(x=part[0], y=part[1], z=part[2], mode="lines", name=wave, customdata=time_s,
                              line=dict(color=WAVE_COLOURS[wave], width=5), hovertemplate=hover)
    if lead_vectors is not None:
        lead_vectors = np.asarray(lead_vectors, dtype=float)
        if lead_vectors.ndim != 2 or lead_vectors.shape[1] != 3 or len(lead_vectors) != len(lead_names):
            raise ValueError(
                f"lead_vectors: expected ({len(lead_names)}, 3), one per lead name, got {lead_vectors.shape}"
            )
        tips = lead_vectors * (np.abs(vcg).max() / np.linalg.norm(lead_vectors, axis=1).max())
        segments = np.full((len(tips), 3, 3), np.nan)
        segments[:, 1] = tips
        segments[:, 0] = 0.0
        xyz = segments.reshape(-1, 3).T
        fig.add_scatter3d(x=xyz[0], y=xyz[1], z=xyz[2], mode="lines", name="lead vectors",
                          line=dict(color="#444444", width=3), hoverinfo="skip")
        fig.add_scatter3d(x=tips[:, 0], y=tips[:, 1], z=tips[:, 2], mode="text", text=list(lead_names),
                          name="lead names", showlegend=False, textfont=dict(size=11), hoverinfo="skip")
    # Fixed ranges over the loops and the lead vectors' tips (with room for their names), drawn to scale (equal mV
    # per unit on the three axes) inside a box whose longest side is 1, so the camera below sees all of it.
    points = vcg if lead_vectors is None else np.concatenate([vcg, tips.T], axis=1)
    low, high = np.nanmin(points, axis=1), np.nanmax(points, axis=1)
    pad = 0.12 * float(np.max(high - low)) + 1e-6
    low, high = low - pad, high + pad
    ratio = (high - low) / np.max(high - low)
    scene = dict(aspectmode="manual", aspectratio=dict(x=ratio[0], y=ratio[1], z=ratio[2]),
                 camera=dict(up=dict(x=0, y=-1, z=0), eye=dict(x=0.35, y=-0.45, z=-2.1)))
    for k, name in enumerate(("X left", "Y feet", "Z back")):
        scene[f"{'xyz'[k]}axis"] = dict(title=f"{name} (mV)", range=[float(low[k]), float(high[k])], autorange=False)
    fig.update_layout(
        title=title,
        height=600,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        scene=scene,
        legend=dict(itemsizing="constant"),
    )
    return fig


#: The three planes of the VCG as clinics draw them [ours: axis directions]: (horizontal axis, vertical axis),
#: with +Y (feet) and +Z (back) pointing down the page.
VCG_PLANES = {"frontal": (0, 1), "horizontal": (0, 2), "sagittal": (2, 1)}


def plot_vcg_planes(vcgs: dict, masks=None, title: str | None = None):
    """The loops of one or more VCGs in the frontal, horizontal and sagittal planes; return the matplotlib figure.

    vcgs: {row title: (3, n_samples) X, Y, Z}, e.g. the same record through Kors and through inverse Dower; all
        panels share one scale, so the rows compare in size.
    masks: optional wave codes as in ``plot_vcg_loops`` (the same for every row), P, QRS, T in ``WAVE_COLOURS``.
    """
    from matplotlib.figure import Figure

    if not vcgs:
        raise ValueError("vcgs: expected at least one {title: (3, n_samples)} entry")
    vcgs = {name: _check_vcg(array) for name, array in vcgs.items()}
    extent = 1.05 * max(np.abs(array).max() for array in vcgs.values())
    fig = Figure(figsize=(8.0, 2.9 * len(vcgs) + 0.3), layout="constrained")  # the page's width: text not shrunk
    axes = fig.subplots(len(vcgs), 3, squeeze=False)
    for row, (name, array) in zip(axes, vcgs.items()):
        codes = None if masks is None else _wave_codes(masks, array.shape[1])
        for ax, (plane, (h, v)) in zip(row, VCG_PLANES.items()):
            ax.plot(array[h], array[v], color="#b0b0b0", lw=0.6)
            if codes is not None:
                for code, wave in enumerate(WAVES[1:], start=1):
                    part = np.where(codes == code, array, np.nan)
                    ax.plot(part[h], part[v], color=WAVE_COLOURS[wave], lw=1.2, label=wave)
            ax.plot(0, 0, "k+", ms=6)
            ax.set_xlim(-extent, extent)
            ax.set_ylim(extent, -extent)  # +Y and +Z down
            ax.set_aspect("equal")
            ax.set_xlabel(f"{'XYZ'[h]} (mV)", fontsize=10)
            ax.set_ylabel(f"{'XYZ'[v]} (mV), down", fontsize=10)
            ax.set_title(f"{name}: {plane}", fontsize=10)
            ax.tick_params(labelsize=9)
    if masks is not None:
        axes[0, -1].legend(fontsize=9, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_leads_overlay(signals: dict, fs: float, leads=("I", "II", "V1", "V5"), start_s: float = 0.0,
                       stop_s: float | None = None, title: str | None = None):
    """Several versions of the same 12-lead ECG overlaid, one row per chosen lead; return the matplotlib figure.

    signals: {legend label: (12, n_samples) in ``LEADS`` order}, e.g. recorded vs its dipolar part; the first is
        drawn thick and grey, the others on top in colour. start_s / stop_s: the time window shown.
    """
    from matplotlib.figure import Figure

    if not signals:
        raise ValueError("signals: expected at least one {label: (12, n_samples)} entry")
    signals = {label: np.asarray(array, dtype=float) for label, array in signals.items()}
    n = next(iter(signals.values())).shape[-1]
    for label, array in signals.items():
        if array.shape != (len(LEADS), n):
            raise ValueError(f"signals[{label!r}]: expected ({len(LEADS)}, {n}) in LEADS order, got {array.shape}")
    rows = [LEADS.index(normalize_lead_name(lead)) for lead in leads]
    window = slice(int(round(start_s * fs)), n if stop_s is None else int(round(stop_s * fs)))
    time_s = np.arange(n)[window] / fs
    fig = Figure(figsize=(8.0, 1.4 * len(rows) + 1.0), layout="constrained")  # the page's width: text not shrunk
    axes = np.atleast_1d(fig.subplots(len(rows), 1, sharex=True))
    for ax, row in zip(axes, rows):
        for k, (label, array) in enumerate(signals.items()):
            style = dict(color="#9a9a9a", lw=2.2) if k == 0 else dict(lw=0.9)
            ax.plot(time_s, array[row, window], label=label, **style)
        ax.set_ylabel(f"{LEADS[row]} (mV)", fontsize=10)
        ax.tick_params(labelsize=9)
    # The legend under the panels, where it covers no trace.
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(signals), fontsize=10,
               frameon=False)
    axes[-1].set_xlabel("time (s)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_augmentations(original, views, fs: float, titles=None, masks=None, leads=("I", "II", "V2", "V5"),
                       start_s: float = 0.0, stop_s: float | None = None, title: str | None = None,
                       layout: str = "columns", ncols: int = 2):
    """The same ECG and several augmented views; return the matplotlib figure.

    original: (12, n_samples); views: (n_views, 12, n_samples), both in ``LEADS`` order.
    titles: one title per view (e.g. its angles and scales). masks: optional (n_views, 12, n_samples)
    booleans, True where a view was masked, shaded grey. Each view is drawn (blue) over the original (light grey),
    one row per lead of ``leads``, all rows of a lead on one scale.
    layout: 'columns' (one column for the original, then one per view, side by side: compact, for 2-3 views) or
        'grid' (one panel per view, ``ncols`` panels to a row, each panel one row per lead: readable at a page's
        width for any number of views; the original is the grey trace behind every view).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    original = np.asarray(original, dtype=float)
    views = np.asarray(views, dtype=float)
    if original.ndim != 2 or original.shape[0] != len(LEADS) or views.shape[1:] != original.shape:
        raise ValueError(f"original, views: expected (12, n_samples) and (n_views, 12, n_samples), "
                         f"got {original.shape} and {views.shape}")
    if masks is not None and np.shape(masks) != views.shape:
        raise ValueError(f"masks: expected the views' shape {views.shape}, got {np.shape(masks)}")
    if titles is not None and len(titles) != len(views):
        raise ValueError(f"titles: expected {len(views)} titles, one per view, got {len(titles)}")
    if layout not in ("columns", "grid"):
        raise ValueError(f"layout: expected 'columns' or 'grid', got {layout!r}")
    if int(ncols) < 1:
        raise ValueError(f"ncols: expected a positive number of panels per row, got {ncols!r}")
    n = original.shape[1]
    rows = [LEADS.index(normalize_lead_name(lead)) for lead in leads]
    window = slice(int(round(start_s * fs)), n if stop_s is None else int(round(stop_s * fs)))
    time_s = np.arange(n)[window] / fs
    # One y range per lead over the original and every view, so that a lead compares across panels.
    span = {row: (min(original[row, window].min(), views[:, row, window].min()),
                  max(original[row, window].max(), views[:, row, window].max())) for row in rows}
    limits = {row: (lo - 0.05 * (hi - lo + 1e-9), hi + 0.05 * (hi - lo + 1e-9)) for row, (lo, hi) in span.items()}

    def draw_view(ax, v, row):
        ax.plot(time_s, original[row, window], color="#c8c8c8", lw=0.9)
        ax.plot(time_s, views[v, row, window], color="#1f77b4", lw=0.9)
        if masks is not None:
            for a, b in _runs(np.asarray(masks[v, row, window], dtype=bool)):
                ax.axvspan(time_s[a], time_s[b - 1], color="#000000", alpha=0.08, lw=0)
        ax.set_ylim(*limits[row])

    if layout == "columns":
        width = min(2.6 * (len(views) + 1), 10.0)
        fig = Figure(figsize=(width, 1.3 * len(rows) + 1.0), layout="constrained")
        axes = fig.subplots(len(rows), len(views) + 1, sharex=True, sharey="row", squeeze=False)
        for r, row in enumerate(rows):
            axes[r, 0].plot(time_s, original[row, window], color="k", lw=0.8)
            axes[r, 0].set_ylabel(f"{LEADS[row]} (mV)", fontsize=9)
            for v in range(len(views)):
                draw_view(axes[r, v + 1], v, row)
        for ax in axes.ravel():
            ax.tick_params(labelsize=8)
        axes[0, 0].set_title("original", fontsize=9)
        for v in range(len(views)):
            axes[0, v + 1].set_title(titles[v] if titles is not None else f"view {v + 1}", fontsize=9)
        for ax in axes[-1]:
            ax.set_xlabel("time (s)", fontsize=9)
    else:
        ncols = min(int(ncols), len(views))
        nrows = -(-len(views) // ncols)
        fig = Figure(figsize=(4.0 * ncols, (0.95 * len(rows) + 0.9) * nrows + 0.5), layout="constrained")
        panels = np.atleast_1d(fig.subfigures(nrows, ncols, squeeze=False).ravel())
        for v, panel in enumerate(panels):
            if v >= len(views):
                continue
            axes = np.atleast_1d(panel.subplots(len(rows), 1, sharex=True))
            for ax, row in zip(axes, rows):
                draw_view(ax, v, row)
                ax.set_ylabel(f"{LEADS[row]} (mV)", fontsize=10)
                ax.tick_params(labelsize=9)
            axes[-1].set_xlabel("time (s)", fontsize=10)
            panel.suptitle(titles[v] if titles is not None else f"view {v + 1}", fontsize=10)
        handles = [Line2D([], [], color="#c8c8c8", lw=2, label="original"),
                   Line2D([], [], color="#1f77b4", lw=2, label="view")]
        if masks is not None:
            handles.append(Patch(color="#000000", alpha=0.15, label="masked (set to 0)"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=10, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_rotation_slider(ecg12, fs: float, axis: str = "z", angles_deg=tuple(range(-45, 46, 15)),
                         leads=("I", "II", "V1", "V4"), config=None, start_s: float = 0.0, stop_s: float = 2.0):
    """A slider that turns the heart's dipole about one axis and shows what the leads read; return a plotly figure.

    ecg12: (12, n_samples). axis: 'x', 'y' or 'z' (the Euler angle that moves; the two others stay 0).
    angles_deg: the slider's stops. config: the ``augment.ThreeKGConfig`` whose projection is used (its mask and
    scales are ignored: unit scales, no mask). Each stop is a precomputed frame, so it works in static HTML.
    """
    import dataclasses

    import plotly.graph_objects as go
    import torch
    from plotly.subplots import make_subplots

    from .augment import ThreeKGConfig, apply_three_kg, make_parameters

    if axis not in ("x", "y", "z"):
        raise ValueError(f"axis: expected 'x', 'y' or 'z', got {axis!r}")
    ecg12 = torch.as_tensor(np.asarray(ecg12, dtype=np.float64))
    if ecg12.ndim != 2 or ecg12.shape[0] != len(LEADS):
        raise ValueError(f"ecg12: expected (12, n_samples) in LEADS order, got {tuple(ecg12.shape)}")
    config = dataclasses.replace(config or ThreeKGConfig(), mask_fraction=0.0)
    angles_deg = np.asarray(angles_deg, dtype=float)
    euler = np.zeros((len(angles_deg), 3))
    euler[:, "zyx".index(axis)] = angles_deg
    params = make_parameters(euler, batch=len(angles_deg))
    views = apply_three_kg(ecg12.expand(len(angles_deg), -1, -1), params, config).numpy()
    n = ecg12.shape[1]
    window = slice(int(round(start_s * fs)), min(n, int(round(stop_s * fs))))
    time_s = np.round(np.arange(n)[window] / fs, 4)
    rows = [LEADS.index(normalize_lead_name(lead)) for lead in leads]
    start = int(np.argmin(np.abs(angles_deg)))

    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.02)
    for r, row in enumerate(rows, start=1):
        fig.add_scatter(x=time_s, y=np.round(ecg12[row, window].numpy(), 4), row=r, col=1, name="recorded",
                        line=dict(color="#b0b0b0", width=3), showlegend=r == 1, legendgroup="recorded")
        fig.add_scatter(x=time_s, y=np.round(views[start, row, window], 4), row=r, col=1, name="rotated",
                        line=dict(color="#1f77b4", width=1.5), showlegend=r == 1, legendgroup="rotated")
        # A fixed range over the recording and every frame: no frame is clipped, and the axes do not jump.
        shown = np.concatenate([views[:, row, window].ravel(), ecg12[row, window].numpy()])
        low, high = float(shown.min()), float(shown.max())
        pad = 0.06 * (high - low) + 1e-6
        fig.update_yaxes(title_text=f"{LEADS[row]} (mV)", range=[low - pad, high + pad], autorange=False, row=r, col=1)
    rotated = [2 * r + 1 for r in range(len(rows))]
    fig.frames = [
        go.Frame(name=f"{angle:g}", traces=rotated,
                 data=[go.Scatter(y=np.round(views[k, row, window], 4)) for row in rows])
        for k, angle in enumerate(angles_deg)
    ]
    steps = [dict(label=frame.name, method="animate",
                  args=[[frame.name], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                           transition=dict(duration=0))]) for frame in fig.frames]
    fig.update_layout(
        height=160 * len(rows) + 140,
        margin=dict(l=60, r=20, t=30, b=40),
        sliders=[dict(active=start, steps=steps, pad=dict(t=40),
                      currentvalue=dict(prefix=f"rotation about {axis}: ", suffix=" deg"))],
    )
    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    return fig


def _lead_rows(leads) -> list:
    return [LEADS.index(normalize_lead_name(lead)) for lead in leads]


def plot_r_peaks(signal, fs: float, detected, reference=None, leads=("II", "V1", "V5"), start_s: float = 0.0,
                 stop_s: float | None = None, scored=None, title: str | None = None):
    """Detected R peaks (red triangles) against reference peaks (black circles) on a few leads; return the figure.

    signal: (12, n_samples) in ``LEADS`` order. detected, reference: sample indices (reference optional).
    scored: optional (first, last) sample of the scored stretch; the rest is shaded grey. start_s / stop_s: the
    time window shown. 8 in wide, text of 9 pt or more, the legend above the panels (never over a trace).
    """
    import matplotlib.pyplot as plt

    signal = np.asarray(signal, dtype=float)
    if signal.ndim != 2 or signal.shape[0] != len(LEADS):
        raise ValueError(f"signal: expected (12, n_samples) in LEADS order, got {signal.shape}")
    n = signal.shape[1]
    lo, hi = int(round(start_s * fs)), n if stop_s is None else min(n, int(round(stop_s * fs)))
    time_s = np.arange(lo, hi) / fs
    rows = _lead_rows(leads)
    fig = plt.figure(figsize=(8.0, 1.5 * len(rows) + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(rows), 1, sharex=True))
    marks = {"detected": (np.asarray(detected, dtype=int), dict(marker="v", color="#d62728", ms=6, ls="none")),
             "reference": (None if reference is None else np.asarray(reference, dtype=int),
                           dict(marker="o", mfc="none", mec="k", ms=8, ls="none"))}
    for ax, row in zip(axes, rows):
        ax.plot(time_s, signal[row, lo:hi], color="#404040", lw=0.7)
        for label, (peaks, style) in marks.items():
            if peaks is None:
                continue
            shown = peaks[(peaks >= lo) & (peaks < hi)]
            ax.plot(shown / fs, signal[row, shown], label=label, **style)
        if scored is not None:
            for a, b in ((lo, scored[0]), (scored[1], hi)):
                if b > a:
                    ax.axvspan(a / fs, b / fs, color="#000000", alpha=0.07, lw=0)
        ax.set_ylabel(f"{LEADS[row]} (mV)", fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].legend(fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False,
                   borderaxespad=0.2)
    axes[-1].set_xlabel("time (s)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig


def plot_beat_overlay(windows, fs: float, leads=("II", "V1", "V5"), labels=None, title: str | None = None):
    """All beats of a record overlaid, aligned on their R peak, one panel per lead; return the figure.

    windows: a ``beats.BeatWindows`` (its windows (n_beats, 12, L) and centre). labels: optional one class name
    per beat (e.g. beat classes), each drawn in its own colour, a class of fewer than half the beats thicker and on
    top (a lone V beat is not hidden under the N beats); without, beats are thin grey and their median thick
    black. At most 8 in wide, text of 9 pt or more, the legend under the panels (never over a trace).
    """
    import matplotlib.pyplot as plt

    stack = np.asarray(windows.windows, dtype=float)
    if stack.ndim != 3 or stack.shape[1] != len(LEADS):
        raise ValueError(f"windows: expected (n_beats, 12, L) beat windows, got {stack.shape}")
    if labels is not None and len(labels) != len(stack):
        raise ValueError(f"labels: expected {len(stack)} labels, one per beat, got {len(labels)}")
    time_ms = (np.arange(stack.shape[2]) - windows.centre) * 1000.0 / fs
    rows = _lead_rows(leads)
    fig = plt.figure(figsize=(min(8.0, 2.7 * len(rows)), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(rows), sharex=True))
    colours = {}
    share = {} if labels is None else {name: list(labels).count(name) / len(labels) for name in set(labels)}
    for ax, row in zip(axes, rows):
        for k, beat in enumerate(stack[:, row]):
            if labels is None:
                ax.plot(time_ms, beat, color="#9a9a9a", lw=0.6)
            else:
                colour = colours.setdefault(labels[k], f"C{len(colours)}")
                rare = share[labels[k]] < 0.5  # a minority class is drawn thicker, above the majority's beats
                ax.plot(time_ms, beat, color=colour, lw=1.4 if rare else 0.8, zorder=3 if rare else 2,
                        label=labels[k] if ax is axes[0] else None)
        if labels is None and len(stack):
            ax.plot(time_ms, np.median(stack[:, row], axis=0), color="k", lw=1.6, label="median beat")
        ax.axvline(0.0, color="#d62728", lw=0.6, ls=":")
        ax.set_title(LEADS[row], fontsize=10)
        ax.set_xlabel("ms from R", fontsize=9)
        ax.tick_params(labelsize=9)
    axes[0].set_ylabel("mV", fontsize=9)
    handles, names = axes[0].get_legend_handles_labels()
    unique = dict(zip(names, handles))
    if unique:
        fig.legend(unique.values(), unique.keys(), fontsize=9, loc="outside lower center", ncol=min(len(unique), 5),
                   frameon=False)
    if title:
        fig.suptitle(f"{title} ({len(stack)} beats)", fontsize=11)
    plt.close(fig)
    return fig


#: Which wave each delineation bound belongs to, for its colour in ``plot_delineation``.
_BOUND_WAVES = {"p_on": "P", "p_peak": "P", "p_off": "P", "qrs_on": "QRS", "r_peak": "QRS", "qrs_off": "QRS",
                "t_peak": "T", "t_off": "T"}


def plot_delineation(signal, fs: float, delineation, beat: int, reference=None, reference_beat: int | None = None,
                     leads=("II", "V1", "V5"), before_ms: float = 350.0, after_ms: float = 550.0,
                     title: str | None = None):
    """One beat with its delineation: solid lines at the detected bounds, dashed at the reference's; the figure.

    signal: (12, n_samples). delineation / reference: ``delineation.Delineation`` objects (per-beat sample
    indices, -1 where absent); ``beat`` / ``reference_beat`` index the beat in each. Colours: P, QRS, T as in
    ``WAVE_COLOURS``. The window runs from ``before_ms`` before to ``after_ms`` after the beat's R peak. 8 in
    wide, text of 9 pt or more, the legend above the panels (never over a trace).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    signal = np.asarray(signal, dtype=float)
    if signal.ndim != 2 or signal.shape[0] != len(LEADS):
        raise ValueError(f"signal: expected (12, n_samples) in LEADS order, got {signal.shape}")
    if not 0 <= beat < len(delineation.r_peak):
        raise ValueError(f"beat: expected an index in [0, {len(delineation.r_peak)}), got {beat}")
    n = signal.shape[1]
    r = int(delineation.r_peak[beat])
    lo = max(0, r - int(round(before_ms * fs / 1000.0)))
    hi = min(n, r + int(round(after_ms * fs / 1000.0)) + 1)
    time_ms = (np.arange(lo, hi) - r) * 1000.0 / fs
    rows = _lead_rows(leads)
    fig = plt.figure(figsize=(8.0, 1.6 * len(rows) + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(rows), 1, sharex=True))
    sources = [(delineation, beat, "-", "detected")]
    if reference is not None and reference_beat is not None:
        sources.append((reference, reference_beat, "--", "reference"))
    for ax, row in zip(axes, rows):
        ax.plot(time_ms, signal[row, lo:hi], color="#303030", lw=0.9)
        for source, k, style, name in sources:
            for bound, wave in _BOUND_WAVES.items():
                sample = int(getattr(source, bound)[k])
                if lo <= sample < hi:
                    ax.axvline((sample - r) * 1000.0 / fs, color=WAVE_COLOURS[wave], ls=style, lw=1.0)
        ax.set_ylabel(f"{LEADS[row]} (mV)", fontsize=9)
        ax.tick_params(labelsize=9)
    legend = [Line2D([], [], color=WAVE_COLOURS[w], label=w) for w in ("P", "QRS", "T")]
    legend += [Line2D([], [], color="k", ls=style, label=name) for _, _, style, name in sources]
    axes[0].legend(handles=legend, fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(legend),
                   frameon=False, borderaxespad=0.2)
    axes[-1].set_xlabel("ms from the R peak", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig


def plot_loss_curve(curves, title: str | None = None, smooth: int = 1):
    """Pretraining loss against step: total, rhythm and beat losses of one run or several.

    curves: a run's ``pretrain.read_curve`` rows (dicts with step, loss, rhythm_loss, beat_loss), or
    {label: rows} for several runs on shared axes. smooth: moving-average width in steps (1: raw).
    """
    import matplotlib.pyplot as plt

    if isinstance(curves, dict):
        runs = curves
    else:
        runs = {"": curves}
    if not runs or any(len(rows) == 0 for rows in runs.values()):
        raise ValueError("curves: expected at least one step of loss curve per run")
    if not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth: expected a positive number of steps, got {smooth!r}")
    fig, axes = plt.subplots(1, 3, figsize=(8.0, 3.2), layout="constrained", sharex=True)
    for label, rows in runs.items():
        steps = np.array([row["step"] for row in rows])
        for ax, key in zip(axes, ("loss", "rhythm_loss", "beat_loss")):
            values = np.array([row[key] for row in rows], dtype=float)
            if smooth > 1 and len(values) >= smooth:
                values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
                shown = steps[smooth - 1:]
            else:
                shown = steps
            ax.plot(shown, values, lw=1.2, label=label or None)
    for ax, name in zip(axes, ("total: rhythm + λ beat", "rhythm loss", "beat loss")):
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=9)
    if len(runs) > 1:
        axes[0].legend(fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig


def pca_2d(embeddings) -> np.ndarray:
    """(N, 2) coordinates of (N, D) embeddings on their first two principal components (centred; signs fixed so
    that each component's largest loading is positive, making the picture reproducible)."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"embeddings: expected (N, D) with N >= 2, got shape {x.shape}")
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return x @ (components * signs[:, None]).T


def plot_embeddings_2d(embeddings: dict, labels, class_names, title: str | None = None):
    """Embedding spaces side by side (e.g. before and after pretraining), projected with PCA, coloured by class.

    embeddings: {panel title: (N, D) array}, the same N ECGs in each. labels: (N, C) multi-hot over
    ``class_names`` (e.g. PTB-XL superclasses). ECGs with one class are coloured by it; ECGs with several are
    small grey points ("several").
    """
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != len(class_names):
        raise ValueError(f"labels: expected (N, {len(class_names)}) multi-hot rows, got shape {labels.shape}")
    if not embeddings:
        raise ValueError("embeddings: expected at least one {title: (N, D) array} panel")
    single = labels.sum(axis=1) == 1
    width = min(8.0, 4.0 * len(embeddings))  # the page's width, so that the text is not shrunk
    fig, axes = plt.subplots(1, len(embeddings), figsize=(width, 4.0), layout="constrained")
    for ax, (name, values) in zip(np.atleast_1d(axes), embeddings.items()):
        if len(values) != len(labels):
            raise ValueError(f"embeddings[{name!r}]: {len(values)} rows for {len(labels)} label rows")
        xy = pca_2d(values)
        ax.scatter(*xy[~single].T, s=6, color="#b0b0b0", label="several")
        for k, class_name in enumerate(class_names):
            chosen = single & (labels[:, k] == 1)
            if chosen.any():
                ax.scatter(*xy[chosen].T, s=12, label=class_name)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("PC 1", fontsize=9)
        ax.set_ylabel("PC 2", fontsize=9)
        ax.tick_params(labelsize=9)
    np.atleast_1d(axes)[-1].legend(fontsize=9, markerscale=1.5, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig


# --- downstream tasks: ROC curves, label fractions, segmentation masks (chapters 8 and 9) ---------------------------

def roc_points(y_true, y_score) -> tuple:
    """(false positive rates, true positive rates) of one class's ROC curve, from (0, 0) to (1, 1).

    One point per distinct score, thresholds from the highest score down; records with tied scores enter together
    (one diagonal step), so the trapezoid area under the points is the AUROC with ties counted one half.
    y_true: (n,) 0/1; y_score: (n,) real scores. A class without positives or without negatives has no ROC curve:
    ValueError.
    """
    truth = np.asarray(y_true)
    score = np.asarray(y_score, dtype=np.float64)
    if truth.ndim != 1 or score.shape != truth.shape:
        raise ValueError(f"y_true, y_score: expected two 1-D arrays of one length, got {truth.shape} and {score.shape}")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("y_true: expected labels 0 and 1")
    if not np.isfinite(score).all():
        raise ValueError("y_score: expected finite numbers")
    truth = truth.astype(bool)
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"y_true: {n_pos} positives and {n_neg} negatives: a ROC curve needs both")
    order = np.argsort(-score, kind="stable")
    last_of_run = np.flatnonzero(np.r_[np.diff(score[order]) != 0, True])
    tp = np.cumsum(truth[order])[last_of_run]
    fp = last_of_run + 1 - tp
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def plot_roc_curves(y_true, y_scores, class_names=None, title: str | None = None):
    """ROC curve of every class, one panel per class; several models share each panel.

    y_true: (n, k) multi-hot; y_scores: (n, k) scores of one model, or {model label: (n, k)} for several, all on
    the same n records. class_names: k names (default ``SUPERCLASSES`` for k = 5). Each panel writes, in each
    model's colour, the area under its drawn curve (``roc_points``, trapezoids); a class without positives or
    negatives in ``y_true`` has no curve and its panel says so. Returns the figure (closed: show it as a cell's last value).
    """
    import matplotlib.pyplot as plt

    from .vocabulary import SUPERCLASSES

    truth = np.asarray(y_true)
    if truth.ndim != 2:
        raise ValueError(f"y_true: expected (n_records, n_classes) multi-hot labels, got shape {truth.shape}")
    runs = dict(y_scores) if isinstance(y_scores, dict) else {"": y_scores}
    if not runs:
        raise ValueError("y_scores: expected an (n, k) array or at least one {label: (n, k) array} entry")
    runs = {label: np.asarray(scores, dtype=np.float64) for label, scores in runs.items()}
    for label, scores in runs.items():
        if scores.shape != truth.shape:
            raise ValueError(f"y_scores{f'[{label!r}]' if label else ''}: expected the shape of y_true "
                             f"{truth.shape}, got {scores.shape}")
    if class_names is None:
        class_names = SUPERCLASSES if truth.shape[1] == len(SUPERCLASSES) else [f"class {k}"
                                                                                for k in range(truth.shape[1])]
    class_names = [str(name) for name in class_names]
    if len(class_names) != truth.shape[1]:
        raise ValueError(f"class_names: expected {truth.shape[1]} names, got {len(class_names)}")
    k = len(class_names)
    n_cols = min(k, 3)
    n_rows = -(-k // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(8.0, 3.1 * n_rows + 0.5), layout="constrained",
                             squeeze=False)
    for ax in axes.ravel()[k:]:
        ax.remove()
    axes = axes.ravel()[:k]
    for c, (ax, name) in enumerate(zip(axes, class_names)):
        n_pos = int(truth[:, c].sum())
        ax.plot([0, 1], [0, 1], color="#b0b0b0", lw=0.8, ls=":")
        if n_pos in (0, len(truth)):
            ax.text(0.5, 0.5, f"no ROC curve:\n{n_pos} of {len(truth)}\nrecords positive", ha="center",
                    va="center", fontsize=9)
        else:
            ax.text(0.97, 0.05 + 0.09 * len(runs), "AUROC", transform=ax.transAxes, ha="right", fontsize=9)
            for m, (label, scores) in enumerate(runs.items()):
                fpr, tpr = roc_points(truth[:, c], scores[:, c])
                area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
                ax.plot(fpr, tpr, color=f"C{m}", lw=1.3, label=label)
                ax.text(0.97, 0.05 + 0.09 * (len(runs) - 1 - m), f"{area:.3f}", transform=ax.transAxes,
                        ha="right", fontsize=9, color=f"C{m}")
        ax.set_title(f"{name} ({n_pos} positive)", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("false positive rate", fontsize=9)
        ax.set_ylabel("true positive rate", fontsize=9)
        ax.tick_params(labelsize=9)
    if any(runs):
        handles = [plt.Line2D([], [], color=f"C{m}", lw=1.3) for m in range(len(runs))]
        fig.legend(handles, list(runs), loc="outside lower center", ncol=len(runs) if len(runs) <= 3 else 2,
                   fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig


def plot_label_fraction_curve(scores: dict, metric: str = "macro AUROC", n_train: dict | None = None,
                              title: str | None = None):
    """A downstream score against the fraction of training labels used, one line per model.

    scores: {model label: {fraction: value}} with fractions in (0, 1]; a value may be a (value, low, high) triple,
    drawn with its interval as an error bar; NaN values are left out. n_train: optional {fraction: number of
    training records}, written under the fraction on the x axis. The x axis is logarithmic, in per cent.
    """
    import matplotlib.pyplot as plt

    if not scores or any(not points for points in scores.values()):
        raise ValueError("scores: expected at least one {model label: {fraction: value}} entry with points")
    fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    fractions = set()
    for m, (label, points) in enumerate(scores.items()):
        rows = []
        for fraction, value in sorted(points.items()):
            if not (isinstance(fraction, (int, float, np.floating)) and 0 < fraction <= 1):
                raise ValueError(f"scores[{label!r}]: expected fractions in (0, 1], got {fraction!r}")
            low = high = None
            if isinstance(value, (tuple, list)):
                if len(value) != 3:
                    raise ValueError(f"scores[{label!r}][{fraction}]: expected a value or (value, low, high)")
                value, low, high = value
            if value is None or not np.isfinite(value):
                continue
            rows.append((100.0 * fraction, float(value), low, high))
            fractions.add(float(fraction))
        if not rows:
            continue
        x, y = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
        ax.plot(x, y, marker="o", color=f"C{m}", lw=1.4, label=label)
        with_interval = [r for r in rows if r[2] is not None and r[3] is not None]
        if with_interval:
            xe = np.array([r[0] for r in with_interval])
            ye = np.array([r[1] for r in with_interval])
            error = np.array([[r[1] - r[2] for r in with_interval], [r[3] - r[1] for r in with_interval]])
            ax.errorbar(xe, ye, yerr=error, fmt="none", ecolor=f"C{m}", elinewidth=0.9, capsize=3)
    ticks = sorted(fractions)
    ax.set_xscale("log")
    ax.set_xticks([100.0 * f for f in ticks])
    ax.set_xticklabels([f"{100 * f:g} %" + (f"\n{n_train[f]} records" if n_train and f in n_train else "")
                        for f in ticks], fontsize=9)
    ax.minorticks_off()
    ax.set_xlabel("labelled training records used", fontsize=10)
    ax.set_ylabel(metric, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, fontsize=11)
    plt.close(fig)
    return fig


def plot_segmentation(signal, fs: float, predicted, annotated, leads=("II", "V1", "V5"), window=None,
                      start_s: float = 0.0, stop_s: float | None = None, title: str | None = None):
    """Annotated (top) and predicted (bottom) wave masks of one record on ECG paper, a few leads each.

    signal: (12, n_samples) in ``LEADS`` order, mV; predicted, annotated: (12, n_samples) wave codes (0 none, 1 P,
    2 QRS, 3 T) at ``fs``. window: optional (start, stop) samples of the scored stretch (the paper's 500-4500 on
    LUDB); outside it the paper is greyed. start_s, stop_s: the stretch drawn (default the whole record); the
    paper's time axis starts at ``start_s``. Each panel is ``plot_ecg_paper(..., layout='12x1')`` of ``leads``.
    """
    import matplotlib.pyplot as plt

    signal = np.asarray(signal, dtype=float)
    if signal.ndim != 2 or signal.shape[0] != len(LEADS):
        raise ValueError(f"signal: expected (12, n_samples) in LEADS order, got {signal.shape}")
    n = signal.shape[1]
    masks = {}
    for name, mask in (("annotated", annotated), ("predicted", predicted)):
        mask = np.asarray(mask)
        if mask.shape != signal.shape:
            raise ValueError(f"{name}: expected the signal's shape {signal.shape}, got {mask.shape}")
        masks[name] = mask
    if window is not None:
        start, stop = (int(v) for v in window)
        if not 0 <= start < stop <= n:
            raise ValueError(f"window: expected 0 <= start < stop <= {n}, got {window!r}")
    lo = int(round(start_s * fs))
    hi = n if stop_s is None else int(round(stop_s * fs))
    if not 0 <= lo < hi - 1 < n:
        raise ValueError(f"start_s, stop_s: expected 0 <= start_s < stop_s <= {n / fs:g} s, got {start_s!r}, {stop_s!r}")
    signal = signal[:, lo:hi]
    masks = {name: mask[:, lo:hi] for name, mask in masks.items()}
    if window is not None:
        start, stop = min(max(start - lo, 0), hi - lo), min(max(stop - lo, 0), hi - lo)
    n = hi - lo
    rows = _lead_rows(leads)
    names = [LEADS[row] for row in rows]
    width_mm = float(np.ceil(_CAL_MM + PAPER_SPEED_MM_PER_S * (n - 1) / fs + 2.0))
    panel_height_in = _FIG_WIDTH_IN * 25.0 * len(rows) / width_mm
    fig, axes = plt.subplots(2, 1, figsize=(_FIG_WIDTH_IN, 2 * panel_height_in + 1.0), layout="constrained")
    for ax, (name, mask) in zip(axes, masks.items()):
        plot_ecg_paper(signal[rows], fs, leads=names, masks=mask[rows], layout="12x1", title=name, ax=ax)
        if window is not None:
            for a, b in ((0, start), (stop, n)):
                if b > a:
                    ax.axvspan(_CAL_MM + PAPER_SPEED_MM_PER_S * a / fs, _CAL_MM + PAPER_SPEED_MM_PER_S * b / fs,
                               color="#707070", alpha=0.25, lw=0, zorder=2)
    if title:
        fig.suptitle(title, fontsize=11)
    plt.close(fig)
    return fig
