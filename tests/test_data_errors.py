"""Bad input to the data layer gets a clear error naming the file, lead or argument, never a wrong array."""

import numpy as np
import pytest
from data_fixtures import LEADS, random_digital, write_fake_ludb, write_fake_ptbxl, write_record

from beatssl_lite import datasets, wfdb_io
from beatssl_lite.records import ECGDataset


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def record(tmp_path):
    """A valid 12-lead record of 1,000 samples at 500 Hz; returns its path without extension."""
    write_record(tmp_path, "rec", random_digital(np.random.default_rng(0), 1000), fs=500)
    return tmp_path / "rec"


def rewrite_header(path, old, new):
    header = path.with_suffix(".hea")
    header.write_text(header.read_text().replace(old, new))


def test_missing_header(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.hea not found"):
        wfdb_io.read_wfdb_record(tmp_path / "nothing")


def test_missing_dat_names_the_file(record):
    record.with_suffix(".dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"rec\.dat not found \(signal file named by .*rec\.hea\)"):
        wfdb_io.read_wfdb_record(record)


def test_truncated_dat_names_the_file_and_sizes(record):
    dat = record.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-2])  # one sample short
    with pytest.raises(ValueError, match=r"rec\.dat: truncated, 23998 bytes .*1000 samples of 12 signals \(24000"):
        wfdb_io.read_wfdb_record(record)


def test_truncated_dat_in_another_format_is_caught_before_wfdb(tmp_path):
    write_record(tmp_path, "f212", random_digital(np.random.default_rng(1), 100), fmt="212")
    dat = tmp_path / "f212.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # 100 samples x 12 signals x 1.5 bytes = 1800
    with pytest.raises(ValueError, match=r"f212\.dat: truncated, 1000 bytes .*\(1800 bytes\)"):
        wfdb_io.read_wfdb_record(tmp_path / "f212")


@pytest.mark.parametrize("n_sig", [11, 15])
def test_wrong_number_of_signals(tmp_path, n_sig):
    names = (list(LEADS) + ["VX", "VY", "VZ"])[:n_sig]
    write_record(tmp_path, "odd", random_digital(np.random.default_rng(2), 200, n_sig), sig_name=names)
    with pytest.raises(ValueError, match=rf"odd\.hea: the header declares {n_sig} signals, expected the 12 leads"):
        wfdb_io.read_wfdb_record(tmp_path / "odd")


def test_unknown_lead_name(tmp_path):
    names = list(LEADS[:11]) + ["V7"]
    write_record(tmp_path, "v7", random_digital(np.random.default_rng(3), 200), sig_name=names)
    with pytest.raises(ValueError, match=r"v7\.hea: unknown lead name 'V7'"):
        wfdb_io.read_wfdb_record(tmp_path / "v7")


def test_missing_lead_is_named(record):
    rewrite_header(record, " V2\n", " V1\n")  # V1 twice, no V2
    with pytest.raises(ValueError, match=r"rec\.hea: lead\(s\) V2 missing"):
        wfdb_io.read_wfdb_record(record)


def test_nans_name_the_lead_and_file(tmp_path):
    digital = random_digital(np.random.default_rng(4), 300)
    digital[100:110, LEADS.index("V3")] = -32768  # WFDB's invalid sample in format 16
    write_record(tmp_path, "gap", digital)
    with pytest.raises(ValueError, match=r"gap\.hea: NaN or infinite values in lead\(s\) V3"):
        wfdb_io.read_wfdb_record(tmp_path / "gap")


def test_record_shorter_than_asked(record):
    with pytest.raises(ValueError, match=r"rec\.hea: 1000 samples at 500 Hz, fewer than the n_samples=5000"):
        wfdb_io.read_wfdb_record(record, n_samples=5000)
    with pytest.raises(ValueError, match=r"rec\.hea: 400 samples at 200 Hz, fewer than the n_samples=1000"):
        wfdb_io.read_wfdb_record(record, fs=200, n_samples=1000)


def test_unknown_units(record):
    rewrite_header(record, "/mV", "/mmHg")
    with pytest.raises(ValueError, match=r"rec\.hea: unknown signal units 'mmHg'"):
        wfdb_io.read_wfdb_record(record)


@pytest.mark.parametrize("kwargs, message", [({"fs": 0}, "fs: expected a positive sampling rate in Hz, got 0"),
                                             ({"fs": "fast"}, "fs: expected a positive sampling rate in Hz, got 'fast'"),
                                             ({"fs": [500]}, r"fs: expected a positive sampling rate in Hz, got \[500\]"),
                                             ({"n_samples": 10.5}, "n_samples: expected a positive integer"),
                                             ({"adc_gain": 0}, "adc_gain: expected a positive number of ADC units"),
                                             ({"adc_gain": "x"}, "adc_gain: expected a positive number of ADC units")])
def test_bad_arguments(record, kwargs, message):
    with pytest.raises(ValueError, match=message):
        wfdb_io.read_wfdb_record(record, **kwargs)


def test_fs_as_a_numeric_string_is_accepted_like_a_number(record):
    as_text = wfdb_io.read_wfdb_record(record, fs="250")
    as_number = wfdb_io.read_wfdb_record(record, fs=250)
    assert as_text.fs == as_number.fs == 250.0 and as_text.signal.shape == (12, 500)
    np.testing.assert_array_equal(as_text.signal, as_number.signal)


def test_a_range_normalised_header_is_refused_without_a_scale(tmp_path):
    """Headers like LUDB v1.0.1's (each lead's gain = its own sample range) do not give the amplitude scale."""
    digital = random_digital(np.random.default_rng(1), 800)
    gains = np.ptp(digital, axis=0).astype(float)
    import wfdb

    wfdb.wrsamp("norm", fs=500, units=["mV"] * 12, sig_name=list(LEADS), d_signal=digital, fmt=["16"] * 12,
                adc_gain=list(gains), baseline=[5] * 12, write_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"norm\.hea: every lead's gain equals its own sample range.*adc_gain="):
        wfdb_io.read_wfdb_record(tmp_path / "norm")
    record = wfdb_io.read_wfdb_record(tmp_path / "norm", adc_gain=1000)
    np.testing.assert_allclose(record.signal, digital.T / 1000.0, rtol=1e-6)  # header gain and baseline ignored
    assert record.meta["scale"] == "1000 adu/mV"


def test_load_dataset_refuses_to_stand_in_unless_asked(tmp_path, monkeypatch):
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"no real ludb/ found: set BEATSSL_DATA=DIR.*fallback='synthetic'"):
        datasets.load_dataset("ludb")
    with pytest.raises(TypeError, match=r"n_records only shape the synthetic stand-in: pass fallback='synthetic'"):
        datasets.load_dataset("ptbxl", n_records=5)
    with pytest.raises(ValueError, match=r"fallback: expected None .* or 'synthetic', got 'random'"):
        datasets.load_dataset("ludb", fallback="random")


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"unknown dataset 'ptb_xl': expected one of 'ptbxl', 'ludb', 'synthetic'"):
        datasets.load_dataset("ptb_xl")


def test_ptbxl_bad_options(tmp_path):
    write_fake_ptbxl(tmp_path)
    with pytest.raises(ValueError, match="fs: PTB-XL comes at 100 or 500 Hz, got 250"):
        datasets.load_ptbxl(tmp_path, fs=250)
    with pytest.raises(ValueError, match="folds: PTB-XL's strat_fold runs from 1 to 10"):
        datasets.load_ptbxl(tmp_path, folds=[0, 1])
    with pytest.raises(ValueError, match="max_records: expected a positive integer"):
        datasets.load_ptbxl(tmp_path, max_records=0)


def test_ptbxl_without_waveforms(tmp_path):
    write_fake_ptbxl(tmp_path, rows=[(6, 106, 10, {"NORM": 100.0}, False, False, {"NORM"})])
    with pytest.raises(FileNotFoundError, match="none of the selected records has its waveform files"):
        datasets.load_ptbxl(tmp_path, progress=False)


def test_loaders_without_data_say_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"no ptb-xl/ found: set BEATSSL_DATA=DIR .*download ptbxl"):
        datasets.load_ptbxl()
    with pytest.raises(FileNotFoundError, match=r"has no ludb/ folder"):
        datasets.load_ludb(tmp_path)


def test_ludb_missing_annotation_file(tmp_path):
    write_fake_ludb(tmp_path, n_samples=1200)
    (tmp_path / "ludb" / "data" / "2.avf").unlink()
    with pytest.raises(FileNotFoundError, match=r"data/2\.avf not found"):
        datasets.load_ludb(tmp_path, progress=False)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no WFDB header"):
        datasets.load_wfdb_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        datasets.load_wfdb_folder(tmp_path / "absent")
