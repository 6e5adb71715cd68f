"""The data layer on WFDB fixtures the tests write themselves, and on the real PTB-XL / LUDB when present.

Expected values are independent of the loaders: the WFDB formula (digital - baseline) / gain, labels and wave
lists written by hand or generated in data_fixtures.py, a per-sample loop for the masks, wfdb's own readers, and
published counts of the real datasets.
"""

import logging
import os

import numpy as np
import pytest
import wfdb
from data_fixtures import (LUDB_EXTENSIONS, PTBXL_ROWS, random_digital, write_fake_ludb, write_fake_ptbxl,
                           write_record)

from beatssl_lite import datasets, wfdb_io
from beatssl_lite.records import ECGDataset
from beatssl_lite.vocabulary import LEADS, SUPERCLASSES

WAVE_CODE = {"p": 1, "N": 2, "t": 3}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Caches go to a temporary folder, never to ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def naive_mask(samples, symbols, n_samples):
    """Wave codes per sample from the documented rule, one sample at a time: a peak with '(' right before and ')'
    right after fills onset..offset inclusive."""
    mask = [0] * n_samples
    for i in range(1, len(symbols) - 1):
        if symbols[i] in WAVE_CODE and symbols[i - 1] == "(" and symbols[i + 1] == ")":
            for s in range(samples[i - 1], samples[i + 1] + 1):
                mask[s] = WAVE_CODE[symbols[i]]
    return np.array(mask)


# --- read_wfdb_record --------------------------------------------------------------------------------------------

def test_read_normalises_lead_names_and_reorders_rows(tmp_path):
    order = [7, 0, 11, 3, 1, 9, 4, 2, 10, 5, 6, 8]  # a shuffled header
    spelled = ["v2", "I", "V6", "AVR", "ii", "v4", "avl", "III", "V5", "aVF", "V1", "v3"]
    assert [LEADS[i].lower() for i in order] == [s.lower() for s in spelled]
    digital = random_digital(np.random.default_rng(1), 700)
    written = write_record(tmp_path, "shuffled", digital, fs=500, sig_name=spelled)
    record = wfdb_io.read_wfdb_record(tmp_path / "shuffled")
    assert record.signal.dtype == np.float32 and record.signal.shape == (12, 700) and record.fs == 500
    assert record.leads == LEADS and record.record_id == "shuffled"
    for column, lead in enumerate(order):
        np.testing.assert_array_equal(record.signal[lead], written[column].astype(np.float32))


def test_read_other_formats_and_units_through_wfdb(tmp_path):
    digital = random_digital(np.random.default_rng(2), 360)
    written = write_record(tmp_path, "f212", digital, fs=360, fmt="212", units="uV", gain=100.0, baseline=-5)
    record = wfdb_io.read_wfdb_record(tmp_path / "f212.hea")  # an extension is tolerated
    np.testing.assert_allclose(record.signal, written, rtol=1e-6, atol=1e-9)
    assert np.abs(record.signal).max() < 0.05  # microvolts became millivolts


def test_read_resamples_a_sine_to_the_asked_rate(tmp_path):
    fs_file, seconds, hz = 360, 4, 3.0
    t = np.arange(fs_file * seconds) / fs_file
    digital = np.round(1000 * np.sin(2 * np.pi * hz * t))[:, None].repeat(12, axis=1).astype(np.int64)
    write_record(tmp_path, "sine", digital, fs=fs_file, gain=1000.0, baseline=0)
    record = wfdb_io.read_wfdb_record(tmp_path / "sine", fs=500)
    assert record.fs == 500 and record.meta["fs_file"] == 360
    assert record.signal.shape == (12, 500 * seconds)
    expected = np.sin(2 * np.pi * hz * np.arange(500 * seconds) / 500)
    inner = slice(100, -100)  # away from the filter's edge effects
    np.testing.assert_allclose(record.signal[:, inner], np.broadcast_to(expected[inner], (12, 1800)), atol=5e-3)
    same = wfdb_io.read_wfdb_record(tmp_path / "sine", fs=360.0)
    np.testing.assert_array_equal(same.signal, (digital.T / 1000.0).astype(np.float32))


def test_read_crops_to_n_samples(tmp_path):
    written = write_record(tmp_path, "long", random_digital(np.random.default_rng(3), 900), fs=250)
    record = wfdb_io.read_wfdb_record(tmp_path / "long", n_samples=600)
    np.testing.assert_array_equal(record.signal, written[:, :600].astype(np.float32))


# --- PTB-XL ------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_ptbxl(tmp_path):
    return tmp_path / "root", write_fake_ptbxl(tmp_path / "root")


def expected_labels(ids):
    by_id = {row[0]: row[-1] for row in PTBXL_ROWS}
    return np.array([[c in by_id[i] for c in SUPERCLASSES] for i in ids], dtype=np.uint8)


def logged(caplog, name="beatssl_lite.datasets") -> list:
    """The messages ``name`` logged so far, then forget them."""
    messages = [r.getMessage() for r in caplog.records if r.name == name]
    caplog.clear()
    return messages


def test_ptbxl_labels_folds_and_counts(fake_ptbxl, tmp_path, caplog, capsys):
    root, written = fake_ptbxl
    caplog.set_level(logging.INFO, logger="beatssl_lite")
    dataset = datasets.load_ptbxl(root, fs=100, cache_dir=tmp_path / "arrays", progress=False)
    assert capsys.readouterr().out == ""  # library messages go through logging, never print
    [record] = [r for r in caplog.records if r.name == "beatssl_lite.datasets"]
    assert record.levelno == logging.WARNING  # part of the labelled records is absent here: say so loudly
    line = record.getMessage()
    caplog.clear()
    assert "5 records" in line and "2 without a superdiagnostic label dropped" in line
    assert "1 labelled records without waveform files here skipped" in line
    assert dataset.record_ids == ["1", "2", "4", "5", "8"] and dataset.name == "ptbxl" and dataset.fs == 100
    np.testing.assert_array_equal(dataset.labels, expected_labels([1, 2, 4, 5, 8]))
    np.testing.assert_array_equal(dataset.folds, [1, 2, 4, 9, 10])
    assert dataset.signals.shape == (5, 12, 1000) and dataset.signals.dtype == np.float32
    for row, ecg_id in enumerate([1, 2, 4, 5, 8]):
        np.testing.assert_array_equal(dataset.signals[row], written[ecg_id, 100].astype(np.float32))
    assert dataset.meta[1] == {"ecg_id": 2, "patient_id": 102, "scp_codes": {"IMI": 50.0, "NDT": 0.0}, "age": 42.0,
                               "sex": "M", "filename": "records100/00000/00002_lr"}
    assert dataset.meta[2]["age"] is None and dataset.meta[0]["sex"] == "F"  # PTB-XL sex: 0 male, 1 female


def test_ptbxl_500_hz_folds_and_max_records(fake_ptbxl, tmp_path, caplog):
    root, written = fake_ptbxl
    dataset = datasets.load_ptbxl(root, fs=500, cache_dir=tmp_path / "arrays", progress=False)
    assert dataset.record_ids == ["1", "2", "5", "8"] and dataset.signals.shape == (4, 12, 5000)
    np.testing.assert_array_equal(dataset.signals[3], written[8, 500].astype(np.float32))
    assert "2 labelled records without waveform files here skipped" in " ".join(logged(caplog))
    test = datasets.load_ptbxl(root, fs=100, folds=[9, 10], cache_dir=tmp_path / "arrays", progress=False)
    assert test.record_ids == ["5", "8"]
    first = datasets.load_ptbxl(root, fs=100, max_records=2, cache_dir=tmp_path / "arrays", progress=False)
    assert first.record_ids == ["1", "2"]
    np.testing.assert_array_equal(first.labels, expected_labels([1, 2]))


def test_ptbxl_second_load_reads_the_cache_not_wfdb(fake_ptbxl, tmp_path, monkeypatch):
    root, _ = fake_ptbxl
    cache = tmp_path / "arrays"
    cold = datasets.load_ptbxl(root, fs=100, cache_dir=cache, progress=False)
    cold_signals = np.array(cold.signals)

    def no_parsing(*args, **kwargs):
        raise AssertionError("WFDB parsed again although the cache holds the arrays")

    monkeypatch.setattr(datasets, "read_wfdb_record", no_parsing)
    warm = datasets.load_ptbxl(root, fs=100, cache_dir=cache, progress=False)
    assert isinstance(warm.signals, np.memmap)
    np.testing.assert_array_equal(warm.signals, cold_signals)
    assert [p.name.startswith("ptbxl100-") for p in cache.iterdir()] == [True]  # one entry, no temporary left
    # a file that changes (size or mtime) is a new key: the reader is needed again
    dat = root / "ptb-xl" / "records100" / "00000" / "00004_lr.dat"
    os.utime(dat, ns=(dat.stat().st_atime_ns, dat.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="parsed again"):
        datasets.load_ptbxl(root, fs=100, cache_dir=cache, progress=False)


def test_ptbxl_default_cache_is_under_the_user_cache(fake_ptbxl, tmp_path):
    root, _ = fake_ptbxl
    datasets.load_ptbxl(root, fs=100, progress=False)
    entries = list((tmp_path / "xdg" / "beatssl_lite" / "arrays").iterdir())
    assert len(entries) == 1 and (entries[0] / "signals.npy").is_file()


def test_ptbxl_failed_parse_leaves_no_cache_entry(fake_ptbxl, tmp_path):
    root, _ = fake_ptbxl
    dat = root / "ptb-xl" / "records100" / "00000" / "00005_lr.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    cache = tmp_path / "arrays"
    with pytest.raises(ValueError, match="00005_lr.dat: truncated"):
        datasets.load_ptbxl(root, fs=100, cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == []


# --- LUDB --------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_ludb(tmp_path):
    return tmp_path / "root", write_fake_ludb(tmp_path / "root")


def test_annotation_reader_matches_wfdb_rdann(fake_ludb):
    root, written = fake_ludb
    for record, (_, annotations) in written.items():
        for ext, (samples, symbols) in annotations.items():
            got_samples, got_symbols = wfdb_io.read_wave_annotations(root / "ludb" / "data" / f"{record}.{ext}")
            reference = wfdb.rdann(str(root / "ludb" / "data" / record), ext)
            assert got_symbols == reference.symbol == symbols
            np.testing.assert_array_equal(got_samples, reference.sample)
            np.testing.assert_array_equal(got_samples, samples)


def test_annotation_reader_skips_pseudo_codes(tmp_path):
    # chan, num, subtype and aux notes become CHN/NUM/SUB/AUX words, a gap > 1023 samples a SKIP
    wfdb.wrann("x", "i", np.array([10, 20, 1500, 3000, 3001]), symbol=["(", "N", ")", "t", "+"],
               chan=np.array([0, 1, 0, 0, 0]), num=np.array([0, 2, 0, 0, 0]), subtype=np.array([0, 0, 3, 0, 0]),
               aux_note=["", "hello", "", "", "(N"], fs=500, write_dir=str(tmp_path))
    samples, symbols = wfdb_io.read_wave_annotations(tmp_path / "x.i")
    np.testing.assert_array_equal(samples, [10, 20, 1500, 3000])
    assert symbols == ["(", "N", ")", "t"]  # the rhythm annotation '+' is not a wave symbol


def test_ludb_masks_waves_and_meta(fake_ludb, tmp_path):
    root, written = fake_ludb
    dataset = datasets.load_ludb(root, cache_dir=tmp_path / "arrays", progress=False)
    assert dataset.record_ids == ["1", "2", "10"] and dataset.fs == 500 and dataset.name == "ludb"
    assert dataset.signals.shape == dataset.masks.shape == (3, 12, 3000) and dataset.masks.dtype == np.int8
    bounds_missing = 0
    for r, (signal, annotations) in enumerate(written.values()):
        np.testing.assert_array_equal(dataset.signals[r], signal.astype(np.float32))
        for lead, ext in enumerate(LUDB_EXTENSIONS):
            samples, symbols = annotations[ext]
            np.testing.assert_array_equal(dataset.masks[r, lead], naive_mask(samples, symbols, 3000))
            waves = dataset.waves[r][LEADS[lead]]
            for kind, symbol in (("P", "p"), ("QRS", "N"), ("T", "t")):
                peaks = [s for s, y in zip(samples, symbols) if y == symbol]
                np.testing.assert_array_equal(waves[kind][:, 1], peaks)
                bounds_missing += int((waves[kind][:, [0, 2]] == -1).sum())
    assert bounds_missing > 0  # the defects were exercised
    assert dataset.meta[0] == {"patient_id": 1, "sex": "F", "age": 51.0, "rhythm": "Sinus bradycardia",
                               "diagnoses": ["Sinus bradycardia", "Electric axis of the heart: left axis deviation",
                                             "Left ventricular overload", "Left ventricular hypertrophy"]}
    assert dataset.meta[1]["age"] == 90.0 and dataset.meta[1]["rhythm"] == "Atrial fibrillation; Aberrant conduction"


def test_ludb_wave_bounds_follow_the_documented_rule():
    samples = np.array([5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    symbols = ["N", ")", "(", ")", "(", "t", "p", ")", "(", "N", ")"]
    waves = wfdb_io.annotations_to_waves(samples, symbols)
    np.testing.assert_array_equal(waves["QRS"], [[-1, 5, 10], [80, 90, 100]])
    np.testing.assert_array_equal(waves["T"], [[40, 50, -1]])
    np.testing.assert_array_equal(waves["P"], [[-1, 60, 70]])
    np.testing.assert_array_equal(wfdb_io.waves_to_mask(waves, 110), naive_mask(samples, symbols, 110))


def test_ludb_without_records_file_sorts_ids_numerically_and_caches(tmp_path, monkeypatch):
    write_fake_ludb(tmp_path / "root", n_samples=1200, with_records_file=False)
    cold = datasets.load_ludb(tmp_path / "root", cache_dir=tmp_path / "arrays", progress=False)
    assert cold.record_ids == ["1", "2", "10"]

    def no_parsing(*args, **kwargs):
        raise AssertionError("annotations parsed again although the cache holds the arrays")

    monkeypatch.setattr(datasets, "read_wave_annotations", no_parsing)
    monkeypatch.setattr(datasets, "read_wfdb_record", no_parsing)
    warm = datasets.load_ludb(tmp_path / "root", cache_dir=tmp_path / "arrays", progress=False)
    np.testing.assert_array_equal(warm.masks, cold.masks)
    for a, b in zip(warm.waves, cold.waves):
        for lead in LEADS:
            for kind in ("P", "QRS", "T"):
                np.testing.assert_array_equal(a[lead][kind], b[lead][kind])


# --- splits ------------------------------------------------------------------------------------------------------

def tiny_dataset(ids):
    return ECGDataset(signals=np.zeros((len(ids), 12, 4), np.float32), fs=500.0, record_ids=list(ids), name="t")


def test_ludb_split_is_seeded_patient_level_and_order_free():
    ids = [str(i) for i in range(1, 201)]
    dataset = tiny_dataset(ids)
    train, test = datasets.ludb_split(dataset, test_fraction=0.2, seed=0)
    assert len(test) == 40 and len(train) == 160
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(200))
    again = datasets.ludb_split(dataset, test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again[1], test)
    assert set(datasets.ludb_split(dataset, seed=1)[1]) != set(test)
    shuffled = tiny_dataset(list(np.random.default_rng(5).permutation(ids)))
    _, test_shuffled = datasets.ludb_split(shuffled, test_fraction=0.2, seed=0)
    assert {shuffled.record_ids[i] for i in test_shuffled} == {ids[i] for i in test}
    with pytest.raises(ValueError, match="record ids repeat"):
        datasets.ludb_split(tiny_dataset(["1", "1", "2"]))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.ludb_split(dataset, test_fraction=1.0)


def test_ludb_folds_partition_the_records():
    dataset = tiny_dataset([str(i) for i in range(1, 23)])
    folds = datasets.ludb_folds(dataset, k=5, seed=0)
    tests = [test for _, test in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(22))
    assert sorted(len(t) for t in tests) == [4, 4, 4, 5, 5]
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 22
    with pytest.raises(ValueError, match="k: expected"):
        datasets.ludb_folds(dataset, k=1)


# --- folders and load_dataset ------------------------------------------------------------------------------------

def test_wfdb_folder_recurses_and_resamples(tmp_path):
    rng = np.random.default_rng(4)
    write_record(tmp_path / "site_a", "r1", random_digital(rng, 2400), fs=250)
    write_record(tmp_path / "site_b" / "deep", "r2", random_digital(rng, 5000), fs=500)
    dataset = datasets.load_wfdb_folder(tmp_path, fs=500, n_samples=4800, progress=False)
    assert dataset.record_ids == ["site_a/r1", "site_b/deep/r2"] and dataset.signals.shape == (2, 12, 4800)
    assert dataset.fs == 500 and [m["fs_file"] for m in dataset.meta] == [250, 500]
    with pytest.raises(ValueError, match="records differ in fs.*pass fs="):
        datasets.load_wfdb_folder(tmp_path, progress=False)
    with pytest.raises(ValueError, match="records differ in n_samples.*pass n_samples="):
        datasets.load_wfdb_folder(tmp_path, fs=500, progress=False)  # 4,800 and 5,000 samples


def test_load_dataset_dispatches(fake_ptbxl, tmp_path):
    root, _ = fake_ptbxl
    ptbxl = datasets.load_dataset("ptbxl", root=root, fallback="synthetic", fs=100, n_records=3,
                                  cache_dir=tmp_path / "arrays", progress=False)
    assert ptbxl.name == "ptbxl" and len(ptbxl) == 5  # n_records only shapes the synthetic stand-in
    strict = datasets.load_dataset("ptbxl", root=root, fs="100", cache_dir=tmp_path / "arrays", progress=False)
    np.testing.assert_array_equal(strict.signals, ptbxl.signals)  # real data found: the fallback plays no part
    folder = datasets.load_dataset(root / "ptb-xl" / "records500", progress=False)
    assert len(folder) == 5 and folder.fs == 500  # ecg_ids 1, 2, 3, 5, 8 written at 500 Hz
    with pytest.raises(ValueError, match="unknown dataset 'mitdb'.*'ptbxl', 'ludb', 'synthetic'"):
        datasets.load_dataset("mitdb")
    with pytest.raises(TypeError, match="unknown option.*fsx"):
        datasets.load_dataset("ptbxl", root=root, fsx=100)
    with pytest.raises(FileNotFoundError, match="is not a directory"):  # an explicit root is never replaced
        datasets.load_dataset("ludb", root=tmp_path / "nowhere", fallback="synthetic")


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """No BEATSSL_DATA and an empty user cache: no real dataset can be found."""
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))


def test_load_dataset_without_data_refuses_by_default(no_data):
    for name in ("ptbxl", "ludb"):
        with pytest.raises(FileNotFoundError, match=rf"no real {datasets.DATASET_DIRS[name]}/ found.*"
                                                    rf"download {name}.*fallback='synthetic'"):
            datasets.load_dataset(name)


def test_load_dataset_falls_back_to_synthetic_when_asked_with_one_warning(no_data, monkeypatch, caplog, capsys):
    calls = []

    def fake_synthetic(n_records=1000, fs=500.0, duration_s=10.0, seed=0):
        calls.append((n_records, fs, seed))
        folds = np.arange(n_records) % 10 + 1
        return ECGDataset(np.zeros((n_records, 12, int(fs * duration_s)), np.float32), fs,
                          [str(i) for i in range(n_records)], "synthetic", folds=folds)

    import beatssl_lite.synthetic

    monkeypatch.setattr(beatssl_lite.synthetic, "make_synthetic_dataset", fake_synthetic)
    ptbxl = datasets.load_dataset("ptbxl", fallback="synthetic", fs=100, n_records=20, seed=3, folds=[1, 2])
    [warning] = [r for r in caplog.records if r.name == "beatssl_lite.datasets"]
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert "synthetic" in message and "BEATSSL_DATA" in message and "ptb-xl" in message
    assert calls == [(20, 100.0, 3)] and len(ptbxl) == 4 and ptbxl.signals.shape[-1] == 1000
    caplog.clear()
    ludb = datasets.load_dataset("ludb", fallback="synthetic")
    assert calls[-1] == (200, 500.0, 0) and ludb.fs == 500
    assert len(logged(caplog)) == 1 and capsys.readouterr().out == ""


def test_synthetic_stand_in_for_real(no_data):
    dataset = datasets.load_dataset("ludb", fallback="synthetic", n_records=3)
    assert dataset.name == "synthetic" and dataset.signals.shape == (3, 12, 5000) and dataset.masks is not None


def test_reprs_are_one_short_line(fake_ludb, tmp_path):
    root, _ = fake_ludb
    dataset = datasets.load_ludb(root, cache_dir=tmp_path / "arrays", progress=False)
    assert repr(dataset) == "ECGDataset('ludb', 3 records, 12 leads x 3000 @ 500 Hz, masks, waves)"
    assert repr(dataset[0]) == "ECGRecord('1', 12 leads x 3000 @ 500 Hz, masks, waves)"
    big = ECGDataset(np.zeros((200, 12, 5000), np.float32), 500.0, [str(i) for i in range(200)], "ludb",
                     masks=np.zeros((200, 12, 5000), np.int8))
    assert repr(big) == "ECGDataset('ludb', 200 records, 12 leads x 5000 @ 500 Hz, masks)"


def test_ptbxl_split_follows_strat_fold():
    folds = np.array([10, 1, 9, 8, 2, 10, 9, 5])
    dataset = ECGDataset(np.zeros((8, 12, 4), np.float32), 100.0, list("abcdefgh"), "ptbxl", folds=folds)
    train, val, test = datasets.ptbxl_split(dataset)
    np.testing.assert_array_equal(train, [1, 3, 4, 7])
    np.testing.assert_array_equal(val, [2, 6])
    np.testing.assert_array_equal(test, [0, 5])
    with pytest.raises(ValueError, match="has no folds"):
        datasets.ptbxl_split(ECGDataset(np.zeros((2, 12, 4), np.float32), 100.0, ["a", "b"], "x"))


# --- the real data (skipped when absent) ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def real_ludb(ludb_root, tmp_path_factory):
    return datasets.load_ludb(ludb_root, cache_dir=tmp_path_factory.mktemp("arrays"), progress=False)


@pytest.fixture(scope="session")
def real_ptbxl(ptbxl_root, tmp_path_factory):
    """The real PTB-XL at 100 Hz and the messages its loader logged."""
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger, handler = logging.getLogger("beatssl_lite.datasets"), Collect(logging.INFO)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        dataset = datasets.load_ptbxl(ptbxl_root, fs=100, cache_dir=tmp_path_factory.mktemp("arrays"), progress=False)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return dataset, "\n".join(messages)


@pytest.mark.realdata
def test_real_ludb_shapes_and_published_wave_counts(real_ludb):
    assert len(real_ludb) == 200 and real_ludb.signals.shape == (200, 12, 5000) and real_ludb.fs == 500
    counts = {kind: sum(len(lead[kind]) for record in real_ludb.waves for lead in record.values())
              for kind in ("P", "QRS", "T")}
    assert counts == {"P": 16797, "QRS": 21965, "T": 19661} and sum(counts.values()) == 58423
    incomplete = {kind: sum(int((lead[kind][:, [0, 2]] == -1).any(axis=1).sum()) for record in real_ludb.waves
                            for lead in record.values()) for kind in ("P", "QRS", "T")}
    assert incomplete == {"P": 1, "QRS": 122, "T": 11}  # the figures datasets.py's docstring quotes


@pytest.mark.realdata
def test_real_ludb_empty_pairs(ludb_root):
    folder = ludb_root / "ludb" / "data"
    empty_pairs = 0
    for record in range(1, 201):
        for ext in LUDB_EXTENSIONS:
            _, symbols = wfdb_io.read_wave_annotations(folder / f"{record}.{ext}")
            empty_pairs += sum(a == "(" and b == ")" for a, b in zip(symbols, symbols[1:]))
    assert empty_pairs == 21  # '(' ')' with no peak between them: ignored, as datasets.py's docstring says


@pytest.mark.realdata
def test_real_ludb_against_wfdb_and_a_naive_mask(real_ludb, ludb_root):
    folder = ludb_root / "ludb" / "data"
    for record in ("1", "7", "116"):  # 7 and 116 hold the odd annotations (missing bounds, nested T waves)
        r = real_ludb.record_ids.index(record)
        digital = wfdb.rdrecord(str(folder / record), physical=False).d_signal  # wfdb's reader, no header gain
        np.testing.assert_array_equal(real_ludb.signals[r], (digital.T / 1000.0).astype(np.float32))
        for lead, ext in enumerate(LUDB_EXTENSIONS):
            ann = wfdb.rdann(str(folder / record), ext)
            np.testing.assert_array_equal(real_ludb.masks[r, lead], naive_mask(ann.sample, ann.symbol, 5000))
    assert real_ludb.meta[0]["sex"] == "F" and real_ludb.meta[0]["age"] == 51.0
    assert "Sinus bradycardia" in real_ludb.meta[0]["diagnoses"]
    train, test = datasets.ludb_split(real_ludb)
    assert len(train) == 160 and len(test) == 40


@pytest.mark.realdata
def test_real_ptbxl_published_superclass_counts(real_ptbxl, ptbxl_root):
    dataset, printed = real_ptbxl
    counts = dict(zip(SUPERCLASSES, dataset.labels.sum(axis=0).tolist()))
    assert counts == {"NORM": 1051, "MI": 370, "STTC": 467, "CD": 410, "HYP": 215}
    # the 1,987 present 100 Hz records: 22 carry no superdiagnostic statement and are dropped
    assert len(dataset) == 1965 and dataset.signals.shape == (1965, 12, 1000)
    assert "19465 labelled records without waveform files here skipped" in printed
    assert set(dataset.folds.tolist()) == set(range(1, 11))
    reference = wfdb.rdrecord(str(ptbxl_root / "ptb-xl" / "records100" / "00000" / "00001_lr"))
    np.testing.assert_array_equal(dataset.signals[0], reference.p_signal.T.astype(np.float32))


# --- LUDB in true millivolts -------------------------------------------------------------------------------------
# LUDB v1.0.1's headers set each lead's gain to its own ADC range (every lead then spans exactly 1 mV); the loader
# reads the digital samples at 1 unit = 1 uV instead. These tests fail on the header-gain reading.

#: LUDB stores 1 uV steps, so the augmented leads (computed by the recorder, then rounded) are off their exact
#: Goldberger combination by at most half a step; III = II - I holds exactly in ADC units. Plus float32 rounding
#: of values up to ~10 mV (< 1e-6 mV).
ADC_STEP_MV = 1e-3
FLOAT32_MV = 1e-6


@pytest.mark.realdata
def test_real_ludb_limb_leads_obey_einthoven_and_goldberger(real_ludb):
    x = np.asarray(real_ludb.signals, dtype=np.float64)
    lead = {name: x[:, i] for i, name in enumerate(LEADS)}
    assert np.abs(lead["III"] - (lead["II"] - lead["I"])).max() <= FLOAT32_MV
    for name, combination in (("aVR", -(lead["I"] + lead["II"]) / 2), ("aVL", lead["I"] - lead["II"] / 2),
                              ("aVF", lead["II"] - lead["I"] / 2)):
        assert np.abs(lead[name] - combination).max() <= ADC_STEP_MV / 2 + FLOAT32_MV, name


@pytest.mark.realdata
def test_real_ludb_amplitudes_are_physiological(real_ludb):
    """Median over records of the lead-II QRS peak-to-peak (inside LUDB's own QRS annotations) within 0.5-2.0 mV:
    below 0.5 mV in the limb leads is the low-voltage criterion and 2.0 mV in a limb lead the Romhilt-Estes LVH
    criterion (Surawicz et al. 2009, AHA/ACCF/HRS recommendations, part V), so a typical record lies between."""
    x = real_ludb.signals
    per_record = []
    for r, waves in enumerate(real_ludb.waves):
        amplitudes = [np.ptp(x[r, 1, onset:offset + 1]) for onset, _, offset in waves["II"]["QRS"]
                      if onset >= 0 and offset >= 0]
        if amplitudes:
            per_record.append(np.median(amplitudes))
    per_record = np.array(per_record)
    assert len(per_record) >= 190
    assert 0.5 <= np.median(per_record) <= 2.0
    # With the header gain no lead could exceed 1 mV anywhere; at the true scale most QRS complexes in II do.
    assert (per_record > 1.0).mean() > 0.25


@pytest.mark.realdata
def test_real_ludb_has_no_per_lead_normalisation(real_ludb, ludb_root):
    """Spans vary across leads and records; a lead spans exactly 1.000 mV only where its ADC range is exactly 1,000
    units (counted here with wfdb's reader), not on all 2,400 leads as the header gain makes them."""
    spans = np.ptp(np.asarray(real_ludb.signals, dtype=np.float64), axis=2)
    exactly_1000 = sum(int((np.ptp(wfdb.rdrecord(str(ludb_root / "ludb" / "data" / record), physical=False)
                                   .d_signal, axis=0) == 1000).sum()) for record in real_ludb.record_ids)
    assert np.isclose(spans, 1.0, rtol=0, atol=1e-6).sum() == exactly_1000 < 10
    assert spans.min() < 0.5 and spans.max() > 3.0
