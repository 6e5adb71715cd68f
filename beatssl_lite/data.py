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

What comes from where:
- [ref] PTB-XL superdiagnostic labels as in the PTB-XL benchmark code (Strodthoff et al. 2021): every key of
  ``scp_codes`` whose statement has ``diagnostic == 1`` maps to its ``diagnostic_class``, whatever its likelihood
  (0-100); records left without a class are dropped. ``strat_fold`` 1-8 / 9 / 10 is the standard split.
- [ref] LUDB symbols: '(' onset, 'p' / 'N' / 't' peak of P / QRS / T, ')' offset, one annotation file per lead.
- [ours] A wave's onset is the annotation right before its peak when that is '(', its offset the one right after
  it when that is ')'. LUDB holds 58,423 peaks; 134 of them lack a bound that way (122 QRS, mostly with the
  onset left out; 11 T, mostly duplicated nested T waves in record 116; 1 P). They keep -1 for the missing bound in
  ``waves`` (so counts match the files) and are not painted in the masks, whose extent they do not define; the 21
  '(' ')' pairs with no peak between them are ignored.
- [ours] LUDB has one record per patient, so its patient-level split and folds key on the record id.
- [ours] Parsed arrays are cached as ``.npy`` files under ``user_cache_dir()/arrays`` (memory-mapped when read
  back), keyed by a hash of the source files' paths, sizes and modification times and the loading parameters, so
  a changed file or option never serves a stale array; each cache entry is written to a temporary folder and
  renamed into place, so an interrupted load leaves nothing half-written behind.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .validation import check_ecg
from .vocabulary import LEADS, SUPERCLASSES, WAVES, normalize_lead_name

#: Folder of each dataset inside a data root.
DATASET_DIRS = {"ptbxl": "ptb-xl", "ludb": "ludb"}
DATA_ENV = "BEATSSL_DATA"

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
        self.signal = check_ecg(self.signal, name=f"record {self.record_id}", dtype=None)

    @property
    def duration_s(self) -> float:
        return self.signal.shape[-1] / self.fs


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


# --- WFDB records ------------------------------------------------------------------------------------------------

#: Bytes per sample of the WFDB storage formats whose .dat size can be checked before reading.
_WFDB_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3,
                          "311": 4 / 3}
#: Factor to mV of the physical units WFDB headers use (a header without units means mV).
_TO_MILLIVOLT = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}


@contextlib.contextmanager
def _quiet_wfdb():
    """wfdb 4.x calls pandas APIs that pandas 3 deprecates; those warnings are for wfdb's authors, not our users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword", module=r"wfdb\.")
        yield


def read_wfdb_record(path: str | os.PathLike, fs: float | None = None, n_samples: int | None = None) -> ECGRecord:
    """Read a 12-lead WFDB record (``path`` without extension) as a (12, n_samples) float32 signal in mV.

    Lead names are normalised ('i', 'AVR', 'v1', ...) and the rows reordered to ``LEADS``. With ``fs``, a record
    at another rate is resampled (polyphase filter, ``scipy.signal.resample_poly``); with ``n_samples``, the signal
    is cropped to its first ``n_samples`` and a shorter one is an error. ``meta`` holds the source path, the file's
    own rate and the header comments.

    Raises FileNotFoundError naming a missing .hea or .dat, and ValueError naming the file for a truncated .dat,
    a header without exactly 12 signals, an unknown or missing lead, unknown units, NaNs, or too few samples.
    """
    with _quiet_wfdb():
        import wfdb

    path = Path(path)
    if path.suffix in (".hea", ".dat"):
        path = path.with_suffix("")
    header = path.with_name(path.name + ".hea")
    if not header.is_file():
        raise FileNotFoundError(f"WFDB header {header} not found")
    if fs is not None and not fs > 0:
        raise ValueError(f"fs: expected a positive sampling rate in Hz, got {fs!r}")
    if n_samples is not None and not (isinstance(n_samples, (int, np.integer)) and n_samples > 0):
        raise ValueError(f"n_samples: expected a positive integer, got {n_samples!r}")
    with _quiet_wfdb():
        head = wfdb.rdheader(str(path))
    if isinstance(head, wfdb.MultiRecord):
        raise ValueError(f"{header}: multi-segment records are not supported, expected one 12-lead segment")
    if head.n_sig != len(LEADS):
        raise ValueError(f"{header}: the header declares {head.n_sig} signals, "
                         f"expected the 12 leads {', '.join(LEADS)}")
    try:
        names = [normalize_lead_name(name) for name in (head.sig_name or [""] * head.n_sig)]
    except ValueError as error:
        raise ValueError(f"{header}: {error}") from None
    missing = [lead for lead in LEADS if lead not in names]
    if missing:
        raise ValueError(f"{header}: lead(s) {', '.join(missing)} missing "
                         f"(the header names {', '.join(head.sig_name)})")
    _check_dat_files(header, head)

    physical = _read_physical(path, head) * _millivolt_factors(header, head.units)
    signal = physical[:, [names.index(lead) for lead in LEADS]].T
    signal = check_ecg(signal, name=str(header), dtype=None)
    file_fs = float(head.fs)
    out_fs = file_fs
    if fs is not None and not math.isclose(fs, file_fs):
        from scipy.signal import resample_poly

        ratio = Fraction(fs / file_fs).limit_denominator(1000)
        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1)
        out_fs = float(fs)
    if n_samples is not None:
        if signal.shape[1] < n_samples:
            raise ValueError(f"{header}: {signal.shape[1]} samples at {out_fs:g} Hz, fewer than the "
                             f"n_samples={n_samples} asked for")
        signal = signal[:, :n_samples]
    meta = {"source": str(path), "fs_file": file_fs, "comments": list(head.comments or [])}
    return ECGRecord(signal=np.ascontiguousarray(signal, dtype=np.float32), fs=out_fs, record_id=path.name, meta=meta)


def _check_dat_files(header: Path, head) -> None:
    """Raise unless every .dat the header names exists and holds at least the samples the header declares."""
    per_file: dict[str, list] = {}
    for name, fmt, per_frame, offset in zip(head.file_name, head.fmt, head.samps_per_frame, head.byte_offset):
        per_file.setdefault(name, []).append((fmt, per_frame or 1, offset or 0))
    for name, signals in per_file.items():
        dat = header.parent / name
        if not dat.is_file():
            raise FileNotFoundError(f"{dat} not found (signal file named by {header})")
        if not head.sig_len or any(fmt not in _WFDB_BYTES_PER_SAMPLE for fmt, _, _ in signals):
            continue
        bytes_per_frame = sum(_WFDB_BYTES_PER_SAMPLE[fmt] * per_frame for fmt, per_frame, _ in signals)
        expected = signals[0][2] + math.ceil(head.sig_len * bytes_per_frame)
        size = dat.stat().st_size
        if size < expected:
            raise ValueError(f"{dat}: truncated, {size} bytes where {header.name} declares {head.sig_len} samples of "
                             f"{len(signals)} signals ({expected} bytes)")


def _read_physical(path: Path, head) -> np.ndarray:
    """(n_samples, n_sig) float64 in the header's units, invalid samples as NaN.

    The layout of PTB-XL and LUDB (one format-16 file, no offset, skew or multi-sample frames) is read straight
    with numpy, with wfdb's own formula (digital - baseline) / gain; anything else goes through ``wfdb.rdrecord``.
    """
    simple = (len(set(head.file_name)) == 1 and set(head.fmt) == {"16"} and head.sig_len
              and not any(head.byte_offset or []) and not any(head.skew or [])
              and set(head.samps_per_frame or [1]) == {1})
    if not simple:
        import wfdb

        with _quiet_wfdb():
            return wfdb.rdrecord(str(path), physical=True).p_signal
    dat = path.parent / head.file_name[0]
    digital = np.fromfile(dat, dtype="<i2", count=head.sig_len * head.n_sig).reshape(head.sig_len, head.n_sig)
    physical = (digital - np.asarray(head.baseline, dtype=np.float64)) / np.asarray(head.adc_gain, dtype=np.float64)
    physical[digital == -32768] = np.nan  # WFDB's "invalid sample" value in format 16
    return physical


def _millivolt_factors(header: Path, units) -> np.ndarray:
    factors = []
    for unit in units or [None] * len(LEADS):
        key = (unit or "mV").strip().lower()
        if key not in _TO_MILLIVOLT:
            raise ValueError(f"{header}: unknown signal units {unit!r}, expected one of mV, uV, V")
        factors.append(_TO_MILLIVOLT[key])
    return np.asarray(factors)


# --- LUDB wave annotations ---------------------------------------------------------------------------------------

#: MIT annotation codes of the wave symbols (wfdb's ann_label_table): onset, offset and the three peaks.
_WAVE_SYMBOL_CODES = {39: "(", 40: ")", 24: "p", 1: "N", 27: "t"}
_WAVE_OF_PEAK = {"p": "P", "N": "QRS", "t": "T"}


def read_wave_annotations(path: str | os.PathLike) -> tuple[np.ndarray, list]:
    """Sample indices and symbols of the wave annotations ('(', ')', 'p', 'N', 't') of a MIT-format annotation file.

    A direct reader of the format (16-bit words: a 6-bit code and a 10-bit time increment, plus the SKIP, NUM,
    SUB, CHN and AUX pseudo-codes), much faster than ``wfdb.rdann`` on LUDB's 2,400 small files
    (``benchmarks/bench_data_cache.py`` measures both). Other annotation codes are skipped.
    """
    words = np.fromfile(path, dtype="<u2").tolist()
    samples, symbols = [], []
    time, i = 0, 0
    while i < len(words):
        code, value = words[i] >> 10, words[i] & 0x3FF
        i += 1
        if code == 0 and value == 0:  # end of file
            break
        if code == 59:  # SKIP: a signed 32-bit interval follows, high 16 bits first
            skip = (words[i] << 16) | words[i + 1]
            time += skip - (1 << 32) if skip >= 1 << 31 else skip
            i += 2
        elif code == 63:  # AUX: `value` bytes of text follow, padded to an even count
            i += (value + 1) // 2
        elif code in (60, 61, 62):  # NUM, SUB, CHN modify the previous annotation, not the time
            continue
        else:
            time += value
            if code in _WAVE_SYMBOL_CODES:
                samples.append(time)
                symbols.append(_WAVE_SYMBOL_CODES[code])
    return np.asarray(samples, dtype=np.int64), symbols


def annotations_to_waves(samples: np.ndarray, symbols: list) -> dict:
    """{"P"|"QRS"|"T": int64 (n_waves, 3) onset, peak, offset} from time-ordered LUDB annotations.

    Every peak ('p', 'N', 't') is a wave. Its onset is the annotation right before it if that is '(', its offset
    the one right after it if that is ')'; a bound found otherwise is -1 (see the module docstring).
    """
    found = {"P": [], "QRS": [], "T": []}
    for k, symbol in enumerate(symbols):
        if symbol in _WAVE_OF_PEAK:
            onset = samples[k - 1] if k > 0 and symbols[k - 1] == "(" else -1
            offset = samples[k + 1] if k + 1 < len(symbols) and symbols[k + 1] == ")" else -1
            found[_WAVE_OF_PEAK[symbol]].append((onset, samples[k], offset))
    return {kind: np.asarray(rows, dtype=np.int64).reshape(-1, 3) for kind, rows in found.items()}


def waves_to_mask(waves: dict, n_samples: int) -> np.ndarray:
    """(n_samples,) int8 ``WAVES`` codes: each wave with both bounds filled from onset to offset inclusive.

    Waves are painted in the order of their peaks, so where two overlap the later one wins.
    """
    painted = sorted((peak, onset, offset, WAVES.index(kind)) for kind, rows in waves.items()
                     for onset, peak, offset in rows if onset >= 0 and offset >= 0)
    mask = np.zeros(n_samples, dtype=np.int8)
    for _, onset, offset, code in painted:
        mask[onset:offset + 1] = code
    return mask


# --- cache of parsed arrays --------------------------------------------------------------------------------------

def _cached_arrays(cache_dir, name: str, files: list, params: dict, build) -> Path:
    """The cache folder of .npy arrays for these source files and parameters; ``build(folder)`` fills it once.

    The key hashes the parameters and each file's absolute path, size and modification time. The folder is built
    under a temporary name and renamed into place (atomic), so a crash never leaves a half-written entry.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "arrays"
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for file in sorted(os.path.abspath(f) for f in files):
        stat = os.stat(file)
        digest.update(f"{file}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    entry = cache_dir / f"{name}-{digest.hexdigest()[:20]}"
    if entry.is_dir():
        return entry
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=cache_dir))
    try:
        build(building)
        os.replace(building, entry)
    except OSError:
        if not entry.is_dir():  # otherwise another process finished the same entry first: use it
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return entry


# --- PTB-XL ------------------------------------------------------------------------------------------------------

def _no_data_message(dataset: str) -> str:
    folder = DATASET_DIRS[dataset]
    return (f"set {DATA_ENV}=DIR or pass root=DIR, with DIR holding {folder}/, or fetch it with "
            f"`python -m beatssl_lite.download {dataset}`")


def _dataset_folder(root, dataset: str) -> Path:
    base = data_root(root, dataset)
    if base is None:
        raise FileNotFoundError(f"no {DATASET_DIRS[dataset]}/ found: {_no_data_message(dataset)}")
    return base / DATASET_DIRS[dataset]


def _read_table(path: Path, **kwargs):
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return pd.read_csv(path, **kwargs)


def load_ptbxl(root: str | os.PathLike | None = None, fs: int = 100, folds=None, max_records: int | None = None,
               cache_dir: str | os.PathLike | None = None, progress: bool = True) -> ECGDataset:
    """PTB-XL records with superdiagnostic multi-hot labels, from ``ptbxl_database.csv`` and ``scp_statements.csv``.

    fs: 100 (``filename_lr``) or 500 (``filename_hr``); signals (n, 12, 10 * fs).
    folds: the ``strat_fold`` values (1-10) to keep, or None for all.
    max_records: keep only the first records (ecg_id order) of those found.
    Records without a superdiagnostic class are dropped and those whose waveform files are absent skipped; one
    printed line gives both counts. Signals are parsed once, then memory-mapped from ``cache_dir`` (default
    ``user_cache_dir()/arrays``). meta per record: ecg_id, patient_id, scp_codes, age, sex ('M'/'F'), filename.
    """
    if fs not in (100, 500):
        raise ValueError(f"fs: PTB-XL comes at 100 or 500 Hz, got {fs!r}")
    if max_records is not None and not (isinstance(max_records, (int, np.integer)) and max_records > 0):
        raise ValueError(f"max_records: expected a positive integer or None, got {max_records!r}")
    folder = _dataset_folder(root, "ptbxl")
    table = _read_table(folder / "ptbxl_database.csv", index_col="ecg_id")
    statements = _read_table(folder / "scp_statements.csv", index_col=0)
    diagnostic_class = statements.loc[statements["diagnostic"] == 1, "diagnostic_class"].to_dict()
    scp_codes = table["scp_codes"].map(ast.literal_eval)
    classes = [{diagnostic_class.get(code) for code in codes} for codes in scp_codes]
    labels = np.array([[superclass in found for superclass in SUPERCLASSES] for found in classes], dtype=np.uint8)

    keep = np.ones(len(table), dtype=bool)
    if folds is not None:
        folds = sorted({int(f) for f in np.atleast_1d(folds)})
        if not set(folds) <= set(range(1, 11)):
            raise ValueError(f"folds: PTB-XL's strat_fold runs from 1 to 10, got {folds}")
        keep &= table["strat_fold"].isin(folds).to_numpy()
    unlabelled = keep & (labels.sum(axis=1) == 0)
    keep &= ~unlabelled
    filenames = table["filename_lr" if fs == 100 else "filename_hr"].to_numpy()
    on_disk = {os.path.relpath(os.path.join(parent, name), folder).replace(os.sep, "/")
               for parent, _, names in os.walk(folder / f"records{fs}") for name in names}
    present = keep & np.array([f"{f}.hea" in on_disk and f"{f}.dat" in on_disk for f in filenames], dtype=bool)
    n_absent = int(keep.sum() - present.sum())
    chosen = np.flatnonzero(present)[:max_records]
    where = "all folds" if folds is None else f"folds {','.join(map(str, folds))}"
    capped = f" (the first {len(chosen)} of {int(present.sum())}: max_records)" if len(chosen) < present.sum() else ""
    print(f"PTB-XL {fs} Hz, {where}: {len(chosen)} records{capped}; {int(unlabelled.sum())} without a superdiagnostic "
          f"label dropped, {n_absent} labelled records without waveform files here skipped")
    if len(chosen) == 0:
        raise FileNotFoundError(f"{folder}: none of the selected records has its waveform files "
                                f"({filenames[0]}.hea/.dat, ...) at {fs} Hz")

    n_samples = 10 * fs
    chosen_files = [folder / filenames[i] for i in chosen]

    def build(out: Path) -> None:
        signals = np.lib.format.open_memmap(out / "signals.npy", mode="w+", dtype=np.float32,
                                            shape=(len(chosen), len(LEADS), n_samples))
        for row, path in enumerate(tqdm(chosen_files, desc=f"parsing PTB-XL {fs} Hz", disable=not progress)):
            signals[row] = read_wfdb_record(path, fs=fs, n_samples=n_samples).signal
        signals.flush()
        del signals

    files = [f"{p}{ext}" for p in chosen_files for ext in (".hea", ".dat")]
    entry = _cached_arrays(cache_dir, f"ptbxl{fs}", files, {"fs": fs, "n_samples": n_samples, "format": 1}, build)
    rows = table.iloc[chosen]
    meta = [{"ecg_id": int(ecg_id), "patient_id": int(patient_id), "scp_codes": codes,
             "age": None if np.isnan(age) else float(age), "sex": "M" if sex == 0 else "F",  # PTB-XL: 0 male, 1 female
             "filename": filenames[i]}
            for i, ecg_id, patient_id, age, sex, codes in zip(chosen, rows.index, rows["patient_id"], rows["age"],
                                                              rows["sex"], scp_codes.iloc[chosen])]
    return ECGDataset(
        signals=np.load(entry / "signals.npy", mmap_mode="r"),
        fs=float(fs),
        record_ids=[str(ecg_id) for ecg_id in rows.index],
        name="ptbxl",
        labels=labels[chosen],
        folds=rows["strat_fold"].to_numpy(dtype=np.int64),
        meta=meta,
    )


# --- LUDB --------------------------------------------------------------------------------------------------------

#: LUDB's annotation file extension of each lead, in ``LEADS`` order.
LUDB_EXTENSIONS = tuple(lead.lower() for lead in LEADS)
_WAVE_KINDS = ("P", "QRS", "T")


def load_ludb(root: str | os.PathLike | None = None, progress: bool = True,
              cache_dir: str | os.PathLike | None = None) -> ECGDataset:
    """LUDB: signals (200, 12, 5000) at 500 Hz with per-lead P/QRS/T masks and onset/peak/offset lists.

    masks: (n, 12, n_samples) int8 ``WAVES`` codes; waves: per record {lead: {"P"|"QRS"|"T": (n_waves, 3)}}, -1
    for a bound the annotators left out (see the module docstring). meta per record, from ``ludb.csv``: patient_id
    (= the record id: one record per patient), sex, age ('>89' stored as 90), rhythm and the list of all
    diagnoses. Parsed arrays are cached like PTB-XL's.
    """
    folder = _dataset_folder(root, "ludb")
    listing = folder / "RECORDS"
    if listing.is_file():
        records = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        records = sorted((str(p.relative_to(folder).with_suffix("")) for p in folder.glob("data/*.hea")),
                         key=lambda name: (len(name), name))
    if not records:
        raise FileNotFoundError(f"{folder}: no LUDB records (RECORDS or data/*.hea)")
    files = [folder / f"{record}.{ext}" for record in records for ext in ("hea", "dat") + LUDB_EXTENSIONS]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found (LUDB needs the .hea, .dat and 12 annotation files per record)")
    table = _read_table(folder / "ludb.csv", index_col="ID")

    def build(out: Path) -> None:
        signals, masks, rows, fs = [], [], [], None
        for r, record in enumerate(tqdm(records, desc="parsing LUDB", disable=not progress)):
            ecg = read_wfdb_record(folder / record)
            if signals and (ecg.fs, ecg.signal.shape) != (fs, signals[0].shape):
                raise ValueError(f"{folder / record}: {ecg.signal.shape} at {ecg.fs:g} Hz, unlike the "
                                 f"{signals[0].shape} at {fs:g} Hz of {records[0]}")
            fs = ecg.fs
            signals.append(ecg.signal)
            lead_masks = []
            for lead, ext in enumerate(LUDB_EXTENSIONS):
                waves = annotations_to_waves(*read_wave_annotations(folder / f"{record}.{ext}"))
                lead_masks.append(waves_to_mask(waves, ecg.signal.shape[1]))
                for kind, bounds in enumerate(waves[k] for k in _WAVE_KINDS):
                    rows.extend((r, lead, kind, *wave) for wave in bounds)
            masks.append(np.stack(lead_masks))
        np.save(out / "signals.npy", np.stack(signals))
        np.save(out / "masks.npy", np.stack(masks))
        np.save(out / "waves.npy", np.asarray(rows, dtype=np.int32).reshape(-1, 6))
        np.save(out / "fs.npy", np.float64(fs))

    entry = _cached_arrays(cache_dir, "ludb", files, {"format": 1}, build)
    record_ids = [Path(record).name for record in records]
    return ECGDataset(
        signals=np.load(entry / "signals.npy", mmap_mode="r"),
        fs=float(np.load(entry / "fs.npy")),
        record_ids=record_ids,
        name="ludb",
        masks=np.load(entry / "masks.npy", mmap_mode="r"),
        waves=_group_waves(np.load(entry / "waves.npy"), len(records)),
        meta=[_ludb_meta(table, record_id) for record_id in record_ids],
    )


def _group_waves(rows: np.ndarray, n_records: int) -> list:
    """Per record {lead: {kind: (n, 3) int64}} from the cached (record, lead, kind, onset, peak, offset) rows."""
    waves = [{lead: {kind: np.zeros((0, 3), dtype=np.int64) for kind in _WAVE_KINDS} for lead in LEADS}
             for _ in range(n_records)]
    keys = (rows[:, 0].astype(np.int64) * len(LEADS) + rows[:, 1]) * len(_WAVE_KINDS) + rows[:, 2]
    groups, starts = np.unique(keys, return_index=True)  # rows are written sorted by key
    for key, bounds in zip(groups, np.split(rows[:, 3:].astype(np.int64), starts[1:])):
        record, rest = divmod(int(key), len(LEADS) * len(_WAVE_KINDS))
        lead, kind = divmod(rest, len(_WAVE_KINDS))
        waves[record][LEADS[lead]][_WAVE_KINDS[kind]] = bounds
    return waves


def _ludb_meta(table, record_id: str) -> dict:
    """Diagnoses of one LUDB record; ludb.csv cells hold several statements on separate lines."""
    row = table.loc[int(record_id)]

    def lines(value) -> list:
        return [line.strip() for line in str(value).splitlines() if line.strip()] if isinstance(value, str) else []

    age = lines(row["Age"])[0]
    diagnoses = [statement for column in table.columns if column not in ("Sex", "Age")
                 for statement in lines(row[column])]
    return {"patient_id": int(record_id), "sex": lines(row["Sex"])[0], "age": 90.0 if age == ">89" else float(age),
            "rhythm": "; ".join(lines(row["Rhythms"])), "diagnoses": diagnoses}


def _split_order(dataset: ECGDataset, seed: int) -> np.ndarray:
    """Dataset indices in a seeded random order of their record ids (independent of the dataset's own order).

    LUDB has one record per patient, so keying on the record id keeps each patient on one side of a split.
    """
    ids = [str(r) for r in dataset.record_ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{dataset.name}: record ids repeat, so a split on them would not be patient-level")
    by_id = np.argsort(np.array(ids), kind="stable")
    return by_id[np.random.default_rng(seed).permutation(len(ids))]


def ludb_split(dataset: ECGDataset, test_fraction: float = 0.2, seed: int = 0) -> tuple:
    """(train_idx, test_idx): sorted index arrays, a seeded patient-level split (one LUDB record = one patient)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number between 0 and 1, got {test_fraction!r}")
    order = _split_order(dataset, seed)
    n_test = int(round(test_fraction * len(order)))
    if not 0 < n_test < len(order):
        raise ValueError(f"test_fraction={test_fraction} leaves an empty side with {len(order)} records")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def ludb_folds(dataset: ECGDataset, k: int = 5, seed: int = 0) -> list:
    """k (train_idx, test_idx) pairs of sorted index arrays: seeded patient-level folds whose test sets partition
    the records (sizes differ by at most one)."""
    if not (isinstance(k, (int, np.integer)) and 2 <= k <= len(dataset)):
        raise ValueError(f"k: expected an integer from 2 to the {len(dataset)} records, got {k!r}")
    parts = np.array_split(_split_order(dataset, seed), k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(part)) for i, part in enumerate(parts)]


# --- any WFDB folder, and the one entry point --------------------------------------------------------------------

def load_wfdb_folder(path: str | os.PathLike, fs: float | None = None, n_samples: int | None = None,
                     progress: bool = True) -> ECGDataset:
    """Every 12-lead WFDB record under ``path`` (recursively, by its .hea), as one dataset.

    fs: resample records at another rate to it (None: all records must share a rate).
    n_samples: crop every record to it; a shorter record is an error (None: all must have the same length).
    record_ids are the paths relative to ``path`` without extension.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"path={str(path)!r} is not a directory")
    headers = sorted(folder.rglob("*.hea"))
    if not headers:
        raise FileNotFoundError(f"{folder}: no WFDB header (.hea) found")
    records = [read_wfdb_record(h.with_suffix(""), fs=fs, n_samples=n_samples)
               for h in tqdm(headers, desc=f"reading {folder.name}", disable=not progress)]
    for option, values in (("fs", [r.fs for r in records]), ("n_samples", [r.signal.shape[1] for r in records])):
        first_seen = {value: header.name for value, header in reversed(list(zip(values, headers)))}
        if len(first_seen) > 1:
            shown = ", ".join(f"{value:g} ({name})" for value, name in list(first_seen.items())[:3])
            raise ValueError(f"{folder}: records differ in {option}: {shown}; pass {option}= to make them equal")
    return ECGDataset(
        signals=np.stack([r.signal for r in records]),
        fs=records[0].fs,
        record_ids=[str(h.relative_to(folder).with_suffix("").as_posix()) for h in headers],
        name=str(folder),
        meta=[r.meta for r in records],
    )


#: Names ``load_dataset`` knows (besides a folder path).
DATASETS = ("ptbxl", "ludb", "synthetic")
#: Options of the synthetic stand-in that the real loaders do not take (ignored when real data is found).
_SYNTHETIC_ONLY = ("n_records", "seed", "duration_s")


def load_dataset(name: str | os.PathLike, root: str | os.PathLike | None = None, **kwargs) -> ECGDataset:
    """Load 'ptbxl', 'ludb', 'synthetic' or a folder of WFDB records through one call.

    kwargs go to ``load_ptbxl`` / ``load_ludb`` / ``load_wfdb_folder`` /
    ``synthetic.make_synthetic_dataset``. When no real PTB-XL or LUDB is found (``data_root`` gives None), the
    embedded synthetic ECG stands in, announced by one printed line: at ``fs`` (default 100 Hz) for 'ptbxl', at
    500 Hz for 'ludb'; ``n_records`` and ``seed`` shape it (``max_records`` caps it, ``folds`` selects its folds)
    and are ignored when real data is found, so the same call runs on both.
    """
    if isinstance(name, str) and name == "synthetic":
        from beatssl_lite.synthetic import make_synthetic_dataset

        return make_synthetic_dataset(**kwargs)
    if isinstance(name, str) and name in DATASET_DIRS:
        loader = load_ptbxl if name == "ptbxl" else load_ludb
        options = _check_options(name, loader, kwargs)
        if data_root(root, name) is None:
            return _synthetic_stand_in(name, kwargs)
        return loader(root=root, **options)
    if root is None and Path(name).is_dir():
        return load_wfdb_folder(name, **kwargs)
    raise ValueError(f"unknown dataset {str(name)!r}: expected one of {', '.join(map(repr, DATASETS))} "
                     f"or an existing folder of WFDB records")


def _check_options(name: str, loader, kwargs: dict) -> dict:
    """The kwargs the real loader takes; a TypeError naming any option neither it nor the stand-in knows."""
    import inspect

    accepted = set(inspect.signature(loader).parameters) - {"root"}
    unknown = sorted(set(kwargs) - accepted - set(_SYNTHETIC_ONLY))
    if unknown:
        raise TypeError(f"load_dataset({name!r}): unknown option(s) {', '.join(unknown)}; "
                        f"expected {', '.join(sorted(accepted | set(_SYNTHETIC_ONLY)))}")
    return {key: value for key, value in kwargs.items() if key in accepted}


def _synthetic_stand_in(name: str, kwargs: dict) -> ECGDataset:
    from beatssl_lite.synthetic import make_synthetic_dataset

    fs = float(kwargs.get("fs", 100)) if name == "ptbxl" else 500.0
    n_records = kwargs.get("n_records") or (1000 if name == "ptbxl" else 200)
    n_records = min(n_records, kwargs.get("max_records") or n_records)
    print(f"no real {DATASET_DIRS[name]} found: using the embedded synthetic ECG ({n_records} records at {fs:g} Hz) "
          f"instead; for real data {_no_data_message(name)}")
    options = {key: kwargs[key] for key in ("seed", "duration_s") if key in kwargs}
    dataset = make_synthetic_dataset(n_records=n_records, fs=fs, **options)
    if kwargs.get("folds") is not None and dataset.folds is not None:
        dataset = dataset.subset(np.isin(dataset.folds, np.atleast_1d(kwargs["folds"])))
    return dataset
