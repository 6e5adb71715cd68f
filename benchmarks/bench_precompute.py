"""Feature precompute throughput and cache reuse, and the per-batch targets of a training step.

    python benchmarks/bench_precompute.py [--data DIR] [--limit N] [--fs 100] [--batch 256] [--quick]

Over the first N PTB-XL records (``--data`` or BEATSSL_DATA; the synthetic set when neither holds PTB-XL, said so
in capitals), in one process:
1. cold precompute (``precompute.precompute``: ``features.extract`` + ``beat_classes.classify_beats``, shards,
   merge) with n_jobs=1 and with n_jobs=2, each into a fresh temporary cache: records per second, and the
   n_jobs=2 / n_jobs=1 speed-up; the two caches must be identical (determinism across worker counts);
2. warm call (the merged cache exists): load time, and the cold (n_jobs=2) / warm time ratio;
3. when the data is PTB-XL: record-level agreement of the beat classes with PTB-XL's PVC / PAC / atrial
   fibrillation statements (PTB-XL has no beat labels);
4. the targets of one training step for a batch of B records drawn from the cache (seeded), best of --repeats
   interleaved rounds: the numpy float64 reference (``rhythm_targets`` (2B, 2B); ``beat_targets`` (M, M) and the
   (2M, 2M) two-view beat matrix a step used to build) against the torch blocks a step builds now
   (``rhythm_target_block`` (B, B), ``beat_target_block`` (M, M), float32, on the CPU here), with the bytes of
   each result; each ratio on a line of its own.
BLAS runs single-threaded (OPENBLAS/OMP/MKL_NUM_THREADS=1 unless already set) and torch with one thread: n_jobs is
then the only parallelism being measured, and small matrix products do not stall on spinning BLAS threads when the
cores are shared.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

# Set before numpy is imported (see the docstring).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import common  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from beatssl_lite import targets  # noqa: E402
from beatssl_lite.datasets import load_dataset, load_ptbxl  # noqa: E402
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

    def has(*names):
        return np.array([bool(c & set(names)) for c in codes])

    def share(flags, where):
        return f"{flags[where].mean():.3f} of {where.sum()}" if where.any() else "- (no such record)"

    pvc, pac, af = has("PVC", "BIGU", "TRIGU"), has("PAC"), has("AFIB", "AFLT")
    ectopy_free = ~(pvc | pac | af | has("SARRH", "SVTAC", "PSVT", "SVARR"))
    v, s, f = (present[:, BEAT_CLASSES.index(c)] for c in "VSF")
    print("\nbeat classes vs PTB-XL statements (record level: a record 'has' a class if one of its beats has it):")
    print(f"  PVC/bigeminy/trigeminy records with a V beat: {share(v, pvc)}")
    print(f"  PAC records with an S beat: {share(s, pac)}")
    print(f"  atrial fibrillation/flutter records with an S beat: {share(s, af)}")
    print(f"  records without any ectopy/arrhythmia statement with a V beat: {share(v, ectopy_free)}, "
          f"an S beat: {share(s, ectopy_free)}, an F beat: {share(f, ectopy_free)}")


def megabytes(array) -> float:
    return (array.nbytes if isinstance(array, np.ndarray) else array.element_size() * array.numel()) / 1e6


def print_step_targets(cache: FeatureCache, batch_size: int, seed: int, repeats: int) -> None:
    """Numpy reference vs torch blocks for the targets of one step (item 4 of the docstring)."""
    rng = np.random.default_rng(seed)
    batch = cache.batch(rng.choice(len(cache), size=min(batch_size, len(cache)), replace=False))
    b, m = len(batch.record_features), len(batch.beat_features)
    record_names, beat_names = cache.record_feature_names, cache.beat_feature_names
    rows = {  # the batch's feature rows as a step holds them: tensors on the step's device (here the CPU)
        "record": torch.from_numpy(batch.record_features),
        "beat": torch.from_numpy(batch.beat_features),
        "index": torch.from_numpy(batch.beat_record_index),
        "classes": torch.from_numpy(batch.beat_classes),
    }
    cases = {  # name: (numpy reference, torch block, what a step used to build with numpy)
        "rhythm soft_1 ** 50": (
            lambda: targets.rhythm_targets(batch.record_features, "soft_1", 50),
            lambda: targets.rhythm_target_block(rows["record"], "soft_1", 50), None),
        "rhythm soft_2": (
            lambda: targets.rhythm_targets(batch.record_features, "soft_2", names=record_names),
            lambda: targets.rhythm_target_block(rows["record"], "soft_2", names=record_names), None),
        "beat hard": (
            lambda: targets.beat_targets(batch.beat_features, batch.beat_record_index, batch.beat_classes, "hard"),
            lambda: targets.beat_target_block(rows["beat"], rows["index"], rows["classes"], "hard"), "two-view"),
        "beat soft_1 ** 50": (
            lambda: targets.beat_targets(batch.beat_features, batch.beat_record_index, batch.beat_classes,
                                         "soft_1", 50),
            lambda: targets.beat_target_block(rows["beat"], rows["index"], rows["classes"], "soft_1", 50),
            "two-view"),
        "beat soft_2": (
            lambda: targets.beat_targets(batch.beat_features, batch.beat_record_index, batch.beat_classes,
                                         "soft_2", names=beat_names),
            lambda: targets.beat_target_block(rows["beat"], rows["index"], rows["classes"], "soft_2",
                                              names=beat_names),
            "two-view"),
    }
    print(f"\ntargets of one step for B={b} records ({m} beats), best of {repeats} interleaved rounds of a warm-up "
          f"and 3 timed calls; numpy float64 reference vs torch float32 block (CPU, 1 thread):")
    ratios = {}
    for name, (reference, block, previous) in cases.items():
        runs = {"numpy": lambda i: reference(), "torch": lambda i: block()}
        if previous:
            runs["numpy two-view"] = lambda i: targets.two_view_targets(reference())
        best = common.best_times(runs, repeats, calls=3)
        ref, blk = reference(), block()
        two_view = targets.two_view_from_block(blk).numpy()
        full = ref if ref.shape == two_view.shape else targets.two_view_targets(ref)
        error = np.abs(two_view - full).max() if full.size else 0.0
        line = (f"  {name:20s} numpy {tuple(ref.shape)} {megabytes(ref):6.1f} MB {best['numpy'] * 1e3:8.1f} ms | "
                f"torch block {tuple(blk.shape)} {megabytes(blk):5.1f} MB {best['torch'] * 1e3:7.1f} ms | "
                f"max |difference| {error:.1e}")
        print(line)
        ratios[f"{name}, torch block vs numpy {tuple(ref.shape)}"] = best["numpy"] / best["torch"]
        if previous:
            print(f"  {'':20s} numpy two-view (2M, 2M) as a step built it: {megabytes(full):6.1f} MB "
                  f"{best['numpy two-view'] * 1e3:8.1f} ms")
            ratios[f"{name}, torch block vs numpy two-view"] = best["numpy two-view"] / best["torch"]
    print("speed-ups (numpy time / torch block time, same run):")
    for name, ratio in ratios.items():
        print(f"  {name}: {ratio:.2f}x")


def main(argv=None) -> None:
    parser = common.parser(__doc__, data="ptbxl", repeats=3)
    parser.add_argument("--limit", type=int, default=1000, help="number of records (default 1000; --quick: 200)")
    parser.add_argument("--fs", type=int, default=100, choices=(100, 500), help="PTB-XL sampling rate (default 100)")
    parser.add_argument("--batch", type=int, default=256, help="batch size of the per-step targets (default 256)")
    args = parser.parse_args(argv)
    limit = 200 if args.quick else args.limit
    torch.set_num_threads(1)
    root = common.data_source(args, "ptbxl", fallback=f"{limit} synthetic records")
    common.print_header("feature precompute and step targets (benchmarks/bench_precompute.py)", args, protocol=(
        f"first {limit} records at {args.fs} Hz; cold precompute n_jobs=1 and 2 into fresh temporary caches, one "
        f"run each, then one warm call; step targets for a seeded batch of {args.batch} records"))
    if root is None:
        dataset = load_dataset("synthetic", n_records=limit, fs=args.fs, seed=args.seed)
    else:
        dataset = load_ptbxl(root=root, fs=args.fs, max_records=limit, progress=False)
    n = len(dataset)
    print(f"data: {dataset!r}")

    float(np.asarray(dataset.signals).sum())  # read the (memory-mapped) signals once: no run pays the first disk read
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        serial, t1 = timed(precompute, dataset, cache_dir=one, n_jobs=1, progress=False)
        parallel, t2 = timed(precompute, dataset, cache_dir=two, n_jobs=2, progress=False)
        warm, t3 = timed(precompute, dataset, cache_dir=two, n_jobs=2, progress=False)
        size_kb = Path(warm.path).stat().st_size / 1024

    print("\nprecompute (features.extract + classify_beats, sharded, merged), cold cache:")
    print(f"  n_jobs=1: {t1:7.2f} s  {n / t1:7.1f} records/s")
    print(f"  n_jobs=2: {t2:7.2f} s  {n / t2:7.1f} records/s")
    print(f"  speed-up n_jobs=2 vs n_jobs=1: {t1 / t2:.2f}x")
    print(f"  identical results for n_jobs=1 and 2: {same_cache(serial, parallel)}")
    print(f"warm call (cache file {size_kb:.0f} KiB): {t3 * 1e3:.1f} ms, identical: {same_cache(parallel, warm)}")
    print(f"  cold (n_jobs=2) vs warm: {t2 / t3:.0f}x")

    beats = serial.beat_counts
    classes = np.bincount(serial.beat_classes, minlength=len(BEAT_CLASSES))
    print(f"\nbeats: {beats.sum()} ({beats.mean():.1f} per record, {int((beats == 0).sum())} records without beats)")
    print("beat classes: " + ", ".join(f"{c} {k} ({k / max(beats.sum(), 1):.1%})"
                                       for c, k in zip(BEAT_CLASSES, classes)))
    undefined = np.isnan(serial.record_features).mean(axis=0)
    print("record features undefined (NaN) in: " + (", ".join(
        f"{name} {u:.1%}" for name, u in zip(serial.record_feature_names, undefined) if u > 0) or "none"))

    if dataset.meta is not None and all("scp_codes" in m for m in dataset.meta):
        print_statement_agreement(serial, dataset.meta)

    print_step_targets(serial, args.batch, args.seed, args.repeats)


if __name__ == "__main__":
    main()
