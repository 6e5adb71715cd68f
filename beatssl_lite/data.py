"""ECG records and datasets: one type for PTB-XL, LUDB, any WFDB folder and the embedded synthetic set.

A record is a 12-lead signal ``(12, n_samples)`` float32 in mV, in the standard lead order ``LEADS``, with its
sampling rate and whatever labels its source has (PTB-XL superdiagnostic multi-hot labels, LUDB per-sample wave
masks, exact R peaks for synthetic ECG).

Where data comes from (first match wins):
1. an explicit ``root=`` argument;
2. the ``BEATSSL_DATA`` environment variable;
3. the user cache ``~/.cache/beatssl_lite`` (``$XDG_CACHE_HOME`` respected), where ``download`` puts it;
4. the embedded synthetic ECG (``beatssl_lite.synthetic``), announced with one printed line.
A data root holds one folder per dataset, laid out as PhysioNet publishes them: ``ludb/`` and ``ptb-xl/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: PTB-XL superdiagnostic classes, in the order of the multi-hot label columns.
SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
#: Codes of the per-sample wave masks (LUDB annotations, synthetic ground truth).
WAVES = ("none", "P", "QRS", "T")
#: Folder of each dataset inside a data root.
DATASET_DIRS = {"ptbxl": "ptb-xl", "ludb": "ludb"}
DATA_ENV = "BEATSSL_DATA"

_LEAD_ALIASES = {name.lower(): name for name in LEADS}


def normalize_lead_name(name: str) -> str:
    """Map a lead name as files spell it ('i', 'AVR', 'v1', ' aVL ') to the standard spelling ('aVR')."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in _LEAD_ALIASES:
        raise ValueError(f"unknown lead name {name!r}: expected one of {', '.join(LEADS)}")
    return _LEAD_ALIASES[key]


@dataclass
class ECGRecord:
    """One 12-lead ECG.

    signal: (12, n_samples) float32 in mV, rows in ``LEADS`` order.
    labels: (5,) multi-hot over ``SUPERCLASSES`` or None.
    masks: (12, n_samples) int8 wave codes (index into ``WAVES``) per lead, or None.
    waves: per lead, {"P"|"QRS"|"T": int array (n_waves, 3) of onset, peak, offset samples}, or None.
    r_peaks: sample indices of the R peaks when exactly known (synthetic ECG), else None.
    """

    signal: np.ndarray
    fs: float
    record_id: str
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None
    waves: dict | None = None
    r_peaks: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    leads: tuple = LEADS

    def __post_init__(self):
        check_signal(self.signal, name=f"record {self.record_id}")

    @property
    def duration_s(self) -> float:
        return self.signal.shape[-1] / self.fs


def check_signal(signal: np.ndarray, name: str = "signal", n_samples: int | None = None) -> None:
    """Raise a ValueError naming ``name`` unless ``signal`` is a finite (12, n_samples) array."""
    if not isinstance(signal, np.ndarray) or signal.ndim != 2 or signal.shape[0] != len(LEADS):
        shape = getattr(signal, "shape", type(signal).__name__)
        raise ValueError(f"{name}: expected a (12, n_samples) array in the order {LEADS}, got {shape}")
    if n_samples is not None and signal.shape[1] != n_samples:
        raise ValueError(f"{name}: expected {n_samples} samples, got {signal.shape[1]}")
    if not np.isfinite(signal).all():
        bad = sorted({LEADS[i] for i in np.nonzero(~np.isfinite(signal))[0]})
        raise ValueError(f"{name}: NaN or infinite values in lead(s) {', '.join(bad)}")


def user_cache_dir() -> Path:
    """Where downloads and parsed-array caches go: ``$XDG_CACHE_HOME/beatssl_lite`` or ``~/.cache/beatssl_lite``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "beatssl_lite"


def data_root(root: str | os.PathLike | None = None, dataset: str | None = None) -> Path | None:
    """The data root to read from, or None when only the synthetic default is left.

    With ``dataset`` ('ptbxl' or 'ludb'), a candidate root counts only if it holds that dataset's folder.
    An explicit ``root`` or ``BEATSSL_DATA`` that does not exist is an error, not a silent fallback.
    """
    if dataset is not None and dataset not in DATASET_DIRS:
        raise ValueError(f"dataset: expected one of {sorted(DATASET_DIRS)}, got {dataset!r}")
    for source, candidate in (("root", root), (DATA_ENV, os.environ.get(DATA_ENV) or None)):
        if candidate is None:
            continue
        path = Path(candidate).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{source}={str(candidate)!r} is not a directory")
        if dataset is None or (path / DATASET_DIRS[dataset]).is_dir():
            return path
        if source == "root":
            raise FileNotFoundError(f"root={str(candidate)!r} has no {DATASET_DIRS[dataset]}/ folder")
    cache = user_cache_dir()
    if dataset is None and cache.is_dir():
        return cache
    if dataset is not None and (cache / DATASET_DIRS[dataset]).is_dir():
        return cache
    return None


@dataclass
class ECGDataset:
    """A collection of equal-length 12-lead records, array-backed (``signals`` may be a read-only memmap).

    signals: (n_records, 12, n_samples) float32 in mV.
    labels: (n_records, 5) uint8 multi-hot over ``SUPERCLASSES``, or None.
    folds: (n_records,) int, PTB-XL ``strat_fold`` 1-10 (synthetic: assigned the same way), or None.
    masks: (n_records, 12, n_samples) int8 wave codes (``WAVES``), or None.
    waves: per record, the ``ECGRecord.waves`` dict, or None.
    r_peaks: per record, exact R-peak sample indices (synthetic ECG), or None.
    meta: one dict per record (patient id, diagnoses, source file, ...).
    name: 'ptbxl', 'ludb', 'synthetic' or the folder it was read from.
    """

    signals: np.ndarray
    fs: float
    record_ids: list
    name: str
    labels: np.ndarray | None = None
    folds: np.ndarray | None = None
    masks: np.ndarray | None = None
    waves: list | None = None
    r_peaks: list | None = None
    meta: list | None = None

    def __post_init__(self):
        if self.signals.ndim != 3 or self.signals.shape[1] != len(LEADS):
            raise ValueError(f"{self.name}: signals must be (n_records, 12, n_samples), got {self.signals.shape}")
        n = len(self.signals)
        for attr in ("record_ids", "labels", "folds", "masks", "waves", "r_peaks", "meta"):
            value = getattr(self, attr)
            if value is not None and len(value) != n:
                raise ValueError(f"{self.name}: {attr} has {len(value)} entries for {n} records")

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> ECGRecord:
        def pick(values):
            return None if values is None else values[i]

        return ECGRecord(
            signal=np.asarray(self.signals[i], dtype=np.float32),
            fs=self.fs,
            record_id=str(self.record_ids[i]),
            labels=pick(self.labels),
            masks=pick(self.masks),
            waves=pick(self.waves),
            r_peaks=pick(self.r_peaks),
            meta=dict(pick(self.meta) or {}),
        )

    def subset(self, index) -> "ECGDataset":
        """The records at ``index`` (a boolean mask or integer indices), as a new dataset."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, dtype=int)

        def take(values):
            if values is None:
                return None
            if isinstance(values, np.ndarray):
                return values[index]
            return [values[i] for i in index]

        return ECGDataset(
            signals=self.signals[index],
            fs=self.fs,
            record_ids=take(list(self.record_ids)),
            name=self.name,
            labels=take(self.labels),
            folds=take(self.folds),
            masks=take(self.masks),
            waves=take(self.waves),
            r_peaks=take(self.r_peaks),
            meta=take(self.meta),
        )
