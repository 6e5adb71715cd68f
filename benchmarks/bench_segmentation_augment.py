"""LUDB segmentation: does augmenting the training records during fine-tuning close the gap to the paper's 0.911?

Chapter 9 finds our LUDB gap to be one of generalising from 160 training records, not of resolution. The usual
answer to too few records is augmentation; the reproduction uses none. This script fine-tunes the shipped row-9
encoder (``load_pretrained("beat-ssl")``, size `cpu`) with the library's frame decoder through
``downstream.segmentation_kfold`` (5 patient-level folds, split seed 0, every record tested once; 40 epochs, batches
of 8, Adam 1e-3, seed --seed; sample-wise F1 on samples 500-4500 at 500 Hz, mean over P, QRS, T), once without
augmentation (the baseline, first, in this process: with one torch thread it is the reproduction's
``results/ludb-5fold`` row-9 seed-0 unit) and once with each augmentation asked for (``augment=`` of
``downstream.evaluate_segmentation``, ranges in ``downstream.AUGMENT_*``):
- shift: the input rolled by a random whole number of samples within +-0.5 s, the logits rolled back (the annotated
  masks stay where they are; the wrapped junction sits at the record's edges, outside the scored samples);
- stretch: the input resampled in time by a random factor in [0.9, 1.1] (a heart rate and wave durations 10 %
  faster or slower), the logits resampled back to the masks' time;
- scale: each lead's amplitude multiplied by a random factor in [0.7, 1.3];
- all: scale, stretch and shift together.
One draw per training batch, from torch's generator, seeded by ``evaluate_segmentation`` (same command, same
numbers). Each line gives the F1 of every fold, its mean, and its difference from the baseline fold by fold (how
many folds are above it); the five folds share the encoder, so five pairs say little about another seed.
--quick: 4 epochs on 3 folds, for a smoke run. Minutes per fold on 2 cores.

    OMP_NUM_THREADS=1 python benchmarks/bench_segmentation_augment.py [--data DIR] [--quick] [--seed 0]
                                                                      [--augment shift stretch scale all]
"""

from __future__ import annotations

import time

import numpy as np
import torch

import common
from beatssl_lite import downstream, load_dataset, load_pretrained

AUGMENTATIONS = {"shift": ("shift",), "stretch": ("stretch",), "scale": ("scale",),
                 "all": downstream.SEGMENTATION_AUGMENTATIONS}


def main() -> None:
    parser = common.parser(__doc__, data="ludb", repeats=1)
    parser.add_argument("--augment", nargs="+", choices=tuple(AUGMENTATIONS), default=list(AUGMENTATIONS),
                        help="augmentations to compare with the baseline (default all four)")
    args = parser.parse_args()
    root = common.data_source(args, "ludb", fallback="the embedded synthetic ECG")
    common.print_header("LUDB segmentation: augmentation during fine-tuning", args,
                        protocol="5 patient-level folds (ludb_folds, split seed 0), sample-wise F1 on samples "
                                 "500-4500 at 500 Hz, mean over P, QRS, T (see --help)")
    dataset = load_dataset("ludb", root=root, progress=False) if root else load_dataset("ludb", fallback="synthetic")
    epochs, n_folds = (4, 3) if args.quick else (40, 5)
    print(f"shipped row-9 encoder fine-tuned, frame decoder, {epochs} epochs, seed {args.seed}, "
          f"{torch.get_num_threads()} torch thread(s)")
    baseline = None
    for name in ["none", *args.augment]:
        start = time.perf_counter()
        folds = downstream.segmentation_kfold(load_pretrained("beat-ssl"), dataset, k=n_folds, seed=args.seed,
                                              epochs=epochs, allow_synthetic=root is None,
                                              augment=AUGMENTATIONS.get(name, ()))
        f1 = np.array([fold["metrics"]["f1_mean"] for fold in folds])
        parts = {wave: np.mean([fold["metrics"][f"f1_{wave}"] for fold in folds]) for wave in ("P", "QRS", "T")}
        line = (f"{name:8s}: F1 per fold {' '.join(f'{v:.3f}' for v in f1)}, mean {f1.mean():.4f} "
                f"(P {parts['P']:.3f}, QRS {parts['QRS']:.3f}, T {parts['T']:.3f})")
        if baseline is None:
            baseline = f1
        else:
            difference = f1 - baseline
            line += (f"; minus the baseline {difference.mean():+.4f} (folds above it: "
                     f"{np.count_nonzero(difference > 0)} of {len(f1)})")
        print(f"{line}; {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
