"""3KG throughput: the batched torch implementation vs a straightforward per-record numpy/scipy loop.

Protocol: random ECG-shaped input (batch x 12 x samples float32; the content does not change the cost), the
default ``ThreeKGConfig`` (the reference's: angles U(-45, 45) deg, scales U(1, 1.5), 50 % mask), both
implementations in this process on the same input, torch with all cores (``torch.set_num_threads(os.cpu_count())``).
The timed calls are interleaved, one of each per round, for --repeats rounds, and each gets its best round: other
processes on a shared machine only ever slow a call down, and interleaving exposes both to the same conditions.

Two ways of providing the output, each applied to both implementations:
- fresh: each call allocates its output, as ``three_kg(x)`` does. On Linux a fresh 61 MB block (256 x 12 x 5000
  float32) is mapped page by page on first write, and those page faults cost about as much as the augmentation.
- reused: both write into one preallocated output (``three_kg(x, out=buffer)``), as a training loop can.
A bare copy of the batch into a preallocated buffer is printed as the memory-bandwidth ceiling of any
implementation. Target: >= 20x the loop on CPU for 256 x 12 x 5000.

    python benchmarks/bench_augment.py [--batch 256] [--samples 5000] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from beatssl_lite import vcg
from beatssl_lite.augment import (ThreeKGConfig, lead_maps, mask_length, rotation_matrices, sample_parameters,
                                  three_kg, time_mask, twelve_lead_maps)


def per_record_loop(x: np.ndarray, rng: np.random.Generator, config: ThreeKGConfig, out: np.ndarray | None = None):
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


def best_times(calls: dict, repeats: int) -> dict:
    """{name: best wall-clock seconds} over ``repeats`` rounds, each round timing every call once, in turn."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="batch 32, three rounds")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.repeats = 32, 3
    torch.set_num_threads(os.cpu_count() or 1)
    config = ThreeKGConfig()
    x = np.random.default_rng(0).normal(size=(args.batch, 12, args.samples)).astype(np.float32)
    x_torch = torch.from_numpy(x)
    generator = torch.Generator().manual_seed(0)
    three_kg(x_torch[:2], config, generator)  # warm-up
    out_numpy, out_torch = np.empty_like(x), torch.empty_like(x_torch)
    out_numpy.fill(0.0)  # touch the buffers' pages once, so that "reused" means reused
    out_torch.zero_()

    # The two passes of three_kg over the batch, timed on their own: the product and the mask.
    params = sample_parameters(args.batch, args.samples, config, generator)
    rotations = rotation_matrices(torch.deg2rad(params["angles_deg"]))
    maps = twelve_lead_maps(lead_maps(rotations, params["scales"], config)).float()
    mask = time_mask(args.samples, params["mask_start"], mask_length(args.samples, config.mask_fraction))

    best = best_times({
        ("fresh", "loop"): lambda: per_record_loop(x, np.random.default_rng(0), config),
        ("fresh", "torch"): lambda: three_kg(x_torch, config, generator),
        ("reused", "loop"): lambda: per_record_loop(x, np.random.default_rng(0), config, out_numpy),
        ("reused", "torch"): lambda: three_kg(x_torch, config, generator, out=out_torch),
        "copy": lambda: out_torch.copy_(x_torch),
        "product": lambda: torch.bmm(maps, x_torch, out=out_torch),
        "mask": lambda: out_torch.masked_fill_(mask, 0.0),
    }, args.repeats)
    timings = {output: (best[output, "loop"], best[output, "torch"]) for output in ("fresh", "reused")}
    copy_s = best["copy"]

    print(f"3KG on {args.batch} x 12 x {args.samples} float32, CPU, {torch.get_num_threads()} threads, "
          f"best of {args.repeats} interleaved rounds; records/s")
    print(f"  {'output':8s} {'numpy loop':>12s} {'torch batch':>12s} {'speed-up':>9s}")
    for name, (loop_s, torch_s) in timings.items():
        print(f"  {name:8s} {args.batch / loop_s:12.0f} {args.batch / torch_s:12.0f} {loop_s / torch_s:8.1f}x")
    print(f"  ceiling: a bare copy into a reused buffer runs {args.batch / copy_s:.0f} records/s, "
          f"{timings['reused'][0] / copy_s:.1f}x the reused loop (target for three_kg: >= 20x the loop)")
    print(f"  where the reused torch time goes: batched 12 x 12 product {best['product'] * 1e3:.1f} ms, "
          f"masked_fill {best['mask'] * 1e3:.1f} ms, bare copy {copy_s * 1e3:.1f} ms; "
          f"three_kg {timings['reused'][1] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
