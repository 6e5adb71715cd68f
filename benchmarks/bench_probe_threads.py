"""Why the linear probe trains on one torch thread: tiny steps and a thread pool on a busy machine.

The probe of task 1 (``downstream.evaluate_classification(mode="probe")``) trains a linear layer, 64 embedding
dimensions to 5 classes, full batch, Adam, 300 steps, on the training folds' embeddings. Each step is a few
microseconds of arithmetic, so torch's intra-op thread pool cannot speed it up, but every operation hands work to
the pool's threads and waits for them: when the other cores are busy (another training, a notebook kernel, CI),
those waits dominate. ``downstream`` therefore runs the probe's training with ``torch.set_num_threads(1)`` for its
duration and restores the setting afterwards. This script times the same loop written out here (a plain torch
loop of the probe's shape: 1,570 rows, as PTB-XL folds 1-8 of the offline subset) with torch's default thread
count and with one thread, interleaved, over --repeats rounds, and prints best, median and worst with their
ratios (the worst rounds are the point here: best-of-N hides the waits). On an idle machine the
two are close; with the other cores busy the default count is far slower. Run it beside a busy process to see the
second case (its load average is printed in the header).

    python benchmarks/bench_probe_threads.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import common


def probe_loop(x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    torch.manual_seed(0)
    head = nn.Linear(x.shape[1], y.shape[1])
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(head(x), y).backward()
        optimiser.step()


def main() -> None:
    args = common.parser(__doc__).parse_args()
    common.print_header("linear-probe training: default torch threads vs one", args,
                        protocol="Linear(64, 5), full batch of 1,570 rows, Adam, 300 steps (--quick: 50)")
    rng = np.random.default_rng(args.seed)
    x = torch.from_numpy(rng.normal(size=(1570, 64)).astype(np.float32))
    y = torch.from_numpy((rng.random((1570, 5)) < 0.3).astype(np.float32))
    steps = 50 if args.quick else 300
    default = torch.get_num_threads()

    settings = {f"{default} threads (default)": default, "1 thread": 1}
    times = {name: [] for name in settings}
    for _round in range(args.repeats):  # interleaved, so that both see the same load
        for name, threads in settings.items():
            torch.set_num_threads(threads)
            try:
                start = time.perf_counter()
                probe_loop(x, y, steps)
                times[name].append(time.perf_counter() - start)
            finally:
                torch.set_num_threads(default)
    for name, seconds in times.items():
        print(f"{name:>22}: best {min(seconds):.3f} s, median {np.median(seconds):.3f} s, worst {max(seconds):.3f} s "
              f"per probe training ({args.repeats} rounds)")
    first, second = times.values()
    print(f"default / one thread: best {min(first) / min(second):.1f}x, median "
          f"{np.median(first) / np.median(second):.1f}x, worst {max(first) / max(second):.1f}x")

if __name__ == "__main__":
    main()
