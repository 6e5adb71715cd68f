"""ECG features per beat and per record, from R peaks and the P/QRS/T delineation.

Beat-SSL computes its soft targets from "ECG feature similarity" and "beat feature similarity" **[paper]**; which
features it uses is not known. These are ours **[ours]**: the textbook measurements of a 12-lead ECG report, one
number per beat each, global over the leads.

Per beat (``BEAT_FEATURES``; ms, mV, degrees; NaN where undefined):
- rr_pre_ms, rr_post_ms: R-R intervals to the previous / next beat (NaN for the first / last beat).
- pr_ms = QRS onset - P onset (NaN without a P wave); qrs_ms = QRS offset - QRS onset; qt_ms = T offset - QRS
  onset. qtc_ms: Bazett's QT / sqrt(RR in s) **[ref]** with RR = rr_pre (rr_post for the first beat, the only RR
  it has; NaN in a one-beat record).
- p_amp_mv, r_amp_mv, t_amp_mv: the length of the heart vector at the wave's apex, measured from the isoelectric
  vector (the 20 ms before the QRS onset), in the Kors VCG (``vcg.ecg_to_vcg(..., "kors")``, the VCG that best
  matches recorded Frank leads **[ref]**): P and R take the largest length inside the wave, T its length at the
  T peak. Vector lengths are orientation-free, so they do not depend on which lead happens to align with the
  wave; the orientation is in the axis.
- st_mv: the ST vector magnitude **[ref]** (the length of the heart vector 60 ms after the QRS offset, the J
  point, from the isoelectric vector): 0 for an isoelectric ST segment, 0.1 mV is the usual significance level.
  Being a length it is never negative: ST elevation in one lead is depression in the opposite one.
- qrs_axis_deg: the electrical axis, the direction of the *mean* QRS vector in the frontal plane **[ref]**, the
  clinical convention (the net QRS area in leads I and aVF) and the VCG chapter's: the frontal vector (X = lead I,
  Y = 2 aVF / sqrt(3), Einthoven's hexaxial frame, minus the isoelectric vector) averaged over the QRS,
  atan2(Y, X) in degrees: 0 points to the patient's left (lead I), +90 to the feet (aVF), as the clinical axis is
  drawn; range (-180, 180]. Why the limb leads rather than the Kors VCG: on LUDB (true millivolts, the 151 records
  of the tuning split with an axis class), the Spearman correlation of the record's axis with the cardiologists'
  axis classes (left deviation < horizontal < normal < vertical < right deviation) is 0.86 for this choice, 0.89
  for the direction of the peak limb-lead vector (the definition used before: close, but not the clinical one),
  0.78 and 0.77 for the Kors VCG's peak and mean vectors (``benchmarks/bench_delineation.py --split tune --axis``):
  the clinical axis is a limb-lead notion, and Kors' Y mixes in the precordial leads.
- p_present: 1.0 if a P wave was found before the QRS, else 0.0.

Per record (``RECORD_FEATURES``): hr_bpm = 60000 / mean RR; rr_std_ms = standard deviation of the RR intervals
(SDNN, ddof=1; NaN with fewer than 2 intervals); rmssd_ms = root mean square of successive RR differences (NaN
with fewer than 2 intervals); then ``median_<beat feature>``: the median over the record's beats of each beat
feature, ignoring NaNs (the feature vector of the record's typical beat). The axis is an angle, so its median is
the circular median (``circular_median_deg``) **[ref]**: beats at +179 and -179 degrees have a median of 180,
not 0. Why the median rather than the circular mean: like the other medians it ignores a few odd beats (an
ectopic beat, a misplaced QRS bound), and on beats that do not straddle +-180 degrees it equals the ordinary
median.

Fallbacks, documented rather than raised **[ours]**: a record with no detectable beat gives 0 beats, empty arrays
and all record features NaN (Beat-SSL then has no beat to contrast in that record: no beat loss for it); a
record with one beat has NaN RR features; a flat lead (peak-to-peak < ``beats.FLAT_LEAD_MV``) is ignored by the
detector and the delineator; the VCG still reads it as 0 mV, so the amplitudes and axis are biased when one of
the 8 independent leads is missing. NaNs, a wrong shape and a wrong lead order raise a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .beats import MIN_DURATION_S, bandpass
from .delineation import Delineation, _check_peaks, _delineate
from .validation import check_ecg, check_fs
from .vcg import ecg_to_vcg
from .vocabulary import LEADS, check_lead_order

BEAT_FEATURES = ("rr_pre_ms", "rr_post_ms", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_amp_mv", "r_amp_mv",
                 "t_amp_mv", "st_mv", "qrs_axis_deg", "p_present")
RECORD_FEATURES = ("hr_bpm", "rr_std_ms", "rmssd_ms") + tuple(f"median_{name}" for name in BEAT_FEATURES)
#: Time after the J point (QRS offset) at which the ST level is read.
ST_AFTER_J_S = 0.06
#: Length of the isoelectric stretch before the QRS onset that the amplitudes are measured from.
ISOELECTRIC_S = 0.02


@dataclass
class ECGFeatures:
    """Features of one record.

    r_peaks: (n_beats,) int64 R-peak samples. delineation: the ``Delineation`` of those beats.
    beats: (n_beats, len(BEAT_FEATURES)) float64. record: (len(RECORD_FEATURES),) float64. NaN where undefined.
    """

    r_peaks: np.ndarray
    delineation: Delineation
    beats: np.ndarray
    record: np.ndarray
    fs: float

    def __len__(self) -> int:
        return len(self.r_peaks)

    def beat_table(self):
        """The beat features as a pandas DataFrame, one row per beat, indexed by the R-peak sample."""
        import pandas as pd

        return pd.DataFrame(self.beats, columns=list(BEAT_FEATURES), index=pd.Index(self.r_peaks, name="r_peak"))

    def record_series(self):
        """The record features as a pandas Series."""
        import pandas as pd

        return pd.Series(self.record, index=list(RECORD_FEATURES))


def rr_features(r_peaks: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(rr_pre_ms, rr_post_ms), each (n_beats,), NaN where the neighbouring beat does not exist."""
    rr = np.diff(np.asarray(r_peaks, dtype=np.float64)) * 1000.0 / fs
    pre = np.concatenate([[np.nan], rr]) if len(r_peaks) else np.zeros(0)
    post = np.concatenate([rr, [np.nan]]) if len(r_peaks) else np.zeros(0)
    return pre, post


def circular_median_deg(angles) -> float:
    """Circular median of angles in degrees, in (-180, 180]; NaN for no angle (NaNs are ignored).

    The angle that minimises the sum of arc distances to the others (Mardia & Jupp, Directional Statistics,
    2000) **[ref]**, searched among the data themselves; where several minimise it (an even count), their circular
    mean: on angles within a half circle this is the ordinary median, taken on the circle.
    """
    a = np.asarray(angles, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return np.nan
    arc = np.abs((a[:, None] - a[None, :] + 180.0) % 360.0 - 180.0)  # (candidate, angle) arc distances
    cost = arc.sum(axis=1)
    best = a[np.isclose(cost, cost.min(), rtol=0.0, atol=1e-9 * len(a))]
    angle = np.degrees(np.arctan2(np.sin(np.radians(best)).mean(), np.cos(np.radians(best)).mean()))
    return 180.0 if angle <= -180.0 else float(angle)


#: Beat features that are angles: their record median is circular.
ANGULAR_BEAT_FEATURES = ("qrs_axis_deg",)


def record_features(beats: np.ndarray, r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """(len(RECORD_FEATURES),) from a record's beat features and R peaks (see the module docstring)."""
    rr = np.diff(np.asarray(r_peaks, dtype=np.float64)) * 1000.0 / fs
    hr = 60000.0 / rr.mean() if len(rr) else np.nan
    sdnn = rr.std(ddof=1) if len(rr) >= 2 else np.nan
    rmssd = np.sqrt(np.mean(np.diff(rr) ** 2)) if len(rr) >= 2 else np.nan
    medians = np.full(len(BEAT_FEATURES), np.nan)
    for j, name in enumerate(BEAT_FEATURES):
        column = beats[:, j][np.isfinite(beats[:, j])]
        if len(column):
            medians[j] = circular_median_deg(column) if name in ANGULAR_BEAT_FEATURES else np.median(column)
    return np.concatenate([[hr, sdnn, rmssd], medians])


def _ms(a: np.ndarray, b: np.ndarray, fs: float) -> np.ndarray:
    """(b - a) in ms where both are placed (>= 0), else NaN."""
    return np.where((a >= 0) & (b >= 0), (b - a) * 1000.0 / fs, np.nan)


def beat_features(signal, fs: float, d: Delineation) -> np.ndarray:
    """(n_beats, len(BEAT_FEATURES)) features of a (12, T) signal (mV, ``LEADS`` order) and its delineation."""
    fs = check_fs(fs)
    return _beat_features(check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S), fs, d)


def _beat_features(signal: np.ndarray, fs: float, d: Delineation, clean: np.ndarray | None = None) -> np.ndarray:
    """``beat_features`` of a checked signal; clean: its 0.5-40 Hz band when the caller has it."""
    n_beats, n = len(d), signal.shape[1]
    out = np.full((n_beats, len(BEAT_FEATURES)), np.nan)
    column = {name: j for j, name in enumerate(BEAT_FEATURES)}
    rr_pre, rr_post = rr_features(d.r_peak, fs)
    out[:, column["rr_pre_ms"]], out[:, column["rr_post_ms"]] = rr_pre, rr_post
    out[:, column["pr_ms"]] = _ms(d.p_on, d.qrs_on, fs)
    out[:, column["qrs_ms"]] = _ms(d.qrs_on, d.qrs_off, fs)
    qt = _ms(d.qrs_on, d.t_off, fs)
    out[:, column["qt_ms"]] = qt
    rr_s = np.where(np.isfinite(rr_pre), rr_pre, rr_post) / 1000.0
    out[:, column["qtc_ms"]] = qt / np.sqrt(rr_s)
    out[:, column["p_present"]] = (d.p_peak >= 0).astype(np.float64)

    clean = bandpass(signal, fs, 0.5, 40.0) if clean is None else clean
    heart = ecg_to_vcg(clean, "kors")  # (3, T)
    limb = np.stack([clean[LEADS.index("I")], clean[LEADS.index("aVF")] * 2.0 / np.sqrt(3.0)])  # frontal (2, T)
    iso_len = max(1, int(round(ISOELECTRIC_S * fs)))
    st_shift = int(round(ST_AFTER_J_S * fs))
    for k in range(n_beats):
        on, off = d.qrs_on[k], d.qrs_off[k]
        if on < 0 or off < 0:
            continue
        iso = heart[:, max(0, on - iso_len):on + 1].mean(axis=1, keepdims=True)
        qrs = heart[:, on:off + 1] - iso
        out[k, column["r_amp_mv"]] = np.linalg.norm(qrs, axis=0).max()
        mean_frontal = limb[:, on:off + 1].mean(axis=1) - limb[:, max(0, on - iso_len):on + 1].mean(axis=1)
        out[k, column["qrs_axis_deg"]] = np.degrees(np.arctan2(mean_frontal[1], mean_frontal[0]))
        if d.p_on[k] >= 0 and d.p_off[k] >= 0:
            p = heart[:, d.p_on[k]:d.p_off[k] + 1] - iso
            out[k, column["p_amp_mv"]] = np.linalg.norm(p, axis=0).max()
        if d.t_peak[k] >= 0:
            out[k, column["t_amp_mv"]] = np.linalg.norm(heart[:, d.t_peak[k]] - iso[:, 0])
        if off + st_shift < n:
            out[k, column["st_mv"]] = np.linalg.norm(heart[:, off + st_shift] - iso[:, 0])
    return out


def extract(signal, fs: float, r_peaks=None, leads=LEADS) -> ECGFeatures:
    """R peaks, delineation, per-beat and per-record features of one 12-lead ECG.

    signal: (12, T) in mV, rows in the order ``leads`` (which must be ``LEADS``: a ValueError says how to reorder
    otherwise). fs: Hz. r_peaks: optional precomputed R peaks (default ``beats.detect_r_peaks``).
    Returns ``ECGFeatures``; see the module docstring for units, NaNs and the zero-beat fallback.
    """
    fs = check_fs(fs)
    check_lead_order(leads)
    x = check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S)
    # Validated once, here; the 0.5-40 Hz band computed once and shared by the R-peak refinement, the
    # delineation (at 500 Hz; slower records are delineated after upsampling) and the amplitudes and axis.
    clean = bandpass(x, fs, 0.5, 40.0)
    peaks = None if r_peaks is None else _check_peaks(r_peaks, x.shape[1])
    d = _delineate(x, fs, peaks, clean)
    beats = _beat_features(x, fs, d, clean)
    return ECGFeatures(r_peaks=d.r_peak, delineation=d, beats=beats, record=record_features(beats, d.r_peak, fs),
                       fs=fs)
