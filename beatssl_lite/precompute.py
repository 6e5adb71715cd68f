"""Per-record precompute for a whole dataset: features, R peaks and beat classes, cached on disk.

**[paper]** Beat-SSL's targets come from the raw (un-augmented) ECG, through a peak detector, a feature extractor
and a beat classifier that run before training. **[ours]** ``precompute`` runs ``features.extract`` and a
``BeatClassifier`` once per record, in worker processes, and caches what they give per record and per beat only,
never pairwise: a ``FeatureCache``. Training gathers a batch's rows with ``FeatureCache.batch`` and builds the
batch's targets from them (``targets``), so nothing scales with the dataset size squared.

Writes go through ``cache.atomic_savez`` and the cache file is named by ``cache.content_key`` of everything its
contents depend on, so a stale cache is never read and an interrupted run resumes from the chunks it finished.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import shutil
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from .beat_classes import BeatClassifier, classify_beats
from .cache import atomic_savez, content_key

logger = logging.getLogger(__name__)

#: Layout of the cache file; bump when it changes (it is part of the cache key, so old files are never read).
CACHE_FORMAT = "beatssl_lite.precompute.features/2"
#: Modules whose code determines the cached values: their source is part of the cache key.
_FEATURE_MODULES = ("vocabulary", "validation", "vcg", "beats", "delineation", "features")


class FeatureBatch(NamedTuple):
    """The cached rows of one batch of B records (``FeatureCache.batch``): what a training step's targets and beat
    pooling are built from.

    record_features: (B, F_r) float64; beat_features: (M, F_b) float64, the beats of the B records concatenated in
    batch order; beat_record_index: (M,) int64 position 0..B-1 in the batch of each beat's record; beat_classes:
    (M,) int8 codes into ``vocabulary.BEAT_CLASSES``; r_peaks: B arrays of R-peak sample indices, one per record
    (length = its beat count). NaN marks an undefined feature.
    """

    record_features: np.ndarray
    beat_features: np.ndarray
    beat_record_index: np.ndarray
    beat_classes: np.ndarray
    r_peaks: list


@dataclass
class FeatureCache:
    """Precomputed per-record and per-beat features, R peaks and beat classes of a dataset (``precompute``).

    Beats are stored concatenated over records, CSR-like: the beats of record i are rows
    ``beat_offsets[i]:beat_offsets[i + 1]`` of ``beat_features``, ``r_peaks`` and ``beat_classes``.
    record_ids: (N,) str; record_features: (N, F_r) float64 (NaN where undefined, e.g. a record without beats);
    beat_features: (M, F_b) float64; beat_offsets: (N + 1,) int64; r_peaks: (M,) int64 samples at ``fs``;
    beat_classes: (M,) int8. version: hash of the code that computed it (``feature_code_version``).
    """

    record_ids: np.ndarray
    fs: float
    record_features: np.ndarray
    record_feature_names: tuple
    beat_features: np.ndarray
    beat_feature_names: tuple
    beat_offsets: np.ndarray
    r_peaks: np.ndarray
    beat_classes: np.ndarray
    version: str = ""
    path: Path | None = None

    def __post_init__(self):
        n, m = len(self.record_ids), len(self.beat_features)
        checks = (
            ("record_features", self.record_features.shape, (n, len(self.record_feature_names))),
            ("beat_features", self.beat_features.shape, (m, len(self.beat_feature_names))),
            ("beat_offsets", self.beat_offsets.shape, (n + 1,)),
            ("r_peaks", self.r_peaks.shape, (m,)),
            ("beat_classes", self.beat_classes.shape, (m,)),
        )
        for name, got, expected in checks:
            if got != expected:
                raise ValueError(f"FeatureCache.{name}: expected shape {expected}, got {got}")
        if self.beat_offsets[0] != 0 or self.beat_offsets[-1] != m or (np.diff(self.beat_offsets) < 0).any():
            raise ValueError(f"FeatureCache.beat_offsets: expected non-decreasing offsets from 0 to {m}")

    def __len__(self) -> int:
        return len(self.record_ids)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return (f"FeatureCache({len(self)} records, {len(self.beat_features)} beats, fs={self.fs:g} Hz, "
                f"{len(self.record_feature_names)} record / {len(self.beat_feature_names)} beat features{where})")

    @property
    def beat_counts(self) -> np.ndarray:
        """(N,) number of beats of each record."""
        return np.diff(self.beat_offsets)

    def batch(self, indices) -> FeatureBatch:
        """The cached rows of the records at ``indices`` ((B,) ints into the dataset), in that order."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or (len(indices) and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(f"indices: expected a 1-D array of record indices, got {indices.dtype} {indices.shape}")
        if len(indices) and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise IndexError(f"indices: out of range for a cache of {len(self)} records")
        indices = indices % max(len(self), 1)
        starts, stops = self.beat_offsets[indices], self.beat_offsets[indices + 1]
        counts = stops - starts
        # rows of the selected beats, without a Python loop: each beat's offset inside its record plus its start
        first = np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(starts, counts) + np.arange(counts.sum(), dtype=np.int64) - first
        return FeatureBatch(
            record_features=self.record_features[indices],
            beat_features=self.beat_features[rows],
            beat_record_index=np.repeat(np.arange(len(indices), dtype=np.int64), counts),
            beat_classes=self.beat_classes[rows],
            r_peaks=[self.r_peaks[a:b] for a, b in zip(starts, stops)],
        )

    def save(self, path) -> Path:
        """Write the cache to ``path`` (.npz), atomically."""
        return atomic_savez(
            Path(path),
            format=np.array(CACHE_FORMAT),
            version=np.array(self.version),
            record_ids=np.asarray(self.record_ids, dtype=str),
            fs=np.array(float(self.fs)),
            record_features=self.record_features,
            record_feature_names=np.asarray(self.record_feature_names, dtype=str),
            beat_features=self.beat_features,
            beat_feature_names=np.asarray(self.beat_feature_names, dtype=str),
            beat_offsets=self.beat_offsets,
            r_peaks=self.r_peaks,
            beat_classes=self.beat_classes,
        )

    @classmethod
    def load(cls, path) -> "FeatureCache":
        """Read a cache written by ``save``; a file of another format is refused, naming the file."""
        path = Path(path)
        with np.load(path) as z:
            found = str(z["format"]) if "format" in z.files else "none"
            if found != CACHE_FORMAT:
                raise ValueError(f"{path}: cache format {found!r}, expected {CACHE_FORMAT!r}")
            return cls(
                record_ids=z["record_ids"],
                fs=float(z["fs"]),
                record_features=z["record_features"],
                record_feature_names=tuple(str(n) for n in z["record_feature_names"]),
                beat_features=z["beat_features"],
                beat_feature_names=tuple(str(n) for n in z["beat_feature_names"]),
                beat_offsets=z["beat_offsets"],
                r_peaks=z["r_peaks"],
                beat_classes=z["beat_classes"],
                version=str(z["version"]),
                path=path,
            )


def _describe(function) -> str:
    """Source (or qualified name) of a callable, with a partial's bound arguments: part of the cache key."""
    if isinstance(function, functools.partial):
        return _describe(function.func) + repr((function.args, sorted(function.keywords.items())))
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))}"


def feature_code_version(classifier: BeatClassifier = classify_beats) -> str:
    """A hash of the code that produces the cached values: the source of the feature modules and of the classifier.

    Any edit to the feature modules (``_FEATURE_MODULES``) or to the classifier gives a new version, hence a fresh
    cache: a stale cache can never be read by mistake.
    """
    sources = {}
    for module in _FEATURE_MODULES:
        source = Path(__file__).with_name(f"{module}.py")
        if source.exists():
            sources[module] = hashlib.sha256(source.read_bytes()).hexdigest()
    return content_key([CACHE_FORMAT, sources, _describe(classifier)])[:16]


def cache_key(dataset, version: str) -> str:
    """Content key of a dataset's precompute: record ids, fs, signal shape, name, code ``version``, and the first and
    last signals (so that two synthetic sets with the same ids but different seeds do not collide)."""
    signals = hashlib.sha256()
    if len(dataset):
        for i in (0, len(dataset) - 1):
            signals.update(np.ascontiguousarray(dataset.signals[i], dtype=np.float32).tobytes())
    parts = [CACHE_FORMAT, version, str(dataset.name), float(dataset.fs), list(np.shape(dataset.signals)),
             [str(record_id) for record_id in dataset.record_ids], signals.hexdigest()]
    return content_key(parts)[:20]


def _extract_chunk(signals: np.ndarray, fs: float, record_ids, classifier: BeatClassifier) -> dict:
    """Features, R peaks and beat classes of a chunk of records (runs in a worker process)."""
    from . import features

    n_beat_features = len(features.BEAT_FEATURES)
    records, beats, counts, peaks, classes = [], [], [], [], []
    for signal, record_id in zip(signals, record_ids):
        try:
            ecg = features.extract(np.asarray(signal, dtype=np.float32), fs)
            codes = np.asarray(classifier(ecg))
        except Exception as err:
            raise RuntimeError(f"precompute: record {record_id!r} failed: {type(err).__name__}: {err}") from err
        n = len(ecg.r_peaks)
        if codes.shape != (n,):
            raise ValueError(f"classifier: expected ({n},) class codes for record {record_id!r}, got {codes.shape}")
        records.append(np.asarray(ecg.record, dtype=np.float64))
        beats.append(np.asarray(ecg.beats, dtype=np.float64).reshape(n, n_beat_features))
        counts.append(n)
        peaks.append(np.asarray(ecg.r_peaks, dtype=np.int64))
        classes.append(codes.astype(np.int8))
    return dict(
        record_features=np.stack(records),
        beat_features=np.concatenate(beats),
        beat_counts=np.asarray(counts, dtype=np.int64),
        r_peaks=np.concatenate(peaks),
        beat_classes=np.concatenate(classes),
    )


def _n_workers(n_jobs: int, n_tasks: int) -> int:
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs: expected a positive number of processes or -1 (all cores), got {n_jobs!r}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores if n_jobs == -1 else int(n_jobs), n_tasks))


def precompute(
    dataset,
    cache_dir=None,
    n_jobs: int = -1,
    progress: bool = True,
    classifier: BeatClassifier = classify_beats,
    chunk_size: int = 64,
) -> FeatureCache:
    """``features.extract`` + beat classes for every record of ``dataset``, in parallel, cached on disk.

    dataset: an ``ECGDataset`` (``signals``, ``fs``, ``record_ids``, ``name``). cache_dir: where caches live
    (default ``user_cache_dir() / 'features'``). n_jobs: worker processes (-1: all cores; 1: in this process, no
    pool). progress: a tqdm bar over records. classifier: a ``BeatClassifier``. chunk_size: records per work unit
    and per on-disk shard.

    The cache file ``features-<key>.npz`` is keyed by ``cache_key`` (record ids, fs, shape, a hash of the feature
    code and classifier): a second call loads it without extracting anything. While running, each finished chunk
    is written as a shard under ``features-<key>.part/``; an interrupted run resumes from the shards it left, and
    the merged file replaces them at the end. Every write is atomic (``cache.atomic_savez``). Memory: at most two
    chunks per worker are in flight, so a memory-mapped dataset is never read whole. Results do not depend on
    n_jobs or chunk_size: each record is processed on its own, deterministically. What happens (cache hit, resumed
    shards, the file written) is logged through ``logging`` at INFO.
    """
    from . import features
    from .datasets import user_cache_dir

    for attribute in ("signals", "fs", "record_ids", "name"):
        if not hasattr(dataset, attribute):
            raise TypeError(f"dataset: expected an ECGDataset (signals, fs, record_ids, name), "
                            f"got {type(dataset).__name__}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive number of records, got {chunk_size!r}")
    _n_workers(n_jobs, 1)  # validates n_jobs before anything is written
    cache_dir = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "features"
    version = feature_code_version(classifier)
    key = cache_key(dataset, version)
    final = cache_dir / f"features-{key}.npz"
    if final.exists():
        logger.info("precompute %s: cached features loaded from %s", dataset.name, final)
        return FeatureCache.load(final)

    parts = cache_dir / f"features-{key}.part"
    parts.mkdir(parents=True, exist_ok=True)
    n = len(dataset)
    chunks = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]

    def shard(chunk) -> Path:
        return parts / f"records-{chunk[0]:07d}-{chunk[1]:07d}.npz"

    todo = [chunk for chunk in chunks if not shard(chunk).exists()]
    ids = [str(record_id) for record_id in dataset.record_ids]

    def job(chunk):
        a, b = chunk
        return np.asarray(dataset.signals[a:b], dtype=np.float32), float(dataset.fs), ids[a:b], classifier

    done = n - sum(b - a for a, b in todo)
    workers = _n_workers(n_jobs, len(todo))
    if done:
        logger.info("precompute %s: resuming, %d of %d records already in %s", dataset.name, done, n, parts)
    logger.info("precompute %s: extracting %d records with %d process(es)", dataset.name, n - done, workers)
    with tqdm(total=n, initial=done, disable=not progress, desc=f"features {dataset.name}", unit="rec") as bar:
        if workers == 1:
            for chunk in todo:
                atomic_savez(shard(chunk), **_extract_chunk(*job(chunk)))
                bar.update(chunk[1] - chunk[0])
        elif todo:
            # At most 2 chunks per worker in flight, so a memmapped dataset is never copied whole.
            pool = ProcessPoolExecutor(workers)
            try:
                queue, running = list(todo), {}
                while queue or running:
                    while queue and len(running) < 2 * workers:
                        chunk = queue.pop(0)
                        running[pool.submit(_extract_chunk, *job(chunk))] = chunk
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        chunk = running.pop(future)
                        atomic_savez(shard(chunk), **future.result())
                        bar.update(chunk[1] - chunk[0])
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    pieces = []
    for chunk in chunks:
        with np.load(shard(chunk)) as z:
            pieces.append({name: z[name] for name in z.files})
    counts = np.concatenate([p["beat_counts"] for p in pieces]) if pieces else np.zeros(0, np.int64)
    n_record, n_beat = len(features.RECORD_FEATURES), len(features.BEAT_FEATURES)
    cache = FeatureCache(
        record_ids=np.asarray(ids, dtype=str),
        fs=float(dataset.fs),
        record_features=np.concatenate([p["record_features"] for p in pieces]) if pieces else np.zeros((0, n_record)),
        record_feature_names=tuple(features.RECORD_FEATURES),
        beat_features=np.concatenate([p["beat_features"] for p in pieces]) if pieces else np.zeros((0, n_beat)),
        beat_feature_names=tuple(features.BEAT_FEATURES),
        beat_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        r_peaks=np.concatenate([p["r_peaks"] for p in pieces]) if pieces else np.zeros(0, np.int64),
        beat_classes=np.concatenate([p["beat_classes"] for p in pieces]) if pieces else np.zeros(0, np.int8),
        version=version,
    )
    cache.path = cache.save(final)
    shutil.rmtree(parts, ignore_errors=True)
    logger.info("precompute %s: %d records, %d beats written to %s", dataset.name, n, len(cache.beat_features), final)
    return cache
