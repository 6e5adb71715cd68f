"""Embedded synthetic 12-lead ECG: a heart dipole traced in 3-D, projected to the 12 leads, with exact labels.

Why: every chapter must run offline, in seconds, with ground truth that real data never has (exact wave
boundaries, exact R peaks, the intervals each record was drawn with). It stands in for PTB-XL or LUDB only when
asked (``load_dataset(..., fallback="synthetic")``, as the book does) **[ours]**.

The model **[ours]**, in the vectorcardiogram's Frank axes (X to the patient's left, Y to the feet, Z to the back):
- Each beat is three waves, P, QRS and T, and each wave is a short sum of smooth pulses, each pulse a 3-D dipole
  vector times a raised-cosine bump (``sin^2`` rise, optional flat top, ``cos^2`` fall) of compact support. The
  sum traces the wave's loop in 3-D: e.g. the QRS runs septal (right, anterior) -> free wall (left, inferior) ->
  posterobasal (back, up) and so gives the small septal q in I/V6, the r in V1 and the R-wave progression V1-V6.
- The dipole is projected to the 8 independent leads (I, II, V1-V6) by the Dower matrix **[ref]**
  (``vcg.DOWER``) and the 4 others follow from Einthoven/Goldberger (``vcg.eight_to_twelve``), computed in float32
  so that ``III == II - I`` etc. hold exactly in the stored signals.
- Intervals **[ref, textbook normals]**: PR 120-200 ms, P 80-110 ms, QRS 80-100 ms, QT from the preceding RR by
  Bazett (QT = QTc * sqrt(RR), QTc ~ 405 +- 15 ms), heart rate 50-100 bpm with respiratory sinus arrhythmia and
  a few % of RR jitter.
- Recording: per-lead gains (+-5 %), baseline wander (3 sinusoids at 0.05-0.5 Hz mixed into the leads, ~0.1-0.3 mV),
  white noise (5-20 uV), 50 or 60 Hz powerline hum (up to 20 uV; left out when fs < 2.5x the line frequency, where
  a recorder's anti-alias filter would have removed it). Noise goes into the 8 independent leads, as electrode
  noise does, so the derived leads carry it consistently.

Classes (PTB-XL superclasses, drawn with roughly PTB-XL's frequencies: NORM 45 %, MI 25 %, STTC 24 %, CD 22 %,
HYP 12 %; NORM alone, a pathological record has one or two classes) change the dipole the way the disease
changes the heart's activation:
- CD: right or left bundle-branch block or a nonspecific intraventricular delay, QRS 120-170 ms (RBBB: slow
  terminal right-anterior forces, rSR' in V1, wide S in I/V6; LBBB: no septal q, broad notched R in I/V5/V6, QS in
  V1), T discordant to the QRS; a first-degree AV block (PR 210-300 ms) in 30 %.
- MI: an old infarct's pathological Q waves: initial forces turned away from the territory (anterior: QS / lost R in
  V1-V4; inferior: Q in II, III, aVF; lateral: Q in I, aVL, V5, V6), often with T inversion there.
- STTC: ST depression or elevation of 0.1-0.3 mV (in the lead where it is largest) and/or T inversion.
- HYP: left ventricular hypertrophy, QRS voltage x1.6-2.2 turned left-posterior (deep S in V1-V2, tall R in V5-V6,
  Sokolow-Lyon index mostly > 3.5 mV), a strain pattern (ST depression, T opposite the QRS) in half, a left atrial
  abnormality (broad, notched P, negative terminal P in V1) in 40 %.
- Rhythm: 12 % of pathological records (NORM never: atrial fibrillation is not a normal ECG) are 'afib-like':
  no P waves, a fibrillatory baseline (4.5-8 Hz atrial dipole, 30-100 uV), irregularly irregular RR (log-normal,
  CV 15-30 %). Atrial fibrillation is a rhythm statement, not one of PTB-XL's diagnostic superclasses, so the
  record keeps the labels it was drawn with; ``meta['rhythm']`` says which it is.

Labels and their conventions **[ours]**:
- Wave boundaries are the exact support of the wave's pulses: a sample belongs to a wave when it lies strictly
  inside it, so ``onset``/``offset`` are the first/last such sample (inclusive). They are the dipole's boundaries
  and therefore the same in all 12 leads (LUDB's cardiologists mark each lead separately).
- Peaks: the sample inside the wave where the noiseless dipole, projected on the wave's mean vector (its 3-D
  electrical axis), is largest: the apex of the wave in a lead aligned with that axis. For the QRS this is the R
  peak; ``r_peaks`` are these QRS peaks. (The dipole's magnitude ``|d(t)|`` would be the other natural choice,
  but a round QRS loop has two near-equal maxima, and the peak would jump between them from beat to beat.)
- Record edges: beats run on before and after the record, so waves cut by an edge are drawn (partially). ``masks``
  label every sample inside the record, fragments included. ``waves`` and ``r_peaks`` list a wave only when its
  peak lies inside the record, with onset/offset clipped to ``[0, n_samples - 1]``; a fragment whose peak lies
  outside appears in ``masks`` only, at the record's first or last samples.
- Folds: record i goes to fold ``i % 10 + 1``: balanced, and, as records are drawn independently, stratified in
  expectation; each record is its own patient.

Determinism: record i is generated from ``numpy.random.default_rng([seed, i])`` alone, so the same seed gives the
same dataset and any prefix of a larger dataset equals the smaller one.
"""

from __future__ import annotations

import numpy as np

from .records import ECGDataset, ECGRecord
from .vocabulary import LEADS, SUPERCLASSES
from .vcg import DOWER, eight_to_twelve

RHYTHMS = ("sinus", "afib-like")
#: VCG (X, Y, Z) -> 12 leads, shape (12, 3): Dower for the 8 independent leads plus the 4 derived ones.
LEAD_MATRIX = eight_to_twelve(DOWER)
#: Probability of NORM, then of each pathological class as the first (and then second) label of a record.
P_NORM = 0.45
P_SECOND_CLASS = 0.5
PATHOLOGY_WEIGHTS = {"MI": 0.32, "STTC": 0.30, "CD": 0.25, "HYP": 0.13}
P_AFIB = 0.12
#: Wave codes in masks (index into ``vocabulary.WAVES``).
P_CODE, QRS_CODE, T_CODE = 1, 2, 3
_WAVE_NAMES = {P_CODE: "P", QRS_CODE: "QRS", T_CODE: "T"}
_GAP_S = 0.04  # shortest isoelectric gap between one beat's T and the next beat's P (or QRS)
_MIN_RR_S = 0.3
_PAD_S = 0.5  # time simulated beyond each edge, longer than any wave, to find the peaks of cut waves


def _pulses(*rows) -> np.ndarray:
    """Pulses of a wave template, (n, 6): centre, rise and fall widths (fractions of the wave), dipole X, Y, Z (mV)."""
    return np.array(rows, dtype=float)


def _normal_templates() -> dict:
    """Canonical normal P, QRS and T loops (before the record's own rotation and scaling)."""
    return {
        # Right atrium (inferior, anterior) then left atrium (left, posterior): the P is smooth, V1 biphasic.
        "P": _pulses((0.35, 0.35, 0.30, 0.03, 0.10, -0.05), (0.62, 0.30, 0.38, 0.09, 0.06, 0.05)),
        "QRS": _pulses(
            (0.15, 0.15, 0.20, -0.12, 0.04, -0.16),  # septum, left to right and anterior: q in I/V6, r in V1
            (0.38, 0.26, 0.22, 0.70, 0.75, -0.25),  # apex and free wall: R in II, R growing in V2-V4
            (0.56, 0.22, 0.24, 0.60, 0.20, 0.85),  # lateral and posterior wall: S in V1-V3, R in V5-V6
            (0.78, 0.18, 0.22, -0.15, -0.20, 0.08),  # posterobasal, late: small s in I/II/V6
        ),
        # Slow rise, faster fall; left, inferior, anterior: upright except in aVR (and flat in V1).
        "T": _pulses((0.60, 0.60, 0.40, 0.36, 0.24, -0.18)),
    }


def _support_to_unit(template: np.ndarray) -> np.ndarray:
    """Rescale a template's time axis so that its pulses cover exactly [0, 1]: the wave's boundaries."""
    start = (template[:, 0] - template[:, 1]).min()
    stop = (template[:, 0] + template[:, 2]).max()
    out = template.copy()
    out[:, 0] = (out[:, 0] - start) / (stop - start)
    out[:, 1:3] /= stop - start
    return out


def _rotation(frontal_deg: float, horizontal_deg: float) -> np.ndarray:
    """Rotate by ``frontal_deg`` in the frontal plane (X -> Y: the axis turns clockwise on the hexaxial
    reference, i.e. the frontal axis angle grows) and then by ``horizontal_deg`` in the horizontal plane (X -> Z:
    more posterior, the precordial transition moves toward V5)."""
    a, b = np.radians(frontal_deg), np.radians(horizontal_deg)
    frontal = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    horizontal = np.array([[np.cos(b), 0.0, -np.sin(b)], [0.0, 1.0, 0.0], [np.sin(b), 0.0, np.cos(b)]])
    return horizontal @ frontal


def _max_lead(vector: np.ndarray) -> float:
    """Largest absolute value of the 12 leads for a static dipole ``vector`` (mV)."""
    return float(np.abs(LEAD_MATRIX @ vector).max())


def _draw_classes(rng: np.random.Generator) -> tuple:
    """NORM alone, or one or two pathological classes (the first one drawn first)."""
    if rng.random() < P_NORM:
        return ("NORM",)
    names = list(PATHOLOGY_WEIGHTS)
    weights = np.array([PATHOLOGY_WEIGHTS[name] for name in names])
    first = rng.choice(len(names), p=weights / weights.sum())
    if rng.random() >= P_SECOND_CLASS:
        return (names[first],)
    weights[first] = 0.0
    second = rng.choice(len(names), p=weights / weights.sum())
    return (names[first], names[second])


def _draw_record_params(rng: np.random.Generator, classes: tuple, rhythm: str) -> dict:
    """Everything that defines one record's heart: intervals (s), rate, loops (templates) and the ST vector."""
    t = _normal_templates()
    p = {
        "hr_bpm": float(np.clip(rng.normal(72, 11), 50, 100)),
        "p_s": float(np.clip(rng.normal(0.095, 0.008), 0.08, 0.11)),
        "pr_s": float(np.clip(rng.normal(0.155, 0.018), 0.12, 0.20)),
        "qrs_s": float(np.clip(rng.normal(0.090, 0.006), 0.08, 0.10)),
        "qtc_s": float(np.clip(rng.normal(0.405, 0.015), 0.37, 0.44)),
        "t_fraction": float(rng.uniform(0.55, 0.70)),  # T duration / (QT - QRS); the rest is the ST segment
        "qrs_scale": float(np.clip(rng.lognormal(0.0, 0.15), 0.7, 1.4)),
        "t_scale": float(np.clip(rng.lognormal(0.0, 0.2), 0.6, 1.6)),
        "p_scale": float(np.clip(rng.lognormal(0.0, 0.2), 0.6, 1.6)),
        "frontal_deg": float(np.clip(rng.normal(0.0, 12.0), -35, 35)),
        "horizontal_deg": float(np.clip(rng.normal(0.0, 10.0), -25, 25)),
        "st_vector": np.zeros(3),
        "conduction": "normal",
        "mi_territory": None,
        "st_pattern": None,
        "t_inverted": False,
        "lvh_strain": False,
        "left_atrial_abnormality": False,
        "first_degree_av_block": False,
    }
    st_direction = None  # unit vector of an ST shift, scaled to its lead amplitude after rotation
    st_mv = 0.0

    if "HYP" in classes:
        # LVH: more myocardium -> larger, more leftward and posterior free-wall forces; slightly wider QRS.
        gain = rng.uniform(1.6, 2.2)
        t["QRS"][1, 3:] *= (gain, 1 + (gain - 1) / 3, gain)  # the apex grows less than the lateral wall
        t["QRS"][2, 3:] = (t["QRS"][2, 3:] + (0.25, -0.05, 0.35)) * gain
        p["qrs_s"] += rng.uniform(0.005, 0.012)
        if rng.random() < 0.5:  # strain: repolarisation opposite the dominant QRS forces
            p["lvh_strain"] = True
            main = t["QRS"][2, 3:] / np.linalg.norm(t["QRS"][2, 3:])
            t["T"][:, 3:] = -main * rng.uniform(0.3, 0.5)
            st_direction, st_mv = -main, rng.uniform(0.05, 0.15)
        if rng.random() < 0.4:  # left atrial abnormality: longer, notched P with a posterior terminal part
            p["left_atrial_abnormality"] = True
            p["p_s"] = rng.uniform(0.11, 0.13)
            t["P"] = _pulses((0.25, 0.25, 0.22, 0.03, 0.10, -0.05), (0.68, 0.28, 0.32, 0.10, 0.08, 0.14))

    if "MI" in classes:
        territory = rng.choice(["anterior", "inferior", "lateral"], p=[0.45, 0.45, 0.10])
        p["mi_territory"] = str(territory)
        # Dead myocardium gives no forces: the initial vector points away from it for >= 30 ms (Q waves).
        away = {"anterior": [0.10, 0.10, 0.55], "inferior": [0.10, -0.60, 0.05], "lateral": [-0.45, 0.05, 0.0]}
        depth = rng.uniform(0.8, 1.3)
        t["QRS"][0] = (0.26, 0.26, 0.26, *(np.array(away[territory]) * depth))
        if territory == "anterior":  # the anterior part of the free-wall forces is lost: no R in V1-V4
            t["QRS"][1, 5] = abs(t["QRS"][1, 5]) * 0.6
        elif territory == "inferior":  # the inferior part of the apical and lateral forces is lost
            t["QRS"][1:3, 4] *= 0.3
        else:
            t["QRS"][1, 3] *= 0.6
        if rng.random() < 0.6:  # T turned away from the scar (inverted over the territory)
            p["t_inverted"] = True
            flip = {"anterior": [0.20, 0.15, 0.25], "inferior": [0.25, -0.15, -0.15], "lateral": [-0.15, 0.2, -0.2]}
            t["T"][:, 3:] = np.array(flip[territory])

    if "CD" in classes:
        kind = rng.choice(["RBBB", "LBBB", "IVCD"], p=[0.45, 0.35, 0.20])
        p["conduction"] = str(kind)
        p["qrs_s"] = rng.uniform(0.12, 0.17)
        if kind == "RBBB":
            # Left ventricle on time (first ~60 %), then the right ventricle late, slowly, rightward and anterior.
            normal = t["QRS"].copy()
            normal[:, :3] *= 0.6
            terminal = _pulses((0.78, 0.26, 0.22, -0.45, -0.05, -0.60))
            t["QRS"] = np.vstack([normal[:3], terminal])
            t["T"][:, 3:] = np.array([0.25, 0.20, 0.28])  # opposite the terminal forces: T inverted in V1-V2
        elif kind == "LBBB":
            # Septum activated from the right: no septal q; one slow, notched, left-posterior sweep.
            t["QRS"] = _pulses(
                (0.15, 0.15, 0.20, 0.25, 0.05, 0.20),
                (0.38, 0.28, 0.30, 1.10, 0.20, 1.00),
                (0.70, 0.30, 0.30, 1.10, -0.05, 0.80),
            )
            t["T"][:, 3:] = np.array([-0.28, 0.05, -0.30])  # discordant: T inverted in I, V5, V6
        else:
            # Nonspecific delay: the normal sequence, slower and blunter, with a slurred late posterior part.
            t["QRS"][:, 1:3] *= 1.3
            t["QRS"] = np.vstack([t["QRS"][:3], _pulses((0.80, 0.22, 0.20, 0.55, -0.25, 0.70))])
        if rng.random() < 0.3:
            p["first_degree_av_block"] = True
            p["pr_s"] = rng.uniform(0.21, 0.30)

    if "STTC" in classes:
        pattern = rng.choice(["st", "t", "st+t"], p=[0.3, 0.3, 0.4])
        if "st" in pattern:
            if rng.random() < 0.7:  # subendocardial ischaemia: ST depression where the R is tall
                p["st_pattern"] = "depression"
                main = t["QRS"][2, 3:] / np.linalg.norm(t["QRS"][2, 3:])
                st_direction = -main
            else:  # transmural injury: ST elevation over an anterior or inferior territory
                p["st_pattern"] = "elevation"
                st_direction = np.array([0.1, 0.2, -1.0]) if rng.random() < 0.5 else np.array([0.0, 1.0, 0.2])
            st_mv = rng.uniform(0.1, 0.3)
        if "t" in pattern:
            # Invert a normal T; one already turned by a scar, strain or bundle-branch block gets deeper instead.
            reshaped = p["t_inverted"] or p["conduction"] in ("RBBB", "LBBB")
            t["T"][:, 3:] *= rng.uniform(1.2, 1.5) if reshaped else -rng.uniform(0.6, 1.1)
            p["t_inverted"] = True

    if rhythm == "afib-like":
        p["hr_bpm"] = float(rng.uniform(55, 110))
        p["rr_cv"] = float(rng.uniform(0.15, 0.30))
        p["fibrillation_mv"] = float(rng.uniform(0.03, 0.10))
    else:
        p["rsa_depth"] = float(rng.uniform(0.01, 0.05))  # respiratory sinus arrhythmia
        p["rsa_hz"] = float(rng.uniform(0.15, 0.40))
        p["rr_jitter"] = float(rng.uniform(0.005, 0.02))
    # A wider QRS lengthens the QT by about as much (the JT interval is what stays); the PR segment stays >= 40 ms.
    p["qtc_s"] += max(p["qrs_s"] - 0.09, 0.0)
    p["pr_s"] = max(p["pr_s"], p["p_s"] + 0.04)

    rotation = _rotation(p["frontal_deg"], p["horizontal_deg"])
    t["QRS"][:, 3:] = t["QRS"][:, 3:] * p["qrs_scale"] @ rotation.T
    t["T"][:, 3:] = t["T"][:, 3:] * p["t_scale"] @ rotation.T
    t["P"][:, 3:] *= p["p_scale"]
    if st_direction is not None:
        st = rotation @ (st_direction / np.linalg.norm(st_direction))
        p["st_vector"] = st * st_mv / _max_lead(st)
    p["templates"] = {name: _support_to_unit(template) for name, template in t.items()}
    return p


def _beat_onsets(rng: np.random.Generator, p: dict, rhythm: str, t_stop: float):
    """QRS onsets (s) and each beat's QT (s), from before ``-_PAD_S - 1 s`` to after ``t_stop + _PAD_S``.

    The QT of a beat follows the RR interval that precedes it (Bazett); an RR too short for the previous
    beat's T, the gap and the next P to fit is lengthened, so waves of consecutive beats never overlap.
    """
    rr0 = 60.0 / p["hr_bpm"]
    n_beats = int(np.ceil((t_stop + 2 * _PAD_S + 1.0 + rr0) / _MIN_RR_S)) + 1  # enough at the shortest RR
    if rhythm == "afib-like":
        sigma = np.sqrt(np.log1p(p["rr_cv"] ** 2))
        rr = rr0 * rng.lognormal(-sigma**2 / 2, sigma, n_beats)
        before_next = 0.0
    else:
        phase = rng.uniform(0, 2 * np.pi)
        k = np.arange(n_beats)
        rr = rr0 * (
            1
            + p["rsa_depth"] * np.sin(2 * np.pi * p["rsa_hz"] * k * rr0 + phase)
            + p["rr_jitter"] * rng.standard_normal(n_beats)
        )
        before_next = p["pr_s"]
    onsets, qts = [], []
    onset = -_PAD_S - 1.0 - rng.uniform(0, rr0)
    previous_rr = rr0
    for interval in rr:
        qt = p["qtc_s"] * np.sqrt(previous_rr)
        onsets.append(onset)
        qts.append(qt)
        if onset > t_stop + _PAD_S:
            break
        previous_rr = max(interval, qt + _GAP_S + before_next, _MIN_RR_S)
        onset += previous_rr
    return np.array(onsets), np.array(qts)


def _evaluate_pulses(t0, t1, t2, t3, vectors, fs: float, first: int, n: int) -> np.ndarray:
    """Sum of dipole pulses on samples ``first .. first + n - 1``, shape (3, n).

    Pulse j is ``vectors[j] * sin^2(pi/2 * min(rise, fall))`` with rise = (t - t0)/(t1 - t0) and
    fall = (t3 - t)/(t3 - t2), both clipped to [0, 1]: a raised-cosine rise on [t0, t1], a flat top on [t1, t2]
    and a raised-cosine fall on [t2, t3], zero outside (t0, t3).
    """
    start = np.maximum(np.floor(t0 * fs).astype(np.int64) + 1, first)
    stop = np.minimum(np.ceil(t3 * fs).astype(np.int64), first + n)
    lengths = np.maximum(stop - start, 0)
    pulse = np.repeat(np.arange(len(t0)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    samples = start[pulse] + offsets
    time = samples / fs
    rise = np.clip((time - t0[pulse]) / (t1[pulse] - t0[pulse]), 0.0, 1.0)
    fall = np.clip((t3[pulse] - time) / (t3[pulse] - t2[pulse]), 0.0, 1.0)
    shape = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
    return np.stack(
        [np.bincount(samples - first, weights=shape * vectors[pulse, axis], minlength=n) for axis in range(3)]
    )


def _waves_of_beats(p: dict, onsets: np.ndarray, qts: np.ndarray, rhythm: str):
    """Wave intervals (start, stop in s, code) and their pulses, for all beats."""
    templates = p["templates"]
    starts, durations, codes = [onsets], [np.full_like(onsets, p["qrs_s"])], [np.full(len(onsets), QRS_CODE)]
    t_duration = p["t_fraction"] * (qts - p["qrs_s"])
    starts.append(onsets + qts - t_duration)
    durations.append(t_duration)
    codes.append(np.full(len(onsets), T_CODE))
    if rhythm == "sinus":
        starts.append(onsets - p["pr_s"])
        durations.append(np.full_like(onsets, p["p_s"]))
        codes.append(np.full(len(onsets), P_CODE))
    starts, durations, codes = np.concatenate(starts), np.concatenate(durations), np.concatenate(codes)

    t0, t1, t3, vectors = [], [], [], []
    for code, name in _WAVE_NAMES.items():
        chosen = codes == code
        if not chosen.any():
            continue
        tpl = templates[name]  # (k, 6)
        begin, length = starts[chosen][:, None], durations[chosen][:, None]
        centre = begin + tpl[None, :, 0] * length
        t0.append((centre - tpl[None, :, 1] * length).ravel())
        t1.append(centre.ravel())
        t3.append((centre + tpl[None, :, 2] * length).ravel())
        vectors.append(np.broadcast_to(tpl[None, :, 3:], (chosen.sum(), len(tpl), 3)).reshape(-1, 3))
    t0, t1, t3 = np.concatenate(t0), np.concatenate(t1), np.concatenate(t3)
    pulses = [t0, t1, t1, t3, np.concatenate(vectors)]

    if np.any(p["st_vector"]):
        # Injury current: rises over the end of the QRS, holds through the ST segment, fades by the T's middle.
        t_start = onsets + qts - t_duration
        st = [onsets + 0.6 * p["qrs_s"], onsets + p["qrs_s"], t_start, t_start + 0.5 * t_duration]
        pulses = [np.concatenate([a, b]) for a, b in zip(pulses[:4], st)] + [
            np.vstack([pulses[4], np.broadcast_to(p["st_vector"], (len(onsets), 3))])
        ]
    return (starts, starts + durations, codes), pulses


def _fibrillation(rng: np.random.Generator, p: dict, time: np.ndarray) -> np.ndarray:
    """Atrial fibrillatory activity as a dipole (3, n): 4 sinusoids at 4.5-8 Hz with drifting phase, along an
    atrial (inferior, anterior) direction, scaled so that its largest lead peaks near ``fibrillation_mv``."""
    freqs = rng.uniform(4.5, 8.0, 4)
    drift = rng.uniform(0.1, 0.5, 4)
    phases = rng.uniform(0, 2 * np.pi, (2, 4))
    waves = np.sin(
        2 * np.pi * freqs[:, None] * time + phases[0][:, None] + 1.5 * np.sin(2 * np.pi * drift[:, None] * time + phases[1][:, None])
    ).sum(axis=0) / 2.0
    direction = np.array([0.25, 0.55, -0.80])
    direction *= p["fibrillation_mv"] / _max_lead(direction)
    return direction[:, None] * waves


def _record(rng: np.random.Generator, classes: tuple, rhythm: str, fs: float, n: int, record_id: str) -> dict:
    """One synthetic record: signal (12, n) float32, masks (12, n) int8, waves, r_peaks, meta."""
    p = _draw_record_params(rng, classes, rhythm)
    onsets, qts = _beat_onsets(rng, p, rhythm, n / fs)
    (w_start, w_stop, w_code), pulses = _waves_of_beats(p, onsets, qts, rhythm)

    pad = int(np.ceil(_PAD_S * fs))
    dipole = _evaluate_pulses(*pulses, fs=fs, first=-pad, n=n + 2 * pad)
    time = np.arange(n) / fs
    if rhythm == "afib-like":
        dipole[:, pad : pad + n] += _fibrillation(rng, p, time)

    masks_row = np.zeros(n, dtype=np.int8)
    found = {code: [] for code in _WAVE_NAMES}
    on_samples = np.floor(w_start * fs).astype(np.int64) + 1
    off_samples = np.ceil(w_stop * fs).astype(np.int64) - 1
    inside = (off_samples >= 0) & (on_samples <= n - 1)
    for on, off, code in zip(on_samples[inside], off_samples[inside], w_code[inside]):
        masks_row[max(on, 0) : min(off, n - 1) + 1] = code
        wave = dipole[:, on + pad : off + pad + 1]
        peak = on + int(np.argmax(wave.sum(axis=1) @ wave))  # along the wave's mean vector
        if 0 <= peak < n:
            found[code].append((max(on, 0), peak, min(off, n - 1)))
    waves_lead = {}
    for code, name in _WAVE_NAMES.items():
        rows = np.array(sorted(found[code]), dtype=np.int64).reshape(-1, 3)
        rows.flags.writeable = False
        waves_lead[name] = rows
    r_peaks = waves_lead["QRS"][:, 1].copy()

    ecg8 = (DOWER @ dipole[:, pad : pad + n]) * np.clip(rng.normal(1.0, 0.05, (8, 1)), 0.85, 1.15)
    wander_hz = rng.uniform(0.05, 0.5, 3)
    wander = np.sin(2 * np.pi * wander_hz[:, None] * time + rng.uniform(0, 2 * np.pi, (3, 1)))
    wander_mv = float(rng.uniform(0.05, 0.2))  # per-lead amplitude, root of the sum of squares of the 3 parts
    ecg8 += rng.normal(0.0, wander_mv / np.sqrt(3), (8, 3)) @ wander
    line_hz = float(rng.choice([50.0, 60.0]))
    line_mv = float(rng.uniform(0.0, 0.02))
    if fs >= 2.5 * line_hz:
        ecg8 += rng.uniform(0.3, 1.0, (8, 1)) * line_mv * np.sin(2 * np.pi * line_hz * time + rng.uniform(0, 2 * np.pi))
    noise_mv = float(rng.uniform(0.005, 0.02))
    ecg8 = ecg8.astype(np.float32)
    ecg8 += rng.standard_normal((8, n), dtype=np.float32) * (noise_mv * rng.uniform(0.7, 1.3, (8, 1))).astype(np.float32)
    signal = eight_to_twelve(ecg8)

    # R-peak-to-R-peak rate, from the exact beat onsets of the beats whose R peak is in the record.
    r_times = onsets[np.searchsorted(onsets, r_peaks / fs) - 1] if len(r_peaks) else onsets[:0]
    rr = np.diff(r_times)
    rr_mean = float(rr.mean()) if len(rr) else 60.0 / p["hr_bpm"]
    qrs_area = (p["templates"]["QRS"][:, 1:3].sum(axis=1) / 2) @ p["templates"]["QRS"][:, 3:]
    lead_i, lead_avf = LEAD_MATRIX[[0, 5]] @ qrs_area
    meta = {
        "patient_id": record_id,
        "class": classes[0],
        "classes": classes,
        "rhythm": rhythm,
        "heart_rate_bpm": 60.0 / rr_mean,
        "rr_cv": float(rr.std() / rr.mean()) if len(rr) > 1 else 0.0,
        "p_ms": None if rhythm == "afib-like" else 1000 * p["p_s"],
        "pr_ms": None if rhythm == "afib-like" else 1000 * p["pr_s"],
        "qrs_ms": 1000 * p["qrs_s"],
        "qtc_ms": 1000 * p["qtc_s"],
        "qt_ms": float(1000 * p["qtc_s"] * np.sqrt(rr_mean)),
        "qt_formula": "bazett",
        "qrs_axis_deg": float(np.degrees(np.arctan2(2 * lead_avf / np.sqrt(3), lead_i))),
        "frontal_rotation_deg": p["frontal_deg"],
        "horizontal_rotation_deg": p["horizontal_deg"],
        "qrs_scale": p["qrs_scale"],
        "conduction": p["conduction"],
        "first_degree_av_block": p["first_degree_av_block"],
        "mi_territory": p["mi_territory"],
        "st_pattern": p["st_pattern"],
        "st_shift_mv": float(np.abs(LEAD_MATRIX @ p["st_vector"]).max()),
        "t_inverted": p["t_inverted"],
        "lvh_strain": p["lvh_strain"],
        "left_atrial_abnormality": p["left_atrial_abnormality"],
        "noise_mv": noise_mv,
        "wander_mv": wander_mv,
        "powerline_hz": line_hz if fs >= 2.5 * line_hz else None,
        "powerline_mv": line_mv if fs >= 2.5 * line_hz else 0.0,
    }
    return {
        "signal": signal,
        "masks": np.broadcast_to(masks_row, (12, n)),
        "waves": waves_lead,
        "r_peaks": r_peaks,
        "meta": meta,
    }


def _check_arguments(fs, duration_s, seed) -> int:
    """Validate the shared arguments; return the number of samples, round(fs * duration_s)."""
    for name, value in (("fs", fs), ("duration_s", duration_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    n = int(round(fs * duration_s))
    if n < 2:
        raise ValueError(f"fs * duration_s: expected at least 2 samples, got {fs} Hz x {duration_s} s")
    return n


def _labels_vector(classes: tuple) -> np.ndarray:
    return np.array([name in classes for name in SUPERCLASSES], dtype=np.uint8)


def make_synthetic_dataset(
    n_records: int = 1000, fs: float = 500.0, duration_s: float = 10.0, seed: int = 0, progress: bool = False
) -> ECGDataset:
    """A synthetic PTB-XL-like dataset with exact wave labels.

    Returns an ``ECGDataset`` named 'synthetic' with
    signals (n_records, 12, round(fs * duration_s)) float32 mV; labels (n_records, 5) uint8 multi-hot over
    ``SUPERCLASSES``; folds (n_records,) 1-10; masks (n_records, 12, n_samples) int8 (``WAVES`` codes);
    waves: per record {lead: {"P"|"QRS"|"T": (k, 3) int onset/peak/offset}} (the same arrays in every lead);
    r_peaks: per record int array; meta: per record dict (patient_id, class, classes, rhythm, heart_rate_bpm, and
    the drawn parameters: p_ms, pr_ms, qrs_ms, qt_ms, qtc_ms, qrs_axis_deg, conduction, mi_territory, ...).
    Record i depends only on (seed, i).
    """
    if isinstance(n_records, bool) or not isinstance(n_records, (int, np.integer)) or n_records < 1:
        raise ValueError(f"n_records: expected a positive integer, got {n_records!r}")
    n = _check_arguments(fs, duration_s, seed)
    signals = np.empty((n_records, 12, n), dtype=np.float32)
    masks = np.empty((n_records, 12, n), dtype=np.int8)
    labels = np.empty((n_records, len(SUPERCLASSES)), dtype=np.uint8)
    waves, r_peaks, meta, record_ids = [], [], [], []
    indices = range(n_records)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="synthetic ECG", unit="record")
    for i in indices:
        rng = np.random.default_rng([seed, i])
        classes = _draw_classes(rng)
        rhythm = "afib-like" if classes != ("NORM",) and rng.random() < P_AFIB else "sinus"
        record_id = f"synthetic-{seed}-{i:05d}"
        out = _record(rng, classes, rhythm, float(fs), n, record_id)
        signals[i] = out["signal"]
        masks[i] = out["masks"]
        labels[i] = _labels_vector(classes)
        waves.append({lead: dict(out["waves"]) for lead in LEADS})
        r_peaks.append(out["r_peaks"])
        meta.append(out["meta"])
        record_ids.append(record_id)
    return ECGDataset(
        signals=signals,
        fs=float(fs),
        record_ids=record_ids,
        name="synthetic",
        labels=labels,
        folds=np.arange(n_records) % 10 + 1,
        masks=masks,
        waves=waves,
        r_peaks=r_peaks,
        meta=meta,
    )


def make_synthetic_record(
    seed: int = 0, label="NORM", fs: float = 500.0, duration_s: float = 10.0, rhythm: str = "sinus"
) -> ECGRecord:
    """One synthetic record of the given class(es) and rhythm.

    label: a superclass name ('NORM', 'MI', 'STTC', 'CD', 'HYP') or a sequence of one or two pathological ones
        (the first one shapes the record first, as in the dataset).
    rhythm: 'sinus' or 'afib-like' (not with NORM).
    Returns an ``ECGRecord`` (signal (12, round(fs * duration_s)) float32 mV, masks, waves, r_peaks, meta).
    """
    classes = (label,) if isinstance(label, str) else tuple(label) if isinstance(label, (tuple, list)) else ()
    unknown = [name for name in classes if name not in SUPERCLASSES]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"label: expected one of {SUPERCLASSES} or distinct ones of them, got {label!r}")
    if "NORM" in classes and len(classes) > 1:
        raise ValueError(f"label: NORM excludes every other class, got {label!r}")
    if len(classes) > 2:
        raise ValueError(f"label: expected at most two pathological classes, got {label!r}")
    if rhythm not in RHYTHMS:
        raise ValueError(f"rhythm: expected one of {RHYTHMS}, got {rhythm!r}")
    if rhythm == "afib-like" and classes == ("NORM",):
        raise ValueError("rhythm: an 'afib-like' record cannot be NORM; pick a pathological label")
    n = _check_arguments(fs, duration_s, seed)
    record_id = f"synthetic-{'+'.join(classes)}-{rhythm}-{seed}"
    out = _record(np.random.default_rng(seed), classes, rhythm, float(fs), n, record_id)
    return ECGRecord(
        signal=out["signal"],
        fs=float(fs),
        record_id=record_id,
        labels=_labels_vector(classes),
        masks=np.array(out["masks"]),
        waves={lead: dict(out["waves"]) for lead in LEADS},
        r_peaks=out["r_peaks"],
        meta=out["meta"],
    )
