"""3KG throughput: ``three_kg`` against two per-record numpy loops and against the memory ceiling, in one run.

Protocol: random ECG-shaped input (batch x 12 x samples float32, seeded; the content does not change the cost), the
default ``ThreeKGConfig`` (the reference's: angles U(-45, 45) deg, scales U(1, 1.5), 50 % mask), every
implementation in this process, torch with all cores (``torch.set_num_threads(os.cpu_count())``; --threads to
change it: one thread is the least disturbed by other processes on a shared machine).
Throughput is a steady state: a training loop augments a new batch at every step. Each measurement is a run of one
untimed warm-up call and --calls timed back-to-back calls, cycling over two distinct input batches (each call reads
a batch the previous call did not touch: from memory, not from cache); its figure is the time per call. Runs of
every implementation are interleaved, one of each per round, for --repeats rounds, each keeping its best round
(``common.best_times``).

Implementations:
- straightforward loop: the recipe as one first writes it (about the public reference code's speed): per record,
  scipy rotation, VCG, back-projection, derived leads, float64, the mask as modulo index arrays per lead;
- tuned loop: the same with light tuning: the constant matrices multiplied once, one 12 x 8 float32 map per
  record (a single product gives all 12 leads), the mask as one or two slice assignments per lead;
- three_kg: the package's call; on the CPU the fused numba kernel (when numba is installed);
- three_kg, torch path: the same call with ``augment.FUSED_CPU_KERNEL = False``: what runs without numba (the
  [fast] extra), and on a GPU;
- bare copy: the batch copied into a preallocated buffer, the memory-bandwidth ceiling of any implementation
  (each reads the batch and writes as much).
Outputs: "reused" writes into one preallocated output (``three_kg(x, out=buffer)``, as a training loop can);
"fresh" allocates at every call, as ``three_kg(x)`` does (a fresh 61 MB block, 256 x 12 x 5000 float32, is mapped
and zeroed by the OS on first write; its cost alone is printed too). The NaN/inf check (``check_finite``, on by
default) is timed on and off on both paths. Target: three_kg >= 20x the straightforward loop on CPU for
256 x 12 x 5000, reused output.

    python benchmarks/bench_augment.py [--batch 256] [--samples 5000] [--repeats 5] [--calls 8] [--threads N]
                                       [--quick] [--seed 0]
"""

from __future__ import annotations

import os

import numpy as np
import torch
from scipy.spatial.transform import Rotation

import common
from beatssl_lite import augment, vcg
from beatssl_lite.augment import ThreeKGConfig, three_kg


def straightforward_loop(x: np.ndarray, rng: np.random.Generator, config: ThreeKGConfig,
                         out: np.ndarray | None = None) -> np.ndarray:
    """The recipe as one would first write it: per record, scipy rotation, VCG, back, derive, mask per lead."""
    back = np.linalg.pinv(vcg.INVERSE_DOWER)
    out = np.empty_like(x) if out is None else out
    n = x.shape[-1]
    length = round(config.mask_fraction * n)
    for i, ecg in enumerate(x):
        angles = rng.uniform(-config.max_angle_deg, config.max_angle_deg, 3)
        rotation = Rotation.from_euler("zyx", angles, degrees=True).as_matrix()
        scale = np.diag(rng.uniform(config.scale_min, config.scale_max, 3))
        dipole = vcg.INVERSE_DOWER @ vcg.twelve_to_eight(ecg)
        view = vcg.eight_to_twelve(back @ scale @ rotation @ dipole)
        for lead in range(12):
            view[lead, (rng.integers(n) + np.arange(length)) % n] = 0.0
        out[i] = view
    return out


# The tuned loop's constants, multiplied once: VCG -> 12 leads (back-projection, then the derived-lead identities).
TWELVE_FROM_VCG = vcg.eight_to_twelve(np.linalg.pinv(vcg.INVERSE_DOWER))  # (12, 3)


def tuned_loop(x: np.ndarray, rng: np.random.Generator, config: ThreeKGConfig,
               out: np.ndarray | None = None) -> np.ndarray:
    """The same recipe lightly tuned: one 12 x 8 float32 map per record, slice masks. Same random draws, in the
    same order, as ``straightforward_loop``, so the same seed gives the same views (checked before timing)."""
    out = np.empty_like(x) if out is None else out
    n = x.shape[-1]
    length = round(config.mask_fraction * n)
    independent = list(vcg.INDEPENDENT_INDEX)
    for i, ecg in enumerate(x):
        angles = rng.uniform(-config.max_angle_deg, config.max_angle_deg, 3)
        rotation = Rotation.from_euler("zyx", angles, degrees=True).as_matrix()
        scales = rng.uniform(config.scale_min, config.scale_max, 3)
        lead_map = ((TWELVE_FROM_VCG * scales) @ rotation @ vcg.INVERSE_DOWER).astype(x.dtype)  # B S R D, (12, 8)
        np.matmul(lead_map, ecg[independent], out=out[i])
        for lead in range(12):
            start = rng.integers(n)
            end = start + length
            out[i, lead, start:end] = 0.0
            if end > n:  # the block wraps around the end of the record
                out[i, lead, :end - n] = 0.0
    return out


def torch_path(*args, **kwargs):
    """``three_kg`` as it runs without numba: the public switch ``FUSED_CPU_KERNEL`` off for the call."""
    fused = augment.FUSED_CPU_KERNEL
    augment.FUSED_CPU_KERNEL = False
    try:
        return three_kg(*args, **kwargs)
    finally:
        augment.FUSED_CPU_KERNEL = fused


def main() -> None:
    parser = common.parser(__doc__, repeats=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=8, help="timed back-to-back calls per run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    args = parser.parse_args()
    if args.quick:  # batch 32, three rounds
        args.batch, args.repeats = 32, 3
    torch.set_num_threads(args.threads)
    common.print_header("3KG throughput (benchmarks/bench_augment.py)", args, protocol=(
        f"{args.batch} x 12 x {args.samples} float32 on the CPU, default ThreeKGConfig; runs of one warm-up and "
        f"{args.calls} timed calls over two alternating batches, best of {args.repeats} interleaved rounds"))
    config = ThreeKGConfig()
    rng = np.random.default_rng(args.seed)
    batches = [rng.normal(size=(args.batch, 12, args.samples)).astype(np.float32) for _ in range(2)]
    tensors = [torch.from_numpy(x) for x in batches]
    generator = torch.Generator().manual_seed(args.seed)

    # The baselines must compute the same thing: both loops, same seed, same views (float32 vs float64 rounding).
    small = batches[0][:8]
    np.testing.assert_allclose(tuned_loop(small, np.random.default_rng(1), config),
                               straightforward_loop(small, np.random.default_rng(1), config), atol=1e-4)
    three_kg(tensors[0][:2], config, generator)  # warm-up (and the kernel's compilation, if not cached yet)
    fused = augment.FUSED_CPU_KERNEL
    out_numpy, out_torch = np.empty_like(batches[0]), torch.empty_like(tensors[0])
    out_numpy.fill(0.0)  # touch the buffers' pages once, so that "reused" means reused
    out_torch.zero_()

    loop_rng = np.random.default_rng(args.seed)
    runs = {
        ("straightforward loop", "reused"): lambda i: straightforward_loop(batches[i % 2], loop_rng, config, out_numpy),
        ("straightforward loop", "fresh"): lambda i: straightforward_loop(batches[i % 2], loop_rng, config),
        ("tuned loop", "reused"): lambda i: tuned_loop(batches[i % 2], loop_rng, config, out_numpy),
        ("tuned loop", "fresh"): lambda i: tuned_loop(batches[i % 2], loop_rng, config),
        ("three_kg", "reused"): lambda i: three_kg(tensors[i % 2], config, generator, out=out_torch),
        ("three_kg", "fresh"): lambda i: three_kg(tensors[i % 2], config, generator),
        ("three_kg unchecked", "reused"): lambda i: three_kg(tensors[i % 2], config, generator, out=out_torch,
                                                             check_finite=False),
        ("torch path", "reused"): lambda i: torch_path(tensors[i % 2], config, generator, out=out_torch),
        ("torch path", "fresh"): lambda i: torch_path(tensors[i % 2], config, generator),
        ("torch path unchecked", "reused"): lambda i: torch_path(tensors[i % 2], config, generator, out=out_torch,
                                                                 check_finite=False),
        ("bare copy", "reused"): lambda i: out_torch.copy_(tensors[i % 2]),
        ("fresh zeros", "fresh"): lambda i: np.zeros_like(batches[0]),
    }
    best = common.best_times(runs, args.repeats, args.calls)

    kernel = "fused numba kernel" if fused else "torch path: numba is not installed"
    threads = torch.get_num_threads()
    print(f"\nrecords/s ({threads} thread{'s' if threads > 1 else ''}); ms per batch in brackets")
    print(f"  {'implementation':38s} {'reused output':>22s} {'fresh output':>22s}")
    names = {"straightforward loop": "straightforward loop (~reference code)", "tuned loop": "tuned loop",
             "three_kg": f"three_kg ({kernel})", "torch path": "three_kg, torch path (without numba)",
             "bare copy": "bare copy (memory ceiling)"}
    for name, label in names.items():
        cells = [f"{args.batch / best[name, output]:10.0f} ({best[name, output] * 1e3:7.1f} ms)"
                 if (name, output) in best else "" for output in ("reused", "fresh")]
        print(f"  {label:38s} {cells[0]:>22s} {cells[1]:>22s}")
    print(f"  fresh output alone (np.zeros of the batch's shape: the OS maps and zeroes new pages): "
          f"{best['fresh zeros', 'fresh'] * 1e3:.1f} ms")

    ours = best["three_kg", "reused"]
    print("\nspeed-ups of three_kg, reused output (fresh output in brackets):")
    for baseline in ("straightforward loop", "tuned loop"):
        print(f"  three_kg vs the {baseline}: {best[baseline, 'reused'] / ours:.1f}x "
              f"({best[baseline, 'fresh'] / best['three_kg', 'fresh']:.1f}x)")
    print(f"  three_kg vs the bare-copy ceiling: {ours / best['bare copy', 'reused']:.2f}x the time of a bare copy "
          f"(1.0 would be the memory limit)")
    print(f"  tuned loop vs the straightforward loop: "
          f"{best['straightforward loop', 'reused'] / best['tuned loop', 'reused']:.1f}x")
    torch_s = best["torch path", "reused"]
    print(f"  without numba (torch path): {torch_s / ours:.1f}x the time of three_kg, still "
          f"{best['straightforward loop', 'reused'] / torch_s:.1f}x the straightforward loop and "
          f"{best['tuned loop', 'reused'] / torch_s:.1f}x the tuned loop")
    print("\ncost of the NaN/inf check (check_finite=True, the default), reused output:")
    for name in ("three_kg", "torch path"):
        checked, unchecked = best[name, "reused"], best[f"{name} unchecked", "reused"]
        print(f"  {names[name]:38s} {(checked - unchecked) * 1e3:+.2f} ms per batch "
              f"({(checked / unchecked - 1) * 100:+.0f} %)")


if __name__ == "__main__":
    main()
