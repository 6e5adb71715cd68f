"""The one validator of ECG arrays and sampling rates, called at each public entry that takes a signal.

A per-record numpy function validates its input once, here, and passes the checked array on to private helpers
that trust it. Every error names the argument (or file) and says what was expected.
"""

from __future__ import annotations

import numpy as np

from .vocabulary import LEADS


def check_fs(fs, name: str = "fs") -> float:
    """``fs`` as a float, or a ValueError naming ``name`` unless it is a positive finite sampling rate in Hz.

    Numeric strings ('500') are accepted, as everywhere in the package."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive sampling rate in Hz, got {fs!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive sampling rate in Hz, got {fs!r}")
    return value


def check_ecg(signal, name: str = "signal", *, fs: float | None = None, min_duration_s: float = 0.0,
              single_lead: bool = False, n_samples: int | None = None, dtype=np.float64) -> np.ndarray:
    """Check one ECG and return it as a C-contiguous (n_leads, T) array of ``dtype`` (a view when nothing changes).

    Accepted: a (12, T) 12-lead ECG with rows in ``LEADS`` order, and with ``single_lead`` also a (T,) single lead
    (returned as (1, T)). Raises a ValueError naming ``name`` for a non-numeric input, another shape (a (T, 12)
    array is called out as transposed), a length other than ``n_samples``, fewer than ``min_duration_s`` seconds at
    ``fs``, and NaN or infinite values (naming the leads that hold them: a NaN would spread through every filter
    and lead transform downstream, so the package never accepts one silently).
    """
    try:
        x = np.asarray(signal, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numeric (12, n_samples) array, got {type(signal).__name__}") from None
    if single_lead and x.ndim == 1:
        x, lead_names = x[None], ("the lead",)
    elif x.ndim == 2 and x.shape[0] == len(LEADS):
        lead_names = LEADS
    elif x.ndim == 2 and x.shape[1] == len(LEADS):
        raise ValueError(f"{name}: expected (12, n_samples) with rows in the order {LEADS}, got {x.shape}: "
                         f"transpose it (signal.T)")
    else:
        also = " or a (n_samples,) single lead" if single_lead else ""
        raise ValueError(f"{name}: expected a (12, n_samples) 12-lead ECG in the order {LEADS}{also}, "
                         f"got shape {x.shape}")
    if n_samples is not None and x.shape[1] != n_samples:
        raise ValueError(f"{name}: expected {n_samples} samples, got {x.shape[1]}")
    if fs is not None and x.shape[1] < min_duration_s * fs:
        raise ValueError(f"{name}: {x.shape[1]} samples at {fs:g} Hz is shorter than {min_duration_s:g} s")
    bad = ~np.isfinite(x)
    if bad.any():
        leads = [lead_names[i] for i in np.flatnonzero(bad.any(axis=1))]
        raise ValueError(f"{name}: NaN or infinite values in lead(s) {', '.join(leads)}: fill or drop them first")
    return np.ascontiguousarray(x)
