"""Pretraining: one loop for a laptop CPU and for many GPUs under ``torchrun``, which resumes bit-identically.

The loop owns what nanoGPT's train.py owns [ref: Karpathy, nanoGPT]: the device, mixed precision, data-parallel
processes, checkpoints. Per step, on the training device:
1. a batch of raw ECGs and their precomputed features, R peaks and beat classes (``precompute``) comes from the
   DataLoader;
2. 3KG draws two views of every ECG into two reused output buffers (``augment.two_views(..., out=...)``);
3. the encoder embeds both views, the rhythm projector gives z_r, RoI pooling around the precomputed R peaks and
   the beat projector give z_b (``model``);
4. rhythm and beat targets are built from the batch's features on the device, and
   total = rhythm + lambda * beat (``losses``) is minimised.

What is whose:
- **[paper]** the pipeline above; targets from the un-augmented ECG, computed once per dataset.
- **[ref]** 3KG on the fly, temperature 0.1; DDP with an autograd-aware all-gather of the negatives.
- **[ours]** AdamW with a cosine schedule; bf16 autocast on GPUs that have it (fp16 with a gradient scaler on
  the others), fp32 on CPU; checkpoints every ``checkpoint_every`` steps and at every epoch's end.

Hygiene: pretraining never sees a downstream test record. PTB-XL strat_fold 10 (and fold 10 of any dataset with
folds, the synthetic ECG included) and the LUDB test split (``ludb_split``, its defaults) are removed here, in
code, before anything else happens; the split is logged and written to ``split.json`` in the run folder.

Reproducibility: one seed; each process adds its rank. The sampler is a ``DistributedSampler`` (also with one
process), whose order is a function of (seed, epoch); a resumed run skips the batches of the epoch already done.
The checkpoint holds the model, optimiser, scheduler, gradient scaler, step, and the RNG states of every process
(python, numpy, torch CPU and CUDA, the 3KG generator). Resuming an interrupted run on the CPU gives weights
bit-identical to an uninterrupted one (tested).

Files of a run folder: ``checkpoint.pt`` (last) and ``checkpoint.prev.pt`` (the one before; both written
atomically, loadable with ``torch.load(weights_only=True)``), ``encoder.pt`` (the encoder alone, for downstream
use), ``loss_curve.csv`` (one row per step, appended as the run goes), ``split.json`` (the records used and
what was left out), ``config.json`` (the configuration, for people; the checkpoints carry their own copy).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
from tqdm import tqdm

from . import augment
from .cache import atomic_write_bytes
from .config import ConfigError, PretrainConfig, check_same_config

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "beatssl_lite.pretrain.checkpoint/1"
ENCODER_FORMAT = "beatssl_lite.pretrain.encoder/1"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
ENCODER = "encoder.pt"
CURVE = "loss_curve.csv"
SPLIT = "split.json"
CONFIG = "config.json"
CURVE_COLUMNS = ("step", "epoch", "loss", "rhythm_loss", "beat_loss", "lr", "seconds")
#: PTB-XL's test fold (Strodthoff et al. 2021) [ref]; the synthetic ECG assigns folds the same way.
TEST_FOLD = 10


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read (corrupt, truncated, not ours)."""


class DataError(ValueError):
    """A dataset that cannot be pretrained on (no records left, no beats, a batch larger than the data)."""


# --- processes and devices -------------------------------------------------------------------------------------

@dataclass
class Runtime:
    """Where this process trains: device, rank among ``world_size`` processes, autocast dtype (None: fp32)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    autocast_dtype: torch.dtype | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto': CUDA if present, else Apple's MPS, else the CPU; or the device named."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: plain fp32). 'auto' = bf16 on a GPU that has it,
    else fp16 on a GPU; fp32 on CPU and MPS (CPU autocast gains little for convolutions and changes results)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def setup_runtime(device: str | torch.device = "auto", precision: str = "auto") -> Runtime:
    """This process's runtime; under ``torchrun`` (WORLD_SIZE > 1) also joins the process group (NCCL on CUDA,
    gloo otherwise) and takes the GPU of its LOCAL_RANK."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        chosen = pick_device(device)
        backend = "nccl" if chosen.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
        chosen = pick_device(device)
        if chosen.type == "cuda":
            chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
            torch.cuda.set_device(chosen)
    else:
        rank, chosen = 0, pick_device(device)
    return Runtime(device=chosen, rank=rank, world_size=world_size, autocast_dtype=autocast_dtype(chosen, precision))


# --- the split: no downstream test record ----------------------------------------------------------------------

def pretraining_indices(dataset) -> tuple[np.ndarray, str]:
    """(indices, description): the records of ``dataset`` pretraining may use, and a line saying what was left out.

    Removed: fold ``TEST_FOLD`` of any dataset with folds (PTB-XL's test fold; the synthetic ECG has the same
    folds), and the LUDB test split (``ludb_split`` with its defaults: the split downstream segmentation scores on).
    """
    n = len(dataset)
    keep = np.ones(n, dtype=bool)
    reasons = []
    folds = getattr(dataset, "folds", None)
    if folds is not None:
        test = np.asarray(folds) == TEST_FOLD
        keep &= ~test
        reasons.append(f"{int(test.sum())} of strat_fold {TEST_FOLD} (downstream test)")
    if getattr(dataset, "name", None) == "ludb":
        _, test_index = _ludb_split()(dataset)
        keep[test_index] = False
        reasons.append(f"{len(test_index)} of the LUDB test split (ludb_split)")
    indices = np.flatnonzero(keep)
    left_out = "; left out: " + ", ".join(reasons) if reasons else "; no downstream test split known for it"
    return indices, f"pretraining split of {getattr(dataset, 'name', 'dataset')}: {len(indices)} of {n} records{left_out}"


def _ludb_split():
    from .datasets import ludb_split

    return ludb_split


# --- data: raw signals + precomputed features ------------------------------------------------------------------

def _precompute(dataset, cache_dir, progress: bool):
    from .precompute import precompute

    # A worker pool pays off only beyond a few chunks of records.
    return precompute(dataset, cache_dir=cache_dir, progress=progress, n_jobs=-1 if len(dataset) > 256 else 1)


@dataclass
class Batch:
    """One step's input: B raw ECGs and what their targets and beat pooling need (all torch tensors).

    signals: (B, 12, T) float32; indices: (B,) positions in the pretraining records; record_features: (B, F_r)
    float64; beat_features: (M, F_b) float64; beat_record_index: (M,) int64 in 0..B-1; beat_classes: (M,) int64
    codes into ``BEAT_CLASSES``; r_peaks: (M,) int64 samples; M = the batch's beats, ordered by record.
    """

    signals: torch.Tensor
    indices: torch.Tensor
    record_features: torch.Tensor
    beat_features: torch.Tensor
    beat_record_index: torch.Tensor
    beat_classes: torch.Tensor
    r_peaks: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        """The batch on ``device`` (float64 features become float32 on MPS, which has no float64)."""
        def move(value: torch.Tensor) -> torch.Tensor:
            if device.type == "mps" and value.dtype == torch.float64:
                value = value.float()
            return value.to(device, non_blocking=device.type == "cuda")

        return Batch(**{name: move(value) for name, value in vars(self).items()})

    def pin_memory(self) -> "Batch":
        return Batch(**{name: value.pin_memory() for name, value in vars(self).items()})


class PretrainRecords:
    """The pretraining records and their precomputed features; ``records[list_of_indices]`` is a ``Batch``.

    dataset: the records to train on (already without test records, see ``pretraining_indices``).
    cache: their ``precompute`` result (per record and per beat features, R peaks, beat classes).
    """

    def __init__(self, dataset, cache):
        if len(cache) != len(dataset):
            raise DataError(f"cache: {len(cache)} records for a dataset of {len(dataset)}")
        self.signals = dataset.signals
        self.record_ids = [str(r) for r in dataset.record_ids]
        self.fs = float(dataset.fs)
        self.cache = cache

    def __len__(self) -> int:
        return len(self.record_ids)

    def __getitem__(self, indices) -> Batch:
        indices = np.asarray(indices, dtype=np.int64)
        features = self.cache.batch(indices)
        signals = np.asarray(self.signals[np.sort(indices)], dtype=np.float32)  # sorted: one pass over a memmap
        signals = signals[np.argsort(np.argsort(indices))]
        peaks = np.concatenate(features.r_peaks) if len(features.r_peaks) else np.zeros(0, np.int64)
        return Batch(
            signals=torch.from_numpy(np.ascontiguousarray(signals)),
            indices=torch.from_numpy(indices),
            record_features=torch.from_numpy(np.asarray(features.record_features, dtype=np.float64)),
            beat_features=torch.from_numpy(np.asarray(features.beat_features, dtype=np.float64)),
            beat_record_index=torch.from_numpy(np.asarray(features.beat_record_index, dtype=np.int64)),
            beat_classes=torch.from_numpy(np.asarray(features.beat_classes, dtype=np.int64)),
            r_peaks=torch.from_numpy(np.asarray(peaks, dtype=np.int64)),
        )


class _SkipBatches:
    """A batch sampler that leaves out its first ``skip`` batches (a resumed epoch)."""

    def __init__(self, batches: BatchSampler, skip: int):
        self.batches, self.skip = batches, skip

    def __iter__(self):
        return itertools.islice(iter(self.batches), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.batches) - self.skip)


def local_batch_size(batch_size: int, world_size: int) -> int:
    if batch_size % world_size:
        raise ConfigError(f"batch_size={batch_size} is not divisible by the {world_size} processes")
    return batch_size // world_size


def steps_per_epoch(n_records: int, batch_size: int, world_size: int = 1) -> int:
    """Full batches per epoch (the last, incomplete batch is dropped: every step has the same shape)."""
    return (n_records // world_size) // local_batch_size(batch_size, world_size)


def make_loader(records: PretrainRecords, config: PretrainConfig, epoch: int, runtime: Runtime,
                skip_batches: int = 0) -> DataLoader:
    """The DataLoader of one epoch on this process: a ``DistributedSampler`` (seeded, shuffled by epoch), full
    local batches, ``skip_batches`` left out; each item is a ``Batch`` (collated in the workers)."""
    sampler = DistributedSampler(range(len(records)), num_replicas=runtime.world_size, rank=runtime.rank,
                                 shuffle=True, seed=config.train.seed, drop_last=True)
    sampler.set_epoch(epoch)
    batches = BatchSampler(sampler, local_batch_size(config.train.batch_size, runtime.world_size), drop_last=True)
    workers = config.train.num_workers
    return DataLoader(records, sampler=_SkipBatches(batches, skip_batches), batch_size=None, num_workers=workers,
                      pin_memory=runtime.device.type == "cuda", persistent_workers=False,
                      generator=torch.Generator().manual_seed(config.train.seed),  # leaves the global RNG alone
                      prefetch_factor=4 if workers else None)


def load_records(dataset, config: PretrainConfig, cache_dir=None, progress: bool = True,
                 world_size: int = 1) -> tuple[PretrainRecords, str]:
    """The pretraining records of ``dataset`` (test records removed) with their precomputed features, checked."""
    indices, split = pretraining_indices(dataset)
    if len(indices) == 0:
        raise DataError(f"{dataset.name}: no record left for pretraining ({split})")
    train = dataset.subset(indices)
    cache = _precompute(train, cache_dir, progress)
    beats = int(np.sum(cache.beat_counts))
    if beats == 0:
        raise DataError(f"{dataset.name}: the {len(train)} pretraining records hold no detectable beat; is this "
                        f"ECG data (12 leads in mV at {train.fs:g} Hz)?")
    records = PretrainRecords(train, cache)
    local = local_batch_size(config.train.batch_size, world_size)
    if local > len(records) // world_size:
        raise DataError(f"batch_size={config.train.batch_size} is larger than the {len(records)} pretraining "
                        f"records{f' split over {world_size} processes' if world_size > 1 else ''}; use a batch size of "
                        f"at most {max(2, len(records) // world_size * world_size)}")
    return records, f"{split}; {beats} beats"


# --- model and losses ------------------------------------------------------------------------------------------

def build_model(config: PretrainConfig, fs: float) -> torch.nn.Module:
    """The Beat-SSL network of ``config.size``: encoder, rhythm and beat projectors, RoI beat pooling."""
    from .model import BeatSSLModel, size_preset

    return BeatSSLModel(size_preset(config.size), fs=fs)


def item_targets(features: torch.Tensor, strategy: str, power: float, names, gather: bool) -> torch.Tensor:
    """This process's rows of the soft target block of the items (ECGs or beats) whose feature rows are
    ``features`` (n, F), built on their device (``targets.rhythm_target_block``, whose soft computation serves any
    items given their feature names): (n, n) alone; (n, n_total) over the items of every process with ``gather``,
    which is what ``losses`` expects then."""
    from .losses import all_gather_variable
    from .targets import rhythm_target_block

    n, offset = len(features), 0
    if gather:
        features, offset = all_gather_variable(features, with_grad=False)
    return rhythm_target_block(features, strategy, power, names=names, rows=slice(offset, offset + n))


def compute_losses(model: torch.nn.Module, view1: torch.Tensor, view2: torch.Tensor, batch: Batch,
                   config: PretrainConfig, gather: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, rhythm, beat) losses of one step from the two views (B, 12, T) and the batch's features.

    Both views go through the model as one batch of 2B ECGs; their beats are the batch's R peaks, once per view.
    gather: contrast against the embeddings of every process (DDP; ``losses`` gathers them with gradients).
    Without a beat loss (beat 'none'), beat = 0 and no beat is pooled.
    """
    from . import losses
    from .features import BEAT_FEATURES, RECORD_FEATURES

    loss = config.loss
    n = len(view1)
    peaks = beat_index = None
    if loss.uses_beats:
        peaks = batch.r_peaks.repeat(2)
        beat_index = torch.cat([batch.beat_record_index, batch.beat_record_index + n])
    z_rhythm, z_beat = model(torch.cat([view1, view2]), peaks, beat_index)
    weights = (None if loss.rhythm == "hard"
               else item_targets(batch.record_features, loss.rhythm, loss.power, RECORD_FEATURES, gather))
    rhythm = losses.rhythm_loss(loss.rhythm, z_rhythm[:n], z_rhythm[n:], weights, loss.temperature, gather)
    if not loss.uses_beats:
        return rhythm, rhythm, torch.zeros_like(rhythm)
    m = len(batch.r_peaks)
    weights = (None if loss.beat == "hard"
               else item_targets(batch.beat_features, loss.beat, loss.power, BEAT_FEATURES, gather))
    beat = losses.beat_loss(loss.beat, z_beat[:m], z_beat[m:], batch.beat_classes, weights, loss.temperature, gather)
    return losses.total_loss(rhythm, beat, loss.beat_weight), rhythm, beat


# --- RNG state, checkpoints ------------------------------------------------------------------------------------

def rng_state(augment_generator: torch.Generator) -> dict:
    """Every random state of this process, as plain values and tensors (``torch.load(weights_only=True)`` safe)."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {"bit_generator": numpy_state["bit_generator"],
                  "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "augment": augment_generator.get_state(),
    }


def set_rng_state(state: dict, augment_generator: torch.Generator) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state({"bit_generator": numpy_state["bit_generator"],
                         "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
                         "has_gauss": numpy_state["has_gauss"], "gauss": numpy_state["gauss"]})
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    augment_generator.set_state(state["augment"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_checkpoint(out_dir: Path, state: dict) -> Path:
    """Write ``state`` as ``checkpoint.pt`` atomically; the checkpoint it replaces becomes ``checkpoint.prev.pt``.

    Order: the new file is complete on disk (temporary name) before the old one is renamed, so at every moment at
    least one whole checkpoint exists.
    """
    out_dir = Path(out_dir)
    last, previous = out_dir / CHECKPOINT, out_dir / PREVIOUS_CHECKPOINT
    staged = atomic_write_bytes(out_dir / (CHECKPOINT + ".new"), _torch_bytes({"format": CHECKPOINT_FORMAT, **state}))
    if last.exists():
        os.replace(last, previous)
    os.replace(staged, last)
    return last


def load_checkpoint(path, config: PretrainConfig | None = None) -> dict:
    """A checkpoint written by ``save_checkpoint``, read with ``weights_only=True``; with ``config``, also checked
    to be that configuration's (``ConfigError`` naming both otherwise). ``CheckpointError`` when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, pickle errors, zipfile errors... on bad files
        previous = path.with_name(PREVIOUS_CHECKPOINT)
        hint = (f"; the previous checkpoint {previous} is intact: move it to {path.name} to resume from it"
                if previous.is_file() and previous != path else "")
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}){hint}") from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a beatssl_lite pretraining checkpoint (format "
                              f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}, "
                              f"expected {CHECKPOINT_FORMAT!r})")
    if config is not None:
        check_same_config(state["config"], config, source=f"checkpoint {path}")
    return state


def save_encoder(path: Path, encoder: torch.nn.Module, config: PretrainConfig, step: int,
                 total_steps: int | None = None) -> Path:
    """The encoder alone (what downstream tasks keep), with the configuration that trained it, the sampling rate
    it was built for (its kernels depend on it), and its step of ``total_steps`` (it is rewritten at every
    checkpoint, so a file mid-run holds an unfinished encoder: ``encoder_progress`` tells)."""
    return atomic_write_bytes(path, _torch_bytes({"format": ENCODER_FORMAT, "config": config.to_dict(),
                                                  "fs": float(encoder.fs), "step": step, "total_steps": total_steps,
                                                  "encoder": encoder.state_dict()}))


def encoder_progress(path) -> tuple[int | None, int | None]:
    """(step, total_steps) recorded in an ``encoder.pt``; total_steps is None in files written before it was
    recorded."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: corrupt or truncated encoder file ({type(error).__name__})") from error
    step, total = state.get("step"), state.get("total_steps")
    return (None if step is None else int(step)), (None if total is None else int(total))


def load_encoder_state(path) -> tuple[dict, PretrainConfig]:
    """(encoder state_dict, config) of an ``encoder.pt``; ``CheckpointError`` when unreadable."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path}: corrupt or truncated encoder file ({type(error).__name__})") from error
    if not isinstance(state, dict) or state.get("format") != ENCODER_FORMAT:
        raise CheckpointError(f"{path}: not a beatssl_lite encoder file (expected format {ENCODER_FORMAT!r})")
    return state["encoder"], PretrainConfig.from_dict(state["config"])


# --- the loss curve --------------------------------------------------------------------------------------------

def read_curve(path) -> list[dict]:
    """Rows of a ``loss_curve.csv`` as dicts of floats (a torn last line, from a crash mid-write, is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                rows.append({key: float(row[key]) for key in CURVE_COLUMNS})
            except (TypeError, ValueError):
                continue
    return rows


def _truncate_curve(path: Path, last_step: int) -> None:
    """Keep the rows up to ``last_step`` (what the checkpoint resumed from has seen), rewritten atomically."""
    rows = [row for row in read_curve(path) if row["step"] <= last_step]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CURVE_COLUMNS)
    for row in rows:
        writer.writerow([_format(row[key]) for key in CURVE_COLUMNS])
    atomic_write_bytes(path, text.getvalue().encode())


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def _append_curve(path: Path, row: dict) -> None:
    """One row, one write: a crash leaves at most a torn last line, which ``read_curve`` skips."""
    line = ",".join(_format(row[key]) for key in CURVE_COLUMNS) + "\n"
    with open(path, "a") as fh:
        fh.write(line)
        fh.flush()


# --- the loop --------------------------------------------------------------------------------------------------

def make_optimiser(model: torch.nn.Module, config: PretrainConfig):
    train = config.train
    if train.optimiser == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    if train.optimiser == "adam":
        return torch.optim.Adam(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=train.lr, momentum=0.9, weight_decay=train.weight_decay)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then constant or a cosine decay to 0 at the end."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class ViewBuffers:
    """Two reused output buffers for the 3KG views of a batch (reallocated only when the batch shape changes)."""

    def __init__(self):
        self.buffers = None

    def get(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.buffers is None or self.buffers[0].shape != x.shape or self.buffers[0].device != x.device:
            if x.device.type == "cpu":  # numpy asks for 2 MB pages (see augment's docstring)
                self.buffers = tuple(torch.from_numpy(np.empty(tuple(x.shape), np.float32)) for _ in range(2))
            else:
                self.buffers = tuple(torch.empty_like(x) for _ in range(2))
        return self.buffers


def train_step(model, batch: Batch, config: PretrainConfig, runtime: Runtime, optimiser, scaler,
               views: ViewBuffers, augment_generator: torch.Generator) -> tuple[float, float, float]:
    """One optimisation step on a batch already on the device: 3KG, forward, losses, backward, update.
    Returns (total, rhythm, beat) losses as floats (this process's)."""
    view1, view2, _, _ = augment.two_views(batch.signals, config.augment, generator=augment_generator,
                                           out=views.get(batch.signals))
    precision = (torch.autocast(runtime.device.type, dtype=runtime.autocast_dtype)
                 if runtime.autocast_dtype is not None else nullcontext())
    with precision:
        total, rhythm, beat = compute_losses(model, view1, view2, batch, config,
                                             gather=runtime.distributed and config.train.gather_negatives)
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(total).backward()
    scaler.step(optimiser)
    scaler.update()
    return total.detach(), rhythm.detach(), beat.detach()


@dataclass
class PretrainResult:
    """What a finished (or already complete) pretraining leaves: the model, its run folder, the loss curve."""

    model: torch.nn.Module
    out_dir: Path
    curve: list
    steps: int
    split: str


def pretrain(config: PretrainConfig, dataset, out_dir, cache_dir=None, device: str = "auto",
             progress: bool = True, on_step: Callable[[int, dict], None] | None = None) -> PretrainResult:
    """Pretrain ``config`` on ``dataset`` (an ``ECGDataset``), writing the run folder ``out_dir``.

    A folder that already holds a checkpoint of the same configuration is resumed from it (one of another
    configuration is an error naming both); a finished run returns at once. cache_dir: where the precomputed
    features go (default: the user cache). on_step(step, metrics): called after every step on rank 0 (the book
    uses it to watch; tests use it to interrupt a run).
    Runs under ``torchrun`` as well: each process trains on its share of every batch.
    """
    runtime = setup_runtime(device, config.train.precision)
    out_dir = Path(out_dir)
    saved = _saved_state(out_dir, config)  # before any work or write: a wrong or broken checkpoint stops here
    if runtime.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    if runtime.distributed and not runtime.is_main:
        dist.barrier()  # rank 0 precomputes the features first; the others then read its cache
    records, split = load_records(dataset, config, cache_dir, progress and runtime.is_main, runtime.world_size)
    if runtime.distributed and runtime.is_main:
        dist.barrier()
    data = _data_identity(records)
    if saved is not None and saved.get("data") != data:
        raise DataError(f"{out_dir / CHECKPOINT} was trained on {saved.get('data')}, this run's records are {data}: "
                        f"use another --out folder, or the same data")
    if runtime.is_main:
        log.info(split)
        atomic_write_bytes(out_dir / SPLIT, json.dumps(
            {"description": split, "pretraining_record_ids": records.record_ids}, indent=1).encode())
        atomic_write_bytes(out_dir / CONFIG, json.dumps(config.to_dict(), indent=1).encode())

    per_epoch = steps_per_epoch(len(records), config.train.batch_size, runtime.world_size)
    total_steps = per_epoch * config.train.epochs
    if config.train.max_steps is not None:
        total_steps = min(total_steps, config.train.max_steps)

    torch.manual_seed(config.train.seed)  # the same initial weights on every process
    model = build_model(config, records.fs).to(runtime.device)
    optimiser = make_optimiser(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(
        step, total_steps, config.train.warmup_steps, config.train.schedule))
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.autocast_dtype == torch.float16)
    augment_generator = torch.Generator()
    seed_everything(config.train.seed + runtime.rank)  # every process its own stream
    augment_generator.manual_seed(config.train.seed + runtime.rank + 1_000_003)

    step = _resume(saved, model, optimiser, scheduler, scaler, augment_generator, runtime, total_steps)
    if runtime.is_main and (out_dir / CURVE).exists():
        _truncate_curve(out_dir / CURVE, step)
    elif runtime.is_main:
        atomic_write_bytes(out_dir / CURVE, (",".join(CURVE_COLUMNS) + "\n").encode())

    # Without a beat loss the beat projector gets no gradient, which DDP must be told.
    trained = (torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=not config.loss.uses_beats)
               if runtime.distributed else model)
    views = ViewBuffers()
    started = time.perf_counter()
    log.info("pretraining %s on %s (%d process(es), %s): from step %d to %d, %d per epoch, batch %d",
             config.label, runtime.device, runtime.world_size, runtime.autocast_dtype or "fp32", step, total_steps,
             per_epoch, config.train.batch_size)
    bar = tqdm(total=total_steps, initial=step, disable=not (progress and runtime.is_main), desc=config.label,
               unit="step", dynamic_ncols=True)
    model.train()
    while step < total_steps:
        epoch, done_in_epoch = divmod(step, per_epoch)
        for batch in make_loader(records, config, epoch, runtime, skip_batches=done_in_epoch):
            batch = batch.to(runtime.device)
            losses = train_step(trained, batch, config, runtime, optimiser, scaler, views, augment_generator)
            scheduler.step()
            step += 1
            metrics = _metrics(losses, runtime, step, epoch, scheduler, started)
            if not math.isfinite(metrics["loss"]):
                raise FloatingPointError(f"{config.label}: loss is {metrics['loss']} at step {step}; lower --lr "
                                         f"or use --precision fp32")
            if runtime.is_main:
                _append_curve(out_dir / CURVE, metrics)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            if step % config.train.checkpoint_every == 0 or step % per_epoch == 0 or step == total_steps:
                _checkpoint(out_dir, config, data, model, optimiser, scheduler, scaler, augment_generator, runtime,
                            step, total_steps)
            if on_step is not None and runtime.is_main:
                on_step(step, metrics)
            if step >= total_steps:
                break
    bar.close()
    if runtime.is_main:
        log.info("pretraining %s finished at step %d: %s", config.label, step, out_dir)
    return PretrainResult(model=model, out_dir=out_dir, curve=read_curve(out_dir / CURVE) if runtime.is_main else [],
                          steps=step, split=split)


def _metrics(losses, runtime: Runtime, step: int, epoch: int, scheduler, started: float) -> dict:
    values = torch.stack([value.float() for value in losses])
    if runtime.distributed:  # the curve shows the mean over processes
        dist.all_reduce(values)
        values /= runtime.world_size
    total, rhythm, beat = values.tolist()
    return {"step": step, "epoch": epoch, "loss": total, "rhythm_loss": rhythm, "beat_loss": beat,
            "lr": scheduler.get_last_lr()[0], "seconds": round(time.perf_counter() - started, 3)}


def _data_identity(records: PretrainRecords) -> dict:
    """What identifies the records a run trains on: count, sampling rate and a hash of their ids, in order."""
    digest = hashlib.sha256("\0".join(records.record_ids).encode()).hexdigest()[:16]
    return {"n_records": len(records), "fs": records.fs, "record_ids_sha256": digest}


def _checkpoint(out_dir, config, data, model, optimiser, scheduler, scaler, augment_generator, runtime,
                step, total_steps) -> None:
    states = rng_state(augment_generator)
    if runtime.distributed:  # every process's RNG state, so that each resumes its own stream
        gathered = [None] * runtime.world_size
        dist.all_gather_object(gathered, states)
        states = gathered
    else:
        states = [states]
    if runtime.is_main:
        save_checkpoint(out_dir, {
            "config": config.to_dict(), "data": data, "step": step, "world_size": runtime.world_size,
            "model": model.state_dict(), "optimiser": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "rng": states,
        })
        save_encoder(out_dir / ENCODER, model.encoder, config, step, total_steps)
    if runtime.distributed:
        dist.barrier()


def _saved_state(out_dir: Path, config: PretrainConfig) -> dict | None:
    """The run folder's checkpoint, checked to be ``config``'s, or None for a new run."""
    path = out_dir / CHECKPOINT
    if not path.exists() and (out_dir / PREVIOUS_CHECKPOINT).exists():
        # A crash between the two renames of save_checkpoint leaves only the previous checkpoint.
        log.warning("%s missing: resuming from %s", path, PREVIOUS_CHECKPOINT)
        path = out_dir / PREVIOUS_CHECKPOINT
    if not path.exists():
        return None
    state = load_checkpoint(path, config)
    state["path"] = str(path)
    return state


def _resume(state: dict | None, model, optimiser, scheduler, scaler, augment_generator, runtime,
            total_steps: int) -> int:
    """Restore a checkpoint's state (``_saved_state``); the step to continue from (0 for a new run).

    A finished run (its step at ``total_steps``) loads under any number of processes: nothing is left to train, so
    no random stream needs to continue (``reproduce`` on one process picks up a row pretrained with torchrun)."""
    if state is None:
        return 0
    if state["world_size"] != runtime.world_size and int(state["step"]) >= total_steps:
        model.load_state_dict(state["model"])
        log.info("%s: finished by %d process(es) at step %d; loaded as is", state["path"], state["world_size"],
                 state["step"])
        return int(state["step"])
    if state["world_size"] != runtime.world_size:
        raise ConfigError(f"checkpoint {state['path']} was written by {state['world_size']} process(es), this run "
                          f"has {runtime.world_size}: resume with the same number")
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"][runtime.rank], augment_generator)
    log.info("resumed %s from %s at step %d", PretrainConfig.from_dict(state["config"]).label, state["path"],
             state["step"])
    return int(state["step"])
