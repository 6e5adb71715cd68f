"""Delineation accuracy: ``delineation.delineate`` against LUDB's cardiologist annotations.

Protocol (LUDB v1.0.1: 200 records, 12 leads, 500 Hz, 10 s; all records; the delineator's thresholds were chosen
on this data, so the figures are also printed for the odd and the even records separately):
- ground truth per beat: ``delineation.annotated_delineation(waves)``: the QRS complexes of all 12 leads grouped
  into beats (peaks > 150 ms apart); for each beat, its QRS in every lead, the last P whose peak lies between the
  previous beat's R and this R, the first T whose peak lies between this R and the next R; each bound is the
  median over the leads that annotated it. A P or T annotated in fewer than 6 leads counts as absent.
- detection, end to end: ``delineate(signal, fs)`` with its own R peaks (``beats.detect_r_peaks``); detected
  beats are matched to annotated ones by R peak within 150 ms (``beats.match_peaks``).
- errors (ms) over the matched beats where both have the bound: mean absolute error (MAE), mean (bias,
  detected - annotated) and standard deviation; intervals QRS = QRS offset - onset, PR = QRS onset - P onset,
  QT = T offset - QRS onset. For reference, the CSE tolerances for the SD of multi-lead boundaries (2 s_CSE:
  P on 10.2, P off 12.7, QRS on 6.5, QRS off 11.6, T off 30.6 ms; Martinez et al., IEEE TBME 2004, Table I).
- P presence over the matched beats except each record's first and last annotated beat (whose P or T may lie
  outside the annotated stretch): Se and PPV of "P found" against "P annotated".
Targets: MAE of QRS <= 15 ms, PR <= 25 ms, QT <= 30 ms.
Without LUDB: the same on the embedded synthetic ECG (ground truth: its exact wave bounds, the same in all leads),
and it says so. --axis adds the QRS-axis check of ``features``: Spearman correlation of each record's median
axis with LUDB's axis classes (left deviation < horizontal < normal < vertical < right deviation) for four
definitions of the axis.

    python benchmarks/bench_delineation.py [--data DIR] [--quick] [--synthetic N] [--fs 500] [--axis]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from beatssl_lite import beats
from beatssl_lite.data import data_root, load_ludb
from beatssl_lite.delineation import BOUNDS, annotated_delineation, delineate
from beatssl_lite.synthetic import make_synthetic_dataset

INTERVALS = {"QRS": ("qrs_on", "qrs_off"), "PR": ("p_on", "qrs_on"), "QT": ("qrs_on", "t_off")}
TARGETS_MS = {"QRS": 15.0, "PR": 25.0, "QT": 30.0}
CSE_TOLERANCE_MS = {"p_on": 10.2, "p_off": 12.7, "qrs_on": 6.5, "qrs_off": 11.6, "t_off": 30.6}
AXIS_ORDER = ("left axis deviation", "horizontal", "normal", "vertical", "right axis deviation")


def collect(dataset, records):
    """Matched (detected, annotated) bound arrays (n, 8), inner-beat mask (n,), record index (n,), seconds."""
    fs = dataset.fs
    detected, annotated, inner, owner = [], [], [], []
    seconds = 0.0
    for i in records:
        truth = annotated_delineation(dataset.waves[i], fs)
        start = time.perf_counter()
        found = delineate(np.asarray(dataset.signals[i], dtype=np.float64), fs)
        seconds += time.perf_counter() - start
        d, r = beats.match_peaks(found.r_peak, truth.r_peak, int(round(0.15 * fs)))
        detected.append(found.as_array()[d])
        annotated.append(truth.as_array()[r])
        inner.append((r > 0) & (r < len(truth) - 1))
        owner.append(np.full(len(d), i))
    return np.concatenate(detected), np.concatenate(annotated), np.concatenate(inner), np.concatenate(owner), seconds


def errors(detected, annotated, start, stop, fs):
    """Interval (or, with start None, bound) errors in ms where both sides have every bound involved."""
    a, b = BOUNDS.index(stop), None if start is None else BOUNDS.index(start)
    columns = [a] if b is None else [a, b]
    ok = (detected[:, columns] >= 0).all(axis=1) & (annotated[:, columns] >= 0).all(axis=1)
    if b is None:
        diff = detected[ok, a] - annotated[ok, a]
    else:
        diff = (detected[ok, a] - detected[ok, b]) - (annotated[ok, a] - annotated[ok, b])
    return diff * 1000.0 / fs


def report(detected, annotated, inner, fs, title):
    print(f"\n{title}")
    print(f"{'':10s} {'MAE':>7s} {'bias':>7s} {'SD':>6s} {'n':>6s} {'target':>8s}")
    for name, (start, stop) in INTERVALS.items():
        e = errors(detected, annotated, start, stop, fs)
        ok = "ok" if np.abs(e).mean() <= TARGETS_MS[name] else "MISSED"
        print(f"{name + ' (ms)':10s} {np.abs(e).mean():7.1f} {e.mean():+7.1f} {e.std():6.1f} {len(e):6d} "
              f"{'<= ' + format(TARGETS_MS[name], 'g'):>8s} {ok}")
    print(f"{'bound':10s} {'MAE':>7s} {'bias':>7s} {'SD':>6s} {'n':>6s} {'CSE 2s':>8s}")
    for name in BOUNDS:
        e = errors(detected, annotated, None, name, fs)
        cse = f"{CSE_TOLERANCE_MS[name]:8.1f}" if name in CSE_TOLERANCE_MS else ""
        print(f"{name:10s} {np.abs(e).mean():7.1f} {e.mean():+7.1f} {e.std():6.1f} {len(e):6d} {cse}")
    p = BOUNDS.index("p_peak")
    found, truth = detected[inner, p] >= 0, annotated[inner, p] >= 0
    tp, fn, fp = (found & truth).sum(), (~found & truth).sum(), (found & ~truth).sum()
    print(f"P presence (inner beats): Se {tp / max(tp + fn, 1):.3f}, PPV {tp / max(tp + fp, 1):.3f} "
          f"(TP {tp}, FN {fn}, FP {fp}, TN {(~found & ~truth).sum()})")


def axis_check(dataset):
    """Spearman correlation of four axis definitions with LUDB's axis classes."""
    from scipy.stats import spearmanr

    from beatssl_lite.vcg import ecg_to_vcg

    fs = dataset.fs
    ranks, values = [], {key: [] for key in ("limb, peak", "limb, mean", "Kors VCG, peak", "Kors VCG, mean")}
    for i in range(len(dataset)):
        label = next((d.split(": ")[1] for d in dataset.meta[i]["diagnoses"] if d.startswith("Electric axis")), None)
        if label not in AXIS_ORDER:
            continue
        x = np.asarray(dataset.signals[i], dtype=np.float64)
        found = delineate(x, fs)
        clean = beats.bandpass(x, fs, 0.5, 40.0)
        planes = {"limb": np.stack([clean[0], clean[5] * 2.0 / np.sqrt(3.0)]), "Kors VCG": ecg_to_vcg(clean, "kors")}
        per_beat = {key: [] for key in values}
        iso = int(round(0.02 * fs))
        for on, off in zip(found.qrs_on, found.qrs_off):
            if on < 0 or off < 0:
                continue
            for plane, vectors in planes.items():
                qrs = vectors[:2, on:off + 1] - vectors[:2, max(0, on - iso):on + 1].mean(axis=1, keepdims=True)
                apex = int(np.argmax(np.linalg.norm(vectors[:, on:off + 1] - vectors[:, max(0, on - iso):on + 1]
                                                    .mean(axis=1, keepdims=True), axis=0)))
                per_beat[f"{plane}, peak"].append(np.degrees(np.arctan2(qrs[1, apex], qrs[0, apex])))
                per_beat[f"{plane}, mean"].append(np.degrees(np.arctan2(qrs[1].mean(), qrs[0].mean())))
        if not per_beat["limb, peak"]:
            continue
        ranks.append(AXIS_ORDER.index(label))
        for key in values:
            values[key].append(np.median(per_beat[key]))
    print(f"\nQRS axis vs LUDB's axis classes ({len(ranks)} labelled records; median over each record's beats):")
    for key, column in values.items():
        print(f"  {key:16s} Spearman {spearmanr(column, ranks).statistic:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="data root holding ludb/ (default: BEATSSL_DATA or the user cache)")
    parser.add_argument("--quick", action="store_true", help="40 records")
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic records when LUDB is absent")
    parser.add_argument("--fs", type=float, default=500.0, help="sampling rate of the synthetic fallback")
    parser.add_argument("--axis", action="store_true", help="also check the QRS axis against LUDB's axis classes")
    args = parser.parse_args()

    root = data_root(args.data, "ludb")
    if root is not None:
        dataset = load_ludb(root, progress=False)
        print(f"LUDB from {root / 'ludb'}: {len(dataset)} records at {dataset.fs:g} Hz; ground truth = median over "
              f"leads of the annotated bounds")
    else:
        n = 40 if args.quick else args.synthetic
        dataset = make_synthetic_dataset(n, fs=args.fs, seed=0)
        print(f"no LUDB found: using {n} embedded synthetic records at {args.fs:g} Hz (seed 0); ground truth = "
              f"their exact wave bounds")
    records = np.arange(min(len(dataset), 40) if args.quick else len(dataset))
    detected, annotated, inner, owner, seconds = collect(dataset, records)
    print(f"{len(detected)} matched beats; delineate() took {seconds:.2f} s for {len(records)} records "
          f"({1000 * seconds / len(records):.1f} ms per record)")
    report(detected, annotated, inner, dataset.fs, "all records")
    if root is not None and not args.quick:
        for parity, name in ((1, "odd"), (0, "even")):
            keep = (owner + 1) % 2 == parity
            report(detected[keep], annotated[keep], inner[keep], dataset.fs, f"{name} records (1-based ids)")
    if args.axis and root is not None:
        axis_check(dataset)


if __name__ == "__main__":
    main()
