"""The two data types every loader returns: one 12-lead ECG (``ECGRecord``) and a set of them (``ECGDataset``).

A record is a (12, n_samples) float32 signal in mV with rows in ``LEADS`` order, its sampling rate, and whatever
labels its source has (PTB-XL superdiagnostic multi-hot labels, LUDB per-sample wave masks, exact R peaks for
synthetic ECG). Both types have one-line reprs: a dataset's repr names its size, shape, rate and labels, never
its arrays (which may be a memory-mapped 200 MB file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .validation import check_ecg
from .vocabulary import LEADS

__all__ = ["ECGRecord", "ECGDataset"]


@dataclass(repr=False)
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
        self.signal = check_ecg(self.signal, name=f"record {self.record_id}", dtype=None)

    @property
    def duration_s(self) -> float:
        return self.signal.shape[-1] / self.fs

    def __repr__(self) -> str:
        extras = [name for name in ("labels", "masks", "waves", "r_peaks") if getattr(self, name) is not None]
        return (f"ECGRecord({self.record_id!r}, {self.signal.shape[0]} leads x {self.signal.shape[1]} "
                f"@ {self.fs:g} Hz{''.join(', ' + name for name in extras)})")


@dataclass(repr=False)
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

    def __repr__(self) -> str:
        extras = [name for name in ("labels", "folds", "masks", "waves", "r_peaks") if getattr(self, name) is not None]
        _, n_leads, n_samples = self.signals.shape
        return (f"ECGDataset({self.name!r}, {len(self)} records, {n_leads} leads x {n_samples} @ {self.fs:g} Hz"
                f"{''.join(', ' + name for name in extras)})")

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> ECGRecord:
        """Record ``i``, holding its own writable copy of its signal and masks, whatever backs the dataset.

        A cached PTB-XL or LUDB dataset is a read-only memmap and the synthetic one an in-memory array: a view
        would be read-only on real data only (``torch.from_numpy`` of it warns) and would write through to the
        dataset on the synthetic default only. A copy behaves the same on both.
        """
        def pick(values):
            return None if values is None else values[i]

        return ECGRecord(
            signal=np.array(self.signals[i], dtype=np.float32),
            fs=self.fs,
            record_id=str(self.record_ids[i]),
            labels=pick(self.labels),
            masks=None if self.masks is None else np.array(self.masks[i]),
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
