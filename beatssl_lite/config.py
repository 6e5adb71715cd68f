"""Pretraining configuration: frozen dataclasses validated on construction, the paper's 14 ablation rows as presets.

A ``PretrainConfig`` is everything that decides the weights a pretraining produces: the loss (``LossConfig``),
the encoder size preset, the optimisation (``TrainConfig``) and the 3KG augmentation. It travels into every
checkpoint as a plain dict (``to_dict``), and a checkpoint of one configuration never resumes a run of another
(``check_same_config``).

What is whose:
- **[paper]** the 14 rows of Table 1: which rhythm targets (hard, soft_1, soft_2), which beat targets (none, hard,
  soft_1, soft_2) and the power of the soft targets (1 or 50). Row 9 (soft_1 rhythm at power 50 + hard beats) is
  Beat-SSL.
- **[ref]** temperature 0.1 (3KG's contrastive loss).
- **[ours]** lambda = 1 (total = rhythm + lambda * beat; the paper does not say), the optimiser (AdamW, cosine
  schedule with linear warm-up), batch sizes and epochs per size preset (the paper's are unknown).

Presets: ``preset("row9", size="cpu")`` (also ``"beat-ssl"``), any field overridable by keyword.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .augment import ThreeKGConfig
from .model import SIZE_PRESETS

RHYTHM_TARGETS = ("hard", "soft_1", "soft_2")
BEAT_TARGETS = ("none", "hard", "soft_1", "soft_2")
#: Powers of the soft targets that Table 1 uses [paper]; others are allowed for exploration.
PAPER_POWERS = (1.0, 50.0)
OPTIMISERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Encoder size presets (``model.SIZE_PRESETS``: tiny for tests and chapters; cpu for the real-data reproduction on
#: 2 cores; paper for a GPU).
SIZES = tuple(SIZE_PRESETS)


class ConfigError(ValueError):
    """A configuration that is invalid, unknown, or not the one a checkpoint was written with."""


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")


def _check_number(name: str, value, low=None, high=None, integer=False, low_open=False) -> None:
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        raise ConfigError(f"{name}: expected {kind}, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{name}: expected {kind} {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name}: expected {kind} <= {high}, got {value!r}")


@dataclass(frozen=True)
class LossConfig:
    """The contrastive losses of one ablation row: total = rhythm + beat_weight * beat.

    rhythm: targets of rhythm contrasting, 'hard' (NT-Xent, SimCLR) or 'soft_1' / 'soft_2' (feature similarity).
    beat: targets of beat contrasting, 'none' (no beat loss), 'hard' (beat classes), 'soft_1' / 'soft_2'.
    power: exponent of the soft targets (1 or 50 in the paper); it must be 1 when no target is soft.
    temperature: of both contrastive softmaxes [ref: 0.1 in 3KG].
    beat_weight: lambda [ours: 1, the paper's weighting is unknown].
    """

    rhythm: str = "hard"
    beat: str = "none"
    power: float = 1.0
    temperature: float = 0.1
    beat_weight: float = 1.0

    def __post_init__(self):
        _check_choice("rhythm", self.rhythm, RHYTHM_TARGETS)
        _check_choice("beat", self.beat, BEAT_TARGETS)
        _check_number("power", self.power, low=0, low_open=True)
        _check_number("temperature", self.temperature, low=0, low_open=True)
        _check_number("beat_weight", self.beat_weight, low=0)
        if not self.uses_soft_targets and self.power != 1:
            raise ConfigError(f"power={self.power!r} has no effect: neither rhythm={self.rhythm!r} nor "
                              f"beat={self.beat!r} targets are soft; use power=1")
        object.__setattr__(self, "power", float(self.power))
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "beat_weight", float(self.beat_weight))

    @property
    def uses_soft_targets(self) -> bool:
        return self.rhythm != "hard" or self.beat in ("soft_1", "soft_2")

    @property
    def uses_beats(self) -> bool:
        return self.beat != "none"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and run settings.

    batch_size: ECGs per step over all processes (each of W processes takes batch_size / W).
    epochs: passes over the pretraining records; max_steps: stop earlier (None: run all epochs).
    lr, weight_decay, optimiser ('adamw' | 'adam' | 'sgd'), schedule ('cosine' with ``warmup_steps`` linear warm-up,
    or 'constant'). seed: one seed for everything (each process adds its rank).
    num_workers: DataLoader worker processes. precision: 'auto' (bf16 autocast on a GPU that has it, else fp16
    with a gradient scaler; fp32 on CPU and MPS), 'fp32', 'bf16', 'fp16'.
    checkpoint_every: steps between checkpoints (and at the end of every epoch). gather_negatives: under DDP,
    contrast against the embeddings of every process (gradients flow back), not only the local ones.
    """

    batch_size: int = 64
    epochs: int = 10
    max_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimiser: str = "adamw"
    schedule: str = "cosine"
    warmup_steps: int = 0
    seed: int = 0
    num_workers: int = 0
    precision: str = "auto"
    checkpoint_every: int = 50
    gather_negatives: bool = True

    def __post_init__(self):
        _check_number("batch_size", self.batch_size, low=2, integer=True)
        _check_number("epochs", self.epochs, low=1, integer=True)
        if self.max_steps is not None:
            _check_number("max_steps", self.max_steps, low=1, integer=True)
        _check_number("lr", self.lr, low=0, low_open=True)
        _check_number("weight_decay", self.weight_decay, low=0)
        _check_choice("optimiser", self.optimiser, OPTIMISERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_number("warmup_steps", self.warmup_steps, low=0, integer=True)
        _check_number("seed", self.seed, low=0, integer=True)
        _check_number("num_workers", self.num_workers, low=0, integer=True)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_number("checkpoint_every", self.checkpoint_every, low=1, integer=True)
        if not isinstance(self.gather_negatives, bool):
            raise ConfigError(f"gather_negatives: expected True or False, got {self.gather_negatives!r}")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))


#: Training defaults of each size preset [ours]. tiny: seconds, for tests and chapters; cpu: one row of the
#: reproduction on the PTB-XL subset within 15 minutes on 2 cores (``benchmarks/bench_pretrain.py``); paper: a GPU.
SIZE_TRAINING = {
    "tiny": dict(batch_size=32, epochs=2, lr=2e-3, checkpoint_every=20),
    "cpu": dict(batch_size=64, epochs=10, lr=1e-3, warmup_steps=20, checkpoint_every=50),
    "paper": dict(batch_size=256, epochs=100, lr=1e-3, warmup_steps=500, checkpoint_every=500),
}


@dataclass(frozen=True)
class PretrainConfig:
    """One pretraining: a named loss preset (``name``), an encoder ``size``, and how to train it."""

    name: str = "custom"
    size: str = "tiny"
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: ThreeKGConfig = field(default_factory=ThreeKGConfig)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name: expected a non-empty string, got {self.name!r}")
        _check_choice("size", self.size, SIZES)
        for attribute, kind in (("loss", LossConfig), ("train", TrainConfig), ("augment", ThreeKGConfig)):
            if not isinstance(getattr(self, attribute), kind):
                raise ConfigError(f"{attribute}: expected a {kind.__name__}, got {type(getattr(self, attribute)).__name__}")

    @property
    def label(self) -> str:
        return f"{self.name}/{self.size}"

    def to_dict(self) -> dict:
        """A plain dict (str, int, float, bool, None and nested dicts): what a checkpoint stores."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PretrainConfig":
        """The inverse of ``to_dict``; unknown or missing fields are an error naming them."""
        if not isinstance(values, dict):
            raise ConfigError(f"config: expected a dict, got {type(values).__name__}")
        parts = {"loss": LossConfig, "train": TrainConfig, "augment": ThreeKGConfig}
        _check_keys("config", values, {f.name for f in dataclasses.fields(cls)})
        kwargs = dict(values)
        for key, kind in parts.items():
            if key in kwargs:
                if not isinstance(kwargs[key], dict):
                    raise ConfigError(f"config[{key!r}]: expected a dict, got {type(kwargs[key]).__name__}")
                _check_keys(f"config[{key!r}]", kwargs[key], {f.name for f in dataclasses.fields(kind)})
                kwargs[key] = kind(**kwargs[key])
        return cls(**kwargs)

    def replace(self, **changes) -> "PretrainConfig":
        """A copy with fields changed; ``loss``/``train``/``augment`` fields may be given by their own name."""
        return _apply_overrides(self, changes)


def _check_keys(name: str, values: dict, known: set) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{name}: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")


#: Table 1 of the paper [paper]: (rhythm targets, beat targets, power). "-" in the table is beat='none'.
TABLE1_ROWS = {
    "row1": ("hard", "none", 1),
    "row2": ("hard", "hard", 1),
    "row3": ("hard", "soft_1", 1),
    "row4": ("hard", "soft_1", 50),
    "row5": ("hard", "soft_2", 1),
    "row6": ("soft_1", "none", 1),
    "row7": ("soft_1", "none", 50),
    "row8": ("soft_1", "hard", 1),
    "row9": ("soft_1", "hard", 50),
    "row10": ("soft_1", "soft_1", 1),
    "row11": ("soft_1", "soft_1", 50),
    "row12": ("soft_2", "none", 1),
    "row13": ("soft_2", "hard", 1),
    "row14": ("soft_2", "soft_2", 1),
}
#: Other names of presets.
ALIASES = {"beat-ssl": "row9", "simclr": "row1"}
PRESETS = tuple(TABLE1_ROWS) + tuple(ALIASES)


def describe_presets() -> str:
    """One line per preset: its name and losses (what ``beatssl-lite pretrain --help`` lists)."""
    lines = []
    for name, (rhythm, beat, power) in TABLE1_ROWS.items():
        aliases = [alias for alias, target in ALIASES.items() if target == name]
        shown = f"{name} ({', '.join(aliases)})" if aliases else name
        lines.append(f"{shown:<18} rhythm={rhythm:<7} beat={beat:<7} power={power}")
    return "\n".join(lines)


def preset(name: str, size: str = "tiny", **overrides) -> PretrainConfig:
    """The configuration of a Table-1 row (``row1`` ... ``row14``, ``beat-ssl`` = ``row9``) at an encoder size.

    overrides: fields of ``LossConfig`` / ``TrainConfig`` / ``ThreeKGConfig`` by name (e.g. ``batch_size=16``,
    ``temperature=0.2``), applied after the size's training defaults (``SIZE_TRAINING``).
    """
    if not isinstance(name, str) or ALIASES.get(name, name) not in TABLE1_ROWS:
        raise ConfigError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    _check_choice("size", size, SIZES)
    row = ALIASES.get(name, name)
    rhythm, beat, power = TABLE1_ROWS[row]
    config = PretrainConfig(name=row, size=size, loss=LossConfig(rhythm=rhythm, beat=beat, power=power),
                            train=TrainConfig(**SIZE_TRAINING[size]))
    return _apply_overrides(config, overrides)


def _apply_overrides(config: PretrainConfig, overrides: dict) -> PretrainConfig:
    top = {key: overrides[key] for key in ("name", "size", "loss", "train", "augment") if key in overrides}
    rest = {key: value for key, value in overrides.items() if key not in top}
    parts = {"loss": config.loss, "train": config.train, "augment": config.augment}
    for key, part in parts.items():
        part = top.pop(key, part)
        names = {f.name for f in dataclasses.fields(part)}
        mine = {k: rest.pop(k) for k in list(rest) if k in names}
        parts[key] = dataclasses.replace(part, **mine) if mine else part
    if rest:
        known = sorted({f.name for part in parts.values() for f in dataclasses.fields(part)})
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(rest))}; expected some of {', '.join(known)}")
    return dataclasses.replace(config, **top, **parts)


def config_differences(saved: dict, current: dict, prefix: str = "") -> list:
    """Dotted names of the fields whose values differ between two ``to_dict`` configurations."""
    differences = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            differences += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            differences.append(f"{prefix}{key}: {a!r} != {b!r}")
    return differences


def check_same_config(saved: dict, current: PretrainConfig, source: str = "checkpoint") -> None:
    """Raise ``ConfigError`` naming both configurations when ``saved`` (a checkpoint's dict) is not ``current``.

    Every field counts, training length included: a run resumes only under the configuration it started with.
    """
    differences = config_differences(saved, current.to_dict())
    if differences:
        saved_label = f"{saved.get('name', '?')}/{saved.get('size', '?')}" if isinstance(saved, dict) else "?"
        raise ConfigError(f"{source} was written by configuration {saved_label}, this run is {current.label}; "
                          f"they differ in {'; '.join(differences[:6])}"
                          f"{' ...' if len(differences) > 6 else ''}. Use another --out folder, or the same "
                          f"configuration")
