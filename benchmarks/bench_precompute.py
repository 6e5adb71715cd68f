"""Feature precompute throughput and cache reuse, and per-batch target construction.

    python benchmarks/bench_precompute.py [--data DIR] [--limit N] [--fs 100] [--quick]

Over the first N PTB-XL records (``load_dataset('ptbxl', fallback='synthetic')``: ``--data`` or ``BEATSSL_DATA``;
the synthetic set when neither is there, said so in the output), in one process:
1. cold precompute (``precompute.precompute``: ``features.extract`` + beat classes, shards, merge) with n_jobs=1 and
   with n_jobs=2, each into a fresh temporary cache: records per second, and the n_jobs=2 / n_jobs=1 speed-up;
   the two caches must be identical (determinism across worker counts);
2. warm call (the merged cache exists): load time, and the cold (n_jobs=2) / warm time ratio;
3. when the data is PTB-XL: record-level agreement of the beat classes with PTB-XL's PVC / PAC / atrial
   fibrillation statements (PTB-XL has no beat labels);
4. per-batch target construction from the cache (what training does at every step) for a batch of 256 records:
   ``rhythm_targets`` soft_1 ** 50 and soft_2, ``beat_targets`` hard and soft_1, in ms.
BLAS runs single-threaded (OPENBLAS/OMP/MKL_NUM_THREADS=1 unless already set). Wall-clock times on a shared
machine move with its load: read the ratios, and rerun when in doubt.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

# One BLAS thread per process (unless set otherwise): n_jobs is then the only parallelism being measured, and small
# matrix products do not stall on spinning BLAS threads when the cores are shared. Set before numpy is imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from beatssl_lite import load_dataset, targets  # noqa: E402
from beatssl_lite.precompute import FeatureCache, precompute  # noqa: E402
from beatssl_lite.vocabulary import BEAT_CLASSES  # noqa: E402


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def same_cache(a: FeatureCache, b: FeatureCache) -> bool:
    arrays = ("record_features", "beat_features", "beat_offsets", "r_peaks", "beat_classes")
    return all(np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True) for name in arrays)


def print_statement_agreement(cache: FeatureCache, meta) -> None:
    """Record-level agreement of the beat classes with PTB-XL's rhythm/form statements (no beat labels exist)."""
    codes = [set(m["scp_codes"]) for m in meta]
    present = np.array([[(cache.beat_classes[a:b] == k).any() for k in range(len(BEAT_CLASSES))]
                        for a, b in zip(cache.beat_offsets[:-1], cache.beat_offsets[1:])])
    has = lambda *names: np.array([bool(c & set(names)) for c in codes])  # noqa: E731
    pvc, pac, af = has("PVC", "BIGU", "TRIGU"), has("PAC"), has("AFIB", "AFLT")
    ectopy_free = ~(pvc | pac | af | has("SARRH", "SVTAC", "PSVT", "SVARR"))
    v, s, f = (present[:, BEAT_CLASSES.index(c)] for c in "VSF")
    print("\nbeat classes vs PTB-XL statements (record level: a record 'has' a class if one of its beats has it):")
    def share(flags, where):
        return f"{flags[where].mean():.3f} of {where.sum()}" if where.any() else "- (no such record)"

    print(f"  PVC/bigeminy/trigeminy records with a V beat: {share(v, pvc)}")
    print(f"  PAC records with an S beat: {share(s, pac)}")
    print(f"  atrial fibrillation/flutter records with an S beat: {share(s, af)}")
    print(f"  records without any ectopy/arrhythmia statement with a V beat: {share(v, ectopy_free)}, "
          f"an S beat: {share(s, ectopy_free)}, an F beat: {share(f, ectopy_free)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="data root holding ptb-xl/ (default: BEATSSL_DATA, else synthetic)")
    parser.add_argument("--limit", type=int, default=1000, help="number of records (default 1000)")
    parser.add_argument("--fs", type=int, default=100, choices=(100, 500), help="PTB-XL sampling rate (default 100)")
    parser.add_argument("--quick", action="store_true", help="200 records, for a smoke run")
    parser.add_argument("--batch", type=int, default=256, help="batch size for the per-batch target timing")
    args = parser.parse_args(argv)
    limit = 200 if args.quick else args.limit

    dataset = load_dataset("ptbxl", root=args.data, fallback="synthetic", fs=args.fs, max_records=limit,
                           n_records=limit, progress=False)
    n = len(dataset)
    print(f"data: {dataset.name}, {n} records, fs {dataset.fs:g} Hz, {dataset.signals.shape[-1]} samples each")

    float(np.asarray(dataset.signals).sum())  # read the (memory-mapped) signals once: no run pays the first disk read
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        serial, t1 = timed(precompute, dataset, cache_dir=one, n_jobs=1, progress=False)
        parallel, t2 = timed(precompute, dataset, cache_dir=two, n_jobs=2, progress=False)
        warm, t3 = timed(precompute, dataset, cache_dir=two, n_jobs=2, progress=False)
        size_kb = Path(warm.path).stat().st_size / 1024

    print("\nprecompute (features.extract + classify_beats, sharded, merged), cold cache:")
    print(f"  n_jobs=1: {t1:7.2f} s  {n / t1:7.1f} records/s")
    print(f"  n_jobs=2: {t2:7.2f} s  {n / t2:7.1f} records/s  speed-up vs n_jobs=1: {t1 / t2:.2f}x")
    print(f"  identical results for n_jobs=1 and 2: {same_cache(serial, parallel)}")
    print(f"warm call (cache file {size_kb:.0f} KiB): {t3 * 1e3:.1f} ms, cold (n_jobs=2) / warm: {t2 / t3:.0f}x, "
          f"identical: {same_cache(parallel, warm)}")

    beats = serial.beat_counts
    classes = np.bincount(serial.beat_classes, minlength=len(BEAT_CLASSES))
    print(f"\nbeats: {beats.sum()} ({beats.mean():.1f} per record, {int((beats == 0).sum())} records without beats)")
    print("beat classes: " + ", ".join(f"{c} {k} ({k / max(beats.sum(), 1):.1%})"
                                       for c, k in zip(BEAT_CLASSES, classes)))
    undefined = np.isnan(serial.record_features).mean(axis=0)
    print("record features undefined (NaN) in: " + ", ".join(
        f"{name} {u:.1%}" for name, u in zip(serial.record_feature_names, undefined) if u > 0) or "none")

    if dataset.meta is not None and all("scp_codes" in m for m in dataset.meta):
        print_statement_agreement(serial, dataset.meta)

    rng = np.random.default_rng(0)
    batch = serial.batch(rng.choice(n, size=min(args.batch, n), replace=False))
    b, m = len(batch.record_features), len(batch.beat_features)
    print(f"\nper-batch targets for B={b} records ({m} beats), mean of 5 runs after a warm-up:")
    jobs = {
        "rhythm soft_1 ** 50 (2B x 2B)": lambda: targets.rhythm_targets(batch.record_features, "soft_1", 50),
        "rhythm soft_2 (2B x 2B)": lambda: targets.rhythm_targets(
            batch.record_features, "soft_2", names=serial.record_feature_names),
        "beat hard (M x M)": lambda: targets.beat_targets(
            batch.beat_features, batch.beat_record_index, batch.beat_classes, "hard"),
        "beat soft_1 ** 50 (M x M)": lambda: targets.beat_targets(
            batch.beat_features, batch.beat_record_index, batch.beat_classes, "soft_1", 50),
        "beat soft_2 (M x M)": lambda: targets.beat_targets(
            batch.beat_features, batch.beat_record_index, batch.beat_classes, "soft_2",
            names=serial.beat_feature_names),
    }
    jobs = {"cache.batch (gather)": lambda: serial.batch(rng.choice(n, size=b, replace=False)), **jobs}
    for name, job in jobs.items():
        job()  # warm-up; then each result is dropped before the next run, as in a training loop
        start = time.perf_counter()
        for _ in range(5):
            job()
        print(f"  {name:32s} {(time.perf_counter() - start) / 5 * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
