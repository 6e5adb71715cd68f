"""The PhysioNet downloader against a local HTTP server that serves a tiny fake PhysioNet tree (no internet needed).

Checked: every file arrives byte-identical and verified against SHA256SUMS.txt; PTB-XL's first N records at one
rate; a checksum mismatch deletes the file and names it; files already verified are not fetched again and a
``.part`` continues with an HTTP Range request; a closed port or a silent server fails fast with a message on
how to use a local copy; archives whose members escape the target are refused.
"""

import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from beatssl_lite import download as dl

LUDB_FILES = ["RECORDS", "ludb.csv", "data/1.hea", "data/1.dat", "data/1.i", "data/1.v6", "data/2.hea", "data/2.dat"]
PTBXL_FILES = ["ptbxl_database.csv", "scp_statements.csv", "LICENSE.txt"] + [
    f"records{fs}/00000/{i:05d}_{'lr' if fs == 100 else 'hr'}.{ext}"
    for fs, n in ((100, 3), (500, 2)) for i in range(1, n + 1) for ext in ("hea", "dat")]


def write_tree(folder: Path, files, seed=0) -> dict:
    """Random bytes in each file plus PhysioNet's SHA256SUMS.txt; returns {relative path: content}."""
    rng = np.random.default_rng(seed)
    contents = {name: rng.bytes(int(rng.integers(50, 5000))) for name in files}
    for name, content in contents.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    write_sums(folder, contents)
    return contents


def write_sums(folder: Path, contents: dict) -> None:
    lines = [f"{hashlib.sha256(content).hexdigest()} {name}\n" for name, content in sorted(contents.items())]
    (folder / dl.SUMS_FILE).write_text("".join(lines))


class FakePhysioNet(BaseHTTPRequestHandler):
    """Serves files under ``server.root`` with Range support (206 / 416), logging (path, Range header)."""

    def do_GET(self):
        relative = unquote(urlparse(self.path).path).lstrip("/")
        self.server.requests.append((relative, self.headers.get("Range")))
        path = self.server.root / relative
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def physionet(tmp_path):
    """A fake PhysioNet at http://127.0.0.1:PORT/ with ludb/1.0.1/ and ptb-xl/1.0.3/ trees."""
    served = tmp_path / "server"
    trees = {"ludb": write_tree(served / "ludb" / "1.0.1", LUDB_FILES, seed=1),
             "ptbxl": write_tree(served / "ptb-xl" / "1.0.3", PTBXL_FILES, seed=2)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePhysioNet)
    server.root, server.requests = served, []
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    port = server.server_address[1]
    server.urls = {"ludb": f"http://127.0.0.1:{port}/ludb/1.0.1/", "ptbxl": f"http://127.0.0.1:{port}/ptb-xl/1.0.3/"}
    server.trees, server.folders = trees, {"ludb": served / "ludb" / "1.0.1", "ptbxl": served / "ptb-xl" / "1.0.3"}
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def files_under(folder: Path) -> set:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_ludb_whole_arrives_verified(physionet, tmp_path):
    folder = dl.download("ludb", root=tmp_path / "data", base_url=physionet.urls["ludb"], progress=False)
    assert folder == tmp_path / "data" / "ludb"
    assert files_under(folder) == set(LUDB_FILES) | {dl.SUMS_FILE}  # no .part or temporary file left
    for name, content in physionet.trees["ludb"].items():
        assert (folder / name).read_bytes() == content


def test_default_root_is_the_user_cache(physionet, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = dl.download("ludb", base_url=physionet.urls["ludb"], progress=False)
    assert folder == tmp_path / "xdg" / "beatssl_lite" / "ludb" and (folder / "data" / "1.dat").is_file()


@pytest.mark.parametrize("fs, max_records, records", [
    (100, 2, ["records100/00000/00001_lr", "records100/00000/00002_lr"]),
    (500, 1, ["records500/00000/00001_hr"]),
    (None, 1, ["records100/00000/00001_lr", "records500/00000/00001_hr"]),
    (100, None, [f"records100/00000/0000{i}_lr" for i in (1, 2, 3)]),
])
def test_ptbxl_metadata_plus_the_first_records_at_a_rate(physionet, tmp_path, fs, max_records, records):
    folder = dl.download("ptbxl", root=tmp_path, fs=fs, max_records=max_records, base_url=physionet.urls["ptbxl"],
                         progress=False)
    assert folder == tmp_path / "ptb-xl"
    expected = {"ptbxl_database.csv", "scp_statements.csv", "LICENSE.txt", dl.SUMS_FILE}
    expected |= {f"{record}.{ext}" for record in records for ext in ("hea", "dat")}
    assert files_under(folder) == expected


def test_checksum_mismatch_deletes_the_file_and_names_it(physionet, tmp_path):
    corrupt = physionet.folders["ludb"] / "data" / "1.dat"
    good = corrupt.read_bytes()
    corrupt.write_bytes(b"X" + good[1:])  # one byte differs from what SHA256SUMS.txt promises
    with pytest.raises(dl.ChecksumError, match=r"data/1\.dat") as error:
        dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert "deleted" in str(error.value)
    folder = tmp_path / "ludb"
    assert files_under(folder) == set(LUDB_FILES) - {"data/1.dat"} | {dl.SUMS_FILE}  # the rest is kept
    # once the server is right, a second run fetches only the missing file
    corrupt.write_bytes(good)
    physionet.requests.clear()
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert sorted(path for path, _ in physionet.requests) == sorted(["ludb/1.0.1/SHA256SUMS.txt", "ludb/1.0.1/data/1.dat"])
    assert (folder / "data" / "1.dat").read_bytes() == good


def test_a_local_file_that_changed_is_fetched_again(physionet, tmp_path):
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    (tmp_path / "ludb" / "ludb.csv").write_text("edited")
    physionet.requests.clear()
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert [path for path, _ in physionet.requests] == ["ludb/1.0.1/SHA256SUMS.txt", "ludb/1.0.1/ludb.csv"]
    assert (tmp_path / "ludb" / "ludb.csv").read_bytes() == physionet.trees["ludb"]["ludb.csv"]


def test_part_file_resumes_with_a_range_request(physionet, tmp_path):
    content = physionet.trees["ludb"]["data/1.dat"]
    part = tmp_path / "ludb" / "data" / "1.dat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(content[:37])
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert ("ludb/1.0.1/data/1.dat", "bytes=37-") in physionet.requests
    assert (tmp_path / "ludb" / "data" / "1.dat").read_bytes() == content and not part.exists()


def test_complete_part_file_is_finished_without_refetching(physionet, tmp_path):
    content = physionet.trees["ludb"]["data/2.dat"]
    part = tmp_path / "ludb" / "data" / "2.dat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(content)  # cut off after the last byte: the server answers 416
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert (tmp_path / "ludb" / "data" / "2.dat").read_bytes() == content


def test_corrupt_part_file_is_not_kept(physionet, tmp_path):
    content = physionet.trees["ludb"]["data/1.i"]
    part = tmp_path / "ludb" / "data" / "1.i.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage" + content[7:20])
    with pytest.raises(dl.ChecksumError, match=r"data/1\.i"):
        dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)
    assert not part.exists() and not (tmp_path / "ludb" / "data" / "1.i").exists()
    dl.download("ludb", root=tmp_path, base_url=physionet.urls["ludb"], progress=False)  # the rerun recovers
    assert (tmp_path / "ludb" / "data" / "1.i").read_bytes() == content


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_fails_with_a_local_copy_hint(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/ludb/1.0.1/"
    with pytest.raises(ConnectionError, match=r"cannot reach .*BEATSSL_DATA=DIR or pass root=DIR"):
        dl.download("ludb", root=tmp_path, base_url=url, progress=False, timeout=2)
    assert not (tmp_path / "ludb").exists()


def test_silent_server_times_out(tmp_path):
    with socket.socket() as sock:  # accepts connections (the kernel's backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/ludb/1.0.1/"
        with pytest.raises(dl.OfflineError, match="BEATSSL_DATA"):
            dl.download("ludb", root=tmp_path, base_url=url, progress=False, timeout=0.3)


def test_sums_file_with_an_escaping_path_is_refused(physionet, tmp_path):
    sums = physionet.folders["ludb"] / dl.SUMS_FILE
    sums.write_text(sums.read_text() + f"{'0' * 64} ../../outside.txt\n")
    with pytest.raises(ValueError, match="outside"):
        dl.download("ludb", root=tmp_path / "data", base_url=physionet.urls["ludb"], progress=False)
    assert not (tmp_path / "outside.txt").exists()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dataset.*'mitdb'"):
        dl.download("mitdb")
    with pytest.raises(ValueError, match="fs"):
        dl.download("ptbxl", fs=250)
    with pytest.raises(ValueError, match="max_records"):
        dl.download("ludb", max_records=3)


def test_command_line(physionet, tmp_path, capsys):
    folder = dl.main(["ludb", "--root", str(tmp_path), "--base-url", physionet.urls["ludb"], "--quiet"])
    assert folder == tmp_path / "ludb" and str(tmp_path) in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        dl.main(["ludb", "--root", str(tmp_path / "x"), "--base-url", f"http://127.0.0.1:{closed_port()}/", "--quiet"])
    assert stop.value.code == 1 and "BEATSSL_DATA" in capsys.readouterr().err


# --- archives ------------------------------------------------------------------------------------------------------

def make_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
    return path


def make_tar(path: Path, members: dict, symlink: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            bundle.addfile(info, io.BytesIO(content))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            bundle.addfile(info)
    return path


@pytest.mark.parametrize("make", [make_zip, make_tar])
def test_archive_extracts_inside_the_target(tmp_path, make):
    archive = make(tmp_path / "a.bin", {"ludb/RECORDS": b"data/1\n", "ludb/data/1.hea": b"header"})
    extracted = dl.extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out" / "ludb" / "data" / "1.hea").read_bytes() == b"header"
    assert tmp_path / "out" / "ludb" / "RECORDS" in extracted


@pytest.mark.parametrize("make", [make_zip, make_tar])
@pytest.mark.parametrize("member", ["../escape.txt", "ludb/../../escape.txt", "/tmp/escape-beatssl-test.txt"])
def test_archive_member_escaping_the_target_is_refused(tmp_path, make, member):
    archive = make(tmp_path / "a.bin", {"ludb/ok.txt": b"ok", member: b"evil"})
    with pytest.raises(ValueError, match="outside"):
        dl.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # checked before anything is written
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/escape-beatssl-test.txt").exists()


def test_tar_link_member_is_refused(tmp_path):
    archive = make_tar(tmp_path / "a.tgz", {"ludb/ok.txt": b"ok"}, symlink="ludb/link")
    with pytest.raises(ValueError, match="link"):
        dl.extract_archive(archive, tmp_path / "out")


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"plain text")
    with pytest.raises(ValueError, match="not a zip or tar"):
        dl.extract_archive(tmp_path / "x.zip", tmp_path / "out")
