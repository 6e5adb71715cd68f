"""Loading PTB-XL cold (parsing every WFDB record) vs from the memory-mapped cache: records/s, speed-up, peak memory.

    python benchmarks/bench_data_cache.py [--data DIR] [--fs 100] [--max-records N] [--quick]

The data root is --data, else BEATSSL_DATA, else the user cache; without a PTB-XL there, a fake tree of WFDB
records written with wfdb (tests/data_fixtures.py) stands in, and the output says so. Each load goes through
``load_ptbxl`` and then reads every sample (a sum over the signals), so the cached load pays for the pages it maps
in; the lazy open alone is printed too. The cold load starts from an empty temporary cache folder; the cached
load is the best of --repeats. Peak memory is tracemalloc's peak of Python/numpy allocations (pages of a
memory-mapped file are not allocations, which is the point of the cache).

With LUDB found, it also times the annotation reader ``read_wave_annotations`` against ``wfdb.rdann`` on the same
files, after checking that both give the same samples and symbols.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import common
import numpy as np

from beatssl_lite import datasets, wfdb_io

REPO = Path(__file__).resolve().parents[1]


def fake_root(folder: Path, n_records: int) -> Path:
    """A PTB-XL stand-in of ``n_records`` labelled 100 Hz records under ``folder``."""
    sys.path.insert(0, str(REPO / "tests"))
    from data_fixtures import simple_ptbxl_rows, write_fake_ptbxl

    write_fake_ptbxl(folder, rows=simple_ptbxl_rows(n_records))
    return folder


class _Collect(logging.Handler):
    def __init__(self, lines: list):
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def logged_lines(name: str):
    """Collect what logger ``name`` says (the loader's count line) instead of letting it reach stderr."""
    logger, lines = logging.getLogger(name), []
    handler, propagate, level = _Collect(lines), logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)


def timed_load(root: Path, fs: int, cache: Path, max_records: int | None, trace: bool = False) -> dict:
    """One load_ptbxl plus a read of every sample: seconds, lazy-open seconds, records, and with ``trace`` the
    tracemalloc peak (traced in a separate run: tracing slows pandas down several times)."""
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    with logged_lines("beatssl_lite.datasets") as lines:
        dataset = datasets.load_ptbxl(root, fs=fs, max_records=max_records, cache_dir=cache, progress=False)
    opened = time.perf_counter() - start
    checksum = float(np.sum(dataset.signals, dtype=np.float64))  # reads every page, no float64 copy
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {"seconds": seconds, "opened": opened, "records": len(dataset), "peak": peak, "checksum": checksum,
            "line": " ".join(lines), "bytes": dataset.signals.nbytes}


def bench_ptbxl(root: Path, fs: int, max_records: int | None, repeats: int) -> None:
    runs = {}
    for trace in (False, True):
        with tempfile.TemporaryDirectory(prefix="beatssl-bench-cache-") as cache:
            cold = timed_load(root, fs, Path(cache), max_records, trace)
            warm = min((timed_load(root, fs, Path(cache), max_records, trace) for _ in range(repeats)),
                       key=lambda result: result["seconds"])
        assert warm["checksum"] == cold["checksum"], "the cached arrays differ from the parsed ones"
        runs[trace] = cold, warm
    (cold, warm), (cold_traced, warm_traced) = runs[False], runs[True]
    n = cold["records"]
    print(f"  {cold['line']}")
    print(f"  {n} records at {fs} Hz, {cold['bytes'] / 2**20:.1f} MiB of float32 signals")
    print(f"  {'load':<34}{'seconds':>9}{'records/s':>12}{'peak MiB':>10}   of which load_ptbxl / reading samples")
    for name, result, traced in (("cold (parse WFDB, write cache)", cold, cold_traced),
                                 ("cached (memmap, read all)", warm, warm_traced)):
        print(f"  {name:<34}{result['seconds']:>9.3f}{n / result['seconds']:>12,.0f}{traced['peak'] / 2**20:>10.1f}"
              f"   {result['opened']:.3f} s / {result['seconds'] - result['opened']:.3f} s")
    print(f"  speed-up cached vs cold: {cold['seconds'] / warm['seconds']:.1f}x; "
          f"peak memory cold / cached: {cold_traced['peak'] / max(warm_traced['peak'], 1):.1f}x")


def bench_annotations(ludb: Path, n_records: int) -> None:
    import wfdb

    records = [line.strip() for line in (ludb / "RECORDS").read_text().splitlines() if line.strip()][:n_records]
    pairs = [(ludb / record, ext) for record in records for ext in datasets.LUDB_EXTENSIONS]
    for path, ext in pairs[:24]:  # same output first: a faster reader of wrong annotations is no use
        samples, symbols = wfdb_io.read_wave_annotations(f"{path}.{ext}")
        reference = wfdb.rdann(str(path), ext)
        keep = [symbol in "()pNt" for symbol in reference.symbol]
        assert symbols == [s for s, k in zip(reference.symbol, keep) if k]
        assert np.array_equal(samples, reference.sample[keep])
    timings = {}
    for name, read in (("wfdb.rdann", lambda path, ext: wfdb.rdann(str(path), ext)),
                       ("read_wave_annotations", lambda path, ext: wfdb_io.read_wave_annotations(f"{path}.{ext}"))):
        start = time.perf_counter()
        for path, ext in pairs:
            read(path, ext)
        timings[name] = time.perf_counter() - start
    print(f"  {len(pairs)} annotation files ({len(records)} LUDB records x 12 leads), same samples and symbols")
    for name, seconds in timings.items():
        print(f"  {name:<24}{seconds:>8.3f} s{len(pairs) / seconds:>10,.0f} files/s")
    print(f"  speed-up: {timings['wfdb.rdann'] / timings['read_wave_annotations']:.1f}x")


def main() -> None:
    parser = common.parser(__doc__, data="ptbxl", repeats=3)
    parser.add_argument("--fs", type=int, default=100, choices=(100, 500))
    parser.add_argument("--max-records", type=int, help="only the first N records (--quick: 200, 20 LUDB records, "
                                                        "1 repeat)")
    args = parser.parse_args()
    max_records = 200 if args.quick and args.max_records is None else args.max_records
    repeats = 1 if args.quick else args.repeats
    common.print_header("PTB-XL load: cold WFDB parse vs memory-mapped cache; LUDB annotation reader", args,
                        protocol="load_ptbxl then a sum over every sample; cold from an empty cache folder, cached "
                                 "best of --repeats; peak = tracemalloc peak of Python/numpy allocations")

    root = common.data_source(args, "ptbxl", fallback="A GENERATED FAKE TREE OF WFDB RECORDS AT 100 HZ")
    with tempfile.TemporaryDirectory(prefix="beatssl-bench-fake-") as fake:
        if root is None:
            root = fake_root(Path(fake), max_records or 1000)
            args.fs = 100
        bench_ptbxl(root, args.fs, max_records, repeats)

    try:
        ludb_root = datasets.data_root(getattr(args, "data", None), "ludb")
    except FileNotFoundError:
        ludb_root = None
    if ludb_root is None:
        print("no LUDB found: annotation reader timing skipped")
    else:
        print(f"LUDB annotations from {ludb_root}")
        bench_annotations(ludb_root / "ludb", 20 if args.quick else 200)

if __name__ == "__main__":
    main()
