"""Feature extraction per record: ``features.extract`` against the straightforward sequence of its public steps.

What is compared, on the same records in the same run (interleaved rounds, best kept: ``common.best_times``):
- extract: ``features.extract(signal, fs)``: validates the record once and computes each filtered version once
  (5-15 Hz for detection, 0.5-40 Hz shared by the R-peak refinement, the delineation and the amplitudes/axis,
  0.5-15 Hz for the T and P waves; at 100 Hz the delineation filters at its 500 Hz working rate);
- steps: ``beats.detect_r_peaks(signal, fs)``, then ``delineation.delineate(signal, fs, peaks)``, then
  ``features.beat_features(signal, fs, delineation)`` and ``features.record_features``: what a user would write,
  and what ``extract`` did before it shared its work (3 validations, 5 zero-phase filters per record, three of
  them the same 0.5-40 Hz band at 500 Hz).
Both give identical results (``tests/test_features.py::test_extract_equals_the_public_steps``). Figures: seconds
per record (all records of the set, one call each per round, best of --repeats rounds) and the ratio
steps / extract. Records: LUDB (500 Hz, 10 s) and PTB-XL at 100 Hz (10 s) where present, else the embedded
synthetic ECG at both rates (said so). --quick: 10 records per set, 2 rounds.

    python benchmarks/bench_extract.py [--data DIR] [--quick] [--repeats 5] [--records 40]
"""

from __future__ import annotations

import common
import numpy as np

from beatssl_lite.beats import detect_r_peaks
from beatssl_lite.datasets import load_ludb, load_ptbxl
from beatssl_lite.delineation import delineate
from beatssl_lite.features import beat_features, extract, record_features
from beatssl_lite.synthetic import make_synthetic_dataset


def steps(signal, fs):
    peaks = detect_r_peaks(signal, fs)
    found = delineate(signal, fs, peaks)
    rows = beat_features(signal, fs, found)
    return rows, record_features(rows, peaks, fs)


def record_sets(args):
    """[(name, fs, [signals])]: LUDB at 500 Hz and PTB-XL at 100 Hz, or the synthetic stand-in for either."""
    count = 10 if args.quick else args.records
    sets = []
    root = common.data_source(args, "ludb", fallback=f"{count} embedded synthetic records at 500 Hz")
    if root is not None:
        dataset = load_ludb(root, progress=False)
        sets.append(("LUDB", dataset.fs, [np.asarray(s, dtype=np.float64) for s in dataset.signals[:count]]))
    else:
        dataset = make_synthetic_dataset(count, fs=500.0, seed=args.seed)
        sets.append(("synthetic", 500.0, [np.asarray(s, dtype=np.float64) for s in dataset.signals]))
    root = common.data_source(args, "ptbxl", fallback=f"{count} embedded synthetic records at 100 Hz")
    if root is not None:
        dataset = load_ptbxl(root, fs=100, max_records=count)
        sets.append(("PTB-XL", dataset.fs, [np.asarray(s, dtype=np.float64) for s in dataset.signals]))
    else:
        dataset = make_synthetic_dataset(count, fs=100.0, seed=args.seed)
        sets.append(("synthetic", 100.0, [np.asarray(s, dtype=np.float64) for s in dataset.signals]))
    return sets


def main() -> None:
    parser = common.parser(__doc__, data="ludb")
    parser.add_argument("--records", type=int, default=40, help="records per set (default 40)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = min(args.repeats, 2)
    sets = record_sets(args)
    common.print_header("features.extract vs its public steps, per record", args,
                        protocol=__doc__.split("\n\n")[1])
    print(f"{'records':22s} {'steps (ms)':>11s} {'extract (ms)':>13s} {'steps / extract':>16s}")
    for name, fs, signals in sets:
        runs = {"steps": lambda _: [steps(x, fs) for x in signals],
                "extract": lambda _: [extract(x, fs) for x in signals]}
        best = common.best_times(runs, args.repeats)
        per_record = {key: 1000.0 * value / len(signals) for key, value in best.items()}
        print(f"{f'{name}, {len(signals)} at {fs:g} Hz':22s} {per_record['steps']:11.1f} "
              f"{per_record['extract']:13.1f} {best['steps'] / best['extract']:15.2f}x")


if __name__ == "__main__":
    main()
