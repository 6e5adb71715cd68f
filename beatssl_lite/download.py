"""Download LUDB and PTB-XL from PhysioNet: checksums verified, resumable, archives extracted safely.

[ours] Files are fetched one by one from PhysioNet's file tree (``https://physionet.org/files/<project>/<version>/``)
and each is checked against the project's ``SHA256SUMS.txt``: a file that does not match is deleted and named in
the error. That makes a download resumable at two levels: files already present and verified are skipped, and a
file cut off halfway continues from its ``.part`` with an HTTP Range request. Only the standard library (urllib)
is used, so the downloader adds no dependency. Without internet the first request fails within ``timeout``
seconds, with a message that says how to point the package at a local copy instead (``BEATSSL_DATA`` / ``root=``).

Command line: ``python -m beatssl_lite.download ludb --root DIR`` (``--help`` lists the options).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from tqdm import tqdm

from .cache import atomic_write_bytes
from .datasets import DATA_ENV, DATASET_DIRS, user_cache_dir

#: PhysioNet file trees of the versions the loaders are written for.
PHYSIONET = {"ludb": "https://physionet.org/files/ludb/1.0.1/", "ptbxl": "https://physionet.org/files/ptb-xl/1.0.3/"}
SUMS_FILE = "SHA256SUMS.txt"
_USER_AGENT = "beatssl-lite downloader (urllib)"


class ChecksumError(ValueError):
    """A downloaded file whose SHA256 differs from PhysioNet's (the file has been deleted)."""


class OfflineError(ConnectionError):
    """The server did not answer; the message says how to use a local copy instead."""


def download(dataset: str, root: str | os.PathLike | None = None, fs: int | None = 100, max_records: int | None = None,
             progress: bool = True, base_url: str | None = None, timeout: float = 10.0, workers: int = 4) -> Path:
    """Fetch ``dataset`` into ``root/ludb`` or ``root/ptb-xl`` (default root: ``user_cache_dir()``); return that folder.

    ludb: the whole database (200 records, about 2,800 files).
    ptbxl: the metadata files (the two CSVs, licence, ...) plus the records at ``fs`` (100 or 500 Hz, None for
    both rates); with ``max_records``, only the first that many records (ecg_id order) of each rate.
    base_url: a PhysioNet mirror laid out like ``PHYSIONET[dataset]``. timeout: seconds before a request that
    does not answer counts as offline. workers: files fetched in parallel.
    Raises OfflineError, a ConnectionError (offline: its message says how to use a local copy instead), and
    ChecksumError naming every file whose checksum did not match (those are deleted; the verified ones are kept,
    so running again resumes).
    """
    if dataset not in PHYSIONET:
        raise ValueError(f"dataset: expected one of {', '.join(sorted(PHYSIONET))}, got {dataset!r}")
    if fs not in (100, 500, None):
        raise ValueError(f"fs: PTB-XL comes at 100 or 500 Hz (None for both), got {fs!r}")
    if max_records is not None and (dataset != "ptbxl" or not isinstance(max_records, int) or max_records < 1):
        raise ValueError(f"max_records: a positive integer, for ptbxl only (LUDB comes whole), got {max_records!r}")
    target = Path(root).expanduser() if root is not None else user_cache_dir()
    target = target / DATASET_DIRS[dataset]
    base = (base_url or PHYSIONET[dataset]).rstrip("/") + "/"

    sums_text = _fetch_bytes(base + SUMS_FILE, dataset, timeout).decode()
    checksums = _parse_sums(sums_text, target)
    wanted = _select(dataset, checksums, fs, max_records)
    target.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target / SUMS_FILE, sums_text.encode())
    todo = []
    for relative in wanted:
        path = target / relative
        if path.is_file() and _sha256(path) == checksums[relative]:
            continue
        path.unlink(missing_ok=True)  # a stale or corrupt copy must not survive a failed re-download
        todo.append(relative)

    failures = []
    with tqdm(total=len(wanted), initial=len(wanted) - len(todo), unit="file", desc=f"{dataset} -> {target}",
              disable=not progress) as bar, ThreadPoolExecutor(max(1, workers)) as pool:
        futures = [pool.submit(_fetch_file, base + quote(relative), target / relative, checksums[relative],
                               dataset, timeout) for relative in todo]
        for future in as_completed(futures):
            try:
                future.result()
            except ChecksumError as error:
                failures.append(str(error))
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
            bar.update()
    if failures:
        raise ChecksumError(f"{len(failures)} file(s) did not match {SUMS_FILE} and were deleted (run again to "
                            f"retry): " + "; ".join(sorted(failures)))
    return target


def _offline_message(url: str, dataset: str, reason) -> str:
    folder = DATASET_DIRS[dataset]
    return (f"cannot reach {url} ({reason}). Without internet, use a local copy: put PhysioNet's {dataset} files "
            f"in DIR/{folder}/ and set {DATA_ENV}=DIR or pass root=DIR (fetch them elsewhere with "
            f"`python -m beatssl_lite.download {dataset} --root DIR`)")


def _open(url: str, dataset: str, timeout: float, offset: int = 0):
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError:
        raise
    except (URLError, TimeoutError, ConnectionError) as error:
        raise OfflineError(_offline_message(url, dataset, getattr(error, "reason", error))) from None


def _fetch_bytes(url: str, dataset: str, timeout: float) -> bytes:
    try:
        with _open(url, dataset, timeout) as response:
            return response.read()
    except HTTPError as error:
        raise FileNotFoundError(f"{url}: HTTP {error.code} {error.reason}") from None
    except OfflineError:
        raise
    except (TimeoutError, ConnectionError) as error:  # the connection dropped while reading
        raise OfflineError(_offline_message(url, dataset, error)) from None


def _fetch_file(url: str, path: Path, sha256: str, dataset: str, timeout: float) -> None:
    """Download ``url`` to ``path`` through ``path.part`` (resumed with a Range request), then verify it."""
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    try:
        with _open(url, dataset, timeout, offset) as response:
            resumed = offset > 0 and response.status == 206  # a server that ignores Range resends it all
            with open(part, "ab" if resumed else "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
    except HTTPError as error:
        if not (error.code == 416 and offset):  # 416: the .part already holds the whole file
            raise FileNotFoundError(f"{url}: HTTP {error.code} {error.reason}") from None
    except OfflineError:
        raise
    except (TimeoutError, ConnectionError) as error:  # the connection dropped while reading: the .part stays
        raise OfflineError(_offline_message(url, dataset, error)) from None
    digest = _sha256(part)
    if digest != sha256:
        part.unlink()
        raise ChecksumError(f"{path} (sha256 {digest[:12]}..., expected {sha256[:12]}...)")
    os.replace(part, path)


def _parse_sums(text: str, target: Path) -> dict:
    """{relative path: sha256} from PhysioNet's 'HASH PATH' lines; a path leaving ``target`` is refused."""
    checksums = {}
    for line in text.splitlines():
        if line.strip():
            digest, relative = line.strip().split(maxsplit=1)
            _check_inside(target, relative, SUMS_FILE)
            checksums[relative] = digest.lower()
    return checksums


def _select(dataset: str, checksums: dict, fs: int | None, max_records: int | None) -> list:
    """The files to fetch: LUDB whole; PTB-XL's metadata plus the (first ``max_records``) records at ``fs``."""
    if dataset == "ludb":
        return sorted(checksums)
    rates = [fs] if fs is not None else [100, 500]
    chosen = [relative for relative in checksums if not relative.startswith(("records100/", "records500/"))]
    for rate in rates:
        files = sorted(relative for relative in checksums if relative.startswith(f"records{rate}/"))
        records = sorted({relative.rsplit(".", 1)[0] for relative in files})[:max_records]
        keep = set(records)
        chosen += [relative for relative in files if relative.rsplit(".", 1)[0] in keep]
    return sorted(chosen)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_inside(target: Path, member: str, source) -> None:
    """Raise ValueError unless ``target/member`` stays inside ``target`` (no absolute path, no '..' escape)."""
    root = Path(os.path.abspath(target))
    destination = Path(os.path.abspath(root / member))
    if destination != root and root not in destination.parents:
        raise ValueError(f"{source}: {member!r} would land outside {target}; refused")


def extract_archive(archive: str | os.PathLike, target: str | os.PathLike) -> list:
    """Extract a zip or tar archive (e.g. PhysioNet's project zip) into ``target``; return the extracted paths.

    Every member is checked before anything is written: a path that would land outside ``target`` (absolute, or
    escaping with '..') refuses the whole archive, and so does a tar link or device member, since only regular
    files and folders are expected.
    """
    archive, target = Path(archive), Path(target)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            names = bundle.namelist()
            for name in names:
                _check_inside(target, name, archive)
            target.mkdir(parents=True, exist_ok=True)
            bundle.extractall(target)
        return [target / name for name in names]
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
            for member in members:
                _check_inside(target, member.name, archive)
                if not (member.isfile() or member.isdir()):
                    raise ValueError(f"{archive}: {member.name!r} is a link or device, not a file or folder; refused")
            target.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the safe filter, on top of the checks
                bundle.extractall(target, filter="data")
            else:
                bundle.extractall(target)
        return [target / member.name for member in members]
    raise ValueError(f"{archive}: not a zip or tar archive")


def main(argv: list | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m beatssl_lite.download", description=(
        "Download LUDB or PTB-XL from PhysioNet, verified against its SHA256SUMS.txt; run again to resume."))
    parser.add_argument("dataset", choices=sorted(PHYSIONET))
    parser.add_argument("--root", help=f"data root to fill (default: the user cache, {user_cache_dir()}); point "
                                       f"{DATA_ENV} at it afterwards")
    parser.add_argument("--fs", choices=("100", "500", "both"), default="100", help="PTB-XL sampling rate")
    parser.add_argument("--max-records", type=int, help="PTB-XL: only the first N records (ecg_id order)")
    parser.add_argument("--base-url", help="a PhysioNet mirror laid out like the project's file tree")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a silent server counts as offline")
    parser.add_argument("--workers", type=int, default=4, help="files fetched in parallel")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        folder = download(args.dataset, root=args.root, fs=None if args.fs == "both" else int(args.fs),
                          max_records=args.max_records, progress=not args.quiet, base_url=args.base_url,
                          timeout=args.timeout, workers=args.workers)
    except (ConnectionError, ValueError, FileNotFoundError) as error:
        parser.exit(1, f"error: {error}\n")
    print(f"{args.dataset} is in {folder}: load it with {DATA_ENV}={folder.parent} or root={str(folder.parent)!r}")
    return folder


if __name__ == "__main__":
    main()
