"""Encoder f, projectors g_r and g_b, and RoI beat pooling: the network side of Beat-SSL.

What the paper fixes and what is ours:

- **[paper]** One shared encoder f turns each augmented 12-lead ECG into a temporal feature map; pooled over time
  it gives the ECG embedding e, which the rhythm projector g_r maps to z_r. An "RoI projection" pools the same
  feature map around each R peak (peaks precomputed on the un-augmented ECG), and the beat projector g_b maps each
  pooled beat to z_b. Downstream only f is kept.
- **[ours] the encoder family**: a ResNet-style convolutional stem that downsamples to one frame every
  ``frame_ms`` milliseconds, followed by a stack of residual blocks of *dilated* convolutions (dilation 1, 2, 4,
  ...) that grow the receptive field without further downsampling. Why: the field's classifiers on PTB-XL are
  1-D ResNets (xresnet1d / resnet1d, Strodthoff et al. 2021) **[ref]**, and its dense models keep a fine time axis:
  U-Nets for LUDB delineation (Moskalenko et al. 2019) and TS2Vec's dilated convolution stack (Yue et al. 2022),
  one of the paper's comparison methods, which keeps one feature per sample **[ref]**. xresnet1d halves the time
  axis five times (stride 32): at 100 Hz that is 3 frames for a 650 ms beat, too coarse to pool beats or to
  segment a 100 ms QRS. A dilated stack reaches the same receptive field at a fixed, small stride, so one feature
  map serves the global embedding, the beat pooling and a later segmentation decoder alike.
- **[ours] stride and kernels in milliseconds**: the stem's total stride is ``round(frame_ms * fs / 1000)``
  samples, split into one strided convolution per prime factor (stride 4 at 100 Hz = 2 x 2; 20 at 500 Hz = 5 x
  2 x 2); the first convolution spans ``stem_kernel_ms``. The same preset therefore sees about the same stretch
  of ECG at 100 Hz and at 500 Hz; the weights, whose kernel lengths depend on fs, belong to one sampling rate.
  Every strided convolution has kernel 2s + 1 and padding s, so frame t is centred on sample ``t * stride`` and a
  record of T samples gives ``ceil(T / stride)`` frames.
- **[ours] normalisation**: LayerNorm over the channels of each frame (as in ConvNeXt). BatchNorm would tie an
  ECG's features to the others in its batch: the loss of a data-parallel step would then differ from the loss of
  one process on the same global batch, and the feature map would depend on who shares the batch. GroupNorm would
  normalise over the whole time axis, so every frame would see the whole record. Per-frame LayerNorm keeps the
  receptive field finite (``receptive_field``, tested against the gradient's support) and the batch independent.
- **[ours] pooling**: e = the mean of the feature map over time; a beat = the mean of the frames whose centres lie
  in its window. Projectors g_r, g_b: SimCLR's two-layer MLP, Linear - ReLU - Linear **[ref: Chen et al. 2020]**.
- **[ours] RoI beat pooling** (``roi_pool``): the beat window is ``beats.beat_windows``'s (``pre_ms`` = 250 ms
  before to ``post_ms`` = 400 ms after the R peak), in samples as there; at the record's edges it is *clipped* to
  the record (``beat_windows`` drops or zero-pads those beats; zeros would dilute a mean, and a dropped beat would
  leave the beat classes and targets, computed for every R peak, out of step). Frames are those centred inside the
  clipped window, and at least the frame nearest to the R peak. The means of all beats of a batch come from one
  cumulative sum over time and two gathers: no loop over beats or records.

Size presets (``SIZE_PRESETS``; stride and receptive field (RF) from ``stride_samples`` / ``receptive_field``,
parameters from ``count_parameters`` of the encoder f alone and of f + g_r + g_b; ``tests/test_model.py`` pins them):

=======  ==============  ==============  ==============  ==================  ==================
preset   stride 100/500  RF at 100 Hz    RF at 500 Hz    f at 100 / 500 Hz   f+g at 100 / 500
=======  ==============  ==============  ==============  ==================  ==================
tiny     4 / 20 (40 ms)  131 (1.31 s)    665 (1.33 s)    8,944 / 17,184      12,144 / 20,384
cpu      4 / 20 (40 ms)  259 (2.59 s)    1,305 (2.61 s)  146,752 / 213,504   179,904 / 246,656
paper    2 / 10 (20 ms)  515 (5.15 s)    2,585 (5.17 s)  687,872 / 911,488   819,712 / 1,043,328
=======  ==============  ==============  ==============  ==================  ==================

The stem's kernels grow with fs (a 70 ms first kernel is 7 samples at 100 Hz, 35 at 500 Hz), hence the larger
500 Hz encoders.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .validation import check_ecg, check_fs
from .vocabulary import LEADS

#: Default beat window, the same as ``beats.beat_windows``'s defaults [ours].
PRE_MS = 250.0
POST_MS = 400.0


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the encoder and projectors; validated on construction. Durations are in ms, so one config serves
    any sampling rate (the module docstring says how they map to samples).

    width: channels of the feature map (and the size of the embedding e).
    n_blocks: dilated residual blocks; block i has dilation 2**i (in frames).
    kernel_size: kernel of the dilated convolutions, in frames (odd).
    frame_ms: time between two frames of the feature map (the encoder's stride, in ms).
    stem_kernel_ms: span of the first convolution, in ms.
    projection_hidden, projection_dim: hidden and output sizes of g_r and g_b.
    n_leads: input leads (12, in ``vocabulary.LEADS`` order).
    """

    width: int = 64
    n_blocks: int = 5
    kernel_size: int = 3
    frame_ms: float = 40.0
    stem_kernel_ms: float = 70.0
    projection_hidden: int = 128
    projection_dim: int = 64
    n_leads: int = len(LEADS)

    def __post_init__(self):
        for name in ("width", "n_blocks", "kernel_size", "projection_hidden", "projection_dim", "n_leads"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ModelConfig.{name}: expected a positive integer, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"ModelConfig.kernel_size: expected an odd number of frames, got {self.kernel_size}")
        for name in ("frame_ms", "stem_kernel_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"ModelConfig.{name}: expected a positive duration in ms, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


#: The size presets [ours]. tiny: tests and chapters (seconds on a CPU). cpu: the real-data reproduction on 2 CPU
#: cores. paper: a GPU run, a finer 20 ms frame and a 5 s receptive field.
SIZE_PRESETS = {
    "tiny": ModelConfig(width=16, n_blocks=3, frame_ms=40.0, projection_hidden=32, projection_dim=32),
    "cpu": ModelConfig(width=64, n_blocks=4, frame_ms=40.0, projection_hidden=128, projection_dim=64),
    "paper": ModelConfig(width=128, n_blocks=6, frame_ms=20.0, projection_hidden=256, projection_dim=128),
}


def size_preset(name: str, **overrides) -> ModelConfig:
    """The ``SIZE_PRESETS`` config called ``name``, with fields replaced by ``overrides``."""
    if name not in SIZE_PRESETS:
        raise ValueError(f"size: unknown preset {name!r}; valid: {', '.join(SIZE_PRESETS)}")
    return replace(SIZE_PRESETS[name], **overrides)


def _odd(n: float) -> int:
    return max(1, 2 * int(round((n - 1) / 2)) + 1)


def _prime_factors(n: int) -> list[int]:
    """Prime factors of n, largest first (the widest kernel works on the finest signal)."""
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return sorted(factors, reverse=True)


def stride_samples(config: ModelConfig, fs: float) -> int:
    """The encoder's total stride in samples at ``fs``: round(frame_ms * fs / 1000), at least 1."""
    return max(1, int(round(config.frame_ms * check_fs(fs) / 1000.0)))


def _layers(config: ModelConfig, fs: float) -> list[tuple[int, int, int]]:
    """(kernel, stride, dilation) of every convolution on the longest input-to-output path, in order."""
    layers = [(_odd(config.stem_kernel_ms * fs / 1000.0), 1, 1)]
    layers += [(2 * s + 1, s, 1) for s in _prime_factors(stride_samples(config, fs))]
    for i in range(config.n_blocks):
        layers += [(config.kernel_size, 1, 2**i)] * 2
    return layers


def receptive_field(config: ModelConfig, fs: float) -> int:
    """Receptive field of one output frame, in input samples: 1 + sum_l (k_l - 1) d_l J_l, with J_l the product of
    the strides before layer l (the standard recursion; residual shortcuts never reach further than their branch)."""
    field, jump = 1, 1
    for kernel, stride, dilation in _layers(config, check_fs(fs)):
        field += (kernel - 1) * dilation * jump
        jump *= stride
    return field


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each frame of a (B, C, T) map (no mixing across time or batch)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class DilatedBlock(nn.Module):
    """Pre-activation residual block: x + conv(act(norm(conv(act(norm(x)))))), both convolutions dilated."""

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.norm1 = ChannelNorm(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)
        self.norm2 = ChannelNorm(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.gelu(self.norm1(x)))
        return x + self.conv2(F.gelu(self.norm2(h)))


class Encoder(nn.Module):
    """f: (B, 12, T) ECG -> (B, width, ceil(T / stride)) feature map; ``pool`` gives the embedding e.

    fs: the sampling rate the encoder is built for (kernels and stride are set from it, see the module docstring).
    Frame t of the feature map is centred on input sample ``t * self.stride``.
    """

    def __init__(self, config: ModelConfig, fs: float):
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"config: expected a ModelConfig, got {type(config).__name__}")
        self.config = config
        self.fs = check_fs(fs)
        self.stride = stride_samples(config, self.fs)
        self.receptive_field = receptive_field(config, self.fs)
        width = config.width
        layers = _layers(config, self.fs)
        kernel = layers[0][0]
        stem: list[nn.Module] = [nn.Conv1d(config.n_leads, width, kernel, padding=kernel // 2)]
        for kernel, stride, _ in layers[1:1 + len(_prime_factors(self.stride))]:
            stem += [ChannelNorm(width), nn.GELU(), nn.Conv1d(width, width, kernel, stride=stride, padding=stride)]
        self.stem = nn.Sequential(*stem)
        self.blocks = nn.Sequential(*[DilatedBlock(width, config.kernel_size, 2**i) for i in range(config.n_blocks)])
        self.out_norm = ChannelNorm(width)

    def n_frames(self, n_samples: int) -> int:
        """Frames of the feature map for a record of ``n_samples`` samples."""
        return -(-int(n_samples) // self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.config.n_leads:
            raise ValueError(f"x: expected (batch, {self.config.n_leads}, n_samples), got {tuple(x.shape)}")
        return self.out_norm(self.blocks(self.stem(x)))

    @staticmethod
    def pool(feature_map: torch.Tensor) -> torch.Tensor:
        """The ECG embedding e: (B, C, F) -> (B, C), the mean over time."""
        return feature_map.mean(dim=2)

    @torch.no_grad()
    def encode(self, signals, batch_size: int = 256, feature_map: bool = False) -> np.ndarray:
        """Embeddings e of ECGs for downstream use: numpy in, numpy out (float32), in eval mode, without gradients.

        signals: (12, T) one ECG or (N, 12, T) a stack, in mV, leads in ``vocabulary.LEADS`` order, at ``self.fs``.
        Returns (N, width) embeddings (or (width,) for one ECG); with ``feature_map``, the (N, width, F) maps.
        The training mode is restored afterwards.
        """
        x = np.asarray(signals)
        single = x.ndim == 2
        if single:
            x = x[None]
        if x.ndim != 3:
            raise ValueError(f"signals: expected (12, n_samples) or (N, 12, n_samples), got shape {x.shape}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        checked = [check_ecg(record, name=f"signals[{i}]", dtype=np.float32) for i, record in enumerate(x)]
        parameter = next(self.parameters())
        was_training = self.training
        self.eval()
        try:
            outputs = []
            for start in range(0, len(checked), batch_size):
                batch = torch.from_numpy(np.stack(checked[start:start + batch_size]))
                h = self(batch.to(device=parameter.device, dtype=parameter.dtype))
                outputs.append((h if feature_map else self.pool(h)).float().cpu().numpy())
        finally:
            self.train(was_training)
        if not outputs:  # no ECG: an empty result of the right shape
            shape = (0, self.config.width, self.n_frames(x.shape[-1])) if feature_map else (0, self.config.width)
            return np.zeros(shape, np.float32)
        out = np.concatenate(outputs)
        return out[0] if single else out


class Projector(nn.Sequential):
    """SimCLR's projection head g: Linear - ReLU - Linear [ref: Chen et al. 2020]."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def beat_frame_range(r_peaks: torch.Tensor, n_samples: int, stride: int, fs: float, pre_ms: float = PRE_MS,
                     post_ms: float = POST_MS) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last frame (inclusive) pooled for each R peak: frames centred in [r - pre, r + post] clipped to
    [0, n_samples - 1], widened to include the frame nearest to r. pre/post in samples as ``beats.beat_windows``."""
    pre = int(round(pre_ms * fs / 1000.0))
    post = int(round(post_ms * fs / 1000.0))
    last_frame = (n_samples - 1) // stride
    low = (r_peaks - pre).clamp(min=0)
    high = (r_peaks + post).clamp(max=n_samples - 1)
    first = torch.div(low + stride - 1, stride, rounding_mode="floor")  # ceil(low / stride)
    last = torch.div(high, stride, rounding_mode="floor")
    nearest = torch.div(r_peaks + stride // 2, stride, rounding_mode="floor").clamp(max=last_frame)
    return torch.minimum(first, nearest), torch.maximum(last, nearest)


def _check_beats(r_peaks, beat_record_index, batch: int, n_samples: int) -> None:
    for name, values in (("r_peaks", r_peaks), ("beat_record_index", beat_record_index)):
        if not isinstance(values, torch.Tensor) or values.ndim != 1 or values.dtype.is_floating_point:
            raise ValueError(f"{name}: expected a 1-D integer tensor, one entry per beat, got "
                             f"{getattr(values, 'dtype', type(values).__name__)} {tuple(getattr(values, 'shape', ()))}")
    if r_peaks.shape != beat_record_index.shape:
        raise ValueError(f"r_peaks, beat_record_index: expected the same length, got {len(r_peaks)} and "
                         f"{len(beat_record_index)}")
    if len(r_peaks):
        bounds = torch.stack([r_peaks.min(), r_peaks.max(), beat_record_index.min(), beat_record_index.max()]).tolist()
        if bounds[0] < 0 or bounds[1] >= n_samples:
            raise ValueError(f"r_peaks: expected sample indices in [0, {n_samples}), got {bounds[0]}..{bounds[1]}")
        if bounds[2] < 0 or bounds[3] >= batch:
            raise ValueError(f"beat_record_index: expected ECG indices in [0, {batch}), got {bounds[2]}..{bounds[3]}")


def roi_pool(feature_map: torch.Tensor, r_peaks: torch.Tensor, beat_record_index: torch.Tensor, n_samples: int,
             stride: int, fs: float, pre_ms: float = PRE_MS, post_ms: float = POST_MS,
             check: bool = True) -> torch.Tensor:
    """Pool a feature map over every beat of a batch: (B, C, F) -> (M, C), vectorised over beats and ECGs.

    feature_map: (B, C, F) encoder output for B ECGs of ``n_samples`` samples each (F = ceil(n_samples / stride)).
    r_peaks: (M,) int, R-peak sample indices in [0, n_samples) at ``fs``; beat_record_index: (M,) int, which ECG of
        the batch each peak belongs to (the flat layout of the precompute cache; any order, ECGs may have no beat).
    Returns (M, C): row m is the mean of the frames ``beat_frame_range`` gives for peak m, in the map's dtype
    (sums are taken in float32 at least). ``check`` validates shapes and ranges (one device sync).
    """
    if feature_map.ndim != 3:
        raise ValueError(f"feature_map: expected (batch, channels, frames), got {tuple(feature_map.shape)}")
    batch, channels, frames = feature_map.shape
    if frames != -(-n_samples // stride):
        raise ValueError(f"feature_map: {frames} frames do not match n_samples={n_samples} at stride {stride}")
    if check:
        _check_beats(r_peaks, beat_record_index, batch, n_samples)
    first, last = beat_frame_range(r_peaks.to(feature_map.device), n_samples, stride, fs, pre_ms, post_ms)
    record = beat_record_index.to(feature_map.device)
    # cumulative[b, t] = sum of frames < t, so a beat's sum is cumulative[b, last + 1] - cumulative[b, first].
    sum_dtype = torch.promote_types(feature_map.dtype, torch.float32)
    cumulative = F.pad(feature_map.to(sum_dtype).transpose(1, 2).cumsum(dim=1), (0, 0, 1, 0))  # (B, F + 1, C)
    sums = cumulative[record, last + 1] - cumulative[record, first]
    return (sums / (last - first + 1).unsqueeze(1).to(sums.dtype)).to(feature_map.dtype)


class BeatSSLModel(nn.Module):
    """Encoder f with the rhythm projector g_r and the beat projector g_b.

    ``forward(x, r_peaks, beat_record_index)`` returns (z_r (B, projection_dim), z_b (M, projection_dim)); the
    losses normalise them. Only ``encoder`` is kept for downstream tasks.
    """

    def __init__(self, config: ModelConfig, fs: float, pre_ms: float = PRE_MS, post_ms: float = POST_MS):
        super().__init__()
        if not (math.isfinite(pre_ms) and math.isfinite(post_ms) and pre_ms >= 0 and post_ms >= 0):
            raise ValueError(f"pre_ms, post_ms: expected non-negative durations in ms, got {pre_ms!r}, {post_ms!r}")
        self.config = config
        self.encoder = Encoder(config, fs)
        self.pre_ms, self.post_ms = float(pre_ms), float(post_ms)
        self.rhythm_projector = Projector(config.width, config.projection_hidden, config.projection_dim)
        self.beat_projector = Projector(config.width, config.projection_hidden, config.projection_dim)

    @property
    def fs(self) -> float:
        return self.encoder.fs

    def forward(self, x: torch.Tensor, r_peaks: torch.Tensor | None = None,
                beat_record_index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, 12, T); r_peaks, beat_record_index: (M,) int as ``roi_pool`` (None: no beat branch).
        Returns z_r (B, D) and z_b (M, D) or None."""
        h = self.encoder(x)
        z_rhythm = self.rhythm_projector(self.encoder.pool(h))
        if r_peaks is None:
            return z_rhythm, None
        beats = roi_pool(h, r_peaks, beat_record_index, x.shape[-1], self.encoder.stride, self.fs,
                         self.pre_ms, self.post_ms)
        return z_rhythm, self.beat_projector(beats)

    def encode(self, signals, batch_size: int = 256, feature_map: bool = False) -> np.ndarray:
        """``Encoder.encode`` of the encoder."""
        return self.encoder.encode(signals, batch_size=batch_size, feature_map=feature_map)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
