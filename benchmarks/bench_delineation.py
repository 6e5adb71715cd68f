"""Delineation accuracy on LUDB, scored the standard way, beside neurokit2 and the published anchor.

Standard protocol (Martinez et al., IEEE TBME 2004; Moskalenko et al. 2020, arXiv 2001.04689; the LUDB delineation
literature), implemented in ``beatssl_lite.boundary_metrics``:
- per lead: each annotated onset and offset of P, QRS and T (LUDB's cardiologists annotate each of the 12 leads
  separately) is matched one-to-one to a detected boundary of the same kind within 150 ms (--tolerance-ms); the
  matching is the optimal one (most pairs, then least total |error|; dynamic programming on the sorted
  sequences, see ``boundary_metrics``);
- only inside the annotated stretch of that lead: [first, last] annotated sample of any kind in the lead; an
  unmatched detection outside it is not a false positive (LUDB leaves the first and last beats unannotated);
- pooled over all leads of all records of the split: Se = TP/(TP+FN), PPV = TP/(TP+FP), F1, and the signed
  error detected - annotated over the matched pairs, mean +- SD (ms).
Delineators, on the same records in the same run:
- ours: ``beatssl_lite.delineation.delineate(signal, fs)`` on the 12 leads, with its own R peaks. It gives ONE
  global set of bounds per beat for all leads (multi-lead delineation), and that same set is scored against every
  lead's annotations, so lead-to-lead differences of the annotations count as its error. Its T onsets come from
  ``beatssl_lite.t_onset.t_onsets(signal, fs, delineation)`` on that same delineation (timed with it); beside them,
  a rule that looks at no signal, the midpoint of ours' QRS offset and T peak ('midpoint, no signal'), shows how
  much of the T-onset score the protocol gives for free.
- neurokit2 (optional extra ``pip install beatssl-lite[peers]``; skipped with a notice when absent): per lead,
  ``nk.ecg_clean`` (its default method), R peaks from its own ``nk.ecg_peaks`` on that lead, then
  ``nk.ecg_delineate(..., method="dwt")``; QRS bounds are its ECG_R_Onsets / ECG_R_Offsets.
- anchor: the published figures of Moskalenko et al. 2020 (a U-Net trained on LUDB), printed, not recomputed.
Split: LUDB's patient-level split ``ludb_split(dataset)`` (test_fraction 0.2, seed 0: 160 / 40 records), the same
held-out part the segmentation task reports on. --split report (default) scores the 40 held-out records, tune the
160 others (tune delineation thresholds there only), all every record. The delineator's thresholds were chosen on
LUDB before this split existed, so even the report split is not fully unseen by them: say so with its figures
(the P rules and the T onset were tuned on the tune split only).
Second table: the earlier multi-lead consensus protocol (ground truth = median over leads of the
annotated bound per beat, ``delineation.annotated_delineation``, and for the T onset, which it does not give, the
same rule here: the floored median over the leads that annotated one of each lead's first T after the beat's R,
when at least 6 leads annotated a T; beats matched by R peak within 150 ms; MAE, bias
and SD of bounds and intervals; ours only, on the same delineations), comparable with CSE-style global delineation
results but with nobody else's.
Without LUDB: the embedded synthetic ECG (exact wave bounds, the same in every lead, whole record annotated),
said so in capitals. --worst N lists the N records with most P-boundary errors of ours (FN + FP, both P bounds).

    python benchmarks/bench_delineation.py [--data DIR] [--split report|tune|all] [--quick] [--no-neurokit]
                                           [--worst N] [--tolerance-ms 150] [--axis]
"""

from __future__ import annotations

import time
import warnings

import common
import numpy as np

from beatssl_lite import beats
from beatssl_lite.boundary_metrics import BOUNDARIES, DEFAULT_TOLERANCE_MS, combine_waves, score_waves
from beatssl_lite.delineation import BOUNDS, annotated_delineation, delineate
from beatssl_lite.synthetic import make_synthetic_dataset
from beatssl_lite.t_onset import t_onsets

try:  # the top-level API once the data-layer split exports it, else its module (older: data.py)
    from beatssl_lite import load_ludb, ludb_split
except ImportError:
    try:
        from beatssl_lite.datasets import load_ludb, ludb_split
    except ImportError:
        from beatssl_lite.data import load_ludb, ludb_split

QUICK_RECORDS = 10
#: Diagnoses that bear on P waves, shown beside the worst records (LUDB's ludb.csv wording, lower case).
P_RELEVANT_WORDS = ("pacemaker", "pacing", "av-block", "av block", "atrial hypertrophy", "atrial overload",
                    "wandering", "atrial extrasystole", "p-synchrony")
SPLIT_TEST_FRACTION, SPLIT_SEED = 0.2, 0

# Anchor, Moskalenko, Zolotykh & Osipov 2020, "Deep learning for ECG segmentation", arXiv 2001.04689.
# Verified against the paper's abstract (several independent copies of it): F1 of onsets and offsets at least
# 97.8 % for P waves, 99.5 % for T waves and 99.9 % for QRS complexes, on LUDB, 150 ms tolerance.
ANCHOR_ABSTRACT_F1 = {"P": 0.978, "QRS": 0.999, "T": 0.995}
# Per-boundary figures attributed to Moskalenko et al. in a comparison table of a third party (the README of
# github.com/Drizzr/MCG_segmentation, "Delineation performance ... on the LUDB test set"); NOT checked against the
# paper itself (its P F1 of 0.965 is below the abstract's 0.978, so the two describe different configurations).
# Se, PPV, F1, mean error (ms), SD (ms).
ANCHOR_SECONDARY = {
    "P_on": (0.9738, 0.9553, 0.9647, 0.9, 14.1), "P_off": (0.9736, 0.9552, 0.9643, -3.5, 15.7),
    "QRS_on": (0.9996, 0.9984, 0.9990, 2.1, 9.8), "QRS_off": (0.9996, 0.9984, 0.9990, 1.6, 9.8),
    "T_on": (0.9943, 0.9888, 0.9915, 1.3, 20.9), "T_off": (0.9948, 0.9894, 0.9921, -0.3, 22.9),
}

INTERVALS = {"QRS": ("qrs_on", "qrs_off"), "PR": ("p_on", "qrs_on"), "QT": ("qrs_on", "t_off")}
#: Columns of the consensus table: the Delineation's bounds, then the T onset (``t_onset.t_onsets``).
CONSENSUS_BOUNDS = BOUNDS + ("t_on",)
MIDPOINT = "midpoint, no signal"
CSE_TOLERANCE_MS = {"p_on": 10.2, "p_off": 12.7, "qrs_on": 6.5, "qrs_off": 11.6, "t_off": 30.6}
AXIS_ORDER = ("left axis deviation", "horizontal", "normal", "vertical", "right axis deviation")


# --- the delineators, as {kind: (n, 3) onset, peak, offset} per lead ------------------------------------------------

def ours_waves(found, t_on) -> dict:
    """A ``Delineation`` (global bounds per beat) and its T onsets as per-lead wave rows; -1 bounds are left out
    when scoring."""
    return {"P": np.stack([found.p_on, found.p_peak, found.p_off], axis=1),
            "QRS": np.stack([found.qrs_on, found.r_peak, found.qrs_off], axis=1),
            "T": np.stack([t_on, found.t_peak, found.t_off], axis=1)}


def midpoint_waves(found) -> dict:
    """The signal-free T onset: halfway from ours' QRS offset to its T peak (T onset only)."""
    placed = (found.qrs_off >= 0) & (found.t_peak >= 0)
    middle = np.where(placed, found.qrs_off + (found.t_peak - found.qrs_off) // 2, -1)
    absent = np.full(len(found), -1, dtype=np.int64)
    return {"T": np.stack([middle, absent, absent], axis=1)}


def neurokit_waves(lead: np.ndarray, fs: float) -> dict:
    """neurokit2's DWT delineation of one lead with its own cleaning and R peaks; NaN bounds become -1."""
    import neurokit2 as nk

    cleaned = nk.ecg_clean(lead, sampling_rate=fs)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    r_peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    if len(r_peaks) < 2:  # its delineator needs beats; a lead where it finds none scores as all missed
        return {}
    _, found = nk.ecg_delineate(cleaned, r_peaks, sampling_rate=fs, method="dwt")

    def column(key):
        values = np.asarray(found.get(key, []), dtype=np.float64)
        return np.where(np.isfinite(values), values, -1).astype(np.int64)

    def rows(*columns):
        n = min(len(c) for c in columns)
        return np.stack([c[:n] for c in columns], axis=1)

    return {"P": rows(column("ECG_P_Onsets"), column("ECG_P_Peaks"), column("ECG_P_Offsets")),
            "QRS": rows(column("ECG_R_Onsets"), r_peaks, column("ECG_R_Offsets")),
            "T": rows(column("ECG_T_Onsets"), column("ECG_T_Peaks"), column("ECG_T_Offsets"))}


def neurokit_available() -> bool:
    try:
        import neurokit2  # noqa: F401
    except ImportError:
        return False
    return True


# --- scoring ----------------------------------------------------------------------------------------------------------

def run(dataset, records, tolerance_ms: float, with_neurokit: bool) -> dict:
    """Per record: ours' Delineation, per-lead scores of each method, seconds per method."""
    fs = dataset.fs
    results = {"found": {}, "t_on": {}, "scores": {"ours": {}, "neurokit2": {}, MIDPOINT: {}},
               "seconds": {"ours": 0.0, "neurokit2": 0.0}, "neurokit_failures": 0}
    for count, i in enumerate(records, 1):
        signal = np.asarray(dataset.signals[i], dtype=np.float64)
        annotated = dataset.waves[i]
        start = time.perf_counter()
        found = delineate(signal, fs)
        t_on = t_onsets(signal, fs, found)
        results["seconds"]["ours"] += time.perf_counter() - start
        results["found"][i], results["t_on"][i] = found, t_on
        mine, middle = ours_waves(found, t_on), midpoint_waves(found)
        results["scores"]["ours"][i] = [score_waves(mine, annotated[lead], fs, tolerance_ms) for lead in annotated]
        results["scores"][MIDPOINT][i] = [score_waves(middle, annotated[lead], fs, tolerance_ms)
                                          for lead in annotated]
        if with_neurokit:
            per_lead = []
            for k, lead in enumerate(annotated):
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        theirs = neurokit_waves(signal[k], fs)
                except Exception:  # noqa: BLE001 - a peer failing on a lead is a result: scored as all missed
                    theirs = {}
                    results["neurokit_failures"] += 1
                results["seconds"]["neurokit2"] += time.perf_counter() - start
                per_lead.append(score_waves(theirs, annotated[lead], fs, tolerance_ms))
            results["scores"]["neurokit2"][i] = per_lead
        if count % 20 == 0:
            print(f"   ... {count}/{len(records)} records", flush=True)
    return results


def print_standard_table(results: dict, methods: list, n_records: int, n_leads: int) -> None:
    pooled = {method: combine_waves(s for per_record in results["scores"][method].values() for s in per_record)
              for method in methods}
    midpoint = combine_waves(s for per_record in results["scores"][MIDPOINT].values() for s in per_record)
    print(f"\nStandard protocol: {n_records} records x {n_leads} leads, each boundary pooled over all leads")
    print(f"{'boundary':9s} {'delineator':22s} {'Se':>6s} {'PPV':>6s} {'F1':>6s} {'error mean +- SD (ms)':>22s} "
          f"{'TP':>6s} {'FP':>6s} {'FN':>6s}")
    for name in BOUNDARIES:
        for method in methods:
            s = pooled[method][name]
            if s.tp + s.fp == 0:
                print(f"{name:9s} {method:22s} {'not produced by this delineator':>44s} {'':>6s} {'':>6s} {s.fn:6d}")
                continue
            print(f"{name:9s} {method:22s} {s.se:6.3f} {s.ppv:6.3f} {s.f1:6.3f} "
                  f"{s.mean_error_ms:+10.1f} +- {s.sd_error_ms:5.1f}     {s.tp:6d} {s.fp:6d} {s.fn:6d}")
        if name == "T_on":
            s = midpoint[name]
            print(f"{name:9s} {MIDPOINT:22s} {s.se:6.3f} {s.ppv:6.3f} {s.f1:6.3f} "
                  f"{s.mean_error_ms:+10.1f} +- {s.sd_error_ms:5.1f}     {s.tp:6d} {s.fp:6d} {s.fn:6d}")
        se, ppv, f1, mean, sd = ANCHOR_SECONDARY[name]
        print(f"{name:9s} {'Moskalenko 2020 (2nd)':22s} {se:6.3f} {ppv:6.3f} {f1:6.3f} {mean:+10.1f} +- {sd:5.1f}"
              f"     (published)")
    print("Anchor, Moskalenko et al. 2020 (U-Net trained on LUDB; their split and lead handling, not ours):")
    print(f"  abstract (verified): F1 >= {ANCHOR_ABSTRACT_F1['P']:.3f} P on/offsets, >= {ANCHOR_ABSTRACT_F1['T']:.3f} "
          f"T on/offsets, >= {ANCHOR_ABSTRACT_F1['QRS']:.3f} QRS on/offsets.")
    print("  rows '(2nd)': per-boundary figures attributed to them by a third-party comparison table "
          "(github.com/Drizzr/MCG_segmentation README), not checked against the paper; their P F1 0.965 is below "
          "the abstract's 0.978.")
    print(f"T_on '{MIDPOINT}': ours' QRS offset + (T peak - QRS offset) // 2, a rule that reads no signal: the "
          f"score the protocol gives any T onset placed between the two.")
    if "neurokit2" in methods:
        print(f"neurokit2 failed on {results['neurokit_failures']} leads (scored as all boundaries missed).")
    ours_pooled = pooled["ours"]
    if "neurokit2" in methods:
        behind = [f"{name} {metric}" for name in BOUNDARIES for metric in ("se", "ppv", "f1")
                  if ours_pooled[name].tp + ours_pooled[name].fp
                  and getattr(ours_pooled[name], metric) < getattr(pooled["neurokit2"][name], metric)]
        print(f"ours behind neurokit2 on: {', '.join(behind) if behind else 'nothing (Se, PPV, F1)'}"
              f"{'; T_on: not produced by ours' if ours_pooled['T_on'].tp + ours_pooled['T_on'].fp == 0 else ''}")
    print(f"target F1 >= 0.98 on P onset and offset: ours P_on {ours_pooled['P_on'].f1:.3f}, "
          f"P_off {ours_pooled['P_off'].f1:.3f}")


def print_worst(dataset, results: dict, records, count: int) -> None:
    """The records with most P-boundary errors of ours, with their rhythm: where the P errors come from."""
    rows = []
    for i in records:
        per_lead = results["scores"]["ours"][i]
        fn = sum(s["P_on"].fn + s["P_off"].fn for s in per_lead)
        fp = sum(s["P_on"].fp + s["P_off"].fp for s in per_lead)
        found = results["found"][i]
        annotated_p = [len(dataset.waves[i][lead]["P"]) for lead in dataset.waves[i]]
        rhythm = dataset.meta[i].get("rhythm", "") if dataset.meta else ""
        notes = [d for d in (dataset.meta[i].get("diagnoses", []) if dataset.meta else [])
                 if any(word in d.lower() for word in P_RELEVANT_WORDS)]
        rows.append((fn + fp, fn, fp, dataset.record_ids[i], int((found.p_peak >= 0).sum()), len(found),
                     int(np.median(annotated_p)), rhythm, notes))
    rows.sort(key=lambda row: -row[0])
    total = sum(row[0] for row in rows)
    print(f"\nRecords with most P-boundary errors of ours (FN + FP over both P bounds and all leads; all records: "
          f"{total}):")
    print(f"{'record':>7s} {'FN':>5s} {'FP':>5s} {'P found/beats':>14s} {'median annotated P/lead':>24s}  rhythm "
          f"[diagnoses bearing on P]")
    for errors, fn, fp, record, p_found, n_beats, p_annotated, rhythm, notes in rows[:count]:
        print(f"{record:>7s} {fn:5d} {fp:5d} {p_found:8d} / {n_beats:<3d} {p_annotated:24d}  {rhythm}"
              + (f" [{'; '.join(notes)}]" if notes else ""))


# --- the earlier consensus protocol (second table) ---------------------------------------------------------------

def annotated_t_onsets(waves: dict, r_peaks: np.ndarray, min_leads: int = 6) -> np.ndarray:
    """The consensus T onset of each annotated beat, by ``annotated_delineation``'s rule for the T bounds: each
    lead's first T whose peak lies between this R and the next; the floored median of their onsets (those
    annotated) when at least ``min_leads`` leads have such a T, else -1."""
    onsets = np.full(len(r_peaks), -1, dtype=np.int64)
    for k, r in enumerate(r_peaks):
        after = r_peaks[k + 1] if k + 1 < len(r_peaks) else np.inf
        first = []
        for lead in waves:
            t = np.asarray(waves[lead]["T"]).reshape(-1, 3)
            t = t[(t[:, 1] > r) & (t[:, 1] < after)]
            if len(t):
                first.append(t[0, 0])
        annotated = [value for value in first if value >= 0]
        if len(first) >= min_leads and annotated:
            onsets[k] = int(np.floor(np.median(annotated)))
    return onsets


def consensus_collect(dataset, records, found_by_record, t_on_by_record):
    fs = dataset.fs
    detected, annotated, inner = [], [], []
    for i in records:
        truth = annotated_delineation(dataset.waves[i], fs)
        found = found_by_record[i]
        d, r = beats.match_peaks(found.r_peak, truth.r_peak, int(round(0.15 * fs)))
        truth_t_on = annotated_t_onsets(dataset.waves[i], truth.r_peak)
        detected.append(np.column_stack([found.as_array(), t_on_by_record[i]])[d])
        annotated.append(np.column_stack([truth.as_array(), truth_t_on])[r])
        inner.append((r > 0) & (r < len(truth) - 1))
    return np.concatenate(detected), np.concatenate(annotated), np.concatenate(inner)


def consensus_errors(detected, annotated, start, stop, fs):
    a, b = CONSENSUS_BOUNDS.index(stop), None if start is None else CONSENSUS_BOUNDS.index(start)
    columns = [a] if b is None else [a, b]
    ok = (detected[:, columns] >= 0).all(axis=1) & (annotated[:, columns] >= 0).all(axis=1)
    if b is None:
        diff = detected[ok, a] - annotated[ok, a]
    else:
        diff = (detected[ok, a] - detected[ok, b]) - (annotated[ok, a] - annotated[ok, b])
    return diff * 1000.0 / fs


def print_consensus(detected, annotated, inner, fs) -> None:
    print("\nSecond table, multi-lead consensus protocol (ours only; ground truth = median over leads per beat):")
    print(f"{'':10s} {'MAE':>7s} {'bias':>7s} {'SD':>6s} {'n':>6s} {'CSE 2s':>8s}")
    for name, (start, stop) in INTERVALS.items():
        e = consensus_errors(detected, annotated, start, stop, fs)
        print(f"{name + ' (ms)':10s} {np.abs(e).mean():7.1f} {e.mean():+7.1f} {e.std():6.1f} {len(e):6d}")
    for name in CONSENSUS_BOUNDS:
        e = consensus_errors(detected, annotated, None, name, fs)
        cse = f"{CSE_TOLERANCE_MS[name]:8.1f}" if name in CSE_TOLERANCE_MS else ""
        print(f"{name:10s} {np.abs(e).mean():7.1f} {e.mean():+7.1f} {e.std():6.1f} {len(e):6d} {cse}")
    p = CONSENSUS_BOUNDS.index("p_peak")
    found, truth = detected[inner, p] >= 0, annotated[inner, p] >= 0
    tp, fn, fp = (found & truth).sum(), (~found & truth).sum(), (found & ~truth).sum()
    print(f"P presence (inner beats): Se {tp / max(tp + fn, 1):.3f}, PPV {tp / max(tp + fp, 1):.3f} "
          f"(TP {tp}, FN {fn}, FP {fp}, TN {(~found & ~truth).sum()}). CSE 2s: Martinez et al. 2004, Table I.")


def axis_check(dataset, records):
    """Spearman correlation of four axis definitions with LUDB's axis classes."""
    from scipy.stats import spearmanr

    from beatssl_lite.vcg import ecg_to_vcg

    fs = dataset.fs
    ranks, values = [], {key: [] for key in ("limb, peak", "limb, mean", "Kors VCG, peak", "Kors VCG, mean")}
    for i in records:
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
                baseline = vectors[:, max(0, on - iso):on + 1].mean(axis=1, keepdims=True)
                qrs = vectors[:2, on:off + 1] - baseline[:2]
                apex = int(np.argmax(np.linalg.norm(vectors[:, on:off + 1] - baseline, axis=0)))
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
    parser = common.parser(__doc__, data="ludb", repeats=1)
    parser.add_argument("--split", choices=("report", "tune", "all"), default="report",
                        help="report: the 40 held-out LUDB records (default); tune: the other 160; all: 200")
    parser.add_argument("--tolerance-ms", type=float, default=DEFAULT_TOLERANCE_MS,
                        help=f"matching window (default {DEFAULT_TOLERANCE_MS:g} ms)")
    parser.add_argument("--no-neurokit", action="store_true", help="skip neurokit2 even when installed")
    parser.add_argument("--worst", type=int, default=0, metavar="N",
                        help="list the N records with most P-boundary errors of ours")
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic records when LUDB is absent")
    parser.add_argument("--fs", type=float, default=500.0, help="sampling rate of the synthetic fallback")
    parser.add_argument("--axis", action="store_true", help="also check the QRS axis against LUDB's axis classes")
    args = parser.parse_args()
    if args.quick:
        args.synthetic = min(args.synthetic, 50)

    root = common.data_source(args, "ludb", fallback=f"{args.synthetic} EMBEDDED SYNTHETIC RECORDS at {args.fs:g} Hz "
                                                      f"(seed {args.seed}; exact bounds, whole record annotated)")
    if root is not None:
        dataset = load_ludb(root, progress=False)
    else:
        dataset = make_synthetic_dataset(args.synthetic, fs=args.fs, seed=args.seed)
    tune, report = ludb_split(dataset, test_fraction=SPLIT_TEST_FRACTION, seed=SPLIT_SEED)
    records = {"report": report, "tune": tune, "all": np.arange(len(dataset))}[args.split]
    if args.quick:
        records = records[:QUICK_RECORDS]
    with_neurokit = not args.no_neurokit and neurokit_available()
    methods = ["ours"] + (["neurokit2"] if with_neurokit else [])
    common.print_header(
        "delineation accuracy, standard per-lead protocol", args,
        protocol=__doc__.split("Without LUDB")[0].split("\n", 2)[2]
        + f"This run: split {args.split!r} of ludb_split(test_fraction={SPLIT_TEST_FRACTION}, seed={SPLIT_SEED}), "
          f"{len(records)} records{' (--quick: the first ' + str(QUICK_RECORDS) + ')' if args.quick else ''}, "
          f"tolerance {args.tolerance_ms:g} ms.")
    if not with_neurokit:
        print("neurokit2: " + ("skipped (--no-neurokit)" if args.no_neurokit else
                               "NOT INSTALLED, skipped (pip install 'beatssl-lite[peers]' or neurokit2)"))
    else:
        import neurokit2

        print(f"neurokit2 {neurokit2.__version__}")

    results = run(dataset, records, args.tolerance_ms, with_neurokit)
    n_leads = len(dataset.waves[records[0]]) if len(records) else 0
    print_standard_table(results, methods, len(records), n_leads)
    seconds = results["seconds"]
    print(f"\ntime: ours {seconds['ours']:.2f} s for {len(records)} records (12 leads at once, delineate + t_onsets, "
          f"{1000 * seconds['ours'] / max(len(records), 1):.0f} ms per record)"
          + (f"; neurokit2 {seconds['neurokit2']:.2f} s (lead by lead; "
             f"{seconds['neurokit2'] / max(seconds['ours'], 1e-9):.1f}x ours)" if with_neurokit else ""))
    if args.worst:
        print_worst(dataset, results, records, args.worst)
    if len(records):
        print_consensus(*consensus_collect(dataset, records, results["found"], results["t_on"]), dataset.fs)
    if args.axis and root is not None:
        axis_check(dataset, records)


if __name__ == "__main__":
    main()
