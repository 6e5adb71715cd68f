"""What every benchmark shares: its common arguments, where its data comes from, its protocol header, and timing.

A benchmark is run as a script (``python benchmarks/bench_x.py``), so its own folder is on ``sys.path`` and it
imports this module as ``common``:

    import common

    parser = common.parser(__doc__, data="ludb")           # --data, --quick, --seed, --repeats (+ its own)
    parser.add_argument("--axis", action="store_true")
    args = parser.parse_args()
    root = common.data_source(args, "ludb", fallback="200 embedded synthetic records")  # None: fallback, said so
    common.print_header("delineation accuracy", args, protocol="...")
    best = common.best_times({"ours": run_ours, "baseline": run_baseline}, args.repeats, calls=8)

Benchmarks use the package's public API only (no ``_private`` names): what they time is what a user calls.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Callable

from beatssl_lite import DATA_ENV, data_root

REPO = Path(__file__).resolve().parents[1]
DATASET_NAMES = {"ptbxl": "PTB-XL", "ludb": "LUDB"}


def parser(doc: str | None, data: str | None = None, repeats: int = 5) -> argparse.ArgumentParser:
    """The benchmark's argument parser with the shared arguments; ``doc`` (the module docstring) is its help.

    --data DIR   a data root holding ``data``'s folder (default: BEATSSL_DATA, else the user cache), only when the
                 benchmark reads a dataset (``data`` = 'ptbxl' or 'ludb');
    --quick      a smoke run: fewer records / smaller batches / fewer rounds (each benchmark says what);
    --seed N     the seed of every random draw (default 0): same command, same inputs;
    --repeats K  timing rounds, the best kept (see ``best_times``).
    """
    result = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = result.add_argument_group("shared benchmark arguments (benchmarks/common.py)")
    if data is not None:
        shared.add_argument("--data", metavar="DIR",
                            help=f"data root holding {DATASET_NAMES[data]} (default: {DATA_ENV}, else the user "
                                 f"cache; without it the benchmark falls back and says so)")
    shared.add_argument("--quick", action="store_true", help="a smaller smoke run (the benchmark says what)")
    shared.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    shared.add_argument("--repeats", type=int, default=repeats,
                        help=f"timing rounds, the best kept (default {repeats})")
    return result


def data_source(args: argparse.Namespace, dataset: str, fallback: str) -> Path | None:
    """The data root holding ``dataset`` ('ptbxl' or 'ludb'), or None when the benchmark must fall back.

    Prints where the data comes from, and in capitals when it falls back to ``fallback`` (what is used instead),
    so that a figure on stand-in data is never read as a figure on the real dataset. An explicit --data or
    BEATSSL_DATA that does not hold the dataset stops the benchmark with the reason (no silent fallback).
    """
    name = DATASET_NAMES[dataset]
    try:
        root = data_root(getattr(args, "data", None), dataset)
    except FileNotFoundError as error:
        raise SystemExit(f"--data / {DATA_ENV}: {error}") from None
    if root is None:
        print(f"data: NO {name} FOUND (--data, {DATA_ENV}, user cache): FALLING BACK TO {fallback}. "
              f"These are not {name} figures.")
    else:
        print(f"data: {name} from {root}")
    return root


def _git_commit() -> str:
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                                   text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return described.stdout.strip() or "unknown"


def print_header(title: str, args: argparse.Namespace, protocol: str | None = None) -> None:
    """Title, date, machine, versions, commit, the arguments and the protocol: what a figure needs to be read."""
    import numpy

    versions = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
    try:
        import torch

        versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        pass
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"== {title}")
    print(f"   {now}; {platform.machine()}, {os.cpu_count()} CPUs (load average "
          f"{', '.join(f'{load:.1f}' for load in os.getloadavg())}); {', '.join(versions)}; commit {_git_commit()}")
    print(f"   arguments: {' '.join(f'--{key}={value}' for key, value in sorted(vars(args).items()))}")
    if protocol:
        for line in protocol.strip().splitlines():
            print(f"   {line.strip()}")
    print("   Wall-clock times on a shared machine move with its load: compare the ratios of one run, and rerun.")


def best_times(runs: dict[object, Callable[[int], object]], repeats: int, calls: int = 1,
               warmup: bool = True, rotate: bool = False) -> dict[object, float]:
    """{name: best seconds per call}: ``repeats`` rounds, each running every ``run`` in turn (interleaved).

    A run is one untimed warm-up call ``run(0)`` (after another implementation ran: wakes threads, brings code and
    buffers back), then ``calls`` timed back-to-back calls ``run(1) ... run(calls)``; its figure is the time per
    call. Each implementation keeps its best round: other processes on a shared machine only ever slow a run down,
    and interleaving exposes every implementation to the same conditions. With ``rotate``, round k starts at the
    k-th implementation, so that each takes every place in the order in turn (where the first run of a round is
    systematically faster or slower).
    """
    if repeats < 1 or calls < 1:
        raise ValueError(f"repeats and calls: expected >= 1, got {repeats} and {calls}")
    names = list(runs)
    best = dict.fromkeys(names, float("inf"))
    for round_index in range(repeats):
        shift = round_index % len(names) if rotate and names else 0
        for name in names[shift:] + names[:shift]:
            run = runs[name]
            if warmup:
                run(0)
            start = time.perf_counter()
            for i in range(1, calls + 1):
                run(i)
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best
