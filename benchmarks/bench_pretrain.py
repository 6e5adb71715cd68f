"""Pretraining speed: what Beat-SSL's beat branch and soft targets cost over SimCLR, whether the data pipeline keeps
up, throughput against the machine's matmul speed, and the wall time of one row of the reproduction.

Protocol: the PTB-XL subset at 100 Hz from --data (else BEATSSL_DATA; without it the embedded synthetic ECG, said
loudly), test fold removed as ``pretrain`` does, features precomputed (``precompute``, cached); torch with its
default threads (all cores). One step = 3KG of both views into reused buffers, forward of the 2B views, targets on
the device, losses, backward, AdamW update: ``pretrain.train_step``, what ``pretrain`` runs. Every timing is
``common.best_times``: one untimed warm-up step, then --calls timed steps, rounds interleaved (their order rotated
every round: the first of a round runs faster), the best round kept.
(a) Beat-SSL (row 9: soft_1 rhythm targets at power 50 + hard beat loss with RoI pooling) against SimCLR with 3KG
    (row 1: hard NT-Xent only), same encoder (size --size), same batch, same run. Target <= 1.3x.
(b) the row-9 step fed by the real pipeline (DataLoader over the records: memmap read, feature rows, collate, with
    the configuration's num_workers) against the same step on a batch already in memory. Target <= 1.1x. Also the
    loader alone (best of 10 batches per round): the part of (b) that is not noise.
(c) throughput (ECGs/s) and peak resident memory of the process at size --size; FLOPs of the encoder per ECG
    (forward, ``torch.utils.flop_counter``), FLOPs of a whole step, and the fraction of the machine's measured
    float32 matmul throughput (best of 1024 x 1024 products) the step reaches.
(d) estimated wall time of one pretraining of row 9 at size --size with its preset's epochs on the records found:
    steps x the pipeline-fed step time (features already cached). Target <= 15 min on 2 cores for size cpu.
--device cuda: the same on a GPU, with ``pretrain``'s runtime there (bf16 autocast where the GPU has it, the
    loader pinning memory); every timed step ends with a device synchronisation; (c) then takes the GPU's measured
    bf16 matmul (best of 8192 x 8192 products) as its ceiling and reports the GPU's peak allocated memory.
--quick: at most 96 records, batch 16, two rounds of one step (under a minute).

    python benchmarks/bench_pretrain.py [--data DIR] [--size cpu] [--batch N] [--calls 2] [--repeats 6]
                                        [--device cpu|cuda] [--quick]
"""

from __future__ import annotations

import itertools
import os
import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import common
from beatssl_lite.augment import two_views
from beatssl_lite.config import preset
from beatssl_lite.datasets import load_dataset
from beatssl_lite.pretrain import (ViewBuffers, build_model, compute_losses, load_records, make_loader,
                                   make_optimiser, setup_runtime, steps_per_epoch, train_step)


def synchronise(runtime) -> None:
    """Wait for the device's queued work, so that a timed step is the whole step (a no-op on the CPU)."""
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)


def step_runner(config, records, batch, fs, runtime):
    """A run(i) for ``common.best_times``: one training step of a fresh model on ``batch`` (already on the device;
    None: from the loader, moved to the device as ``pretrain`` does)."""
    torch.manual_seed(config.train.seed)
    model = build_model(config, fs).to(runtime.device)
    optimiser = make_optimiser(model, config)
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.autocast_dtype == torch.float16)
    views, generator = ViewBuffers(), torch.Generator().manual_seed(0)
    loader = None
    if batch is None:
        loader = itertools.chain.from_iterable(make_loader(records, config, epoch, runtime)
                                               for epoch in itertools.count())

    def run(_):
        current = next(loader).to(runtime.device) if loader is not None else batch
        train_step(model, current, config, runtime, optimiser, scaler, views, generator)
        synchronise(runtime)

    return run, model


def matmul_flops_per_s(repeats: int, runtime) -> tuple[float, str]:
    """(FLOP/s, what was measured): float32 1024^3 products on the CPU; bf16 8192^3 products on a GPU."""
    n, dtype = (8192, torch.bfloat16) if runtime.device.type == "cuda" else (1024, torch.float32)
    a, b = (torch.randn(n, n, device=runtime.device, dtype=dtype) for _ in range(2))
    out = torch.empty(n, n, device=runtime.device, dtype=dtype)

    def product(_):
        torch.mm(a, b, out=out)
        synchronise(runtime)

    best = common.best_times({"mm": product}, repeats=max(3, repeats), calls=10)
    return 2 * n**3 / best["mm"], f"{str(dtype).removeprefix('torch.')} matmul ({n}^3)"


def count_flops(function) -> int:
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


def main() -> None:
    parser = common.parser(__doc__, data="ptbxl", repeats=6)
    parser.add_argument("--size", default="cpu", choices=("tiny", "cpu", "paper"), help="encoder size (default cpu)")
    parser.add_argument("--batch", type=int, help="ECGs per step (default: the size's preset; 16 with --quick)")
    parser.add_argument("--calls", type=int, default=2, help="timed steps per round (default 2)")
    parser.add_argument("--device", default="cpu", help="where the steps run: cpu (default), cuda, cuda:1, ...")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.calls = 2, 1
    root = common.data_source(args, "ptbxl", fallback="400 embedded synthetic records at 100 Hz")
    common.print_header("pretraining step: Beat-SSL vs SimCLR, data pipeline, throughput, wall time", args,
                        protocol=__doc__.split("Protocol: ")[1].split("\n\n")[0])
    max_records = 96 if args.quick else None
    if root is not None:
        dataset = load_dataset("ptbxl", root=root, fs=100, max_records=max_records, progress=False)
    else:
        dataset = load_dataset("synthetic", n_records=max_records or 400, fs=100, seed=args.seed)
    batch_size = args.batch or (16 if args.quick else None)
    overrides = {"batch_size": batch_size} if batch_size else {}
    beat_ssl = preset("row9", args.size, seed=args.seed, **overrides)
    simclr = preset("row1", args.size, seed=args.seed, **overrides)
    started = time.perf_counter()
    records, split = load_records(dataset, beat_ssl, progress=False)
    print(f"data: {split}; features ready in {time.perf_counter() - started:.1f} s (cached after the first run)")
    runtime = setup_runtime(args.device, beat_ssl.train.precision)
    batch = next(iter(make_loader(records, beat_ssl, 0, runtime))).to(runtime.device)
    b = beat_ssl.train.batch_size
    on = (f"{torch.cuda.get_device_name(runtime.device)}, autocast {runtime.autocast_dtype or 'off'}"
          if runtime.device.type == "cuda" else "CPU")
    print(f"batch: {b} ECGs x 12 x {batch.signals.shape[-1]} samples, {len(batch.r_peaks)} beats; size "
          f"{args.size}; {torch.get_num_threads()} torch threads; device {runtime.device} ({on})")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    beat_ssl_step, model = step_runner(beat_ssl, records, batch, dataset.fs, runtime)
    simclr_step, _ = step_runner(simclr, records, batch, dataset.fs, runtime)
    piped_step, _ = step_runner(beat_ssl, records, None, dataset.fs, runtime)
    times = common.best_times({"beat-ssl": beat_ssl_step, "simclr": simclr_step, "pipeline": piped_step},
                              args.repeats, calls=args.calls, rotate=True)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    encoder_flops = count_flops(lambda: model.encoder(batch.signals)) / b
    view1, view2, _, _ = two_views(batch.signals, beat_ssl.augment, generator=0)
    step_flops = count_flops(lambda: compute_losses(model, view1, view2, batch, beat_ssl)[0].backward())
    simclr_flops = count_flops(lambda: compute_losses(model, view1, view2, batch, simclr)[0].backward())

    print("\n(a) the whole step, same encoder and batch")
    print(f"    SimCLR + 3KG (row1):  {times['simclr'] * 1000:8.0f} ms/step")
    print(f"    Beat-SSL (row9):      {times['beat-ssl'] * 1000:8.0f} ms/step")
    print(f"step overhead vs SimCLR: {times['beat-ssl'] / times['simclr']:.2f}x  (target <= 1.3x)")
    print(f"    counted FLOPs (matmuls and convolutions, forward + backward; independent of the load): "
          f"Beat-SSL {step_flops / 1e9:.2f} G, SimCLR {simclr_flops / 1e9:.2f} G")
    print(f"step FLOPs vs SimCLR: {step_flops / simclr_flops:.3f}x")

    print("\n(b) the row-9 step fed by the data pipeline vs on a batch in memory "
          f"(num_workers={beat_ssl.train.num_workers})")
    print(f"    in memory:            {times['beat-ssl'] * 1000:8.0f} ms/step")
    print(f"    DataLoader-fed:       {times['pipeline'] * 1000:8.0f} ms/step")
    print(f"pipeline-fed vs in-memory step: {times['pipeline'] / times['beat-ssl']:.2f}x  (target <= 1.1x)")
    loader = itertools.chain.from_iterable(make_loader(records, beat_ssl, epoch, runtime)
                                           for epoch in itertools.count())
    fetch = common.best_times({"loader": lambda _: next(loader)}, args.repeats, calls=10)["loader"]
    print(f"    the loader alone (read, feature rows, collate): {fetch * 1000:.1f} ms/batch, "
          f"{fetch / times['beat-ssl']:.1%} of an in-memory step (the ratio above moves more with the load)")

    peak, measured = matmul_flops_per_s(args.repeats, runtime)
    achieved = step_flops / times["beat-ssl"]
    print(f"\n(c) throughput at size {args.size}, row 9, batch {b}, on {on}")
    print(f"    encoder forward: {encoder_flops / 1e6:.1f} MFLOP per ECG; whole step (2 views, forward + backward): "
          f"{step_flops / 1e9:.2f} GFLOP")
    print(f"    measured {measured}: {peak / 1e9:.1f} GFLOP/s; the step reaches {achieved / 1e9:.2f} GFLOP/s")
    print(f"throughput: {b / times['beat-ssl']:.1f} ECGs/s (in memory), {b / times['pipeline']:.1f} ECGs/s "
          "(pipeline-fed)")
    print(f"peak resident memory: {peak_rss_mb:.0f} MB (whole process; {rss_before / 1024:.0f} MB before the models)")
    if runtime.device.type == "cuda":
        print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated(runtime.device) / 2**20:.0f} MB")
    print(f"fraction of measured matmul throughput: {achieved / peak:.1%}")

    steps = steps_per_epoch(len(records), b) * beat_ssl.train.epochs
    if beat_ssl.train.max_steps:
        steps = min(steps, beat_ssl.train.max_steps)
    print(f"\n(d) one pretraining of row 9 at size {args.size}: {len(records)} records, batch {b}, "
          f"{beat_ssl.train.epochs} epochs = {steps} steps at {times['pipeline']:.2f} s")
    scope = "on the records found" + (" (--quick: a 96-record cut, NOT the subset)" if args.quick else "")
    print(f"estimated pretraining wall time: {steps * times['pipeline'] / 60:.1f} min {scope} "
          f"(target <= 15 min on 2 cores for size cpu; {os.cpu_count()} CPUs here, shared; device {runtime.device})")


if __name__ == "__main__":
    main()
