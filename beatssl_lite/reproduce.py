"""The reproduction runner: every row of the paper's Table 1 and the baselines, pretrained and evaluated on both
tasks over several seeds, written to a results folder that resumes unit by unit.

    beatssl-lite reproduce --size cpu --data ../shared/data --seeds 3 --out results/

**Configurations** (``CONFIGS``): ``row1`` ... ``row14`` (``config.TABLE1_ROWS``, pretrained on PTB-XL at 100 Hz
with strat_fold 10 left out by ``pretrain``; row 1 is 3KG itself, row 9 is Beat-SSL) and two baselines through
the same downstream code [ref: "Position: Evaluation of ECG Representations Must Be Fixed"]:
``random-init`` (the same encoder, randomly initialised with the seed, never trained: linear probe, and the LUDB
decoder on the frozen encoder) and ``supervised`` (the random-init encoder fine-tuned from scratch: PTB-XL
fine-tuning and LUDB with the encoder trained). Which tasks each runs: ``CONFIG_TASKS``.

**Tasks** (``TASKS``, ``downstream``): ``ptbxl-finetune`` and ``ptbxl-probe`` (superdiagnostic, folds 1-8 / 9 / 10 of
the PTB-XL data at 100 Hz) and ``ludb`` (segmentation; LUDB is 500 Hz, the encoder 100 Hz: ``downstream`` resamples
LUDB to the encoder's rate and interpolates the decoder's logits back to 500 Hz, where samples 500-4500 are scored).

**Units and resume**: a unit is one (configuration, seed, task). Its result is written atomically
(``cache.atomic_write_bytes``) to ``units/<config>/seed<k>/<task>.json`` (metrics, protocol, seed, git commit,
machine, wall time) with its test predictions in ``<task>.npz`` beside it (for the bootstrap); a unit whose JSON
exists is skipped. Pretraining runs go to ``pretrain/<row>/seed<k>/`` and resume from their own checkpoints, so an
interruption loses at most ``checkpoint_every`` steps. Units run seed-major (every configuration of seed 0 first),
so a partial run already holds one seed of everything.

**One configuration per folder**: ``run.json`` records the size, the data (record counts and a hash of the record
ids of both datasets) and the protocol (``Protocol``: epochs, label fraction, LUDB folds, pretraining overrides,
bootstrap resamples). Resuming with any of these changed is refused, naming both. Seeds, rows and tasks are a
selection, not a configuration: adding seeds or rows later extends the same run.

**Report** (rewritten after each configuration and seed): ``summary.json`` (a list: one flat entry per
configuration, seed, task and metric: ``config``, ``seed``, ``task``, ``metric`` in auroc/f1 for PTB-XL and f1/dice
for LUDB, ``value``, and the entry's protocol, encoder training, git commit, machine and wall time),
``statistics.json``, ``table1.md`` (our numbers beside the paper's Table 1, ranks, Wilcoxon/Bonferroni and what
the data can resolve) and ``figures/*.png``.

**Statistics** (``stats``): Wilcoxon signed-rank over seeds (per (seed, fold) with LUDB k-fold) of each
configuration against row 9 and against row 1, Bonferroni-corrected within each (task, metric, reference) family;
with 3 seeds the smallest attainable two-sided p is 0.25, so nothing can be significant and the table says so
(``powerless``). Per seed, percentile-bootstrap 95 % intervals over test records and paired bootstrap differences
against the reference decide whether a difference is resolvable at all (``stats.difference_resolvable``).

What is whose: **[paper]** the rows, the tasks and the Wilcoxon/Bonferroni statistics; **[ref]** the random-init
baseline; **[ours]** the downstream epochs per size (``DOWNSTREAM_EPOCHS``), seeds 0..n-1 shared by pretraining
and downstream, pairing over seeds, the frozen-encoder LUDB decoder as the random-init segmentation baseline.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .cache import atomic_savez, atomic_write_bytes, content_key
from .config import SIZES, TABLE1_ROWS, config_differences, preset

logger = logging.getLogger(__name__)

FORMAT = "beatssl_lite.reproduce/1"
ROWS = tuple(TABLE1_ROWS)
BASELINES = ("random-init", "supervised")
CONFIGS = ROWS + BASELINES
TASKS = ("ptbxl-finetune", "ptbxl-probe", "ludb")
#: Which tasks each configuration runs. random-init: frozen encoder (probe; LUDB decoder on the frozen encoder);
#: supervised: the random encoder trained from scratch (fine-tuning; LUDB encoder + decoder).
CONFIG_TASKS = {**{row: TASKS for row in ROWS}, "random-init": ("ptbxl-probe", "ludb"),
                "supervised": ("ptbxl-finetune", "ludb")}
#: The metrics of summary.json per task, and the key of each in the unit's metrics.
SUMMARY_METRICS = {"ptbxl-finetune": {"auroc": "auroc", "f1": "f1"}, "ptbxl-probe": {"auroc": "auroc", "f1": "f1"},
                   "ludb": {"f1": "f1_mean", "dice": "dice_mean"}}
#: The metric whose differences the report tests for resolvability, per task.
PRIMARY_METRIC = {"ptbxl-finetune": "auroc", "ptbxl-probe": "auroc", "ludb": "f1"}
REFERENCES = ("row9", "row1")
#: Table 1 of the paper [paper]: T1 (PTB-XL superdiagnostic) AUROC, T1 F1, T2 (LUDB segmentation) F1.
PAPER_TABLE1 = {
    "row1": (0.811, 0.595, 0.802), "row2": (0.797, 0.551, 0.827), "row3": (0.789, 0.552, 0.785),
    "row4": (0.794, 0.540, 0.805), "row5": (0.795, 0.567, 0.784), "row6": (0.834, 0.593, 0.869),
    "row7": (0.814, 0.572, 0.895), "row8": (0.681, 0.247, 0.784), "row9": (0.843, 0.622, 0.911),
    "row10": (0.704, 0.389, 0.807), "row11": (0.833, 0.598, 0.881), "row12": (0.797, 0.534, 0.888),
    "row13": (0.801, 0.525, 0.872), "row14": (0.805, 0.537, 0.878),
}
#: Downstream training length per encoder size [ours]: tiny for tests, cpu/paper as ``downstream``'s defaults.
DOWNSTREAM_EPOCHS = {"tiny": dict(probe_epochs=50, finetune_epochs=1, ludb_epochs=1),
                     "cpu": dict(probe_epochs=300, finetune_epochs=20, ludb_epochs=40),
                     "paper": dict(probe_epochs=300, finetune_epochs=20, ludb_epochs=40)}
#: Rate at which PTB-XL is read and every encoder built (the offline subset's full-size rate).
PTBXL_FS = 100
RUN_FILE, SUMMARY_FILE, STATISTICS_FILE, TABLE_FILE = "run.json", "summary.json", "statistics.json", "table1.md"
UNITS_DIR, PRETRAIN_DIR, FIGURES_DIR = "units", "pretrain", "figures"
_BOOTSTRAP_CACHE = "bootstrap_cache.json"
#: What of a results folder is not for committing: checkpoints (for resuming), the bootstrap cache, and every
#: encoder but row 9's (the one the package ships).
GITIGNORE = f"checkpoint.pt\ncheckpoint.prev.pt\n{_BOOTSTRAP_CACHE}\n{PRETRAIN_DIR}/*/*/encoder.pt\n" \
            f"!{PRETRAIN_DIR}/row9/*/encoder.pt\n"


class ReproductionError(ValueError):
    """A reproduction that cannot run as asked: unknown rows or tasks, data not allowed, a results folder of
    another configuration."""


@dataclass(frozen=True)
class Protocol:
    """Everything besides the data that decides a unit's numbers; stored in ``run.json`` and compared on resume."""

    size: str = "cpu"
    label_fraction: float = 1.0
    ludb_folds: int = 1
    probe_epochs: int = 300
    finetune_epochs: int = 20
    ludb_epochs: int = 40
    n_bootstrap: int = 1000
    pretrain_overrides: dict = field(default_factory=dict)
    ludb_augment: tuple = ()

    def __post_init__(self):
        from .downstream import check_augment

        try:
            object.__setattr__(self, "ludb_augment", check_augment(self.ludb_augment))  # frozen: canonical order
        except ValueError as error:
            raise ReproductionError(f"ludb_{error}") from None
        if self.size not in SIZES:
            raise ReproductionError(f"size: expected one of {', '.join(SIZES)}, got {self.size!r}")
        if not 0 < self.label_fraction <= 1:
            raise ReproductionError(f"label_fraction: expected a fraction in (0, 1], got {self.label_fraction!r}")
        for name in ("ludb_folds", "probe_epochs", "finetune_epochs", "ludb_epochs"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ReproductionError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")
        if self.ludb_folds == 2 or self.ludb_folds > 20:
            raise ReproductionError(f"ludb_folds: expected 1 (ludb_split) or 3-20 folds, got {self.ludb_folds}")
        preset("row1", size=self.size, **self.pretrain_overrides)  # unknown overrides: a ConfigError naming them

    @classmethod
    def for_size(cls, size: str, **changes) -> "Protocol":
        """The protocol of ``size`` (its ``DOWNSTREAM_EPOCHS``) with ``changes`` (None values ignored)."""
        if size not in DOWNSTREAM_EPOCHS:
            raise ReproductionError(f"size: expected one of {', '.join(SIZES)}, got {size!r}")
        settings = {**DOWNSTREAM_EPOCHS[size], **{k: v for k, v in changes.items() if v is not None}}
        return cls(size=size, **settings)

    def to_dict(self) -> dict:
        """The fields; ``ludb_augment`` only when set, so that folders written before it existed still resume."""
        fields = asdict(self)
        if not fields["ludb_augment"]:
            del fields["ludb_augment"]
        else:
            fields["ludb_augment"] = list(fields["ludb_augment"])
        return fields


# --- selection ------------------------------------------------------------------------------------------------------

def select_configs(names=None) -> tuple:
    """Configurations in canonical order from names (``row1``..``row14``, ``random-init``, ``supervised``, or the
    groups ``all``, ``rows``, ``baselines``; aliases ``beat-ssl`` = row9, ``3kg`` = row1); None: all."""
    if names is None:
        return CONFIGS
    groups = {"all": CONFIGS, "rows": ROWS, "baselines": BASELINES}
    aliases = {"beat-ssl": "row9", "3kg": "row1", "simclr": "row1"}
    chosen = set()
    for name in ([names] if isinstance(names, str) else names):
        name = aliases.get(name, name)
        if name in groups:
            chosen.update(groups[name])
        elif name in CONFIGS:
            chosen.add(name)
        else:
            raise ReproductionError(f"--rows: unknown configuration {name!r}; expected some of {', '.join(CONFIGS)} "
                                    f"or all, rows, baselines")
    if not chosen:
        raise ReproductionError("--rows: no configuration selected")
    return tuple(c for c in CONFIGS if c in chosen)


def select_tasks(names=None) -> tuple:
    """Tasks in canonical order; None: all of ``TASKS``."""
    if names is None:
        return TASKS
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in TASKS]
    if unknown or not names:
        raise ReproductionError(f"--tasks: unknown task(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                                f"expected some of {', '.join(TASKS)}")
    return tuple(t for t in TASKS if t in names)


# --- data -----------------------------------------------------------------------------------------------------------

def load_reproduction_data(data, n_records: int = 400, progress: bool = True) -> tuple:
    """(ptbxl, ludb, allow_synthetic): PTB-XL at 100 Hz and LUDB from the data root ``data``, or, only when
    ``data == "synthetic"``, the embedded synthetic ECG (``n_records`` at 100 Hz for PTB-XL, ``n_records // 4``
    at 500 Hz for LUDB). A root without the data is an error (never a synthetic stand-in)."""
    from .datasets import load_dataset

    if str(data) == "synthetic":
        logger.warning("reproduce: --data synthetic: the embedded synthetic ECG, for demonstrations only; these "
                       "numbers say nothing about the paper's")
        return (load_dataset("synthetic", n_records=n_records, fs=PTBXL_FS, seed=0),
                load_dataset("synthetic", n_records=max(10, n_records // 4), fs=500.0, seed=1), True)
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"--data {str(data)!r}: not a folder (expected a data root holding ptb-xl/ and "
                                f"ludb/, or 'synthetic' for a demonstration on the embedded synthetic ECG)")
    try:
        ptbxl = load_dataset("ptbxl", root=root, fs=PTBXL_FS, progress=progress)
        ludb = load_dataset("ludb", root=root, progress=progress)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"--data {str(data)!r}: {error}. Only '--data synthetic' runs on the embedded "
                                f"synthetic ECG") from None
    return ptbxl, ludb, False


def check_datasets(ptbxl, ludb, allow_synthetic: bool) -> None:
    """Refuse synthetic records not asked for, and datasets that lack what the tasks need."""
    for role, dataset, needs in (("PTB-XL", ptbxl, ("labels", "folds")), ("LUDB", ludb, ("masks",))):
        if dataset.name == "synthetic" and not allow_synthetic:
            raise ReproductionError(f"{role}: the dataset is the synthetic ECG, but synthetic data was not asked "
                                    f"for; pass --data synthetic (allow_synthetic=True) for a demonstration")
        for attribute in needs:
            if getattr(dataset, attribute, None) is None:
                raise ReproductionError(f"{role}: dataset {dataset.name!r} has no {attribute}")


def data_identity(ptbxl, ludb) -> dict:
    """What ``run.json`` records of the data: name, rate, record count and a hash of the record ids of each."""
    return {role: {"name": d.name, "fs": float(d.fs), "n_records": len(d),
                   "record_ids_sha256": content_key([str(r) for r in d.record_ids])}
            for role, d in (("ptbxl", ptbxl), ("ludb", ludb))}


# --- provenance -----------------------------------------------------------------------------------------------------

def git_commit() -> dict:
    """{"commit", "dirty"} of the checkout the package runs from ("unknown" outside git)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def machine_info(device: str = "cpu") -> dict:
    import torch

    info = {"hostname": platform.node(), "platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "device": str(device)}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_bytes(value) -> bytes:
    return json.dumps(value, indent=1, default=_jsonable, allow_nan=True).encode()


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# --- the results folder ---------------------------------------------------------------------------------------------

def _describe(run: dict) -> str:
    data = run.get("data", {})
    return (f"size={run.get('protocol', {}).get('size')!r}, data={data.get('source')!r} "
            f"(PTB-XL {data.get('ptbxl', {}).get('n_records')} records, LUDB {data.get('ludb', {}).get('n_records')})")


def check_results_folder(out: Path, run: dict) -> None:
    """Create ``out/run.json`` or check that it was written by this configuration (``ReproductionError`` naming
    both and their differences otherwise)."""
    path = out / RUN_FILE
    identity = {"format": FORMAT, "protocol": run["protocol"], "data": run["data"]}
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ReproductionError(f"{path}: not a readable run file ({error}); use another --out folder") from None
        saved_identity = {key: saved.get(key) for key in identity}
        saved_identity["data"] = {k: v for k, v in (saved.get("data") or {}).items() if k != "root"}
        current = dict(identity, data={k: v for k, v in run["data"].items() if k != "root"})
        differences = config_differences(saved_identity, current)
        if differences:
            raise ReproductionError(
                f"{out} holds results of another configuration: it was written by {_describe(saved)}, this run is "
                f"{_describe(run)}; they differ in {'; '.join(differences[:6])}"
                f"{' ...' if len(differences) > 6 else ''}. Use another --out folder, or the same configuration")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, _json_bytes({**identity, "created": _now(), "git": run["git"],
                                          "machine": run["machine"]}))
    atomic_write_bytes(out / ".gitignore", GITIGNORE.encode())


def unit_path(out, config: str, seed: int, task: str) -> Path:
    return Path(out) / UNITS_DIR / config / f"seed{seed}" / f"{task}.json"


def pretrain_dir(out, row: str, seed: int) -> Path:
    return Path(out) / PRETRAIN_DIR / row / f"seed{seed}"


def pretraining_seconds(curve: list) -> float:
    """Training time of a run from its loss curve: each resumed segment restarts ``seconds`` near 0, so the total
    is the sum of every segment's last value."""
    total, last = 0.0, 0.0
    for row in curve:
        if row["seconds"] < last:
            total += last
        last = row["seconds"]
    return total + last


# --- running units --------------------------------------------------------------------------------------------------

def _reused_encoder(config: str, seed: int, pretrain_config, protocol: Protocol, ptbxl, source: Path) -> tuple:
    """(encoder, pretraining record) of a finished pretraining in another results folder ``source``, checked to be
    this run's configuration."""
    from .downstream import load_encoder
    from .pretrain import CURVE, ENCODER, SPLIT, encoder_progress, load_encoder_state, read_curve

    run_dir = pretrain_dir(source, config, seed)
    if not (run_dir / ENCODER).is_file():
        raise ReproductionError(f"--encoders-from: {run_dir / ENCODER} does not exist (pretrain {config} seed {seed} "
                                f"there first, or leave {config} out of --rows)")
    step, total_steps = encoder_progress(run_dir / ENCODER)
    if total_steps is None:
        logger.warning("--encoders-from: %s does not record its total steps (written by an older version): taken "
                       "as a finished pretraining", run_dir / ENCODER)
    elif step is None or step < total_steps:
        raise ReproductionError(f"--encoders-from: {run_dir / ENCODER} is an unfinished pretraining (step {step} of "
                                f"{total_steps}): let that run finish, or leave {config} out of --rows")
    _, saved = load_encoder_state(run_dir / ENCODER)
    differences = config_differences(saved.to_dict(), pretrain_config.to_dict())
    if differences:
        raise ReproductionError(f"--encoders-from: {run_dir / ENCODER} was pretrained with another configuration "
                                f"than this run's {config}: {'; '.join(differences[:4])}")
    curve = read_curve(run_dir / CURVE)
    split = json.loads((run_dir / SPLIT).read_text())["description"] if (run_dir / SPLIT).is_file() else None
    record = {"pretrained": True, "config": pretrain_config.to_dict(), "reused_from": str(run_dir),
              "steps": int(curve[-1]["step"]) if curve else None, "split": split,
              "train_seconds": round(pretraining_seconds(curve), 1), "final_loss": curve[-1]["loss"] if curve else None,
              "last_call_seconds": 0.0}
    return load_encoder(run_dir / ENCODER, protocol.size, ptbxl.fs), record


def _encoder(config: str, seed: int, out: Path, protocol: Protocol, ptbxl, cache_dir, device, progress,
             encoders_from=None) -> tuple:
    """(encoder, pretraining record) of a configuration and seed; rows are pretrained (or resumed) first, or taken
    from the finished reproduction ``encoders_from``."""
    from .downstream import load_encoder, random_encoder
    from .pretrain import CURVE, ENCODER, pretrain, read_curve

    if config in BASELINES:
        return random_encoder(protocol.size, ptbxl.fs, seed=seed), {
            "pretrained": False, "init": f"random (downstream.random_encoder, seed {seed})"}
    pretrain_config = preset(config, size=protocol.size, seed=seed, **protocol.pretrain_overrides)
    if encoders_from is not None:
        return _reused_encoder(config, seed, pretrain_config, protocol, ptbxl, Path(encoders_from))
    run_dir = pretrain_dir(out, config, seed)
    started = time.perf_counter()
    result = pretrain(pretrain_config, ptbxl, run_dir, cache_dir=cache_dir, device=device, progress=progress)
    call_seconds = time.perf_counter() - started
    curve = read_curve(run_dir / CURVE)
    record = {"pretrained": True, "config": pretrain_config.to_dict(), "run_dir": str(run_dir.relative_to(out)),
              "steps": result.steps, "split": result.split, "train_seconds": round(pretraining_seconds(curve), 1),
              "final_loss": curve[-1]["loss"] if curve else None,
              "last_call_seconds": round(call_seconds, 1)}
    return load_encoder(run_dir / ENCODER, protocol.size, ptbxl.fs), record


def _evaluate(task: str, config: str, encoder, seed: int, protocol: Protocol, ptbxl, ludb, allow_synthetic,
              device="cpu"):
    """(result, fold results or None) of one unit through ``downstream``, trained on ``device``."""
    from .downstream import evaluate_classification, evaluate_segmentation, segmentation_kfold

    if task.startswith("ptbxl"):
        mode = task.split("-")[1]
        epochs = protocol.probe_epochs if mode == "probe" else protocol.finetune_epochs
        return evaluate_classification(encoder, ptbxl, mode=mode, label_fraction=protocol.label_fraction,
                                       seed=seed, epochs=epochs, n_bootstrap=protocol.n_bootstrap,
                                       allow_synthetic=allow_synthetic, device=device), None
    options = dict(seed=seed, epochs=protocol.ludb_epochs, freeze_encoder=config == "random-init",
                   augment=protocol.ludb_augment,
                   allow_synthetic=allow_synthetic, device=device)
    if protocol.ludb_folds == 1:
        return evaluate_segmentation(encoder, ludb, **options), None
    folds = segmentation_kfold(encoder, ludb, k=protocol.ludb_folds, **options)
    return _pool_folds(folds), folds


def _pool_folds(folds: list) -> dict:
    """One LUDB result from k folds: every test record scored once, scores recomputed on the pooled counts."""
    from .metrics import scores_from_counts

    counts = np.concatenate([f["predictions"]["counts"] for f in folds])
    metrics = {key: value for key, value in scores_from_counts(counts).items() if key not in ("protocol", "counts")}
    boundary = [key for key in folds[0]["metrics"] if key.startswith("boundary_f1")]
    metrics.update({key: float(np.nanmean([f["metrics"][key] for f in folds])) for key in boundary})
    protocol = dict(folds[0]["protocol"], fold=None, split=folds[0]["protocol"]["split"].split(", fold")[0] +
                    ": every record tested once; sample-wise scores on the pooled counts, boundary F1 the mean of "
                    "the folds'", n_test=int(len(counts)),
                    test_record_ids=[r for f in folds for r in f["predictions"]["record_ids"]])
    return {"task": "ludb", "seed": folds[0]["seed"], "fold": None, "metrics": metrics, "protocol": protocol,
            "predictions": {"record_ids": protocol["test_record_ids"], "counts": counts}}


def _short_protocol(task: str, config: str, protocol: Protocol) -> str:
    if task.startswith("ptbxl"):
        how = ("linear probe on the frozen encoder" if task == "ptbxl-probe" else "encoder + linear head fine-tuned")
        return (f"PTB-XL superdiagnostic at {PTBXL_FS} Hz, full 10 s, folds 1-8 train ({protocol.label_fraction:.0%} "
                f"of them) / 9 thresholds / 10 test; {how}; macro AUROC, macro F1 at 0.5")
    how = "decoder on the frozen encoder" if config == "random-init" else "encoder + decoder fine-tuned"
    split = "ludb_split (seed 0, 20 % test)" if protocol.ludb_folds == 1 else f"{protocol.ludb_folds}-fold ludb_folds"
    augment = f", training batches augmented ({', '.join(protocol.ludb_augment)})" if protocol.ludb_augment else ""
    return (f"LUDB segmentation, encoder at {PTBXL_FS} Hz, logits interpolated to 500 Hz, samples 500-4500, "
            f"{split}; {how}{augment}; sample-wise F1 (pooled) and Dice (record mean), means of P/QRS/T")


def _write_unit(out: Path, config: str, seed: int, task: str, result: dict, folds, pretraining: dict,
                protocol: Protocol, run: dict, seconds: float) -> dict:
    predictions = result["predictions"]
    path = unit_path(out, config, seed, task)
    arrays = {"record_ids": np.asarray(predictions["record_ids"], dtype=str)}
    if task.startswith("ptbxl"):
        arrays.update(labels=predictions["labels"], scores=predictions["scores"])
    else:
        arrays.update(counts=predictions["counts"])
    atomic_savez(path.with_suffix(".npz"), compressed=True, **arrays)
    encoder_training = ("frozen" if task == "ptbxl-probe" or config == "random-init" else "fine-tuned")
    values = {metric: result["metrics"][key] for metric, key in SUMMARY_METRICS[task].items()}
    unit = {
        "format": FORMAT, "config": config, "seed": seed, "task": task, "encoder_training": encoder_training,
        "values": {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in values.items()},
        "protocol_summary": _short_protocol(task, config, protocol), "metrics": result["metrics"],
        "protocol": result["protocol"], "folds": None if folds is None else
        [{"fold": f["fold"], "metrics": f["metrics"], "test_record_ids": f["protocol"]["test_record_ids"]}
         for f in folds],
        "pretraining": pretraining, "run_protocol": protocol.to_dict(), "data": run["data"],
        "git": git_commit(), "machine": run["machine"], "wall_time_s": round(seconds, 1), "finished": _now(),
    }
    atomic_write_bytes(path, _json_bytes(unit))
    return unit


def reproduce(out, data, size: str = "cpu", seeds=3, rows=None, tasks=None, protocol: Protocol | None = None,
              cache_dir=None, device: str = "auto", progress: bool = True, n_records: int = 400,
              datasets: tuple | None = None, encoders_from=None) -> dict:
    """Run (or resume) the reproduction into ``out``; returns the report (``write_report``).

    data: a data root holding ptb-xl/ and ludb/, or "synthetic" (the only way to run on synthetic records).
    seeds: a count n (seeds 0..n-1) or a list of seeds. rows/tasks: a selection (``select_configs``,
    ``select_tasks``). protocol: default ``Protocol.for_size(size)``. datasets: (ptbxl, ludb) already loaded
    (``data`` then only names them; synthetic ones still need ``data == "synthetic"``). encoders_from: a finished
    reproduction's folder whose pretrained encoders the rows use instead of pretraining (their configurations must
    be this run's), for downstream-only studies such as other label fractions.
    """
    from .pretrain import pick_device

    out = Path(out)
    configs, tasks = select_configs(rows), select_tasks(tasks)
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ReproductionError(f"--seeds: expected a positive count or distinct seeds >= 0, got {seeds!r}")
    protocol = protocol or Protocol.for_size(size)
    if protocol.size != size:
        raise ReproductionError(f"protocol is for size {protocol.size!r}, the run asks for {size!r}")
    allow_synthetic = str(data) == "synthetic"
    if datasets is None:
        ptbxl, ludb, allow_synthetic = load_reproduction_data(data, n_records=n_records, progress=progress)
    else:
        ptbxl, ludb = datasets
    check_datasets(ptbxl, ludb, allow_synthetic)
    if float(ptbxl.fs) != PTBXL_FS:
        raise ReproductionError(f"PTB-XL: expected records at {PTBXL_FS} Hz (the reproduction's rate), got "
                                f"{ptbxl.fs:g} Hz")
    resolved_device = str(pick_device(device))
    run = {"protocol": protocol.to_dict(), "git": git_commit(), "machine": machine_info(resolved_device),
           "data": {"source": "synthetic" if allow_synthetic else "real",
                    "root": "synthetic" if allow_synthetic else str(Path(str(data)).resolve()),
                    **data_identity(ptbxl, ludb)}}
    check_results_folder(out, run)

    plan = [(seed, config, [t for t in CONFIG_TASKS[config] if t in tasks]) for seed in seeds for config in configs]
    plan = [(seed, config, wanted) for seed, config, wanted in plan if wanted]
    n_units = sum(len(wanted) for _, _, wanted in plan)
    done = sum(unit_path(out, c, s, t).exists() for s, c, wanted in plan for t in wanted)
    logger.info("reproduce: %d configuration(s) x %d seed(s): %d units, %d already done, into %s",
                len(configs), len(seeds), n_units, done, out)
    bar = tqdm(total=n_units, initial=done, disable=not progress, desc="reproduce", unit="unit", dynamic_ncols=True)
    for seed, config, wanted in plan:
        pending = [task for task in wanted if not unit_path(out, config, seed, task).exists()]
        if not pending:
            continue
        logger.info("reproduce: %s seed %d: %s", config, seed, ", ".join(pending))
        encoder, pretraining = _encoder(config, seed, out, protocol, ptbxl, cache_dir, resolved_device, progress,
                                        encoders_from)
        for task in pending:
            started = time.perf_counter()
            result, folds = _evaluate(task, config, encoder, seed, protocol, ptbxl, ludb, allow_synthetic,
                                      resolved_device)
            unit = _write_unit(out, config, seed, task, result, folds, pretraining, protocol, run,
                               time.perf_counter() - started)
            logger.info("reproduce: %s seed %d %s: %s (%.0f s)", config, seed, task,
                        ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} undefined"
                                  for k, v in unit["values"].items()), unit["wall_time_s"])
            bar.update(1)
        write_report(out, n_bootstrap=protocol.n_bootstrap)
    bar.close()
    return write_report(out, n_bootstrap=protocol.n_bootstrap)


# --- the report -----------------------------------------------------------------------------------------------------

def find_results(start=None) -> Path | None:
    """The results folder a reader looks at: ``$BEATSSL_RESULTS`` if set, else ``results/`` in ``start`` (default
    the working directory) or in its parent (the chapters run from ``book/`` or ``notebooks/``); None if neither
    holds one. A results folder is what ``reproduce`` writes: ``run.json`` and ``units/``.
    """
    def is_results(folder: Path) -> bool:
        return (folder / RUN_FILE).is_file() and (folder / UNITS_DIR).is_dir()

    named = os.environ.get("BEATSSL_RESULTS")
    if named:
        if not is_results(Path(named)):
            raise FileNotFoundError(f"BEATSSL_RESULTS={named}: expected a folder written by `beatssl-lite "
                                    f"reproduce` (holding {RUN_FILE} and {UNITS_DIR}/)")
        return Path(named).resolve()
    start = Path.cwd() if start is None else Path(start)
    return next((c.resolve() for c in (start / "results", start.parent / "results") if is_results(c)), None)


def read_units(out) -> list:
    """Every finished unit's JSON in ``out``, in canonical order (configuration, seed, task)."""
    units = [json.loads(p.read_text()) for p in sorted((Path(out) / UNITS_DIR).glob("*/seed*/*.json"))]
    order = {name: i for i, name in enumerate(CONFIGS)}
    return sorted(units, key=lambda u: (order.get(u["config"], len(order)), u["seed"], TASKS.index(u["task"])))


def summary_entries(units: list) -> list:
    """One flat entry per (configuration, seed, task, metric) of the units."""
    entries = []
    for unit in units:
        for metric, value in unit["values"].items():
            entries.append({"config": unit["config"], "seed": unit["seed"], "task": unit["task"], "metric": metric,
                            "value": value, "encoder_training": unit["encoder_training"],
                            "protocol": unit["protocol_summary"], "git_commit": unit["git"]["commit"],
                            "machine": unit["machine"]["hostname"], "wall_time_s": unit["wall_time_s"],
                            "pretrain_train_s": unit["pretraining"].get("train_seconds"),
                            "unit": str(Path(UNITS_DIR) / unit["config"] / f"seed{unit['seed']}" / unit["task"])})
    return entries


def _paired_units(units: list, task: str, metric: str) -> dict:
    """{config: {unit: value}} with units = seeds, or "seed-fold" keys when the units hold LUDB folds."""
    key = SUMMARY_METRICS[task][metric]
    scores = {}
    for unit in units:
        if unit["task"] != task:
            continue
        if unit["folds"]:
            for fold in unit["folds"]:
                value = fold["metrics"][key]
                if value is not None and math.isfinite(value):
                    scores.setdefault(unit["config"], {})[f"{unit['seed']}-{fold['fold']}"] = value
        elif unit["values"].get(metric) is not None:
            scores.setdefault(unit["config"], {})[unit["seed"]] = unit["values"][metric]
    return scores


def wilcoxon_families(units: list) -> list:
    """Per (task, metric, reference): every other configuration vs the reference, Wilcoxon signed-rank
    (``stats.wilcoxon_bonferroni``) paired on the units (seeds, or (seed, fold)) the two share, Bonferroni within
    the family. A configuration still missing some of the reference's units is tested on fewer pairs (``n_pairs``
    says how many; ``partial`` lists it), not dropped: one lost unit must not silence a whole family. One sharing
    no unit with the reference is listed in ``left_out``."""
    from .stats import friedman, wilcoxon_bonferroni

    families = []
    for task, metrics in SUMMARY_METRICS.items():
        for metric in metrics:
            scores = _paired_units(units, task, metric)
            for reference in REFERENCES:
                if reference not in scores:
                    continue
                keys = set(scores[reference])
                family = {reference: scores[reference]}
                family.update({c: v for c, v in scores.items() if c != reference and keys & set(v)})
                entry = {"task": task, "metric": metric, "reference": reference, "units": sorted(map(str, keys)),
                         "left_out": sorted(c for c in scores if c not in family),
                         "partial": sorted(c for c, v in family.items() if not keys <= set(v)), "tests": []}
                if len(family) >= 2:
                    entry["tests"] = wilcoxon_bonferroni(family, reference=reference, shared_units=True)
                families.append(entry)
            rows = {c: v for c, v in scores.items() if c in ROWS}
            common = set.intersection(*(set(v) for v in rows.values())) if rows else set()
            if len(rows) >= 3 and len(common) >= 2:
                try:
                    families.append({"task": task, "metric": metric, "friedman_rows": friedman(
                        {c: {u: v[u] for u in common} for c, v in rows.items()}), "units": sorted(map(str, common))})
                except ValueError as error:
                    logger.info("friedman %s %s: %s", task, metric, error)
    return families


def _load_predictions(out: Path, unit: dict) -> dict:
    with np.load(unit_path(out, unit["config"], unit["seed"], unit["task"]).with_suffix(".npz")) as arrays:
        return {key: arrays[key] for key in arrays.files}


def _metric_function(task: str):
    from .metrics import multilabel_auroc, scores_from_counts

    if task.startswith("ptbxl"):
        return lambda labels, scores: multilabel_auroc(labels, scores, warn=False).macro
    return lambda counts: scores_from_counts(counts)["f1_mean"]


def unit_intervals(out, units: list, n_bootstrap: int = 1000) -> list:
    """Per unit, the 95 % percentile-bootstrap interval over test records of its ``PRIMARY_METRIC``: PTB-XL macro
    AUROC from the unit itself (``downstream``), LUDB sample-wise F1 from its per-record counts (cached in
    out/bootstrap_cache.json)."""
    from .stats import bootstrap_ci

    out = Path(out)
    cache_path = out / _BOOTSTRAP_CACHE
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    rows, changed = [], False
    for unit in units:
        if unit["task"].startswith("ptbxl"):
            interval = unit["metrics"].get("auroc_ci")
        else:
            key = content_key(["interval", unit["config"], unit["seed"], unit["task"], unit["finished"], n_bootstrap])
            if key not in cache:
                counts = _load_predictions(out, unit)["counts"]
                cache[key] = bootstrap_ci(_metric_function("ludb"), counts, n_resamples=n_bootstrap,
                                          seed=unit["seed"]).to_dict()
                changed = True
            interval = cache[key]
        rows.append({"config": unit["config"], "seed": unit["seed"], "task": unit["task"],
                     "metric": PRIMARY_METRIC[unit["task"]], "interval": interval})
    if changed:
        atomic_write_bytes(cache_path, _json_bytes(cache))
    return rows


def resolvability(out, units: list, n_bootstrap: int = 1000) -> list:
    """Per task (its ``PRIMARY_METRIC``), configuration, reference and seed: the bootstrap intervals of both, the
    paired difference interval, and ``stats.difference_resolvable``'s verdict. Cached in out/bootstrap_cache.json
    by the units' finish times, since the bootstrap dominates the report's cost."""
    from .stats import bootstrap_ci, bootstrap_macro_auroc, difference_resolvable, paired_bootstrap_difference

    out = Path(out)
    cache_path = out / _BOOTSTRAP_CACHE
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    by_key = {(u["config"], u["seed"], u["task"]): u for u in units}
    rows, changed = [], False
    for (config, seed, task), unit in by_key.items():
        for reference in REFERENCES:
            other = by_key.get((reference, seed, task))
            if other is None or reference == config or (config in REFERENCES and reference != REFERENCES[0]):
                continue  # row 1 vs row 9 is read once, with row 9 as the reference
            key = content_key([config, reference, seed, task, unit["finished"], other["finished"], n_bootstrap])
            if key not in cache:
                a, b = _load_predictions(out, unit), _load_predictions(out, other)
                if list(a["record_ids"]) != list(b["record_ids"]):
                    continue
                metric = _metric_function(task)
                try:
                    if task.startswith("ptbxl"):
                        ci_a = bootstrap_macro_auroc(a["labels"], a["scores"], n_resamples=n_bootstrap, seed=seed)
                        ci_b = bootstrap_macro_auroc(b["labels"], b["scores"], n_resamples=n_bootstrap, seed=seed)
                        paired = paired_bootstrap_difference(metric, a["labels"], a["scores"], b["scores"],
                                                             n_resamples=n_bootstrap, seed=seed)
                    else:
                        ci_a = bootstrap_ci(metric, a["counts"], n_resamples=n_bootstrap, seed=seed)
                        ci_b = bootstrap_ci(metric, b["counts"], n_resamples=n_bootstrap, seed=seed)
                        paired = bootstrap_ci(lambda x, y: metric(x) - metric(y), a["counts"], b["counts"],
                                              n_resamples=n_bootstrap, seed=seed)
                    verdict = difference_resolvable(ci_a, ci_b, paired)
                except ValueError as error:  # an undefined metric or interval: say so, do not rank
                    verdict = {"resolvable": False, "difference": None, "reason": f"undefined: {error}"}
                    ci_a = ci_b = paired = None
                cache[key] = {"ci": None if ci_a is None else ci_a.to_dict(),
                              "ci_reference": None if ci_b is None else ci_b.to_dict(),
                              "paired_difference": None if paired is None else paired.to_dict(), **verdict}
                changed = True
            rows.append({"config": config, "reference": reference, "seed": seed, "task": task,
                         "metric": PRIMARY_METRIC[task], **cache[key]})
    if changed:
        atomic_write_bytes(cache_path, _json_bytes(cache))
    return rows


def _mean_sd(values: list) -> tuple:
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None, len(values)


def _cell(values: list) -> str:
    mean, sd, n = _mean_sd(values)
    if mean is None:
        return "-"
    return f"{mean:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")


def aggregate(entries: list) -> dict:
    """{(config, task, metric): [values over seeds]}."""
    table = {}
    for entry in entries:
        table.setdefault((entry["config"], entry["task"], entry["metric"]), []).append(entry["value"])
    return table


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ranks(values: dict) -> dict:
    """Rank 1 = highest; ties share the lower rank."""
    ordered = sorted(values.values(), reverse=True)
    return {name: ordered.index(value) + 1 for name, value in values.items()}


def markdown_report(out, units: list, entries: list, families: list, resolvable: list, intervals: list) -> str:
    """Our Table 1 beside the paper's, baselines, ranks, Wilcoxon/Bonferroni and the resolvability reading."""
    from scipy.stats import spearmanr

    run = json.loads((Path(out) / RUN_FILE).read_text())
    table = aggregate(entries)
    seeds = sorted({u["seed"] for u in units})
    commits = sorted({u["git"]["commit"][:10] + ("+dirty" if u["git"]["dirty"] else "") for u in units})
    hosts = sorted({f"{u['machine']['hostname']} ({u['machine']['cpu_count']} CPUs, {u['machine']['device']})"
                    for u in units})
    protocol, data = run["protocol"], run["data"]
    lines = [
        "# Beat-SSL reproduction: our Table 1 beside the paper's", "",
        f"Size `{protocol['size']}`, data: {data['source']} (PTB-XL {data['ptbxl']['n_records']} records at "
        f"{data['ptbxl']['fs']:g} Hz, LUDB {data['ludb']['n_records']} records at {data['ludb']['fs']:g} Hz); "
        f"seeds done: {', '.join(map(str, seeds)) or 'none'}; {len(units)} units; commit(s) {', '.join(commits)}; "
        f"machine(s) {', '.join(hosts)}.", "",
        f"Protocol: {json.dumps(protocol)}.", "",
        "- T1 = PTB-XL superdiagnostic, fold 10 of the data named above: macro AUROC and macro F1 at threshold 0.5; "
        "FT = encoder fine-tuned, probe = linear probe on the frozen encoder.",
        "- T2 = LUDB segmentation, sample-wise F1 (pooled over records and leads) and Dice (mean over records), means "
        "over P/QRS/T on samples 500-4500 at 500 Hz (the encoder runs at 100 Hz; logits interpolated).",
        "- Ours: mean ± standard deviation over seeds. Paper: Table 1 of Rizqyawan et al. (one number per row; it "
        "may be a best run, see the spec). Full PTB-XL (21,799 records) there; the data named above here.", "",
        "| # | rhythm | beat | exp | paper T1 AUROC | ours T1 AUROC FT | ours T1 AUROC probe | paper T1 F1 | "
        "ours T1 F1 FT | ours T1 F1 probe | paper T2 F1 | ours T2 F1 | ours T2 Dice | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row, (rhythm, beat, power) in TABLE1_ROWS.items():
        paper = PAPER_TABLE1[row]
        n_seeds = len({u["seed"] for u in units if u["config"] == row})
        cells = [_cell(table.get((row, t, m), [])) for t, m in (
            ("ptbxl-finetune", "auroc"), ("ptbxl-probe", "auroc"), ("ptbxl-finetune", "f1"), ("ptbxl-probe", "f1"),
            ("ludb", "f1"), ("ludb", "dice"))]
        lines.append(f"| {row[3:]} | {rhythm} | {beat if beat != 'none' else '-'} | {power:g} | {paper[0]:.3f} | "
                     f"{cells[0]} | {cells[1]} | {paper[1]:.3f} | {cells[2]} | {cells[3]} | {paper[2]:.3f} | "
                     f"{cells[4]} | {cells[5]} | {n_seeds} |")
    lines += ["", "Baselines (same encoder, same downstream code):", "",
              "| baseline | encoder | T1 AUROC | T1 F1 | T2 F1 | T2 Dice | seeds |", "|---|---|---|---|---|---|---|"]
    for baseline, task, how in (("random-init", "ptbxl-probe", "random, frozen (probe; LUDB decoder only)"),
                                ("supervised", "ptbxl-finetune", "random, trained from scratch")):
        n_seeds = len({u["seed"] for u in units if u["config"] == baseline})
        cells = [_cell(table.get(key, [])) for key in ((baseline, task, "auroc"), (baseline, task, "f1"),
                                                       (baseline, "ludb", "f1"), (baseline, "ludb", "dice"))]
        lines.append(f"| {baseline} | {how} | {' | '.join(cells)} | {n_seeds} |")

    lines += ["", "## Ranks of the rows (1 = best), ours beside the paper's", ""]
    for label, paper_column, task, metric in (("T1 AUROC (FT)", 0, "ptbxl-finetune", "auroc"),
                                              ("T1 F1 (FT)", 1, "ptbxl-finetune", "f1"),
                                              ("T2 F1", 2, "ludb", "f1")):
        ours = {row: _mean_sd(table.get((row, task, metric), []))[0] for row in ROWS}
        ours = {row: v for row, v in ours.items() if v is not None}
        if len(ours) < 2:
            lines.append(f"- {label}: fewer than two rows done")
            continue
        paper = {row: PAPER_TABLE1[row][paper_column] for row in ours}
        ranks_ours, ranks_paper = _ranks(ours), _ranks(paper)
        rho = spearmanr([paper[r] for r in ours], [ours[r] for r in ours]).statistic if len(ours) >= 3 else None
        agreement = f"; Spearman rho with the paper {rho:.2f} over {len(ours)} rows" if rho is not None else ""
        lines.append(f"- {label}: " + ", ".join(f"{r} {ranks_ours[r]} (paper {ranks_paper[r]})" for r in ours)
                     + agreement)

    lines += ["", "## Wilcoxon signed-rank vs row 9 and vs row 1 (Bonferroni within each family)", "",
              "Pairs are seeds (pretraining and downstream seed together; (seed, fold) with LUDB k-fold). With n pairs "
              "the exact two-sided test cannot go below p = 2 / 2^n (0.25 with 3 seeds): `powerless` marks families "
              "where no difference could ever be significant, so a non-significant result there says nothing.", ""]
    for family in families:
        if "friedman_rows" in family:
            f = family["friedman_rows"]
            lines.append(f"- Friedman over the rows, {family['task']} {family['metric']}: chi2 {f['statistic']:.2f}, "
                         f"p {f['p']:.3g} ({f['n_configurations']} rows, {f['n_units']} units)")
            continue
        if not family["tests"]:
            continue
        lines += ["", f"**{family['task']} {family['metric']} vs {family['reference']}** "
                      f"({_count(len(family['units']), 'unit')} of the reference, "
                      f"{_count(family['tests'][0]['n_comparisons'], 'comparison')}"
                      + (f"; on the units they share so far: {', '.join(family['partial'])}"
                         if family["partial"] else "")
                      + (f"; left out, no unit in common: {', '.join(family['left_out'])}"
                         if family["left_out"] else "") + ")", "",
                  "| config | pairs | median difference | p | p Bonferroni | significant | powerless |",
                  "|---|---|---|---|---|---|---|"]
        for test in family["tests"]:
            lines.append(f"| {test['b']} | {test['n_pairs']} | {-test['median_difference']:+.3f} | {test['p']:.3g} | "
                         f"{test['p_bonferroni']:.3g} | {'yes' if test['significant'] else 'no'} | "
                         f"{'yes' if test['powerless'] else 'no'} |")

    lines += ["", "## 95 % intervals over test records, seed by seed", "",
              "Percentile bootstrap over the test records (PTB-XL fold 10; the LUDB test records), value [low, high].",
              "", "| config | task | metric | per seed |", "|---|---|---|---|"]
    by_config = {}
    for row in intervals:
        by_config.setdefault((row["config"], row["task"], row["metric"]), []).append(row)
    for (config, task, metric), rows in by_config.items():
        cells = [f"seed {r['seed']}: {r['interval']['estimate']:.3f} [{r['interval']['low']:.3f}, "
                 f"{r['interval']['high']:.3f}]" if r["interval"] else f"seed {r['seed']}: undefined" for r in rows]
        lines.append(f"| {config} | {task} | {metric} | {'; '.join(cells)} |")

    lines += ["", "## Resolvable or not (bootstrap over test records, per seed)", "",
              "Per seed, the 95 % percentile-bootstrap intervals of both configurations and the paired difference "
              "interval (same resampled test records) decide whether the data can tell the two apart "
              "(`stats.difference_resolvable`); differences it cannot resolve must not be ranked.", "",
              "| task | metric | config | vs | resolvable in | mean difference | typical interval half-width |",
              "|---|---|---|---|---|---|---|"]
    grouped = {}
    for row in resolvable:
        grouped.setdefault((row["task"], row["config"], row["reference"]), []).append(row)
    for (task, config, reference), rows in sorted(grouped.items(), key=lambda kv: (
            TASKS.index(kv[0][0]), CONFIGS.index(kv[0][1]), kv[0][2])):
        yes = sum(bool(r["resolvable"]) for r in rows)
        differences = [r["difference"] for r in rows if r["difference"] is not None]
        widths = [(r["ci"]["high"] - r["ci"]["low"]) / 2 for r in rows if r.get("ci")]
        lines.append(f"| {task} | {rows[0]['metric']} | {config} | {reference} | {yes} of {len(rows)} seeds | "
                     f"{np.mean(differences):+.3f} | ±{np.mean(widths):.3f} |" if differences else
                     f"| {task} | {rows[0]['metric']} | {config} | {reference} | {yes} of {len(rows)} seeds | - | - |")

    wall, pretraining = {}, {}
    for unit in units:
        wall.setdefault(unit["config"], [0.0, 0.0])[0] += unit["wall_time_s"]
        pretraining[(unit["config"], unit["seed"])] = unit["pretraining"].get("train_seconds") or 0.0
    for (config, _), seconds in pretraining.items():
        wall[config][1] += seconds
    lines += ["", "## Wall time (seconds, summed over the seeds done)", "",
              "| config | downstream | pretraining (training steps) |", "|---|---|---|"]
    lines += [f"| {config} | {w[0]:.0f} | {w[1]:.0f} |" for config, w in wall.items()]
    return "\n".join(lines) + "\n"


def plot_results(out, entries: list) -> list:
    """figures/scores.png (every configuration's values per seed beside the paper's) and
    figures/paper_vs_ours.png (row means against Table 1). Returns the paths written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figures = Path(out) / FIGURES_DIR
    figures.mkdir(parents=True, exist_ok=True)
    table = aggregate(entries)
    panels = [(t, m) for t, metrics in SUMMARY_METRICS.items() for m in metrics]
    paper_column = {("ptbxl-finetune", "auroc"): 0, ("ptbxl-finetune", "f1"): 1, ("ludb", "f1"): 2}
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.4 * len(panels)), sharex=True)
    for ax, (task, metric) in zip(axes, panels):
        for x, config in enumerate(CONFIGS):
            values = [v for v in table.get((config, task, metric), []) if v is not None]
            if values:
                ax.plot([x] * len(values), values, "o", color="C0", alpha=0.6, ms=4)
                ax.plot([x - 0.3, x + 0.3], [np.mean(values)] * 2, color="C0", lw=2)
            if (task, metric) in paper_column and config in PAPER_TABLE1:
                ax.plot(x, PAPER_TABLE1[config][paper_column[(task, metric)]], "x", color="C3", ms=7,
                        label="paper" if x == 0 else None)
        ax.set_ylabel(f"{task}\n{metric}", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    axes[-1].set_xticks(range(len(CONFIGS)), CONFIGS, rotation=45, ha="right")
    fig.suptitle("Reproduction: each seed (dots), mean (bar), paper's Table 1 (x)")
    fig.tight_layout()
    scores_path = figures / "scores.png"
    fig.savefig(scores_path, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, ((task, metric), column) in zip(axes, paper_column.items()):
        for row in ROWS:
            mean = _mean_sd(table.get((row, task, metric), []))[0]
            if mean is not None:
                ax.plot(PAPER_TABLE1[row][column], mean, "o", color="C0")
                ax.annotate(row[3:], (PAPER_TABLE1[row][column], mean), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_xlabel(f"paper {task} {metric}")
        ax.set_ylabel("ours (mean over seeds)")
        ax.set_title(f"{task} {metric}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    scatter_path = figures / "paper_vs_ours.png"
    fig.savefig(scatter_path, dpi=110)
    plt.close(fig)
    return [scores_path, scatter_path]


def write_report(out, n_bootstrap: int = 1000, figures: bool = True) -> dict:
    """summary.json, statistics.json, table1.md and figures/ from the finished units in ``out`` (atomic writes).
    Returns {"summary": entries, "statistics": ..., "table": markdown text}."""
    out = Path(out)
    if not (out / RUN_FILE).exists():
        raise ReproductionError(f"{out}: no {RUN_FILE}; not a reproduction results folder")
    units = read_units(out)
    entries = summary_entries(units)
    families = wilcoxon_families(units)
    resolvable = resolvability(out, units, n_bootstrap=n_bootstrap)
    intervals = unit_intervals(out, units, n_bootstrap=n_bootstrap)
    statistics = {"wilcoxon": families, "resolvable": resolvable, "intervals": intervals,
                  "pairs": "seeds (pretraining and downstream seed together); (seed, fold) with LUDB k-fold",
                  "bootstrap": f"{n_bootstrap} percentile resamples of the test records, 95 %"}
    table = markdown_report(out, units, entries, families, resolvable, intervals)
    atomic_write_bytes(out / SUMMARY_FILE, _json_bytes(entries))
    atomic_write_bytes(out / STATISTICS_FILE, _json_bytes(statistics))
    atomic_write_bytes(out / TABLE_FILE, table.encode())
    if figures and entries:
        plot_results(out, entries)
    return {"summary": entries, "statistics": statistics, "table": table}


# --- command line ---------------------------------------------------------------------------------------------------

def parse_seeds(text: str):
    """``--seeds``: "3" is a count (seeds 0, 1, 2); with a comma it is a list: "0,2", or "2," for seed 2 alone."""
    if "," not in text:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count < 1:
            raise ReproductionError(f"--seeds: expected a positive count or a comma list of seeds, got {text!r}")
        return count
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ReproductionError(f"--seeds: expected distinct seeds >= 0 in a comma list (e.g. 0,2, or 2, for seed 2 "
                                f"alone), got {text!r}")
    return seeds


def add_arguments(parser) -> None:
    """The ``beatssl-lite reproduce`` options (``cli`` registers the subcommand)."""
    parser.add_argument("--data", metavar="ROOT",
                        help="data root holding ptb-xl/ and ludb/ (e.g. ../shared/data), or 'synthetic' for a "
                             "demonstration on the embedded synthetic ECG (the only way to get synthetic records); "
                             "required unless --report-only")
    parser.add_argument("--out", required=True, type=Path, help="results folder (resumed when it exists)")
    parser.add_argument("--size", default="cpu", metavar="SIZE", help=f"encoder size: {', '.join(SIZES)} (default cpu)")
    parser.add_argument("--seeds", default="3",
                        help="a count n (seeds 0..n-1, default 3) or a comma list, e.g. 0,2 (or 2, for seed 2 alone)")
    parser.add_argument("--rows", nargs="+", metavar="CONFIG",
                        help=f"configurations to run (default all): {', '.join(CONFIGS)}, or all, rows, baselines")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help=f"tasks to run (default all): {', '.join(TASKS)}")
    parser.add_argument("--label-fraction", type=float, help="fraction of PTB-XL folds 1-8 with labels (default 1)")
    parser.add_argument("--ludb-folds", type=int, help="1: ludb_split (default); k >= 3: k patient-level folds")
    parser.add_argument("--probe-epochs", type=int, help="linear-probe full-batch steps (default: the size's)")
    parser.add_argument("--finetune-epochs", type=int, help="PTB-XL fine-tuning epochs (default: the size's)")
    parser.add_argument("--ludb-epochs", type=int, help="LUDB segmentation epochs (default: the size's)")
    parser.add_argument("--ludb-augment", nargs="+", metavar="KIND",
                        help="augment LUDB training batches (ours, not the paper's protocol): some of "
                             "scale, stretch, shift (downstream.SEGMENTATION_AUGMENTATIONS; default none)")
    parser.add_argument("--pretrain-steps", type=int, help="stop every pretraining after this many steps")
    parser.add_argument("--pretrain-epochs", type=int, help="pretraining epochs (default: the size's)")
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples of the intervals (default 1000)")
    parser.add_argument("--n-records", type=int, default=400,
                        help="records of --data synthetic (PTB-XL stand-in; LUDB stand-in a quarter)")
    parser.add_argument("--cache-dir", type=Path, help="where precomputed features go (default: the user cache)")
    parser.add_argument("--encoders-from", type=Path, metavar="RESULTS",
                        help="take each row's pretrained encoder from this finished reproduction (its "
                             "pretrain/<row>/seed<k>/encoder.pt) instead of pretraining, e.g. for "
                             "--label-fraction 0.01 into another --out")
    parser.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the finished units")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_from_args(args) -> int:
    """``beatssl-lite reproduce``: run or resume, then log where the report is."""
    if args.report_only:
        saved = json.loads((Path(args.out) / RUN_FILE).read_text()) if (Path(args.out) / RUN_FILE).exists() else {}
        write_report(args.out, n_bootstrap=saved.get("protocol", {}).get("n_bootstrap", 1000))
        logger.info("report rewritten: %s", Path(args.out) / TABLE_FILE)
        return 0
    if args.data is None:
        raise ReproductionError("--data: required to run units (a data root, or 'synthetic'); only --report-only "
                                "goes without it")
    seeds = parse_seeds(args.seeds)
    overrides = {name: value for name, value in (("max_steps", args.pretrain_steps), ("epochs", args.pretrain_epochs))
                 if value is not None}
    protocol = Protocol.for_size(args.size, label_fraction=args.label_fraction, ludb_folds=args.ludb_folds,
                                 probe_epochs=args.probe_epochs, finetune_epochs=args.finetune_epochs,
                                 ludb_epochs=args.ludb_epochs, n_bootstrap=args.bootstrap,
                                 ludb_augment=tuple(args.ludb_augment) if args.ludb_augment else None,
                                 pretrain_overrides=overrides)
    report = reproduce(args.out, args.data, size=args.size, seeds=seeds, rows=args.rows, tasks=args.tasks,
                       protocol=protocol, cache_dir=args.cache_dir, device=args.device,
                       progress=not args.no_progress, n_records=args.n_records, encoders_from=args.encoders_from)
    logger.info("reproduce: %d summary entries; table %s", len(report["summary"]), Path(args.out) / TABLE_FILE)
    return 0
