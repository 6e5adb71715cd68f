"""The downloader against a local HTTP server holding a tiny fake PhysioNet tree (no internet needed)."""

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from beatssl_lite import download as dl


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def write_project(folder: Path, files: dict, corrupt: tuple = ()) -> None:
    """Files plus SHA256SUMS.txt; the files in ``corrupt`` are changed after their checksum was taken."""
    sums = []
    for relative, content in sorted(files.items()):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content + b"corrupted" if relative in corrupt else content)
        sums.append(f"{sha256(content)} {relative}\n")
    (folder / dl.SUMS_FILE).write_text("".join(sums))


def ludb_files() -> dict:
    rng = np.random.default_rng(0)
    files = {"RECORDS": b"data/1\ndata/2\n", "ludb.csv": b"ID,Sex\n1,F\n2,M\n"}
    for record in ("1", "2"):
        files[f"data/{record}.hea"] = f"{record} 12 500 5000\n".encode()
        files[f"data/{record}.dat"] = rng.bytes(60_000)
        files[f"data/{record}.i"] = rng.bytes(300)
    return files


def ptbxl_files() -> dict:
    files = {"ptbxl_database.csv": b"ecg_id\n1\n2\n3\n", "scp_statements.csv": b",diagnostic\nNORM,1\n",
             "LICENSE.txt": b"CC-BY 4.0\n"}
    for i in (1, 2, 3):
        for rate, suffix in ((100, "lr"), (500, "hr")):
            for ext in ("hea", "dat"):
                files[f"records{rate}/00000/{i:05d}_{suffix}.{ext}"] = f"{rate} {i} {ext}".encode() * 50
    return files


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, honouring 'Range: bytes=N-' unless the server says not to; logs (path, Range header)."""

    def do_GET(self):
        self.server.log.append((self.path, self.headers.get("Range")))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        wanted = self.headers.get("Range")
        if wanted and self.server.honour_range:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def physionet(tmp_path_factory):
    """A local server: /ludb/1.0.1/, /ptb-xl/1.0.3/, /corrupt/1.0.1/ (data/1.dat does not match its checksum),
    /escape/1.0.1/ (a checksum line naming ../outside.txt) and /gone/1.0.1/ (a listed file that is absent)."""
    tree = tmp_path_factory.mktemp("physionet")
    write_project(tree / "ludb" / "1.0.1", ludb_files())
    write_project(tree / "ptb-xl" / "1.0.3", ptbxl_files())
    write_project(tree / "corrupt" / "1.0.1", ludb_files(), corrupt=("data/1.dat",))
    write_project(tree / "escape" / "1.0.1", {"../outside.txt": b"x"})
    write_project(tree / "gone" / "1.0.1", {"RECORDS": b"data/1\n"})
    (tree / "gone" / "1.0.1" / "RECORDS").unlink()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(tree)))
    server.log, server.honour_range = [], True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, tree, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(physionet):
    httpd, tree, url = physionet
    httpd.log.clear()
    httpd.honour_range = True
    return httpd, tree, url


def fetched(httpd) -> list:
    return sorted(path.split("/", 3)[-1] for path, _ in httpd.log)


def test_ludb_download_verifies_then_skips_verified_files(server, tmp_path):
    httpd, tree, url = server
    folder = dl.download("ludb", root=tmp_path, base_url=f"{url}/ludb/1.0.1/", progress=False)
    assert folder == tmp_path / "ludb"
    for relative, content in ludb_files().items():
        assert (folder / relative).read_bytes() == content
    assert (folder / dl.SUMS_FILE).read_bytes() == (tree / "ludb" / "1.0.1" / dl.SUMS_FILE).read_bytes()
    assert fetched(httpd) == sorted([dl.SUMS_FILE, *ludb_files()])
    assert not list(folder.rglob("*.part"))

    httpd.log.clear()
    dl.download("ludb", root=tmp_path, base_url=f"{url}/ludb/1.0.1/", progress=False)
    assert fetched(httpd) == [dl.SUMS_FILE]  # everything present and verified: nothing fetched again

    (folder / "data" / "2.i").write_bytes(b"damaged")
    httpd.log.clear()
    dl.download("ludb", root=tmp_path, base_url=f"{url}/ludb/1.0.1/", progress=False)
    assert fetched(httpd) == [dl.SUMS_FILE, "data/2.i"]
    assert (folder / "data" / "2.i").read_bytes() == ludb_files()["data/2.i"]


def test_checksum_mismatch_deletes_the_file_and_names_it(server, tmp_path):
    _, _, url = server
    with pytest.raises(dl.ChecksumError, match=r"1 file\(s\) did not match .*data/1\.dat \(sha256"):
        dl.download("ludb", root=tmp_path, base_url=f"{url}/corrupt/1.0.1/", progress=False)
    folder = tmp_path / "ludb"
    assert not (folder / "data" / "1.dat").exists() and not (folder / "data" / "1.dat.part").exists()
    assert (folder / "data" / "2.dat").read_bytes() == ludb_files()["data/2.dat"]  # verified files are kept


@pytest.mark.parametrize("honour_range", [True, False])
def test_a_partial_file_resumes_with_a_range_request(server, tmp_path, honour_range):
    httpd, _, url = server
    httpd.honour_range = honour_range
    content = ludb_files()["data/1.dat"]
    part = tmp_path / "ludb" / "data" / "1.dat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(content[:25_000])
    dl.download("ludb", root=tmp_path, base_url=f"{url}/ludb/1.0.1/", progress=False)
    assert (tmp_path / "ludb" / "data" / "1.dat").read_bytes() == content and not part.exists()
    assert ("/ludb/1.0.1/data/1.dat", "bytes=25000-") in httpd.log  # a server ignoring Range resends it all


def test_ptbxl_first_records_at_one_rate(server, tmp_path):
    httpd, _, url = server
    dl.download("ptbxl", root=tmp_path, fs=100, max_records=2, base_url=f"{url}/ptb-xl/1.0.3/", progress=False)
    records = ["records100/00000/00001_lr.dat", "records100/00000/00001_lr.hea", "records100/00000/00002_lr.dat",
               "records100/00000/00002_lr.hea"]
    metadata = ["LICENSE.txt", "ptbxl_database.csv", "scp_statements.csv"]
    assert fetched(httpd) == sorted([dl.SUMS_FILE, *metadata, *records])
    httpd.log.clear()
    dl.download("ptbxl", root=tmp_path, fs=None, max_records=1, base_url=f"{url}/ptb-xl/1.0.3/", progress=False)
    assert fetched(httpd) == [dl.SUMS_FILE, "records500/00000/00001_hr.dat", "records500/00000/00001_hr.hea"]


def test_offline_fails_fast_and_says_how_to_use_a_local_copy(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    advice = r"cannot reach http://127\.0\.0\.1:\d+/.*BEATSSL_DATA=DIR or pass root=DIR"
    with pytest.raises(ConnectionError, match=advice):
        dl.download("ludb", root=tmp_path, base_url=f"http://127.0.0.1:{port}/ludb/1.0.1/", progress=False)
    assert not (tmp_path / "ludb").exists()


def test_a_silent_server_times_out(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/ludb/1.0.1/"
        with pytest.raises(dl.OfflineError, match="timed out"):
            dl.download("ludb", root=tmp_path, base_url=url, timeout=0.5, progress=False)


def test_checksum_list_escaping_the_target_is_refused(server, tmp_path):
    _, _, url = server
    with pytest.raises(ValueError, match=r"'\.\./outside\.txt' would land outside"):
        dl.download("ludb", root=tmp_path / "root", base_url=f"{url}/escape/1.0.1/", progress=False)
    assert not (tmp_path / "outside.txt").exists()


def test_missing_file_on_the_server(server, tmp_path):
    _, _, url = server
    with pytest.raises(FileNotFoundError, match=r"/gone/1\.0\.1/RECORDS: HTTP 404"):
        dl.download("ludb", root=tmp_path, base_url=f"{url}/gone/1.0.1/", progress=False)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="dataset: expected one of ludb, ptbxl"):
        dl.download("mitdb", root=tmp_path)
    with pytest.raises(ValueError, match="max_records: a positive integer, for ptbxl only"):
        dl.download("ludb", root=tmp_path, max_records=5)
    with pytest.raises(ValueError, match="fs: PTB-XL comes at 100 or 500 Hz"):
        dl.download("ptbxl", root=tmp_path, fs=250)


def test_command_line(server, tmp_path, capsys):
    _, _, url = server
    folder = dl.main(["ludb", "--root", str(tmp_path), "--base-url", f"{url}/ludb/1.0.1/", "--quiet"])
    assert folder == tmp_path / "ludb" and (folder / "ludb.csv").is_file()
    assert f"BEATSSL_DATA={tmp_path}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        dl.main(["ludb", "--root", str(tmp_path / "other"), "--base-url", f"{url}/corrupt/1.0.1/", "--quiet"])
    assert stop.value.code == 1 and "data/1.dat" in capsys.readouterr().err


# --- archives ----------------------------------------------------------------------------------------------------

def make_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in members.items():
            bundle.writestr(name, content)
    return path


def make_tar(path: Path, members: dict, link: tuple = ()) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            bundle.addfile(info, io.BytesIO(content))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            bundle.addfile(info)
    return path


def test_extract_archive_inside_the_target(tmp_path):
    members = {"ludb/ludb.csv": b"ID\n1\n", "ludb/data/1.hea": b"1 12 500 5000\n"}
    for archive in (make_zip(tmp_path / "a.zip", members), make_tar(tmp_path / "a.tar.gz", members)):
        target = tmp_path / f"out-{archive.name}"
        paths = dl.extract_archive(archive, target)
        assert sorted(paths) == sorted(target / name for name in members)
        assert (target / "ludb" / "data" / "1.hea").read_bytes() == members["ludb/data/1.hea"]


@pytest.mark.parametrize("kind, members, link", [
    ("zip", {"ok.txt": b"fine", "../evil.txt": b"escaped"}, ()),
    ("zip", {"ok.txt": b"fine", "/tmp/beatssl-evil.txt": b"escaped"}, ()),
    ("tar", {"ok.txt": b"fine", "sub/../../evil.txt": b"escaped"}, ()),
    ("tar", {"ok.txt": b"fine"}, ("evil-link", "../..")),
])
def test_extract_archive_refuses_members_escaping_the_target(tmp_path, kind, members, link):
    archive = (make_zip(tmp_path / "bad.zip", members) if kind == "zip"
               else make_tar(tmp_path / "bad.tar.gz", members, link))
    target = tmp_path / "out"
    with pytest.raises(ValueError, match="refused"):
        dl.extract_archive(archive, target)
    assert not target.exists() and not (tmp_path / "evil.txt").exists()  # nothing was written at all


def test_extract_archive_rejects_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="not a zip or tar archive"):
        dl.extract_archive(tmp_path / "notes.txt", tmp_path / "out")
