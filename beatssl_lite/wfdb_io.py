"""Reading WFDB files: 12-lead records (``read_wfdb_record``) and LUDB-style wave annotations.

- [ref] Records: lead names normalised and rows reordered to ``LEADS``; physical values by WFDB's formula
  (digital - baseline) / gain, in mV whatever the header's units; optional polyphase resampling and cropping.
- [ours] Headers that hide the amplitude scale. LUDB v1.0.1's headers give each lead a gain equal to that lead's
  own peak-to-peak range in ADC units (and a baseline near its mean), so WFDB's formula turns every lead into a
  trace spanning exactly 1 mV: a per-lead normalisation that breaks Einthoven's III = II - I, which the digital
  samples satisfy exactly. ``read_wfdb_record`` recognises such a header (every lead's gain equal to its own
  sample range) and refuses it unless the caller says what one ADC unit is (``adc_gain``, units per mV); with
  ``adc_gain`` the header's gain and baseline are both ignored and mV = digital / adc_gain.
- [ref] LUDB annotation symbols: '(' onset, 'p' / 'N' / 't' peak of P / QRS / T, ')' offset.
- [ours] A wave's onset is the annotation right before its peak when that is '(', its offset the one right after
  it when that is ')'; a bound found otherwise is -1 and the wave is not painted in the mask (see
  ``beatssl_lite.datasets`` for what that means on LUDB).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from .records import ECGRecord
from .validation import check_ecg, check_fs
from .vocabulary import LEADS, WAVES, normalize_lead_name

__all__ = ["read_wfdb_record", "read_wave_annotations", "annotations_to_waves", "waves_to_mask",
           "is_range_normalised"]

#: Bytes per sample of the WFDB storage formats whose .dat size can be checked before reading.
_WFDB_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3,
                          "311": 4 / 3}
#: Factor to mV of the physical units WFDB headers use (a header without units means mV).
_TO_MILLIVOLT = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}


@contextlib.contextmanager
def _quiet_wfdb():
    """wfdb 4.x calls pandas APIs that pandas 3 deprecates; those warnings are for wfdb's authors, not our users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The inplace keyword", module=r"wfdb\.")
        yield


def read_wfdb_record(path: str | os.PathLike, fs: float | None = None, n_samples: int | None = None,
                     adc_gain: float | None = None) -> ECGRecord:
    """Read a 12-lead WFDB record (``path`` without extension) as a (12, n_samples) float32 signal in mV.

    Lead names are normalised ('i', 'AVR', 'v1', ...) and the rows reordered to ``LEADS``. With ``fs`` (a number
    or a numeric string), a record at another rate is resampled (polyphase filter, ``scipy.signal.resample_poly``);
    with ``n_samples``, the signal is cropped to its first ``n_samples`` and a shorter one is an error.
    adc_gain: ADC units per mV of the digital samples, for files whose header does not give the true scale
    (LUDB: 1000, one unit = 1 uV); the header's gain, baseline and units are then ignored. Without it, a header
    whose every lead's gain equals that lead's own sample range (see the module docstring) is an error.
    ``meta`` holds the source path, the file's own rate, the header comments and the scale used ('header' or
    the adc_gain).

    Raises FileNotFoundError naming a missing .hea or .dat, and ValueError naming the argument or the file for a
    bad fs / n_samples / adc_gain, a truncated .dat, a header without exactly 12 signals, an unknown or missing
    lead, unknown units, a range-normalised header, NaNs, or too few samples.
    """
    with _quiet_wfdb():
        import wfdb

    path = Path(path)
    if path.suffix in (".hea", ".dat"):
        path = path.with_suffix("")
    header = path.with_name(path.name + ".hea")
    if fs is not None:
        fs = check_fs(fs, "fs")
    if adc_gain is not None:
        adc_gain = _check_adc_gain(adc_gain)
    if n_samples is not None and not (isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool)
                                      and n_samples > 0):
        raise ValueError(f"n_samples: expected a positive integer, got {n_samples!r}")
    if not header.is_file():
        raise FileNotFoundError(f"WFDB header {header} not found")
    with _quiet_wfdb():
        head = wfdb.rdheader(str(path))
    if isinstance(head, wfdb.MultiRecord):
        raise ValueError(f"{header}: multi-segment records are not supported, expected one 12-lead segment")
    if head.n_sig != len(LEADS):
        raise ValueError(f"{header}: the header declares {head.n_sig} signals, "
                         f"expected the 12 leads {', '.join(LEADS)}")
    try:
        names = [normalize_lead_name(name) for name in (head.sig_name or [""] * head.n_sig)]
    except ValueError as error:
        raise ValueError(f"{header}: {error}") from None
    missing = [lead for lead in LEADS if lead not in names]
    if missing:
        raise ValueError(f"{header}: lead(s) {', '.join(missing)} missing "
                         f"(the header names {', '.join(head.sig_name)})")
    _check_dat_files(header, head)

    digital, invalid = _read_digital(path, head)
    if adc_gain is not None:
        physical = digital / adc_gain
    else:
        if is_range_normalised(head.adc_gain, digital, invalid):
            raise ValueError(f"{header}: every lead's gain equals its own sample range, so the header maps each lead "
                             f"to exactly 1 unit peak to peak and does not give the amplitude scale (LUDB v1.0.1 "
                             f"does this); pass adc_gain= (ADC units per mV; LUDB: 1000)")
        physical = ((digital - np.asarray(head.baseline, dtype=np.float64))
                    / np.asarray(head.adc_gain, dtype=np.float64)) * _millivolt_factors(header, head.units)
    physical[invalid] = np.nan
    signal = physical[:, [names.index(lead) for lead in LEADS]].T
    signal = check_ecg(signal, name=str(header), dtype=None)
    file_fs = float(head.fs)
    out_fs = file_fs
    if fs is not None and not math.isclose(fs, file_fs):
        from scipy.signal import resample_poly

        ratio = Fraction(fs / file_fs).limit_denominator(1000)
        signal = resample_poly(signal, ratio.numerator, ratio.denominator, axis=1)
        out_fs = float(fs)
    if n_samples is not None:
        if signal.shape[1] < n_samples:
            raise ValueError(f"{header}: {signal.shape[1]} samples at {out_fs:g} Hz, fewer than the "
                             f"n_samples={n_samples} asked for")
        signal = signal[:, :n_samples]
    meta = {"source": str(path), "fs_file": file_fs, "comments": list(head.comments or []),
            "scale": "header" if adc_gain is None else f"{adc_gain:g} adu/mV"}
    return ECGRecord(signal=np.ascontiguousarray(signal, dtype=np.float32), fs=out_fs, record_id=path.name, meta=meta)


def _check_adc_gain(adc_gain) -> float:
    try:
        value = float(adc_gain)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(adc_gain, bool) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"adc_gain: expected a positive number of ADC units per mV, got {adc_gain!r}")
    return value


def is_range_normalised(gains, digital: np.ndarray, invalid: np.ndarray | None = None) -> bool:
    """True when every signal's header gain equals that signal's own peak-to-peak range in ADC units.

    That is what LUDB v1.0.1's headers do; a calibrated recorder's gain is a property of the device, the same for
    every lead and record, and equals a lead's sample range only by a coincidence that does not happen on all
    leads at once. gains: (n_sig,); digital: (n_samples, n_sig) ADC values; invalid: where samples are missing."""
    digital = np.asarray(digital, dtype=np.float64)
    if digital.ndim != 2 or digital.shape[0] < 2 or digital.shape[1] < 2:
        return False
    if invalid is not None and invalid.any():
        digital = np.where(invalid, np.nan, digital)
    spans = np.nanmax(digital, axis=0) - np.nanmin(digital, axis=0)
    return bool(np.all(spans > 0) and np.allclose(np.asarray(gains, dtype=np.float64), spans, rtol=0, atol=0.5))


def _check_dat_files(header: Path, head) -> None:
    """Raise unless every .dat the header names exists and holds at least the samples the header declares."""
    per_file: dict[str, list] = {}
    for name, fmt, per_frame, offset in zip(head.file_name, head.fmt, head.samps_per_frame, head.byte_offset):
        per_file.setdefault(name, []).append((fmt, per_frame or 1, offset or 0))
    for name, signals in per_file.items():
        dat = header.parent / name
        if not dat.is_file():
            raise FileNotFoundError(f"{dat} not found (signal file named by {header})")
        if not head.sig_len or any(fmt not in _WFDB_BYTES_PER_SAMPLE for fmt, _, _ in signals):
            continue
        bytes_per_frame = sum(_WFDB_BYTES_PER_SAMPLE[fmt] * per_frame for fmt, per_frame, _ in signals)
        expected = signals[0][2] + math.ceil(head.sig_len * bytes_per_frame)
        size = dat.stat().st_size
        if size < expected:
            raise ValueError(f"{dat}: truncated, {size} bytes where {header.name} declares {head.sig_len} samples of "
                             f"{len(signals)} signals ({expected} bytes)")


def _read_digital(path: Path, head) -> tuple[np.ndarray, np.ndarray]:
    """(n_samples, n_sig) float64 ADC values and a same-shaped mask of invalid samples.

    The layout of PTB-XL and LUDB (one format-16 file, no offset, skew or multi-sample frames) is read straight
    with numpy; anything else goes through ``wfdb.rdrecord(physical=False)``.
    """
    simple = (len(set(head.file_name)) == 1 and set(head.fmt) == {"16"} and head.sig_len
              and not any(head.byte_offset or []) and not any(head.skew or [])
              and set(head.samps_per_frame or [1]) == {1})
    if not simple:
        import wfdb

        with _quiet_wfdb():
            record = wfdb.rdrecord(str(path), physical=False, return_res=64)
        invalid = np.isnan(record.dac(return_res=64))  # wfdb knows each format's "invalid sample" value
        return record.d_signal.astype(np.float64), invalid
    dat = path.parent / head.file_name[0]
    digital = np.fromfile(dat, dtype="<i2", count=head.sig_len * head.n_sig).reshape(head.sig_len, head.n_sig)
    return digital.astype(np.float64), digital == -32768  # WFDB's "invalid sample" value in format 16


def _millivolt_factors(header: Path, units) -> np.ndarray:
    factors = []
    for unit in units or [None] * len(LEADS):
        key = (unit or "mV").strip().lower()
        if key not in _TO_MILLIVOLT:
            raise ValueError(f"{header}: unknown signal units {unit!r}, expected one of mV, uV, V")
        factors.append(_TO_MILLIVOLT[key])
    return np.asarray(factors)


# --- LUDB wave annotations ---------------------------------------------------------------------------------------

#: MIT annotation codes of the wave symbols (wfdb's ann_label_table): onset, offset and the three peaks.
_WAVE_SYMBOL_CODES = {39: "(", 40: ")", 24: "p", 1: "N", 27: "t"}
_WAVE_OF_PEAK = {"p": "P", "N": "QRS", "t": "T"}


def read_wave_annotations(path: str | os.PathLike) -> tuple[np.ndarray, list]:
    """Sample indices and symbols of the wave annotations ('(', ')', 'p', 'N', 't') of a MIT-format annotation file.

    A direct reader of the format (16-bit words: a 6-bit code and a 10-bit time increment, plus the SKIP, NUM,
    SUB, CHN and AUX pseudo-codes), much faster than ``wfdb.rdann`` on LUDB's 2,400 small files
    (``benchmarks/bench_data_cache.py`` measures both). Other annotation codes are skipped.
    """
    words = np.fromfile(path, dtype="<u2").tolist()
    samples, symbols = [], []
    time, i = 0, 0
    while i < len(words):
        code, value = words[i] >> 10, words[i] & 0x3FF
        i += 1
        if code == 0 and value == 0:  # end of file
            break
        if code == 59:  # SKIP: a signed 32-bit interval follows, high 16 bits first
            skip = (words[i] << 16) | words[i + 1]
            time += skip - (1 << 32) if skip >= 1 << 31 else skip
            i += 2
        elif code == 63:  # AUX: `value` bytes of text follow, padded to an even count
            i += (value + 1) // 2
        elif code in (60, 61, 62):  # NUM, SUB, CHN modify the previous annotation, not the time
            continue
        else:
            time += value
            if code in _WAVE_SYMBOL_CODES:
                samples.append(time)
                symbols.append(_WAVE_SYMBOL_CODES[code])
    return np.asarray(samples, dtype=np.int64), symbols


def annotations_to_waves(samples: np.ndarray, symbols: list) -> dict:
    """{"P"|"QRS"|"T": int64 (n_waves, 3) onset, peak, offset} from time-ordered LUDB annotations.

    Every peak ('p', 'N', 't') is a wave. Its onset is the annotation right before it if that is '(', its offset
    the one right after it if that is ')'; a bound found otherwise is -1 (see the module docstring).
    """
    found = {"P": [], "QRS": [], "T": []}
    for k, symbol in enumerate(symbols):
        if symbol in _WAVE_OF_PEAK:
            onset = samples[k - 1] if k > 0 and symbols[k - 1] == "(" else -1
            offset = samples[k + 1] if k + 1 < len(symbols) and symbols[k + 1] == ")" else -1
            found[_WAVE_OF_PEAK[symbol]].append((onset, samples[k], offset))
    return {kind: np.asarray(rows, dtype=np.int64).reshape(-1, 3) for kind, rows in found.items()}


def waves_to_mask(waves: dict, n_samples: int) -> np.ndarray:
    """(n_samples,) int8 ``WAVES`` codes: each wave with both bounds filled from onset to offset inclusive.

    Waves are painted in the order of their peaks, so where two overlap the later one wins.
    """
    painted = sorted((peak, onset, offset, WAVES.index(kind)) for kind, rows in waves.items()
                     for onset, peak, offset in rows if onset >= 0 and offset >= 0)
    mask = np.zeros(n_samples, dtype=np.int8)
    for _, onset, offset, code in painted:
        mask[onset:offset + 1] = code
    return mask
