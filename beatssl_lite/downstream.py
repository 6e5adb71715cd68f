"""The paper's two downstream tasks on a (pretrained or randomly initialised) encoder, every result carrying the
protocol that produced it.

One module for both tasks because they share everything but the head: the encoder checks and copies, the
refusal of synthetic data, resampling to the encoder's rate, seeding and the training loop's shape. Downstream
code uses only the encoder's public API (``Encoder.forward`` for its (B, C, F) feature map, ``Encoder.pool`` for
the embedding, ``encode``, ``stride``, ``fs``, ``config``), never its internals (TS2Vec style). The randomly
initialised baseline (``random_encoder``) goes through the same functions, and so does supervised training from
scratch (``random_encoder`` with ``mode="finetune"``).

**Task 1, PTB-XL superdiagnostic multilabel classification** (``evaluate_classification``):

- split **[ref: Strodthoff et al. 2021]**: ``strat_fold`` 1-8 train, 9 validation, 10 test (``ptbxl_split``);
- label fraction **[paper: unknown; ours]**: 1 %, 10 % or 100 % of the training folds, ``max(1, round(f n))``
  records drawn once per seed without replacement (``label_subset``); their record ids are logged and returned,
  with the positives per class. A class without positives in a small subset (1 % of the offline subset's 1,481
  training records is 15, with ~1.6 HYP positives on average) is still trained, as all negatives; its AUROC is
  undefined only when the *test* fold lacks positives or negatives, and is then NaN and left out of the macro
  mean with the count stated (``metrics``), and its threshold stays 0.5 when fold 9 has no positive;
- input: the full 10 s record at the encoder's rate (PTB-XL at 100 Hz: 1000 samples), no crop, resampled
  (``scipy.signal.resample_poly``) only if the dataset's rate differs; embedding = ``Encoder.pool``, the mean of the
  feature map over time;
- ``mode="probe"`` **[ours]**: the frozen encoder's embeddings, standardised with the training subset's mean and
  standard deviation, and a linear layer trained full-batch with Adam on BCE; ``mode="finetune"``: a copy of the
  encoder and a linear head trained together in mini-batches with Adam on BCE. A fixed number of epochs, no early
  stopping; the validation fold only tunes the F1 thresholds.
- scores on fold 10: macro/per-class AUROC (with a bootstrap 95 % interval over test records), macro F1 at 0.5 and
  with per-class thresholds tuned on fold 9 (``metrics``).

**Task 2, LUDB segmentation** (``evaluate_segmentation``, ``segmentation_kfold``):

- a light decoder **[ours]** on the encoder's feature map at the encoder's frame rate: Conv1d(width, hidden, 5) -
  GELU - Conv1d(hidden, 12 x 4, 1), i.e. per-frame logits of none/P/QRS/T for each of the 12 leads (LUDB annotates
  every lead), linearly interpolated to the mask's rate (500 Hz on LUDB) with frame t placed at its centre, sample
  ``t * stride`` of the encoder's input (``upsample_frames``);
- the encoder is fine-tuned with the decoder (``freeze_encoder=True`` keeps it fixed); cross-entropy on the samples
  of the scoring window only (500-4500: LUDB leaves the edges unannotated, so a "none" there is not a label);
- split: ``ludb_split`` (seeded, patient-level: one record per patient; 20 % test) or the k folds of ``ludb_folds``
  where configurations are compared; scores from ``metrics.segmentation_scores`` and ``metrics.boundary_f1``;
- ``augment`` **[ours; off by default and in the reproduction, as the paper states none]**: during training only,
  each batch's input is warped (``scale`` each lead's amplitude, ``stretch`` it in time, ``shift`` it circularly;
  one draw per batch from torch's generator, ``draw_augmentation``) and the logits are mapped back to the masks'
  time (``unwarp_time``), so the annotated masks stay as they are. On LUDB, 5 folds, the `cpu` row-9 encoder:
  ``benchmarks/bench_segmentation_augment.py``.

Both refuse a dataset named 'synthetic' unless ``allow_synthetic=True`` (the fallback rule: numbers are reported
on the data they name). Results are plain dicts: ``task``, ``seed``, ``metrics``, ``protocol`` and
``predictions`` (numpy arrays for paired statistics; drop them before writing JSON).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly
from torch import nn

from .datasets import ludb_folds, ludb_split, ptbxl_split
from .metrics import (SEGMENTATION_WINDOW, boundary_f1, multilabel_auroc, multilabel_f1, segmentation_scores,
                      tune_thresholds)
from .model import Encoder, count_parameters, size_preset
from .stats import bootstrap_macro_auroc
from .vocabulary import LEADS, SUPERCLASSES, WAVES

logger = logging.getLogger(__name__)

LABEL_FRACTIONS = (0.01, 0.1, 1.0)
MODES = ("probe", "finetune")
SEGMENTATION_AUGMENTATIONS = ("scale", "stretch", "shift")  # applied in this order
AUGMENT_SCALE = (0.7, 1.3)  # each lead's amplitude factor
AUGMENT_STRETCH = (0.9, 1.1)  # time factor: heart rate and wave durations 10 % slower or faster
AUGMENT_SHIFT_S = 0.5  # largest circular shift; the wrapped junction stays at the record's unscored edges


# --- encoders ------------------------------------------------------------------------------------------------------

def random_encoder(size: str, fs: float, seed: int = 0) -> Encoder:
    """A randomly initialised encoder of preset ``size`` at ``fs`` (the mandatory baseline), seeded."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return Encoder(size_preset(size), fs)
    finally:
        torch.random.set_rng_state(generator_state)


def load_encoder(source, size: str, fs: float) -> Encoder:
    """An encoder of preset ``size`` at ``fs`` with the weights of ``source``: an ``encoder.pt`` written by
    pretraining (its recorded size and rate must be ``size`` and ``fs``) or a state dict. Weights of another size or rate: ValueError
    naming both."""
    if isinstance(source, dict):
        state, origin = source, "state dict"
    else:
        from .pretrain import load_encoder_state

        state, config = load_encoder_state(source)
        origin = str(source)
        if config.size != size:
            raise ValueError(f"{origin}: weights of a {config.size!r} encoder, expected size={size!r}")
        saved_fs = torch.load(source, map_location="cpu", weights_only=True).get("fs")
        if saved_fs is not None and float(saved_fs) != float(fs):
            raise ValueError(f"{origin}: weights of an encoder for {float(saved_fs):g} Hz input, expected fs={fs:g} "
                             "(resample the ECGs to the encoder's rate instead)")
    encoder = Encoder(size_preset(size), fs)
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f"{name} {tuple(state[name].shape)} vs {tuple(tensor.shape)}" for name, tensor in expected.items()
                  if name in state and tuple(state[name].shape) != tuple(tensor.shape)]
    if missing or unexpected or mismatched:
        detail = "; ".join(filter(None, [f"shapes differ: {', '.join(mismatched[:3])}" if mismatched else "",
                                         f"missing: {', '.join(missing[:3])}" if missing else "",
                                         f"unexpected: {', '.join(unexpected[:3])}" if unexpected else ""]))
        raise ValueError(f"{origin}: these weights do not fit a {size!r} encoder at {fs:g} Hz (weights of another "
                         f"size, or of another sampling rate, whose kernel lengths differ): {detail}")
    encoder.load_state_dict(state)
    return encoder


def _check_encoder(encoder) -> Encoder:
    if not isinstance(encoder, Encoder):
        raise TypeError(f"encoder: expected a beatssl_lite.model.Encoder, got {type(encoder).__name__}")
    return encoder


def _encoder_protocol(encoder: Encoder) -> dict:
    return {"config": encoder.config.to_dict(), "fs": encoder.fs, "stride_samples": encoder.stride,
            "receptive_field_samples": encoder.receptive_field, "n_parameters": count_parameters(encoder)}


def _check_data(dataset, allow_synthetic: bool, task: str, needs: tuple) -> None:
    if getattr(dataset, "name", None) == "synthetic" and not allow_synthetic:
        raise ValueError(f"{task}: dataset is the synthetic stand-in; results must come from the data they name. "
                         f"Pass allow_synthetic=True for a demonstration")
    for attribute in needs:
        if getattr(dataset, attribute, None) is None:
            raise ValueError(f"{task}: dataset {dataset.name!r} has no {attribute}")


def _at_rate(signals: np.ndarray, fs: float, target_fs: float) -> np.ndarray:
    """Signals (N, 12, T) at ``target_fs`` (polyphase resampling with scipy's anti-alias filter), float32."""
    signals = np.asarray(signals, dtype=np.float32)
    if fs == target_fs:
        return signals
    ratio = Fraction(target_fs / fs).limit_denominator(1000)
    if abs(float(ratio) - target_fs / fs) > 1e-9:
        raise ValueError(f"fs: cannot resample {fs:g} Hz to the encoder's {target_fs:g} Hz by a simple ratio")
    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def _generator(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


# --- task 1: PTB-XL superdiagnostic ----------------------------------------------------------------------------------

def label_subset(train_idx, fraction: float, seed: int, record_ids=None) -> np.ndarray:
    """Sorted ``max(1, round(fraction * n))`` of the training indices, drawn once per ``seed`` without replacement
    (1.0: all of them). With ``record_ids`` the chosen ids are logged."""
    train_idx = np.asarray(train_idx)
    if not (isinstance(fraction, (int, float, np.floating)) and 0 < fraction <= 1):
        raise ValueError(f"label_fraction: expected a fraction in (0, 1], got {fraction!r}")
    if len(train_idx) == 0:
        raise ValueError("train_idx: the training split is empty")
    n = max(1, int(round(fraction * len(train_idx))))
    chosen = np.sort(_generator(seed, 0).choice(train_idx, size=n, replace=False)) if n < len(train_idx) \
        else np.sort(train_idx)
    if record_ids is not None and n < len(train_idx):
        logger.info("label fraction %g, seed %d: %d of %d training records: %s", fraction, seed, n, len(train_idx),
                    ", ".join(str(record_ids[i]) for i in chosen))
    return chosen


class _Classifier(nn.Module):
    """Encoder + linear head on the pooled embedding (fine-tuning)."""

    def __init__(self, encoder: Encoder, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.pool(self.encoder(x)))


@contextlib.contextmanager
def _one_thread():
    """torch on one intra-op thread for the block. The probe's steps are tiny (a 64 x 5 linear layer): a thread pool
    cannot speed them up, and on a machine whose other cores are busy it spends most of its time waiting for its
    threads (``benchmarks/bench_probe_threads.py`` measures both settings)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@_one_thread()
def _train_probe(train_x, train_y, seed, epochs, lr, weight_decay):
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    torch.manual_seed(seed)
    head = nn.Linear(train_x.shape[1], train_y.shape[1])
    optimiser = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    x = torch.from_numpy((train_x - mean) / std)
    y = torch.from_numpy(train_y.astype(np.float32))
    for _ in range(epochs):
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(head(x), y).backward()
        optimiser.step()

    @torch.no_grad()
    def predict(embeddings: np.ndarray) -> np.ndarray:
        return torch.sigmoid(head(torch.from_numpy((embeddings - mean) / std))).numpy()

    return predict


def _batches(n: int, batch_size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


@torch.no_grad()
def _predict(model: nn.Module, signals: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    model.eval()
    outputs = [model(torch.from_numpy(signals[i:i + batch_size]).to(device)).cpu()
               for i in range(0, len(signals), batch_size)]
    return torch.cat(outputs).numpy() if outputs else np.zeros((0,), np.float32)


def _device(encoder: Encoder, device) -> torch.device:
    """Where a downstream model trains: ``device``, default the encoder's (the probe's linear layer stays on CPU)."""
    return torch.device(device) if device is not None else next(encoder.parameters()).device


def evaluate_classification(encoder: Encoder, dataset, mode: str = "probe", label_fraction: float = 1.0,
                            seed: int = 0, epochs: int | None = None, batch_size: int = 32, lr: float | None = None,
                            weight_decay: float = 1e-4, n_bootstrap: int = 1000,
                            allow_synthetic: bool = False, device=None) -> dict:
    """PTB-XL superdiagnostic classification with a linear probe or full fine-tuning (module docstring).

    encoder: pretrained (``load_encoder``) or ``random_encoder``; never modified (fine-tuning trains a copy).
    dataset: PTB-XL (labels, folds) as ``load_dataset('ptbxl')`` gives it. epochs: probe full-batch steps (default
    300) or fine-tuning epochs (default 20); lr: default 1e-2 (probe) or 1e-3 (fine-tuning). device: where the
    fine-tuned copy trains and the encoder encodes (default: the encoder's device), e.g. "cuda".
    Returns {"task": "ptbxl-probe"|"ptbxl-finetune", "seed", "metrics", "protocol", "predictions"}.
    """
    encoder = _check_encoder(encoder)
    device = _device(encoder, device)
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    task = f"ptbxl-{mode}"
    _check_data(dataset, allow_synthetic, task, ("labels", "folds"))
    train_all, val_idx, test_idx = ptbxl_split(dataset)
    for part, index in (("train (folds 1-8)", train_all), ("validation (fold 9)", val_idx),
                        ("test (fold 10)", test_idx)):
        if len(index) == 0:
            raise ValueError(f"{task}: the {part} split of dataset {dataset.name!r} is empty")
    train_idx = label_subset(train_all, label_fraction, seed, dataset.record_ids)
    labels = np.asarray(dataset.labels).astype(np.float32)
    epochs = epochs if epochs is not None else (300 if mode == "probe" else 20)
    lr = lr if lr is not None else (1e-2 if mode == "probe" else 1e-3)

    def signals(index):
        return _at_rate(dataset.signals[index], dataset.fs, encoder.fs)

    if mode == "probe":
        on_device = copy.deepcopy(encoder).to(device) if device != next(encoder.parameters()).device else encoder
        train_emb, val_emb, test_emb = (on_device.encode(signals(i), batch_size=batch_size)
                                        for i in (train_idx, val_idx, test_idx))
        predict = _train_probe(train_emb, labels[train_idx], seed, epochs, lr, weight_decay)
        val_scores, test_scores = predict(val_emb), predict(test_emb)
        training = f"frozen encoder; embeddings standardised on the training subset; linear layer, Adam lr {lr:g}, " \
                   f"weight decay {weight_decay:g}, {epochs} full-batch steps, BCE"
    else:
        torch.manual_seed(seed)
        model = _Classifier(copy.deepcopy(encoder), labels.shape[1]).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        x_train, y_train = signals(train_idx), torch.from_numpy(labels[train_idx]).to(device)
        rng = _generator(seed, 1)
        for epoch in range(epochs):
            model.train()
            for batch in _batches(len(train_idx), batch_size, rng):
                optimiser.zero_grad()
                logits = model(torch.from_numpy(x_train[batch]).to(device))
                loss = F.binary_cross_entropy_with_logits(logits, y_train[batch])
                loss.backward()
                optimiser.step()
            logger.info("%s seed %d epoch %d/%d: last batch BCE %.4f", task, seed, epoch + 1, epochs, loss.item())
        val_scores, test_scores = (1 / (1 + np.exp(-_predict(model, signals(i), batch_size, device)))
                                   for i in (val_idx, test_idx))
        training = f"encoder + linear head fine-tuned, Adam lr {lr:g}, weight decay {weight_decay:g}, " \
                   f"{epochs} epochs of batches of {batch_size}, BCE"

    test_labels, val_labels = labels[test_idx].astype(int), labels[val_idx].astype(int)
    auroc = multilabel_auroc(test_labels, test_scores, SUPERCLASSES)
    f1 = multilabel_f1(test_labels, test_scores, 0.5, SUPERCLASSES)
    thresholds = tune_thresholds(val_labels, val_scores, SUPERCLASSES)
    f1_tuned = multilabel_f1(test_labels, test_scores, thresholds, SUPERCLASSES)
    metrics = {"auroc": auroc.macro, "auroc_per_class": auroc.per_class, "auroc_classes_averaged": auroc.n_averaged,
               "auroc_undefined_classes": auroc.undefined, "f1": f1.macro, "f1_per_class": f1.per_class,
               "f1_tuned": f1_tuned.macro, "f1_tuned_per_class": f1_tuned.per_class, "thresholds": thresholds}
    if n_bootstrap:
        try:
            metrics["auroc_ci"] = bootstrap_macro_auroc(test_labels, test_scores, n_resamples=n_bootstrap,
                                                        seed=seed).to_dict()
        except ValueError as error:  # no class with both positives and negatives on the test fold
            logger.warning("%s: no AUROC interval: %s", task, error)
            metrics["auroc_ci"] = None
    n_samples = dataset.signals.shape[-1]
    protocol = {
        "task": task, "dataset": dataset.name, "synthetic": dataset.name == "synthetic",
        "split": "strat_fold 1-8 train, 9 validation, 10 test (ptbxl_split)",
        "n_train_folds": int(len(train_all)), "n_val": int(len(val_idx)), "n_test": int(len(test_idx)),
        "label_fraction": float(label_fraction), "n_train": int(len(train_idx)),
        "train_record_ids": [str(dataset.record_ids[i]) for i in train_idx],
        "train_positives": dict(zip(SUPERCLASSES, labels[train_idx].sum(0).astype(int).tolist())),
        "sampling_rate_hz": float(encoder.fs), "dataset_fs_hz": float(dataset.fs),
        "crop": f"none: the full {n_samples / dataset.fs:g} s record",
        "aggregation": "embedding = mean of the encoder feature map over time (Encoder.pool); one score per record",
        "mode": mode, "training": training, "seed": int(seed),
        "f1_threshold": 0.5, "f1_tuned": "per-class thresholds maximising F1 on fold 9, applied to fold 10",
        "auroc": "macro over the classes defined on fold 10 (undefined: NaN, left out, count stated)",
        "encoder": _encoder_protocol(encoder),
    }
    logger.info("%s seed %d, %g of the training folds (%d records): AUROC %.3f, F1 %.3f (0.5) / %.3f (tuned)",
                task, seed, label_fraction, len(train_idx), auroc.macro, f1.macro, f1_tuned.macro)
    return {"task": task, "seed": int(seed), "metrics": metrics, "protocol": protocol,
            "predictions": {"record_ids": [str(dataset.record_ids[i]) for i in test_idx],
                            "labels": test_labels, "scores": test_scores}}


# --- task 2: LUDB segmentation -------------------------------------------------------------------------------------

def upsample_frames(frames: torch.Tensor, stride: int, fs: float, out_fs: float, n_out: int) -> torch.Tensor:
    """(..., F) per-frame values -> (..., n_out) at ``out_fs`` by linear interpolation in time.

    Frame t is centred on sample ``t * stride`` at ``fs`` (``Encoder``'s convention), i.e. at t * stride / fs
    seconds; output sample n (n / out_fs s) interpolates between the frames around it and holds the edge frames
    beyond the first and last centre.
    """
    n_frames = frames.shape[-1]
    position = torch.arange(n_out, dtype=torch.float64, device=frames.device) * (fs / (out_fs * stride))
    position = position.clamp(max=n_frames - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=n_frames - 1)
    weight = (position - low).to(frames.dtype)
    return frames[..., low] * (1 - weight) + frames[..., high] * weight


def frame_rate_masks(masks: np.ndarray, frame_samples: int) -> np.ndarray:
    """A hard-frame oracle: (..., T) wave codes reduced to the code at each frame centre (sample
    ``t * frame_samples``), as one-hot logits, interpolated back by ``upsample_frames`` and argmaxed, as the model's
    logits are. Scored against ``masks``, it shows what frames of that length cost when each frame holds one sure
    class. It is not an upper bound of ``SegmentationDecoder``: soft logits interpolated between frame centres can
    place a boundary anywhere between them.
    """
    if not (isinstance(frame_samples, (int, np.integer)) and frame_samples >= 1):
        raise ValueError(f"frame_samples: expected a positive integer, got {frame_samples!r}")
    masks = np.asarray(masks)
    centres = torch.from_numpy(masks[..., ::frame_samples].astype(np.int64))
    logits = F.one_hot(centres, len(WAVES)).movedim(-1, -2).float()  # (..., 4, frames)
    return upsample_frames(logits, int(frame_samples), 1.0, 1.0, masks.shape[-1]).argmax(-2).numpy()


def check_augment(augment) -> tuple:
    """``augment`` as a tuple in ``SEGMENTATION_AUGMENTATIONS`` order; a clear error for anything else."""
    if isinstance(augment, str):
        augment = (augment,)
    try:
        kinds = set(augment)
    except TypeError:
        raise ValueError(f"augment: expected some of {SEGMENTATION_AUGMENTATIONS}, got {augment!r}") from None
    unknown = kinds - set(SEGMENTATION_AUGMENTATIONS)
    if unknown:
        raise ValueError(f"augment: unknown {sorted(map(str, unknown))}; expected some of "
                         f"{SEGMENTATION_AUGMENTATIONS}")
    return tuple(kind for kind in SEGMENTATION_AUGMENTATIONS if kind in kinds)


def draw_augmentation(augment: tuple, n_batch: int, n_leads: int, fs: float) -> dict:
    """One training batch's draw from torch's generator: ``scale`` (n_batch, n_leads, 1) amplitude factors in
    ``AUGMENT_SCALE`` or None, ``factor`` a time stretch in ``AUGMENT_STRETCH`` (1.0 without ``stretch``),
    ``shift`` whole samples at ``fs`` within +-``AUGMENT_SHIFT_S`` s (0 without ``shift``)."""
    scale = torch.empty(n_batch, n_leads, 1).uniform_(*AUGMENT_SCALE) if "scale" in augment else None
    factor = float(torch.empty(()).uniform_(*AUGMENT_STRETCH)) if "stretch" in augment else 1.0
    most = round(AUGMENT_SHIFT_S * fs)
    shift = int(torch.randint(-most, most + 1, ())) if "shift" in augment else 0
    return {"scale": scale, "factor": factor, "shift": shift}


def _resample_time(x: torch.Tensor, n: int) -> torch.Tensor:
    """(..., T) -> (..., n) by linear interpolation (sample centres aligned: ``align_corners=False``)."""
    if x.shape[-1] == n:
        return x
    flat = x.reshape(1, -1, x.shape[-1]) if x.ndim < 3 else x.flatten(1, -2)
    return F.interpolate(flat, size=n, mode="linear", align_corners=False).reshape(*x.shape[:-1], n)


def warp_time(x: torch.Tensor, factor: float, shift: int) -> torch.Tensor:
    """(..., T) -> (..., round(T factor)): stretched in time by ``factor``, then rolled by ``shift`` samples."""
    return torch.roll(_resample_time(x, round(x.shape[-1] * factor)), shift, -1)


def unwarp_time(y: torch.Tensor, shift: int, n: int) -> torch.Tensor:
    """The inverse of ``warp_time`` on (..., T') values: rolled back by ``shift`` samples, resampled to ``n``."""
    return _resample_time(torch.roll(y, -shift, -1), n)


class SegmentationDecoder(nn.Module):
    """Per-frame logits of every lead's wave classes: (B, width, F) -> (B, n_leads, n_classes, F)."""

    def __init__(self, width: int, n_leads: int = len(LEADS), n_classes: int = len(WAVES), hidden: int = 64):
        super().__init__()
        self.n_leads, self.n_classes = n_leads, n_classes
        self.net = nn.Sequential(nn.Conv1d(width, hidden, 5, padding=2), nn.GELU(),
                                 nn.Conv1d(hidden, n_leads * n_classes, 1))

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        out = self.net(feature_map)
        return out.reshape(out.shape[0], self.n_leads, self.n_classes, out.shape[-1])


class SegmentationModel(nn.Module):
    """Encoder + ``SegmentationDecoder``; logits upsampled to the masks' rate: (B, 12, T) at the encoder's fs ->
    (B, 12 leads, 4 classes, n_out) at ``out_fs``. In training mode with ``augment``, the input is warped
    (``draw_augmentation``, ``warp_time``) and the logits mapped back to the unwarped time (``unwarp_time``)."""

    def __init__(self, encoder: Encoder, out_fs: float, n_out: int, hidden: int = 64, augment: tuple = ()):
        super().__init__()
        self.encoder = _check_encoder(encoder)
        self.decoder = SegmentationDecoder(encoder.config.width, hidden=hidden)
        self.out_fs, self.n_out = float(out_fs), int(n_out)
        self.augment = check_augment(augment)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.augment):
            return self._logits(x, self.n_out)
        draw = draw_augmentation(self.augment, x.shape[0], x.shape[1], self.encoder.fs)
        if draw["scale"] is not None:
            x = x * draw["scale"].to(x)
        warped = warp_time(x, draw["factor"], draw["shift"])
        logits = self._logits(warped, round(self.n_out * warped.shape[-1] / x.shape[-1]))
        return unwarp_time(logits, round(draw["shift"] * self.out_fs / self.encoder.fs), self.n_out)

    def _logits(self, x: torch.Tensor, n_out: int) -> torch.Tensor:
        frames = self.decoder(self.encoder(x))
        return upsample_frames(frames, self.encoder.stride, self.encoder.fs, self.out_fs, n_out)


def evaluate_segmentation(encoder: Encoder, dataset, train_idx=None, test_idx=None, seed: int = 0,
                          epochs: int = 40, batch_size: int = 8, lr: float = 1e-3, weight_decay: float = 1e-4,
                          freeze_encoder: bool = False, window=SEGMENTATION_WINDOW, tolerance_ms: float = 150.0,
                          split_seed: int = 0, fold: int | None = None, allow_synthetic: bool = False,
                          device=None, augment: tuple = ()) -> dict:
    """LUDB segmentation: train the decoder (and a copy of the encoder) on ``train_idx``, score ``test_idx``.

    dataset: LUDB (``load_dataset('ludb')``: masks at 500 Hz, 5000 samples). train_idx/test_idx: default
    ``ludb_split(dataset, seed=split_seed)`` (patient-level, 20 % test). Scores: ``metrics.segmentation_scores`` on
    ``window`` and ``metrics.boundary_f1`` within ``tolerance_ms``. Returns {"task": "ludb", "seed", "fold",
    "metrics", "protocol", "predictions"}. device: where the model trains (default: the encoder's device).
    augment: some of ``SEGMENTATION_AUGMENTATIONS`` applied to the training batches (default none).
    """
    encoder = _check_encoder(encoder)
    augment = check_augment(augment)
    device = _device(encoder, device)
    _check_data(dataset, allow_synthetic, "ludb", ("masks",))
    if (train_idx is None) != (test_idx is None):
        raise ValueError("train_idx, test_idx: give both or neither")
    split = "given indices"
    if train_idx is None:
        train_idx, test_idx = ludb_split(dataset, seed=split_seed)
        split = f"ludb_split: seeded (seed {split_seed}) patient-level, 20 % test, one record per patient"
    train_idx, test_idx = np.asarray(train_idx, dtype=int), np.asarray(test_idx, dtype=int)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(f"ludb: empty {'training' if len(train_idx) == 0 else 'test'} split")
    if np.intersect1d(train_idx, test_idx).size:
        raise ValueError("train_idx, test_idx: the same records on both sides of the split")
    masks = np.asarray(dataset.masks)
    n_out = masks.shape[-1]
    start, stop = window
    if not (0 <= start < stop <= n_out):
        raise ValueError(f"window: expected 0 <= start < stop <= {n_out}, got {window!r}")
    x = _at_rate(dataset.signals, dataset.fs, encoder.fs)
    torch.manual_seed(seed)
    model = SegmentationModel(copy.deepcopy(encoder), dataset.fs, n_out, augment=augment).to(device)
    if freeze_encoder:
        model.encoder.requires_grad_(False)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr,
                                 weight_decay=weight_decay)
    targets = torch.from_numpy(masks[train_idx][..., start:stop].astype(np.int64)).to(device)  # row i: train_idx[i]
    rng = _generator(seed, 2)
    for epoch in range(epochs):
        model.train()
        if freeze_encoder:
            model.encoder.eval()
        for batch in _batches(len(train_idx), batch_size, rng):
            logits = model(torch.from_numpy(x[train_idx[batch]]).to(device))[..., start:stop]  # (b, 12, 4, window)
            loss = F.cross_entropy(logits.transpose(1, 2), targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        logger.info("ludb seed %d epoch %d/%d: last batch cross-entropy %.4f", seed, epoch + 1, epochs, loss.item())
    predicted = _predict(model, x[test_idx], batch_size, device).argmax(axis=2).astype(np.int8)  # (n, 12, n_out)
    annotated = masks[test_idx]
    sample_scores = segmentation_scores(predicted, annotated, window=window, record_length=n_out,
                                        fs=dataset.fs)
    boundaries = boundary_f1(predicted, annotated, fs=dataset.fs, tolerance_ms=tolerance_ms,
                             window=window, record_length=n_out)
    metrics = {key: value for key, value in sample_scores.items() if key not in ("protocol", "counts")}
    metrics.update({f"boundary_f1_{name}": value for name, value in boundaries.items()
                    if name not in ("scores", "protocol", "mean")})
    metrics["boundary_f1_mean"] = boundaries["mean"]
    protocol = {
        "task": "ludb", "dataset": dataset.name, "synthetic": dataset.name == "synthetic", "split": split,
        "fold": fold, "n_train": int(len(train_idx)), "n_test": int(len(test_idx)),
        "test_record_ids": [str(dataset.record_ids[i]) for i in test_idx],
        "encoder_input_fs_hz": float(encoder.fs), "dataset_fs_hz": float(dataset.fs),
        "decoder": "Conv1d(width, 64, 5) - GELU - Conv1d(64, 12 x 4, 1) per frame, linear interpolation to "
                   f"{dataset.fs:g} Hz (frame t at sample t * stride of the encoder input)",
        "training": f"{'frozen' if freeze_encoder else 'fine-tuned'} encoder + decoder, Adam lr {lr:g}, weight decay "
                    f"{weight_decay:g}, {epochs} epochs of batches of {batch_size}, cross-entropy on samples "
                    f"{start}-{stop} of every lead",
        "augment": _augment_protocol(augment),
        "seed": int(seed), "sample_scores": sample_scores["protocol"], "boundary_scores": boundaries["protocol"],
        "encoder": _encoder_protocol(encoder),
    }
    logger.info("ludb seed %d%s: sample-wise F1 %.3f, Dice %.3f, boundary F1 %.3f (%g ms)", seed,
                "" if fold is None else f" fold {fold}", metrics["f1_mean"], metrics["dice_mean"],
                metrics["boundary_f1_mean"], tolerance_ms)
    return {"task": "ludb", "seed": int(seed), "fold": fold, "metrics": metrics, "protocol": protocol,
            "predictions": {"record_ids": protocol["test_record_ids"], "masks": predicted,
                            "counts": sample_scores["counts"]}}


def _augment_protocol(augment: tuple) -> str:
    ranges = {"scale": f"each lead x U{AUGMENT_SCALE}", "stretch": f"time x U{AUGMENT_STRETCH}",
              "shift": f"circular shift within +-{AUGMENT_SHIFT_S:g} s"}
    return ("; ".join(f"{kind}: {ranges[kind]}" for kind in augment) + ", one draw per training batch, logits "
            "mapped back to the masks' time") if augment else "none"


def segmentation_kfold(encoder: Encoder, dataset, k: int = 5, split_seed: int = 0, seed: int = 0, **kwargs) -> list:
    """``evaluate_segmentation`` on each of the k patient-level folds of ``ludb_folds(dataset, k, split_seed)``,
    each from a fresh copy of ``encoder``; one result per fold (``fold`` 0..k-1), paired by (seed, fold) in
    ``stats.wilcoxon_bonferroni``."""
    results = []
    for fold, (train_idx, test_idx) in enumerate(ludb_folds(dataset, k=k, seed=split_seed)):
        result = evaluate_segmentation(encoder, dataset, train_idx, test_idx, seed=seed, fold=fold, **kwargs)
        result["protocol"]["split"] = (f"ludb_folds: {k} seeded (seed {split_seed}) patient-level folds, fold "
                                       f"{fold} tested")
        results.append(result)
    return results


def summary_rows(result: dict, config: str) -> list:
    """Flat rows {config, seed, task, metric, value} of one result (the reproduction's ``summary.json`` form):
    auroc and f1 for PTB-XL, f1 and dice (means over waves) for LUDB; a LUDB fold is named in ``fold``."""
    metrics = result["metrics"]
    names = {"auroc": "auroc", "f1": "f1"} if result["task"].startswith("ptbxl") else {"f1": "f1_mean",
                                                                                      "dice": "dice_mean"}
    rows = []
    for metric, key in names.items():
        value = metrics[key]
        row = {"config": config, "seed": result["seed"], "task": result["task"], "metric": metric,
               "value": None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)}
        if result.get("fold") is not None:
            row["fold"] = result["fold"]
        rows.append(row)
    return rows
