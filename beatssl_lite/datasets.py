"""Where data lives and how it is loaded: data roots, the PTB-XL / LUDB / WFDB-folder loaders, their splits, and
``load_dataset``, the one entry point, with an explicit synthetic fallback.

Where data comes from (first match wins):
1. an explicit ``root=`` argument;
2. the ``BEATSSL_DATA`` environment variable;
3. the user cache ``~/.cache/beatssl_lite`` (``$XDG_CACHE_HOME`` respected), where ``download`` puts it.
A data root holds one folder per dataset, laid out as PhysioNet publishes them: ``ludb/`` and ``ptb-xl/``.
When none is found, ``load_dataset`` raises, saying how to get the data, unless the caller asked for
``fallback="synthetic"``: then the embedded synthetic ECG (``beatssl_lite.synthetic``) stands in, announced by a
``logging`` warning. [ours] Refusing is the default because a library call that trains or reports results must
never quietly run on stand-in data; the book asks for the fallback explicitly so that every chapter runs anywhere.

What comes from where:
- [ref] PTB-XL superdiagnostic labels as in the PTB-XL benchmark code (Strodthoff et al. 2021): every key of
  ``scp_codes`` whose statement has ``diagnostic == 1`` maps to its ``diagnostic_class``, whatever its likelihood
  (0-100); records left without a class are dropped. ``strat_fold`` 1-8 / 9 / 10 is the standard split
  (``ptbxl_split``).
- [ours] LUDB amplitudes. LUDB v1.0.1's headers set each lead's gain to that lead's own peak-to-peak range in ADC
  units (and its baseline near the lead's mean), so reading them with the header gain gives every lead of every
  record a span of exactly 1 mV and breaks Einthoven's III = II - I. The digital samples are consistent (III = II
  - I exactly, the augmented leads to within 0.5 unit, their rounding) and physiological at 1 unit = 1 uV, the
  resolution of PTB-XL's Schiller recorders (gain 1000/mV in PTB-XL's headers; LUDB was recorded with a Schiller
  Cardiovit AT-101). ``load_ludb`` therefore reads the digital samples and divides them by ``LUDB_ADC_GAIN`` =
  1000 units per mV, ignoring the header's gain and baseline; ``read_wfdb_record`` refuses such a
  range-normalised header unless told the scale (``adc_gain``).
- [ref] LUDB symbols: '(' onset, 'p' / 'N' / 't' peak of P / QRS / T, ')' offset, one annotation file per lead.
- [ours] A wave's onset is the annotation right before its peak when that is '(', its offset the one right after
  it when that is ')'. LUDB holds 58,423 peaks; 134 of them lack a bound that way (122 QRS, mostly with the
  onset left out; 11 T, mostly duplicated nested T waves in record 116; 1 P). They keep -1 for the missing bound in
  ``waves`` (so counts match the files) and are not painted in the masks, whose extent they do not define; the 21
  '(' ')' pairs with no peak between them are ignored.
- [ours] LUDB has one record per patient, so its patient-level split and folds key on the record id.
- [ours] Parsed arrays are cached as ``.npy`` files under ``user_cache_dir()/arrays`` (memory-mapped when read
  back) through ``beatssl_lite.cache``: keyed by the source files' paths, sizes and modification times and the
  loading parameters (including a format number, bumped when the meaning of the arrays changes: LUDB's went to 2
  with the true-millivolt scale, so no stale normalised array is served), and written atomically.
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .cache import cached_directory, content_key, file_fingerprint
from .records import ECGDataset
from .validation import check_fs
from .vocabulary import LEADS, SUPERCLASSES
from .wfdb_io import annotations_to_waves, read_wave_annotations, read_wfdb_record, waves_to_mask

__all__ = ["DATA_ENV", "DATASET_DIRS", "DATASETS", "FALLBACKS", "LUDB_ADC_GAIN", "LUDB_EXTENSIONS",
           "user_cache_dir", "data_root", "load_ptbxl", "load_ludb", "load_wfdb_folder", "load_dataset",
           "ptbxl_split", "ludb_split", "ludb_folds", "PTBXL_FOLDS"]

logger = logging.getLogger(__name__)

#: Folder of each dataset inside a data root.
DATASET_DIRS = {"ptbxl": "ptb-xl", "ludb": "ludb"}
DATA_ENV = "BEATSSL_DATA"
#: ADC units per mV of LUDB's digital samples (1 unit = 1 uV; see the module docstring).
LUDB_ADC_GAIN = 1000.0


def user_cache_dir() -> Path:
    """Where downloads and parsed-array caches go: ``$XDG_CACHE_HOME/beatssl_lite`` or ``~/.cache/beatssl_lite``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "beatssl_lite"


def data_root(root: str | os.PathLike | None = None, dataset: str | None = None) -> Path | None:
    """The data root to read from, or None when none is configured (``load_dataset`` then raises or falls back).

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


def _cached_arrays(cache_dir, name: str, files: list, params: dict, build) -> Path:
    """The cache folder of .npy arrays for these source files and parameters, filled once by ``build(folder)``."""
    cache_dir = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "arrays"
    return cached_directory(cache_dir, name, content_key([params, file_fingerprint(files)]), build)


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
    logged line gives both counts (a warning when labelled records are absent, so a partial copy is never taken
    for the whole dataset). Signals are parsed once, then memory-mapped from ``cache_dir`` (default
    ``user_cache_dir()/arrays``). meta per record: ecg_id, patient_id, scp_codes, age, sex ('M'/'F'), filename.
    """
    if check_fs(fs) not in (100, 500):
        raise ValueError(f"fs: PTB-XL comes at 100 or 500 Hz, got {fs!r}")
    fs = int(check_fs(fs))
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
    logger.log(logging.WARNING if n_absent else logging.INFO,
               "PTB-XL %d Hz, %s: %d records%s; %d without a superdiagnostic label dropped, %d labelled records "
               "without waveform files here skipped", fs, where, len(chosen), capped, int(unlabelled.sum()), n_absent)
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
    """LUDB: signals (200, 12, 5000) in true mV at 500 Hz with per-lead P/QRS/T masks and onset/peak/offset lists.

    signals: the digital samples / ``LUDB_ADC_GAIN`` (the header's per-lead gains are range normalisations and
    are ignored: see the module docstring).

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
            ecg = read_wfdb_record(folder / record, adc_gain=LUDB_ADC_GAIN)
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

    entry = _cached_arrays(cache_dir, "ludb", files, {"format": 2, "adc_gain": LUDB_ADC_GAIN}, build)
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


#: PTB-XL's recommended split by ``strat_fold`` (Wagner et al. 2020): train, validation, test.
PTBXL_FOLDS = {"train": tuple(range(1, 9)), "val": (9,), "test": (10,)}


def ptbxl_split(dataset: ECGDataset) -> tuple:
    """(train_idx, val_idx, test_idx): sorted index arrays of the records in ``strat_fold`` 1-8, 9 and 10.

    PTB-XL's folds keep each patient in one fold, so the split is patient-level; pretraining must never see the
    test fold."""
    if dataset.folds is None:
        raise ValueError(f"dataset {dataset.name!r} has no folds (strat_fold): expected PTB-XL or its stand-in")
    folds = np.asarray(dataset.folds)
    return tuple(np.flatnonzero(np.isin(folds, PTBXL_FOLDS[part])) for part in ("train", "val", "test"))


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
                     adc_gain: float | None = None, progress: bool = True) -> ECGDataset:
    """Every 12-lead WFDB record under ``path`` (recursively, by its .hea), as one dataset.

    fs: resample records at another rate to it (None: all records must share a rate).
    n_samples: crop every record to it; a shorter record is an error (None: all must have the same length).
    adc_gain: ADC units per mV, for files whose headers do not give the scale (see ``read_wfdb_record``).
    record_ids are the paths relative to ``path`` without extension.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"path={str(path)!r} is not a directory")
    headers = sorted(folder.rglob("*.hea"))
    if not headers:
        raise FileNotFoundError(f"{folder}: no WFDB header (.hea) found")
    records = [read_wfdb_record(h.with_suffix(""), fs=fs, n_samples=n_samples, adc_gain=adc_gain)
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
#: What ``load_dataset`` may do when a real dataset is absent: raise (None) or use the synthetic stand-in.
FALLBACKS = (None, "synthetic")
#: Options of the synthetic stand-in that the real loaders do not take (ignored when real data is found).
_SYNTHETIC_ONLY = ("n_records", "seed", "duration_s")


def load_dataset(name: str | os.PathLike, root: str | os.PathLike | None = None, *, fallback: str | None = None,
                 **kwargs) -> ECGDataset:
    """Load 'ptbxl', 'ludb', 'synthetic' or a folder of WFDB records through one call.

    kwargs go to ``load_ptbxl`` / ``load_ludb`` / ``load_wfdb_folder`` / ``synthetic.make_synthetic_dataset``.
    fallback: what to do when no real PTB-XL or LUDB is found (``data_root`` gives None).
      - None (default): raise FileNotFoundError saying how to get the data. Anything that trains or reports
        results must run on the data it names, never on a stand-in it did not ask for.
      - "synthetic": the embedded synthetic ECG stands in, announced by a ``logging`` warning (shown on stderr,
        in notebooks too, without any logging set-up): at ``fs`` (default 100 Hz) for 'ptbxl', at 500 Hz for
        'ludb'; ``n_records``, ``seed`` and ``duration_s`` shape it (``max_records`` caps it, ``folds`` selects
        its folds) and are ignored when real data is found, so the same call runs on both. The book uses this.
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback: expected None (raise when the data is absent) or 'synthetic', got {fallback!r}")
    if isinstance(name, str) and name == "synthetic":
        from .synthetic import make_synthetic_dataset

        return make_synthetic_dataset(**kwargs)
    if isinstance(name, str) and name in DATASET_DIRS:
        loader = load_ptbxl if name == "ptbxl" else load_ludb
        options = _check_options(name, loader, kwargs, fallback)
        if data_root(root, name) is None:
            if fallback is None:
                raise FileNotFoundError(f"no real {DATASET_DIRS[name]}/ found: {_no_data_message(name)}; or pass "
                                        f"fallback='synthetic' to use the embedded synthetic ECG (for demos only)")
            return _synthetic_stand_in(name, kwargs)
        return loader(root=root, **options)
    if root is None and Path(name).is_dir():
        return load_wfdb_folder(name, **kwargs)
    raise ValueError(f"unknown dataset {str(name)!r}: expected one of {', '.join(map(repr, DATASETS))} "
                     f"or an existing folder of WFDB records")


def _check_options(name: str, loader, kwargs: dict, fallback) -> dict:
    """The kwargs the real loader takes; a TypeError naming any option neither it nor the stand-in knows."""
    accepted = set(inspect.signature(loader).parameters) - {"root"}
    stand_in = set(_SYNTHETIC_ONLY) if fallback == "synthetic" else set()
    unknown = sorted(set(kwargs) - accepted - stand_in)
    if unknown:
        only_synthetic = sorted(set(unknown) & set(_SYNTHETIC_ONLY))
        hint = (f" ({', '.join(only_synthetic)} only shape the synthetic stand-in: pass fallback='synthetic')"
                if only_synthetic else "")
        raise TypeError(f"load_dataset({name!r}): unknown option(s) {', '.join(unknown)}; "
                        f"expected {', '.join(sorted(accepted | stand_in))}{hint}")
    return {key: value for key, value in kwargs.items() if key in accepted}


def _synthetic_stand_in(name: str, kwargs: dict) -> ECGDataset:
    from .synthetic import make_synthetic_dataset

    fs = check_fs(kwargs.get("fs", 100)) if name == "ptbxl" else 500.0
    n_records = kwargs.get("n_records") or (1000 if name == "ptbxl" else 200)
    n_records = min(n_records, kwargs.get("max_records") or n_records)
    logger.warning("no real %s found: using the embedded synthetic ECG (%d records at %g Hz) instead, as "
                   "fallback='synthetic' asks; for real data %s", DATASET_DIRS[name], n_records, fs,
                   _no_data_message(name))
    options = {key: kwargs[key] for key in ("seed", "duration_s") if key in kwargs}
    dataset = make_synthetic_dataset(n_records=n_records, fs=fs, **options)
    if kwargs.get("folds") is not None and dataset.folds is not None:
        dataset = dataset.subset(np.isin(dataset.folds, np.atleast_1d(kwargs["folds"])))
    return dataset
