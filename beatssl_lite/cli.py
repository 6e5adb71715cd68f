"""The command line: ``beatssl-lite pretrain ...`` (also ``python -m beatssl_lite pretrain ...``).

    beatssl-lite pretrain --config row9 --size cpu --data ptbxl --out runs/row9
    beatssl-lite reproduce --size cpu --data ../shared/data --seeds 3 --out results/   (beatssl_lite.reproduce)
    torchrun --nproc_per_node 4 -m beatssl_lite pretrain --config row9 --size paper --data ptbxl --out runs/row9

--data names what to train on: 'ptbxl' or 'ludb' (from --root, else BEATSSL_DATA, else the user cache; absent
data is an error, never a silent stand-in), 'synthetic' (the embedded synthetic ECG, the only way to get a
synthetic run), or a folder of WFDB records. Rerunning the same command in the same --out folder resumes an
interrupted run. Errors in the input end the command with exit status 2 and one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .config import PRESETS, SIZES, ConfigError, describe_presets, preset
from .pretrain import CURVE, CheckpointError, DataError, pretrain, read_curve
from .reproduce import ReproductionError, add_arguments as add_reproduce_arguments, run_from_args as run_reproduce

log = logging.getLogger(__name__)

DATA_CHOICES = ("ptbxl", "ludb", "synthetic")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beatssl-lite", description="Beat-SSL re-implemented: pretraining and "
                                     "friends.", formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "pretrain", help="pretrain an encoder with one of the paper's 14 configurations",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Pretrain an encoder with the rhythm and beat contrastive losses of one row of Table 1.",
        epilog="presets (--config), rows of Table 1 of the paper:\n  " + describe_presets().replace("\n", "\n  ")
        + f"\nsizes (--size): {', '.join(SIZES)} (tiny: seconds; cpu: 2 CPU cores; paper: a GPU)\n\n"
        "Under torchrun the same command trains data-parallel (DDP): --batch-size is the global batch.")
    run.add_argument("--config", required=True, metavar="PRESET",
                     help=f"a preset: {', '.join(PRESETS)} (listed below)")
    run.add_argument("--size", default="cpu", metavar="SIZE", help=f"encoder size: {', '.join(SIZES)} (default cpu)")
    run.add_argument("--data", required=True, metavar="DATA",
                     help="ptbxl, ludb, synthetic, or a folder of WFDB records")
    run.add_argument("--out", required=True, type=Path, help="run folder: checkpoints, encoder, loss curve")
    run.add_argument("--root", help="data root holding ptb-xl/ or ludb/ (default: $BEATSSL_DATA, else the user cache)")
    run.add_argument("--fs", type=int, default=100, help="PTB-XL sampling rate, 100 or 500 (default 100)")
    run.add_argument("--max-records", type=int, help="use only the first N records (quick runs)")
    run.add_argument("--n-records", type=int, default=400, help="records of --data synthetic (default 400)")
    run.add_argument("--epochs", type=int, help="passes over the data (default: the size's)")
    run.add_argument("--max-steps", type=int, help="stop after this many steps")
    run.add_argument("--batch-size", type=int, help="ECGs per step, over all processes (default: the size's)")
    run.add_argument("--lr", type=float, help="peak learning rate (default: the size's)")
    run.add_argument("--seed", type=int, help="seed of everything (default 0)")
    run.add_argument("--num-workers", type=int, help="DataLoader worker processes (default 0)")
    run.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), help="default auto")
    run.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps")
    run.add_argument("--cache-dir", type=Path, help="where precomputed features go (default: the user cache)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_reproduce_arguments(commands.add_parser(
        "reproduce", help="pretrain every row of Table 1 and the baselines, evaluate both tasks, write results/",
        description="The reproduction runner (beatssl_lite.reproduce): resumes unit by unit in --out."))
    return parser


_OVERRIDES = {"epochs": "epochs", "max_steps": "max_steps", "batch_size": "batch_size", "lr": "lr", "seed": "seed",
              "num_workers": "num_workers", "precision": "precision"}


def load_data(args: argparse.Namespace):
    """The dataset --data names; an error (never a stand-in) when it is absent."""
    from .datasets import load_dataset

    progress = not args.no_progress
    if args.data == "synthetic":
        return load_dataset("synthetic", n_records=args.n_records, fs=args.fs, seed=args.seed or 0)
    if args.data in ("ptbxl", "ludb"):
        options = {"fs": args.fs} if args.data == "ptbxl" else {}
        if args.max_records is not None and args.data == "ptbxl":
            options["max_records"] = args.max_records
        dataset = load_dataset(args.data, root=args.root, progress=progress, **options)
        if args.max_records is not None and args.data == "ludb":
            dataset = dataset.subset(range(min(args.max_records, len(dataset))))
        return dataset
    folder = Path(args.data)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {args.data!r}: not one of {', '.join(DATA_CHOICES)} and not an existing "
                                f"folder of WFDB records")
    dataset = load_dataset(str(folder), progress=progress)
    if args.max_records is not None:
        dataset = dataset.subset(range(min(args.max_records, len(dataset))))
    return dataset


def run_pretrain(args: argparse.Namespace) -> int:
    overrides = {field: getattr(args, name) for name, field in _OVERRIDES.items() if getattr(args, name) is not None}
    config = preset(args.config, size=args.size, **overrides)
    dataset = load_data(args)
    result = pretrain(config, dataset, args.out, cache_dir=args.cache_dir, device=args.device,
                      progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        curve = read_curve(Path(args.out) / CURVE)
        if curve:
            from .plots import plot_loss_curve

            figure = plot_loss_curve(curve, title=f"{config.label} on {dataset.name}")
            figure.savefig(Path(args.out) / "loss_curve.png", dpi=120, bbox_inches="tight")
            log.info("loss %.4f -> %.4f over %d steps; curve in %s", curve[0]["loss"], curve[-1]["loss"],
                     len(curve), Path(args.out) / "loss_curve.png")
    return 0 if result.steps else 1


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, format="%(message)s",
                        stream=sys.stderr)
    try:
        if args.command == "pretrain":
            return run_pretrain(args)
        if args.command == "reproduce":
            return run_reproduce(args)
    except (ConfigError, DataError, CheckpointError, FileNotFoundError, ReproductionError) as error:
        parser.exit(2, f"beatssl-lite {args.command}: error: {error}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
