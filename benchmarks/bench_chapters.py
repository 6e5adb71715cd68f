"""Chapter timing: each chapter notebook executed as ``pytest --nbmake`` executes it, its wall time beside the targets.

Targets (issue 10): at most 90 s per chapter and at most 10 minutes for the whole book, on 2 CPU cores, on the
embedded synthetic default (no BEATSSL_DATA, no data in the user cache). Each notebooks/NN_*.ipynb (the paired
copy of book/NN_*.md that pytest, nbmake and Colab run) is executed the way nbmake 1.5 does it: nbclient's
``NotebookClient`` with the notebook's own kernel (python3: this interpreter's environment), a per-cell timeout
(120 s, as pyproject.toml's ``--nbmake-timeout``), errors not allowed, cells tagged ``skip-execution`` skipped,
the notebook's folder as the working directory. The kernel inherits this process's environment (BEATSSL_DATA,
MPLBACKEND, thread settings, the user cache unless --fresh-cache), so the chapters pick real data exactly when a
newcomer's kernel would. One run per chapter, in book order (no repeats: a second run would find caches warm).
Figures per chapter: wall seconds (kernel start to shutdown), the kernel's CPU seconds (user + system of the
kernel process and its children, less sensitive to the machine's load than wall time), the slowest cell, and the
number of outputs that show a Python warning on the page (stderr text naming a ``...Warning:``): a strict build
does not fail on those, so they are counted here. Load average before and after each chapter. --quick: chapters
01 and 02 only. Exit status 1 when a chapter fails (its error printed), 0 otherwise: times are reported against
the targets, never asserted (they move with the load on a shared machine).

    python benchmarks/bench_chapters.py [--chapters 01 03_augment_3kg ...] [--timeout 120] [--quick]
    BEATSSL_DATA=/path/to/data python benchmarks/bench_chapters.py    # the same chapters on real data
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common

from beatssl_lite import DATA_ENV, data_root

NOTEBOOKS = common.REPO / "notebooks"
CHAPTER_TARGET_S = 90.0
BOOK_TARGET_S = 600.0
WARNING_LINE = re.compile(r"\b\w*Warning: ")


def chapters(selection: list[str] | None) -> list[Path]:
    """notebooks/NN_*.ipynb in book order; ``selection``: number prefixes ('03') or stems ('03_augment_3kg')."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return found
    chosen = []
    for key in selection:
        key = Path(key).stem
        matches = [path for path in found if path.stem == key or path.stem.split("_", 1)[0] == key]
        if not matches:
            raise SystemExit(f"--chapters: no notebooks/{key}*.ipynb (have {', '.join(p.stem for p in found)})")
        chosen += [path for path in matches if path not in chosen]
    return chosen


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cell_seconds(cell) -> float | None:
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_chapter(path: Path, timeout: int) -> dict:
    """Execute one notebook as nbmake does; wall and kernel CPU seconds, slowest cell, warnings shown, error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = NotebookClient(notebook, timeout=timeout, allow_errors=False, record_timing=True)
    error = None
    cpu0, start = _children_cpu_s(), time.perf_counter()
    try:
        client.execute(cwd=str(path.parent))
    except (CellExecutionError, CellTimeoutError) as failure:
        error = str(failure).strip()
    wall = time.perf_counter() - start
    cpu = _children_cpu_s() - cpu0  # the kernel is reaped at shutdown, so its CPU time counts here
    cells = [(i, _cell_seconds(cell)) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    timed = [(seconds, i) for i, seconds in cells if seconds is not None]
    warnings = []
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                warnings += [(i, line.strip()) for line in output.get("text", "").splitlines()
                             if WARNING_LINE.search(line)]
    return {"wall": wall, "cpu": cpu, "slowest": max(timed) if timed else None, "warnings": warnings,
            "error": error}


def data_line() -> str:
    """Which data the kernels will read: BEATSSL_DATA (or the user cache) per dataset, else the synthetic ECG."""
    configured = os.environ.get(DATA_ENV)
    found = {}
    for name in ("ptbxl", "ludb"):
        try:
            found[name] = data_root(None, name)
        except FileNotFoundError as error:
            raise SystemExit(f"{DATA_ENV}: {error}") from None
    where = ", ".join(f"{common.DATASET_NAMES[name]} {'from ' + str(root) if root else 'ABSENT'}"
                      for name, root in found.items())
    if not any(found.values()):
        return (f"data: {DATA_ENV} {'=' + repr(configured) if configured else 'unset'}, no real data found: "
                f"the chapters run on the embedded synthetic default (the targets' setting)")
    return (f"data: {DATA_ENV}={configured!r}; {where}: REAL DATA where present, not the embedded default "
            f"that the targets are set for")


def main() -> int:
    parser = common.parser(__doc__, repeats=1)
    parser.add_argument("--chapters", nargs="+", metavar="NN",
                        help="chapters to run: number prefixes (03) or notebook stems (03_augment_3kg); default all")
    parser.add_argument("--timeout", type=int, default=120,
                        help="seconds per cell, as pyproject.toml's --nbmake-timeout (default 120)")
    parser.add_argument("--fresh-cache", action="store_true",
                        help="kernels get an empty temporary XDG_CACHE_HOME, as .ci/run's book build (a newcomer's "
                             "first run: every cache cold); default: the user cache as it is")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="OMP_NUM_THREADS=N for the kernels (torch's intra-op threads); default: as set here "
                             "(unset: torch uses one thread per core)")
    args = parser.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads: expected >= 1, got {args.threads}")
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if args.fresh_cache:
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="bench-chapters-cache.")
    selected = chapters(["01", "02"] if args.quick and not args.chapters else args.chapters)
    data = data_line()
    common.print_header("chapter notebooks executed as pytest --nbmake does", args,
                        protocol=__doc__.split("\n\n")[1])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"   {cores} CPU cores usable by this process; MPLBACKEND={os.environ.get('MPLBACKEND', 'unset')}; "
          f"kernels' OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} "
          f"(the torch threads above are this process's); "
          f"kernel python {sys.executable}")
    print(f"   {data}")
    cache = f"EMPTY (--fresh-cache), {os.environ['XDG_CACHE_HOME']}" if args.fresh_cache else "as it is"
    print(f"   user cache: {cache}")
    print(f"{'chapter':24s} {'wall (s)':>9s} {'target':>7s} {'kernel CPU (s)':>15s} {'slowest cell':>16s} "
          f"{'warnings':>9s} {'load before/after':>18s}  result")
    total_wall, total_cpu, failed, over = 0.0, 0.0, [], []
    for path in selected:
        load_before = os.getloadavg()[0]
        result = run_chapter(path, args.timeout)
        load_after = os.getloadavg()[0]
        total_wall += result["wall"]
        total_cpu += result["cpu"]
        slowest = f"{result['slowest'][0]:.1f} s (#{result['slowest'][1]})" if result["slowest"] else "-"
        mark = "ok"
        if result["error"]:
            mark = "FAILED"
            failed.append((path.stem, result["error"]))
        if result["wall"] > CHAPTER_TARGET_S:
            mark += ", OVER 90 s"
            over.append(path.stem)
        print(f"{path.stem:24s} {result['wall']:9.1f} {CHAPTER_TARGET_S:7.0f} {result['cpu']:15.1f} "
              f"{slowest:>16s} {len(result['warnings']):9d} {load_before:8.1f} / {load_after:<7.1f}  {mark}",
              flush=True)
        for cell, line in result["warnings"][:5]:
            print(f"    warning shown, cell #{cell}: {line[:150]}")
    print(f"{'total':24s} {total_wall:9.1f} {BOOK_TARGET_S:7.0f} {total_cpu:15.1f}   "
          f"({len(selected)} chapter(s); book target {BOOK_TARGET_S / 60:.0f} min for all chapters"
          f"{', OVER' if total_wall > BOOK_TARGET_S else ''})")
    print(f"   load average at the end: {', '.join(f'{load:.1f}' for load in os.getloadavg())}")
    if over:
        print(f"   over the 90 s target on this run: {', '.join(over)} (rerun on a quieter machine before acting)")
    if args.fresh_cache:
        shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)
    for stem, error in failed:
        print(f"\n{stem} FAILED:\n{error[-3000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
