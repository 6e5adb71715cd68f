"""3KG throughput: the package's batched implementation vs a straightforward per-record numpy/scipy loop.

Protocol: random ECG-shaped input (batch x 12 x samples float32; the content does not change the cost), the
default ``ThreeKGConfig`` (the reference's: angles U(-45, 45) deg, scales U(1, 1.5), 50 % mask), both
implementations in this process, torch with all cores (``torch.set_num_threads(os.cpu_count())``).
Throughput is a steady state: a training loop augments a new batch at every step. So each measurement is a run of
one untimed warm-up call and --calls timed back-to-back calls, cycling over two distinct input batches (each call
reads a batch the previous call did not touch, so it comes from memory, not from cache); its figure is the run's
time per call. Runs of every implementation are interleaved, one of each per round, for --repeats rounds, and each
keeps its best round: other processes on a shared machine only ever slow a run down, and interleaving exposes all
to the same conditions. (Without the warm-up call, the first call after the single-threaded loop pays for waking
the idle second core: about 0.5 ms, a fifth of a three_kg call, that a training loop, busy at every step, does not
pay.)

Two ways of providing the output, each applied to both implementations:
- fresh: each call allocates its output, as ``three_kg(x)`` does. On Linux a fresh 61 MB block (256 x 12 x 5000
  float32) is mapped and zeroed by the kernel on first write, which costs about as much as the augmentation.
- reused: both write into one preallocated output (``three_kg(x, out=buffer)``), as a training loop can.
Also printed: the torch path (a batched 12 x 12 product, then a masked fill: what runs on a GPU, and what ran on
the CPU before the fused kernel), and a bare copy of the batch into a preallocated buffer, the memory-bandwidth
ceiling of any implementation. Target: >= 20x the loop on CPU for 256 x 12 x 5000.

    python benchmarks/bench_augment.py [--batch 256] [--samples 5000] [--repeats 5] [--calls 8] [--quick] [--seed 0]
"""

from __future__ import annotations

import os

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from beatssl_lite import vcg
from beatssl_lite.augment import (ThreeKGConfig, lead_maps, mask_length, rotation_matrices, sample_parameters,
                                  three_kg, time_mask, twelve_lead_maps)

import common


def torch_path(x, maps, mask, out):
    """The device-agnostic path of ``apply_three_kg`` (parameters drawn beforehand): product, then masked fill."""
    torch.bmm(maps, x, out=out)
    return out.masked_fill_(mask, 0.0)


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


def main() -> None:
    parser = common.parser(__doc__, repeats=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=8, help="timed back-to-back calls per run")
    args = parser.parse_args()
    if args.quick:  # batch 32, three rounds
        args.batch, args.repeats = 32, 3
    torch.set_num_threads(os.cpu_count() or 1)
    common.print_header("3KG throughput (benchmarks/bench_augment.py)", args)
    config = ThreeKGConfig()
    rng = np.random.default_rng(args.seed)
    batches = [rng.normal(size=(args.batch, 12, args.samples)).astype(np.float32) for _ in range(2)]
    tensors = [torch.from_numpy(x) for x in batches]
    generator = torch.Generator().manual_seed(args.seed)
    three_kg(tensors[0][:2], config, generator)  # warm-up (and the kernel's compilation, if not cached yet)
    out_numpy, out_torch = np.empty_like(batches[0]), torch.empty_like(tensors[0])
    out_numpy.fill(0.0)  # touch the buffers' pages once, so that "reused" means reused
    out_torch.zero_()

    # The torch path's inputs, drawn beforehand: its timing leaves out sampling and map building (~0.1 ms).
    params = sample_parameters(args.batch, args.samples, config, generator)
    rotations = rotation_matrices(np.deg2rad(params["angles_deg"].numpy()))
    maps = torch.from_numpy(twelve_lead_maps(lead_maps(rotations, params["scales"].numpy(), config))).float()
    mask = time_mask(args.samples, params["mask_start"], mask_length(args.samples, config.mask_fraction))

    loop_rng = np.random.default_rng(args.seed)
    best = common.best_times({
        ("fresh", "loop"): lambda i: per_record_loop(batches[i % 2], loop_rng, config),
        ("fresh", "torch"): lambda i: three_kg(tensors[i % 2], config, generator),
        ("reused", "loop"): lambda i: per_record_loop(batches[i % 2], loop_rng, config, out_numpy),
        ("reused", "torch"): lambda i: three_kg(tensors[i % 2], config, generator, out=out_torch),
        "copy": lambda i: out_torch.copy_(tensors[i % 2]),
        "fresh zeros": lambda i: np.zeros_like(batches[0]),
        "torch path": lambda i: torch_path(tensors[i % 2], maps, mask, out_torch),
    }, args.repeats, args.calls)
    timings = {output: (best[output, "loop"], best[output, "torch"]) for output in ("fresh", "reused")}
    copy_s = best["copy"]

    print(f"3KG on {args.batch} x 12 x {args.samples} float32, CPU, {torch.get_num_threads()} threads, "
          f"runs of {args.calls} calls, best of {args.repeats} interleaved rounds; records/s")
    print(f"  {'output':8s} {'numpy loop':>12s} {'three_kg':>12s} {'speed-up':>9s}")
    for name, (loop_s, three_kg_s) in timings.items():
        print(f"  {name:8s} {args.batch / loop_s:12.0f} {args.batch / three_kg_s:12.0f} {loop_s / three_kg_s:8.1f}x")
    print(f"  ceiling: a bare copy into a reused buffer runs {args.batch / copy_s:.0f} records/s, "
          f"{timings['reused'][0] / copy_s:.1f}x the reused loop (target for three_kg: >= 20x the loop)")
    loop_s, three_kg_s = timings["reused"]
    print(f"  reused output, ms per batch: three_kg {three_kg_s * 1e3:.1f}, torch path (product + masked fill) "
          f"{best['torch path'] * 1e3:.1f} ({loop_s / best['torch path']:.1f}x the loop), bare copy "
          f"{copy_s * 1e3:.1f}, numpy loop {loop_s * 1e3:.1f}")
    print(f"  fresh output alone (np.zeros of the batch's shape: the OS maps and zeroes new pages): "
          f"{best['fresh zeros'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
