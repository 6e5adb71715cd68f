"""R peaks and beat windows: where the beats of a 12-lead ECG are, and one fixed-length window around each.

Beat-SSL needs both **[paper]**: a peak detector, run once on the un-augmented ECG, gives the R-peak locations
from which the beat projector pools the encoder's feature map, and from which the beat features and classes are
computed (``delineation``, ``features``, ``targets``).

The detector **[ours, chosen by measured accuracy]** is Pan-Tompkins-style (Pan & Tompkins, IEEE TBME 1985)
**[ref]**, but on all leads at once:
1. each lead is band-passed to 5-15 Hz (the QRS band of Pan-Tompkins; 2nd-order Butterworth, zero phase),
   differentiated and squared, and the leads are summed: the squared *spatial velocity* of the QRS band, which is
   large in every QRS whatever its axis, so no single-lead morphology (a QS complex, a small R in a lead
   perpendicular to the axis) can hide a beat. Flat leads add nothing to the sum, so they are ignored by design.
2. a 100 ms moving-window integration gives one smooth hump per QRS;
3. the humps are local maxima at least ``REFRACTORY_S`` = 250 ms apart (a refractory period: 240 bpm at most);
   a hump is a beat when it exceeds ``THRESHOLD`` x the record's typical QRS hump: the median of the humps of at
   least 0.3 x the 90th percentile of all humps (robust to a few huge artefacts and a few small beats), or of
   0.3 x the largest hump when that is not a clear QRS (a record with one or two beats). A record whose typical
   hump does not stand ``MIN_CONTRAST`` times above the energy between beats (noise, a flat line) has no
   detectable beat: the detector returns none rather than invent them.
   A hump is not a QRS when the signal does not come back: a QRS leaves the leads near the level it found them
   at, while a baseline step (an electrode moving) or an amplifier/filter transient at the record's start moves
   them and stays. Each hump's ends are the nearest samples, within ``ARTEFACT_SEARCH_S`` on each side, where the
   energy has fallen below ``QUIET_FRACTION`` of the hump (the record's edge when it has not); a hump whose
   leads' net change between its ends (summed over leads, 20 ms means of the unfiltered signal) exceeds
   ``MAX_NET_CHANGE`` x their excursion (summed peak-to-peak between the ends) is an artefact and is dropped
   before anything else, so it weighs neither on the typical hump nor on the search-back. Measured
   (``tests/test_robustness.py`` and ``benchmarks/bench_rpeaks.py``): at most about 0.4 for the QRS complexes of
   LUDB and PTB-XL, above 0.8 for steps and start transients at 100 and 500 Hz. Within the refractory period
   the larger hump wins, so a step's hump can hide a QRS next to it (LUDB record 15 has a step 100 ms after a
   QRS): around a dropped artefact, the humps are chosen again among all the energy's local maxima. A QRS
   closer than about 150 ms to a step, whose energy merges with the step's, is still lost with it; a QRS cut by
   the record's edge before its apex cannot be told from a transient and is dropped with them.
4. search-back: a gap longer than ``SEARCH_BACK_RR`` x the median RR is searched again at half the threshold,
   as Pan-Tompkins does for beats missed by an amplitude drop; a hump closer than ``T_WAVE_S`` = 360 ms to the
   previous beat that is less than half its size is taken for a T wave (Pan-Tompkins' T-wave rule).
5. refinement to the R apex: in each baseline-free (0.5-40 Hz) lead, the maximum of the signal within
   +-``REFINE_S`` = 30 ms of the hump; the beat's R peak is the median of these apexes over the leads (computed
   so that it cannot jump between beats, see ``_refine``). Why the signed maximum and the median over leads:
   LUDB's cardiologists mark each lead's QRS peak at that lead's maximum inside the QRS (within 3 samples in
   92 % of the 21,843 QRS complexes annotated with both bounds, against 58 % for the maximum of |x|), and the
   benchmark's reference is the median over leads of those marks. The window and the threshold were chosen on
   LUDB (the only annotated data here); the synthetic ECG checks them independently.

``benchmarks/bench_rpeaks.py`` measures it on all 200 LUDB records (and the synthetic ECG) against wfdb's XQRS and
GQRS on lead II, and prints the contrast of real and noise records; the book's beats chapter gives the figures.

Beat windows **[ours]** (the paper does not give its beat extent): ``pre_ms`` = 250 ms before and ``post_ms`` =
400 ms after the R peak cover the P wave (its onset lies one PR interval, <= 200 ms measured from the P onset,
before the QRS onset, itself a few tens of ms before the R peak) and the T wave at ordinary heart rates. Beats cut by the record's edges are either dropped (``edge='drop'``) or zero-padded (``edge='pad'``);
either way ``BeatWindows.complete`` says which windows are whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, find_peaks, sosfiltfilt

from .validation import check_ecg, check_fs
from .vocabulary import LEADS

#: Peak-to-peak amplitude (mV) below which a lead counts as flat (disconnected, or zeroed): no ECG is that small.
FLAT_LEAD_MV = 0.01
#: Shortest signal the detector accepts, in seconds (a beat needs room for its filters and windows).
MIN_DURATION_S = 1.0
QRS_BAND_HZ = (5.0, 15.0)
INTEGRATION_S = 0.10
REFRACTORY_S = 0.25
THRESHOLD = 0.2
#: A record has beats only if its typical hump is this many times the energy's 25th percentile (the level between
#: QRS complexes): 52 or more on every LUDB record, 11 or more on the synthetic ECG (200 records, seed 0), at most
#: 1.6 for white noise (``benchmarks/bench_rpeaks.py`` prints them).
MIN_CONTRAST = 5.0
SEARCH_BACK_RR = 1.66
#: A hump's ends are where the energy falls below this fraction of the hump (step 3: artefacts) ...
QUIET_FRACTION = 0.2
#: ... searched for this far on each side (a wide QRS's energy falls off within about 150 ms of its hump) ...
ARTEFACT_SEARCH_S = 0.3
#: ... and a hump whose net change between its ends exceeds this fraction of its excursion is not a QRS.
MAX_NET_CHANGE = 0.6
#: Length of the means that read the signal's level at a hump's ends (averages out noise and hum).
LEVEL_S = 0.02
T_WAVE_S = 0.36
REFINE_S = 0.03


def usable_leads(x: np.ndarray) -> np.ndarray:
    """(n_leads,) bool: the leads that are not flat (peak-to-peak >= ``FLAT_LEAD_MV``)."""
    return np.ptp(x, axis=1) >= FLAT_LEAD_MV


def bandpass(x: np.ndarray, fs: float, low_hz: float | None, high_hz: float | None, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth filter of each row of (..., T) ``x``: band-pass, or high-/low-pass when one cut-off is
    None. A high cut-off at or above 0.45 fs is dropped, so the same call works on 100 Hz and 500 Hz records."""
    high_hz = None if high_hz is None or high_hz >= 0.45 * fs else high_hz
    if low_hz is None and high_hz is None:
        return x
    if low_hz is None:
        sos = butter(order, high_hz, btype="lowpass", fs=fs, output="sos")
    elif high_hz is None:
        sos = butter(order, low_hz, btype="highpass", fs=fs, output="sos")
    else:
        sos = butter(order, (low_hz, high_hz), btype="bandpass", fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=-1)


def qrs_energy(x: np.ndarray, fs: float) -> np.ndarray:
    """(T,) the detector's feature: squared derivative of the 5-15 Hz band, summed over leads, 100 ms integrated."""
    band = bandpass(x, fs, *QRS_BAND_HZ)
    slope = np.gradient(band, axis=-1) * fs
    energy = (slope**2).sum(axis=0)
    return uniform_filter1d(energy, max(1, int(round(INTEGRATION_S * fs))), mode="nearest")


def energy_humps(env: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of the local maxima of a ``qrs_energy`` at least ``REFRACTORY_S`` apart: the candidate beats."""
    return _local_maxima(env, max(1, int(round(REFRACTORY_S * fs))))


def _local_maxima(env: np.ndarray, distance: int | None) -> np.ndarray:
    # Zeros at both ends let a QRS cut by the record's edge, whose energy is largest at the edge, count as a hump.
    humps, _ = find_peaks(np.pad(env, 1), distance=distance)
    return np.clip(humps - 1, 0, len(env) - 1)


def _qrs_humps(x: np.ndarray, env: np.ndarray, fs: float) -> np.ndarray:
    """The energy humps that are not artefacts (step 3), at least ``REFRACTORY_S`` apart."""
    humps = energy_humps(env, fs)
    artefacts = humps[net_change(x, env, humps, fs) > MAX_NET_CHANGE]
    if len(artefacts) == 0:
        return humps
    # Within the refractory period the larger hump wins, so an artefact may have hidden a QRS next to it: choose
    # again among all the local maxima of the energy, without those near an artefact that are artefacts too.
    distance = max(1, int(round(REFRACTORY_S * fs)))
    peaks = _local_maxima(env, None)
    near = np.abs(peaks[:, None] - artefacts[None, :]).min(axis=1) < distance
    keep = ~near
    keep[near] = net_change(x, env, peaks[near], fs) <= MAX_NET_CHANGE
    peaks = peaks[keep]
    chosen = np.zeros(len(peaks), dtype=bool)
    taken = np.zeros(len(peaks), dtype=bool)
    for i in np.argsort(-env[peaks], kind="stable"):  # scipy's `distance` rule: the highest peaks first
        if not taken[i]:
            chosen[i] = True
            taken |= np.abs(peaks - peaks[i]) < distance
    return peaks[chosen]


def _typical_hump(env: np.ndarray, height: np.ndarray) -> tuple[float, float]:
    """(the record's typical QRS hump, its contrast: typical / the energy's 25th percentile); step 3."""
    between = np.percentile(env, 25)
    typical = np.median(height[height >= 0.3 * np.percentile(height, 90)])
    if not typical > MIN_CONTRAST * between:
        # Beats may be fewer than 10 % of the humps (a record with one or two beats): judge by the largest ones.
        typical = np.median(height[height >= 0.3 * height.max()])
    contrast = typical / between if between > 0 else (np.inf if typical > 0 else 0.0)
    return typical, contrast


def net_change(x: np.ndarray, env: np.ndarray, humps: np.ndarray, fs: float) -> np.ndarray:
    """(n_humps,) each hump's net change / excursion of the leads between its quiet ends (step 3: artefacts).

    x: (n_leads, T) the unfiltered, non-flat leads; env: their ``qrs_energy``; humps: sample indices.
    About 0 for a deflection that comes back to its level (a QRS), about 1 for a step or a decaying transient.
    """
    n = x.shape[1]
    level = uniform_filter1d(x, max(1, int(round(LEVEL_S * fs))), axis=1, mode="nearest")
    reach = int(round(ARTEFACT_SEARCH_S * fs))
    out = np.zeros(len(humps))
    for k, h in enumerate(humps):
        lo, hi = max(0, h - reach), min(n - 1, h + reach)
        quiet = env[lo:hi + 1] < QUIET_FRACTION * env[h]
        before = np.flatnonzero(quiet[:h - lo])
        after = np.flatnonzero(quiet[h - lo:])
        start = lo + before[-1] if len(before) else lo
        stop = h + after[0] if len(after) else hi
        excursion = np.ptp(level[:, start:stop + 1], axis=1).sum()
        if excursion > 0:
            out[k] = np.abs(level[:, stop] - level[:, start]).sum() / excursion
    return out


def qrs_contrast(signal, fs: float) -> float:
    """The no-beat rule's statistic of one ECG (step 3): its typical QRS hump / the energy between beats.

    signal: (12, T) or (T,), mV. A record has beats when this exceeds ``MIN_CONTRAST``; 0.0 for a record with no
    usable lead or no hump away from its edges.
    """
    fs = check_fs(fs)
    x = check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S, single_lead=True)
    x = x[usable_leads(x)]
    if len(x) == 0:
        return 0.0
    env = qrs_energy(x, fs)
    humps = energy_humps(env, fs)
    humps = humps[(humps > 0) & (humps < len(env) - 1)]
    return float(_typical_hump(env, env[humps])[1]) if len(humps) else 0.0


def _select_beats(x: np.ndarray, env: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of the energy humps of the non-flat leads ``x`` that are beats (steps 3-4 of the module
    docstring)."""
    humps = _qrs_humps(x, env, fs)
    if len(humps) == 0:
        return humps
    height = env[humps]
    # Humps at the very first or last sample (a cut QRS, or a filter's edge transient) may be beats, but are not
    # trusted to say how large a QRS is.
    interior = (humps > 0) & (humps < len(env) - 1)
    if not interior.any():
        return humps[:0]
    typical, contrast = _typical_hump(env, height[interior])
    if not contrast > MIN_CONTRAST:
        return humps[:0]
    threshold = THRESHOLD * typical
    beats = humps[height >= threshold]
    beats = _drop_t_waves(beats, env, fs)
    if len(beats) >= 2:
        rr = np.diff(beats)
        limit = SEARCH_BACK_RR * np.median(rr)
        found = [beats]
        for start, stop in zip(beats[:-1], beats[1:]):
            if stop - start <= limit:
                continue
            gap = humps[(humps > start + REFRACTORY_S * fs) & (humps < stop - REFRACTORY_S * fs)]
            gap = gap[env[gap] >= 0.5 * threshold]
            if len(gap):
                found.append(gap[[np.argmax(env[gap])]])
        beats = _drop_t_waves(np.sort(np.concatenate(found)), env, fs)
    return beats


def _drop_t_waves(beats: np.ndarray, env: np.ndarray, fs: float) -> np.ndarray:
    """Drop a hump within ``T_WAVE_S`` of the previous beat that is less than half that beat's size."""
    keep = []
    for b in beats:
        if keep and b - keep[-1] < T_WAVE_S * fs and env[b] < 0.5 * env[keep[-1]]:
            continue
        keep.append(b)
    return np.asarray(keep, dtype=np.int64)


def detect_r_peaks(signal, fs: float) -> np.ndarray:
    """R-peak sample indices of a 12-lead ECG, sorted.

    signal: (12, T) in ``LEADS`` order, or (T,) one lead, in mV. fs: sampling rate in Hz.
    Returns (n_beats,) int64, strictly increasing, in [0, T). A record with no detectable QRS (flat, or noise
    without any dominant hump) gives an empty array: no beats, so no beat loss for that record.
    Raises ValueError for a wrong shape, NaNs (naming the lead) or a signal shorter than 1 s.
    """
    fs = check_fs(fs)
    return _detect(check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S, single_lead=True), fs)


def _detect(x: np.ndarray, fs: float, clean: np.ndarray | None = None) -> np.ndarray:
    """``detect_r_peaks`` of a checked (n_leads, T) ``x``. clean: ``bandpass(x, fs, 0.5, 40.0)`` of all its leads
    when the caller has it (``features.extract`` shares it with the delineation and the features)."""
    usable = usable_leads(x)
    if not usable.any():
        return np.zeros(0, dtype=np.int64)
    beats = _select_beats(x[usable], qrs_energy(x[usable], fs), fs)
    if len(beats) == 0:
        return beats.astype(np.int64)
    clean = bandpass(x[usable], fs, 0.5, 40.0) if clean is None else clean[usable]
    return _refine(clean, beats, fs)


def _refine(clean: np.ndarray, humps: np.ndarray, fs: float) -> np.ndarray:
    """Move each hump to the leads' consensus R apex (step 5 of the module docstring).

    clean: (n_leads, T) baseline-free leads; humps: (n_beats,) energy maxima. Each lead's apex is its maximum
    within +-``REFINE_S`` of the hump; the consensus is the median over leads, taken as a per-lead offset from the
    hump that is fixed for the record plus a per-beat shift, so that a bimodal spread of the leads' apexes (wide,
    paced or bundle-branch-block complexes) cannot make the consensus jump between the two modes from beat to beat.
    """
    half = max(1, int(round(REFINE_S * fs)))
    starts = np.clip(humps - half, 0, clean.shape[1] - 2 * half - 1)
    segments = clean[:, starts[:, None] + np.arange(2 * half + 1)]  # (n_leads, n_beats, 2 half + 1)
    offsets = starts + np.argmax(segments, axis=2) - humps  # (n_leads, n_beats)
    per_lead = np.median(offsets, axis=1, keepdims=True)
    per_beat = np.median(offsets - per_lead, axis=0)
    refined = humps + np.round(np.median(per_lead) + per_beat).astype(np.int64)
    refined = np.unique(np.clip(refined, 0, clean.shape[1] - 1))
    keep = np.concatenate([[True], np.diff(refined) >= REFRACTORY_S * fs / 2])
    return refined[keep]


def match_peaks(detected, reference, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected to reference peaks within ``tolerance`` samples, closest pairs first.

    Returns (detected_index, reference_index), int arrays of equal length: the matched pairs. Unmatched reference
    peaks are missed beats (false negatives), unmatched detections false positives.
    """
    detected, reference = np.asarray(detected, dtype=np.int64), np.asarray(reference, dtype=np.int64)
    distance = np.abs(detected[:, None] - reference[None, :])
    i, j = np.nonzero(distance <= tolerance)
    order = np.argsort(distance[i, j], kind="stable")
    used_d, used_r, pairs = set(), set(), []
    for a, b in zip(i[order], j[order]):
        if a not in used_d and b not in used_r:
            used_d.add(a)
            used_r.add(b)
            pairs.append((a, b))
    pairs.sort()
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


@dataclass
class BeatWindows:
    """Fixed-length windows around R peaks.

    windows: (n_beats, n_leads, L) float32, L = pre + post + 1 samples, the R peak at index ``centre``.
    r_peaks: (n_beats,) int64 R peaks of the windows kept (all of them with edge='pad').
    centre: index of the R peak inside each window (= pre samples).
    complete: (n_beats,) bool, True where the window lies wholly inside the record; False marks a zero-padded one.
    """

    windows: np.ndarray
    r_peaks: np.ndarray
    centre: int
    complete: np.ndarray

    def __len__(self) -> int:
        return len(self.r_peaks)


def beat_windows(signal, r_peaks, fs: float, pre_ms: float = 250.0, post_ms: float = 400.0,
                 edge: str = "drop") -> BeatWindows:
    """Cut a window of ``pre_ms`` before to ``post_ms`` after each R peak.

    signal: (12, T) or (T,) (then windows are (n_beats, 1, L)). r_peaks: sample indices in [0, T).
    edge: 'drop' leaves out windows that cross the record's edges; 'pad' keeps them, zero-filled outside the
    record, with ``complete`` False. Returns ``BeatWindows`` (see there); zero beats give (0, n_leads, L).
    """
    fs = check_fs(fs)
    x = check_ecg(signal, fs=fs, min_duration_s=MIN_DURATION_S, single_lead=True)
    if edge not in ("drop", "pad"):
        raise ValueError(f"edge: expected 'drop' or 'pad', got {edge!r}")
    if not (np.isfinite(pre_ms) and np.isfinite(post_ms) and pre_ms >= 0 and post_ms >= 0):
        raise ValueError(f"pre_ms, post_ms: expected non-negative durations in ms, got {pre_ms!r}, {post_ms!r}")
    peaks = np.asarray(r_peaks)
    if peaks.ndim != 1 or (len(peaks) and not np.issubdtype(peaks.dtype, np.integer)):
        raise ValueError(f"r_peaks: expected a 1-D array of integer sample indices, got {peaks.dtype} {peaks.shape}")
    n = x.shape[1]
    if len(peaks) and (peaks.min() < 0 or peaks.max() >= n):
        raise ValueError(f"r_peaks: expected indices in [0, {n}), got {peaks.min()}..{peaks.max()}")
    peaks = peaks.astype(np.int64)
    pre = int(round(pre_ms * fs / 1000.0))
    post = int(round(post_ms * fs / 1000.0))
    complete = (peaks - pre >= 0) & (peaks + post < n)
    if edge == "drop":
        peaks = peaks[complete]
        complete = complete[complete]
    padded = np.pad(x, ((0, 0), (pre, post)))
    index = peaks[:, None] + np.arange(pre + post + 1)  # positions in the padded signal
    windows = padded[:, index].transpose(1, 0, 2).astype(np.float32)
    return BeatWindows(windows=windows, r_peaks=peaks, centre=pre, complete=complete)
