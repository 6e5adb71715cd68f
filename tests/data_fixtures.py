"""Small WFDB data written with wfdb itself (wrsamp, wrann), for the data tests and benchmarks/bench_data_cache.py.

Expected values come from the WFDB formula and from the tables below, written by hand, never from the loaders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def random_digital(rng: np.random.Generator, n_samples: int, n_sig: int = 12) -> np.ndarray:
    """(n_samples, n_sig) int64 ADC values: a random walk per signal, well inside the 12-bit range."""
    steps = rng.integers(-6, 7, size=(n_samples, n_sig))
    return np.clip(np.cumsum(steps, axis=0), -2000, 2000)


def write_record(folder: Path, name: str, digital: np.ndarray, fs: float = 500, sig_name=LEADS, gain: float = 200.0,
                 baseline: int = 3, units: str = "mV", fmt: str = "16") -> np.ndarray:
    """Write (n_samples, n_sig) ADC values as a WFDB record; return its (n_sig, n_samples) values in mV, computed
    with the WFDB formula (digital - baseline) / gain, scaled from ``units``."""
    folder.mkdir(parents=True, exist_ok=True)
    n_sig = digital.shape[1]
    wfdb.wrsamp(name, fs=fs, units=[units] * n_sig, sig_name=list(sig_name), d_signal=digital, fmt=[fmt] * n_sig,
                adc_gain=[gain] * n_sig, baseline=[baseline] * n_sig, write_dir=str(folder))
    to_mv = {"mV": 1.0, "uV": 1e-3, "V": 1e3}[units]
    return ((digital - baseline) / gain * to_mv).T


# --- a fake PTB-XL -------------------------------------------------------------------------------------------------

SCP_STATEMENTS = pd.DataFrame(
    {"description": ["normal ECG", "inferior MI", "non-diagnostic T abnormalities", "complete LBBB", "LVH",
                     "sinus rhythm", "low QRS voltages"],
     "diagnostic": [1.0, 1.0, 1.0, 1.0, 1.0, np.nan, np.nan],
     "form": [np.nan, np.nan, 1.0, np.nan, np.nan, np.nan, 1.0],
     "rhythm": [np.nan, np.nan, np.nan, np.nan, np.nan, 1.0, np.nan],
     "diagnostic_class": ["NORM", "MI", "STTC", "CD", "HYP", np.nan, np.nan],
     "diagnostic_subclass": ["NORM", "IMI", "STTC", "LBBB", "LVH", np.nan, np.nan]},
    index=["NORM", "IMI", "NDT", "CLBBB", "LVH", "SR", "LVOLT"],
)

#: ecg_id, patient_id, strat_fold, scp_codes, written at 100 Hz, written at 500 Hz, the superclasses by hand.
PTBXL_ROWS = [
    (1, 101, 1, {"NORM": 100.0, "SR": 0.0}, True, True, {"NORM"}),
    (2, 102, 2, {"IMI": 50.0, "NDT": 0.0}, True, True, {"MI", "STTC"}),  # likelihood 0 still counts
    (3, 103, 3, {"SR": 0.0}, True, True, set()),  # no diagnostic statement: dropped
    (4, 104, 4, {"CLBBB": 100.0}, True, False, {"CD"}),
    (5, 102, 9, {"LVH": 100.0, "NORM": 0.0, "LVOLT": 0.0}, True, True, {"NORM", "HYP"}),
    (6, 106, 10, {"NORM": 100.0}, False, False, {"NORM"}),  # no waveform: skipped
    (7, 107, 10, {"LVOLT": 0.0}, True, False, set()),  # dropped
    (8, 108, 10, {"IMI": 100.0, "CLBBB": 15.0}, True, True, {"MI", "CD"}),
]


def write_fake_ptbxl(root: Path, rows=PTBXL_ROWS, seed: int = 0) -> dict:
    """A PTB-XL tree under ``root/ptb-xl``; returns {(ecg_id, fs): (12, 10 * fs) expected mV} of written records."""
    folder = root / "ptb-xl"
    rng = np.random.default_rng(seed)
    table, written = [], {}
    for ecg_id, patient_id, fold, codes, at_100, at_500, _ in rows:
        names = {fs: f"records{fs}/{ecg_id // 1000 * 1000:05d}/{ecg_id:05d}_{'lr' if fs == 100 else 'hr'}"
                 for fs in (100, 500)}
        age = np.nan if ecg_id == 4 else 40.0 + ecg_id
        table.append({"ecg_id": ecg_id, "patient_id": float(patient_id), "age": age,
                      "sex": ecg_id % 2, "scp_codes": repr(codes), "strat_fold": fold,
                      "filename_lr": names[100], "filename_hr": names[500]})
        for fs, present in ((100, at_100), (500, at_500)):
            if present:
                path = folder / names[fs]
                written[ecg_id, fs] = write_record(path.parent, path.name, random_digital(rng, 10 * fs), fs=fs)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(table).to_csv(folder / "ptbxl_database.csv", index=False)
    SCP_STATEMENTS.to_csv(folder / "scp_statements.csv")
    return written


def simple_ptbxl_rows(n_records: int) -> list:
    """``n_records`` labelled rows, all with a 100 Hz waveform (for the cache benchmark's stand-in tree)."""
    return [(i, i, i % 10 + 1, {"NORM": 100.0}, True, False, {"NORM"}) for i in range(1, n_records + 1)]


# --- a fake LUDB ---------------------------------------------------------------------------------------------------

LUDB_EXTENSIONS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")


def ludb_annotations(rng: np.random.Generator, n_samples: int, defect: str) -> tuple:
    """Time-ordered (samples, symbols) of P, QRS and T waves with random widths, plus one annotation ``defect``:
    'none', 'no first onset', 'no last offset', 'empty pair' (a '(' ')' with no peak), 'bare peak' (a middle
    wave without both bounds), 'long gap' (1,500 samples without annotations: a SKIP in the file)."""
    waves = []
    t = int(rng.integers(30, 80))
    while t + 420 < n_samples:
        for symbol, width, gap in (("p", (30, 60), (10, 30)), ("N", (40, 70), (40, 80)), ("t", (80, 140), (150, 250))):
            w = int(rng.integers(*width))
            waves.append([t, t + w // 2, t + w, symbol])
            t += w + int(rng.integers(*gap))
        if defect == "long gap" and len(waves) == 3:
            t += 1500
    samples, symbols = [], []
    for k, (onset, peak, offset, symbol) in enumerate(waves):
        middle = k == len(waves) // 2
        keep_onset = not (defect == "no first onset" and k == 1) and not (defect == "bare peak" and middle)
        keep_offset = (not (defect == "no last offset" and k == len(waves) - 1)
                       and not (defect == "bare peak" and middle))
        samples += [onset] * keep_onset + [peak] + [offset] * keep_offset
        symbols += ["("] * keep_onset + [symbol] + [")"] * keep_offset
        if defect == "empty pair" and middle:
            samples += [offset + 3, offset + 8]
            symbols += ["(", ")"]
    return np.asarray(samples), symbols


LUDB_TABLE = pd.DataFrame({
    "ID": [1, 2, 10],
    "Sex": ["F\n", "M\n", "M\n"],
    "Age": ["51\n", ">89\n", "30\n"],
    "Rhythms": ["Sinus bradycardia", "Atrial fibrillation\nAberrant conduction", "Sinus rhythm"],
    "Electric axis of the heart": ["Electric axis of the heart: left axis deviation", np.nan,
                                   "Electric axis of the heart: normal"],
    "Hypertrophies": ["Left ventricular overload\nLeft ventricular hypertrophy", np.nan, np.nan],
})


def write_fake_ludb(root: Path, n_samples: int = 3000, seed: int = 0, with_records_file: bool = True) -> dict:
    """A LUDB tree under ``root/ludb`` with records 1, 2 and 10; returns {record id: (signal in true mV, {ext:
    (samples, symbols)})} of what was written. Each lead of a record gets one defect, cycling through all of them."""
    folder = root / "ludb"
    rng = np.random.default_rng(seed)
    defects = ("none", "no first onset", "no last offset", "empty pair", "bare peak", "long gap")
    written = {}
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for record in ("1", "2", "10"):
        digital = random_digital(rng, n_samples)
        # Headers as LUDB v1.0.1 writes them: each lead's gain is its own sample range, its baseline near its mean.
        # The true scale is 1 ADC unit = 1 uV, so the expected signal is digital / 1000 whatever the header says.
        wfdb.wrsamp(record, fs=500, units=["mV"] * 12, sig_name=list(LUDB_EXTENSIONS), d_signal=digital,
                    fmt=["16"] * 12, adc_gain=list(np.ptp(digital, axis=0).astype(float)),
                    baseline=list(np.round(digital.mean(axis=0)).astype(int)), write_dir=str(folder / "data"))
        signal = digital.T / 1000.0
        annotations = {}
        for lead, ext in enumerate(LUDB_EXTENSIONS):
            samples, symbols = ludb_annotations(rng, n_samples, defects[(lead + int(record)) % len(defects)])
            # wrann takes letters-only extensions; the file does not store its extension, so rename it
            wfdb.wrann(record, "tmp", samples, symbol=symbols, fs=500, write_dir=str(folder / "data"))
            (folder / "data" / f"{record}.tmp").replace(folder / "data" / f"{record}.{ext}")
            annotations[ext] = (samples, symbols)
        written[record] = (signal, annotations)
    if with_records_file:
        (folder / "RECORDS").write_text("".join(f"data/{record}\n" for record in written))
    LUDB_TABLE.to_csv(folder / "ludb.csv", index=False)
    return written
