"""3KG throughput: the batched torch implementation vs a straightforward per-record numpy/scipy loop.

Protocol: random ECG-shaped input (batch x 12 x n_samples float32; the content does not change the cost),
both implementations in this process on the same input, best of --repeats runs each, torch with all cores.
Prints records/s of each, the speed-up ratio and, as the ceiling any implementation faces on this machine,
the rate of a bare copy of the batch (target: >= 20x on CPU for 256 x 12 x 5000).

    python benchmarks/bench_augment.py [--batch 256] [--samples 5000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from beatssl_lite import vcg
from beatssl_lite.augment import ThreeKGConfig, three_kg


def per_record_loop(x: np.ndarray, rng: np.random.Generator, config: ThreeKGConfig) -> np.ndarray:
    """The recipe as one would first write it: per record, scipy rotation, VCG, back, derive, mask per lead."""
    back = np.linalg.pinv(vcg.INVERSE_DOWER)
    out = np.empty_like(x)
    n = x.shape[-1]
    length = round(config.mask_fraction * n)
    for i, ecg in enumerate(x):
        angles = rng.uniform(-config.max_angle_deg, config.max_angle_deg, 3)
        rotation = Rotation.from_euler("zyx", angles, degrees=True).as_matrix()
        scale = np.diag(rng.uniform(config.scale_min, config.scale_max, 3))
        dipole = vcg.INVERSE_DOWER @ vcg.twelve_to_eight(ecg)
        view = vcg.eight_to_twelve(back @ scale @ rotation @ dipole)
        for lead in range(12):
            idx = (rng.integers(n) + np.arange(length)) % n
            view[lead, idx] = 0.0
        out[i] = view
    return out


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="batch 32, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.repeats = 32, 1
    torch.set_num_threads(os.cpu_count() or 1)
    config = ThreeKGConfig()
    x = np.random.default_rng(0).normal(size=(args.batch, 12, args.samples)).astype(np.float32)
    x_torch = torch.from_numpy(x)
    generator = torch.Generator().manual_seed(0)
    three_kg(x_torch[:2], config, generator)  # warm-up

    loop_s = best_time(lambda: per_record_loop(x, np.random.default_rng(0), config), args.repeats)
    torch_s = best_time(lambda: three_kg(x_torch, config, generator), args.repeats)
    # Any augmentation must at least read the batch and write a new one: a plain copy bounds the achievable rate.
    copy_s = best_time(lambda: x_torch.clone(), args.repeats)
    print(f"3KG on {args.batch} x 12 x {args.samples} float32, CPU, {torch.get_num_threads()} threads, "
          f"best of {args.repeats}")
    print(f"  per-record numpy/scipy loop: {args.batch / loop_s:10.1f} records/s")
    print(f"  batched torch (three_kg):    {args.batch / torch_s:10.1f} records/s")
    print(f"  memory-copy ceiling (clone): {args.batch / copy_s:10.1f} records/s")
    print(f"  speed-up: {loop_s / torch_s:.1f}x (target >= 20x); "
          f"a bare copy of the batch is {loop_s / copy_s:.1f}x the loop on this machine")


if __name__ == "__main__":
    main()
