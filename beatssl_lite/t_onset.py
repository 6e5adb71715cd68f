"""T-wave onset of each beat, on top of ``delineation.delineate`` (which places the T peak and offset only).

``delineate`` gives, per beat, one set of bounds for all 12 leads; its T search projects the leads (band-passed
0.5-15 Hz, minus the isoelectric vector at the QRS onset) on their dominant direction in the T window and takes
the T peak and offset on that projection (``delineation`` module docstring). ``t_onsets`` places the T onset on
the same projection, between the beat's QRS offset and its T peak:

- **Projection** **[ours]**: the very direction ``delineate`` used for that beat's T (the first principal
  component of the same window, from the same filtered leads and isoelectric vector, recomputed here), signed so
  that the T peak is a hump (the projection at the peak above its mean 20 ms to either side), and extended back to
  the QRS offset.
- **Onset** **[ref]**, mirrored **[ours]**: the trapezium method of Vázquez-Seisdedos et al. (BioMed Eng OnLine
  2011), which ``delineate`` already uses for the T *end*, turned round for the start of the wave's rise: with m the
  point of steepest rise between a floor f and the T peak, the onset is the t in [f, m] that maximises the area of
  the trapezium with corners (t, y(t)), (m, y(t)), (m, y(m)) and the vertical through f, i.e.
  (y(m) - y(t)) * (m + t - 2 f). It picks the knee where the slow ST segment turns into the T wave's rise, without
  thresholds on amplitude or slope, and is robust to noise and to the tangent-free start of a smooth T.
- **Floor** **[ours]**: f = QRS offset + min(``T_ON_FLOOR_S``, ``T_ON_FLOOR_FRACTION`` x (T peak - QRS offset)).
  From the QRS offset itself, the end of the QRS's own slope (and a J-point notch) would be the steepest part
  and the knee; the fraction keeps the floor before the T peak when the ST segment is short.

So the T onset always satisfies QRS offset <= T onset < T peak (<= at rates below ``delineation.WORKING_FS``,
where the bounds are computed after upsampling and rounded back, like ``delineate``'s). -1 where the beat has no T
peak (``delineate`` placed none) or the T peak lies within two samples of the floor.

Why a separate module: the feature cache (``precompute.feature_code_version``) is keyed by the bytes of
``delineation.py``, and nothing in the features uses a T onset; adding it there would invalidate every cached
feature file for no change in their values. ``delineate``'s outputs are untouched by this module.

Tuning **[ours]**: on the tuning split of ``ludb_split`` only (160 records, test_fraction 0.2, seed 0), by the
standard per-lead protocol of ``benchmarks/bench_delineation.py --split tune`` (T_on F1, then the error against the
median over leads of the annotated onsets), among two knee rules, the maximum distance below the chord from the
floor to the T peak and the trapezium, with floors of 0-120 ms after the QRS offset, alone or capped at 0.3-0.5 of
the way to the T peak. From the QRS offset itself (floor 0-20 ms) the trapezium scored F1 0.90-0.98 (it takes the
end of the QRS's slope); with floors of 80-100 ms every variant scored F1 0.993-0.995, within each other's noise
(the chord rule 0.988-0.991, 7-25 ms late), and 100 ms capped at 0.4 was kept, the best on the median absolute
error against the leads' median annotation (11 ms, bias under 1 ms). On this protocol the T onset is nearly
saturated: a rule that looks at no signal, the midpoint between the QRS offset and the T peak, scores about as well
on F1 (the benchmark prints it beside ours), and the SD of the errors (~35 ms) is mostly the spread of the
annotations between leads, since one bound per beat is scored against every lead (the leads' median annotation,
scored the same way, has an SD of ~29 ms). The report split was not looked at while tuning.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

from .beats import MIN_DURATION_S, bandpass, usable_leads
from .delineation import (T_START_S, T_STOP_MAX_S, T_STOP_RR, WAVE_LOWPASS_HZ, WORKING_FS, Delineation,
                          _check_peaks, _delineate, _principal_direction)
from .validation import check_ecg, check_fs

__all__ = ["t_onsets", "T_ON_FLOOR_S", "T_ON_FLOOR_FRACTION"]

#: The T onset is searched from the QRS offset plus the smaller of this ...
T_ON_FLOOR_S = 0.1
#: ... and this fraction of the time from the QRS offset to the T peak.
T_ON_FLOOR_FRACTION = 0.4
#: Half-width of the test that signs the projection (the T peak is above its mean this far to either side).
_SIGN_HALF_WIDTH_S = 0.02


def _trapezium_onset(y: np.ndarray, first: int, peak: int) -> int:
    """Mirrored trapezium onset of the rise of ``y`` from ``first`` (the floor, also the trapezium's vertical
    side) to its hump at ``peak`` (module docstring): the t in [first, m] maximising (y[m] - y[t]) (m + t - 2 first),
    m the steepest rise in [first, peak]."""
    rise = first + int(np.argmax(np.diff(y[first:peak + 1])))
    t = np.arange(first, rise + 1)
    area = (y[rise] - y[t]) * (rise + t - 2 * first)
    return int(t[np.argmax(area)])


def t_onsets(signal, fs: float, delineation: Delineation | None = None) -> np.ndarray:
    """T-wave onset of each beat (module docstring), (n_beats,) int64 sample indices, -1 where not placed.

    signal: (12, T) in ``LEADS`` order or (T,) one lead, mV. fs: Hz. delineation: ``delineate(signal, fs)`` (or
    with the caller's R peaks) when the caller has it, else it is computed here; the onsets follow its beats.
    """
    fs = check_fs(fs)
    x = check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S, single_lead=True)
    if delineation is None:
        delineation = _delineate(x, fs, None)
    elif not isinstance(delineation, Delineation):
        raise TypeError(f"delineation: expected a delineation.Delineation, got {type(delineation).__name__}")
    found = delineation
    peaks = _check_peaks(found.r_peak, x.shape[1])
    for name in ("qrs_on", "qrs_off", "t_peak"):
        if getattr(found, name).shape != peaks.shape:
            raise ValueError(f"delineation: {name} has shape {getattr(found, name).shape}, r_peak {peaks.shape}")
    onsets = np.full(len(peaks), -1, dtype=np.int64)
    usable = usable_leads(x)
    if len(peaks) == 0 or not usable.any():
        return onsets
    x = x[usable]
    up = int(np.ceil(WORKING_FS / fs)) if fs < WORKING_FS else 1
    if up > 1:  # as in delineate: slower records are filtered at the working rate, after upsampling
        x = resample_poly(x, up, 1, axis=1)
    rate = fs * up
    qrs_on, qrs_off, t_peak = (np.where(v >= 0, v * up, -1) for v in (found.qrs_on, found.qrs_off, found.t_peak))
    peaks = peaks * up
    n = x.shape[1]
    slow = bandpass(x, rate, 0.5, WAVE_LOWPASS_HZ)
    rr = np.diff(peaks)
    typical_rr = np.median(rr) if len(rr) else rate
    half = max(1, int(round(_SIGN_HALF_WIDTH_S * rate)))
    for k, r in enumerate(peaks):
        if qrs_off[k] < 0 or t_peak[k] < 0:
            continue
        # delineate's T window and isoelectric vector for this beat (delineation._delineate_leads)
        ref = qrs_on[k] if qrs_on[k] >= 0 else max(0, r - int(round(0.05 * rate)))
        iso = slow[:, max(0, ref - int(round(0.02 * rate))):ref + 1].mean(axis=1)
        rr_after = peaks[k + 1] - r if k + 1 < len(peaks) else typical_rr
        start = qrs_off[k] + int(round(T_START_S * rate))
        stop = r + int(min(T_STOP_RR * rr_after, T_STOP_MAX_S * rate))
        if k + 1 < len(peaks):
            stop = min(stop, peaks[k + 1] - int(round(0.1 * rate)))
        stop, peak = min(stop, n), min(t_peak[k], n - 1)
        if stop - start < 2:
            continue
        direction = _principal_direction(slow[:, start:stop] - iso[:, None])
        y = direction @ (slow[:, :min(n, peak + half + 1)] - iso[:, None])
        if y[peak] < 0.5 * (y[max(0, peak - half)] + y[min(len(y) - 1, peak + half)]):
            y = -y
        first = qrs_off[k] + min(int(round(T_ON_FLOOR_S * rate)),
                                 int(round(T_ON_FLOOR_FRACTION * (peak - qrs_off[k]))))
        if peak - first < 2:
            continue
        onsets[k] = _trapezium_onset(y, first, peak)
    if up > 1:
        placed = onsets >= 0
        onsets[placed] = np.clip(np.round(onsets[placed] / up), found.qrs_off[placed], found.t_peak[placed])
    return onsets
