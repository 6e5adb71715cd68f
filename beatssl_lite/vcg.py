"""12-lead ECG <-> vectorcardiogram (VCG, the heart's 3-D electrical dipole X, Y, Z).

Only 8 of the 12 leads are independent: I, II and V1-V6. The four others follow from Einthoven's and
Goldberger's laws: III = II - I, aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2.

Matrices [ref]: Kors regression (Kors et al., Eur Heart J 1990), inverse Dower (Edenbrandt & Pahlm 1988) and
Dower (Dower et al. 1980); coefficients copied from the project spec. Rows of the VCG matrices are X, Y, Z and
their columns the 8 independent leads in the order of ``INDEPENDENT_LEADS``.

Every function works on numpy arrays or torch tensors of shape ``(..., leads, time)`` and returns the same
kind (torch results stay on the input's device and dtype).
"""

from __future__ import annotations

import numpy as np

from .data import LEADS

INDEPENDENT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
#: Positions of the independent leads inside the standard 12-lead order.
INDEPENDENT_INDEX = tuple(LEADS.index(name) for name in INDEPENDENT_LEADS)
VCG_AXES = ("X", "Y", "Z")

KORS = np.array(
    [
        [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],
        [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],
        [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],
    ]
)
INVERSE_DOWER = np.array(
    [
        [0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194],
        [-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048],
        [0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108],
    ]
)
#: VCG -> 8 independent leads, shape (8, 3), columns X, Y, Z.
DOWER = np.array(
    [
        [0.632, -0.235, 0.059],
        [0.235, 1.066, -0.132],
        [-0.515, 0.157, -0.917],
        [0.044, 0.164, -1.387],
        [0.882, 0.098, -1.277],
        [1.213, 0.127, -0.601],
        [1.125, 0.127, -0.086],
        [0.831, 0.076, 0.230],
    ]
)

MATRICES = {"kors": KORS, "inverse_dower": INVERSE_DOWER}
#: VCG -> 8 leads. "dower" is Dower's published matrix; "pinv" is the pseudo-inverse of the inverse Dower
#: matrix, which is what the 3KG reference implementation projects back with [ref]: with it,
#: ecg_to_vcg(vcg_to_ecg(v)) == v exactly, while with Dower's own matrix D_inv @ D differs from the identity by up to 6e-4.
BACK_PROJECTIONS = {"dower": DOWER, "pinv": np.linalg.pinv(INVERSE_DOWER)}


def _as_matrix(matrix, like):
    """Return ``matrix`` as an array of the same library, device and dtype as ``like``."""
    if isinstance(like, np.ndarray):
        return np.asarray(matrix, dtype=np.result_type(like.dtype, np.float32))
    import torch

    return torch.as_tensor(np.asarray(matrix), dtype=like.dtype, device=like.device)


def _check_leads(x, expected: int, name: str) -> None:
    if x.ndim < 2 or x.shape[-2] != expected:
        raise ValueError(
            f"{name}: expected shape (..., {expected}, time), got {tuple(x.shape)}"
        )


def derived_leads(lead_i, lead_ii):
    """III, aVR, aVL, aVF from leads I and II (exact identities), stacked on axis -2."""
    lib = np if isinstance(lead_i, np.ndarray) else __import__("torch")
    return lib.stack(
        [lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2], -2
    )


def eight_to_twelve(ecg8):
    """Rebuild the 12 standard leads from the 8 independent ones, shape (..., 8, T) -> (..., 12, T)."""
    _check_leads(ecg8, 8, "eight_to_twelve")
    lib = np if isinstance(ecg8, np.ndarray) else __import__("torch")
    lead_i, lead_ii = ecg8[..., 0, :], ecg8[..., 1, :]
    return lib.concatenate([ecg8[..., :2, :], derived_leads(lead_i, lead_ii), ecg8[..., 2:, :]], -2)


def twelve_to_eight(ecg12):
    """Select the 8 independent leads (I, II, V1-V6), shape (..., 12, T) -> (..., 8, T)."""
    _check_leads(ecg12, 12, "twelve_to_eight")
    return ecg12[..., list(INDEPENDENT_INDEX), :]


def ecg_to_vcg(ecg12, method: str = "inverse_dower"):
    """12-lead ECG (..., 12, T) in mV -> VCG (..., 3, T) with rows X, Y, Z.

    ``method`` is ``"inverse_dower"`` (the matrix 3KG uses) or ``"kors"`` (better for clinical VCG).
    """
    if method not in MATRICES:
        raise ValueError(f"method: expected one of {sorted(MATRICES)}, got {method!r}")
    ecg8 = twelve_to_eight(ecg12)
    return _as_matrix(MATRICES[method], ecg8) @ ecg8


def vcg_to_ecg(vcg, back_projection: str = "dower"):
    """VCG (..., 3, T) -> 12-lead ECG (..., 12, T): back-projection to the 8 independent leads, then the 4 derived.

    ``back_projection`` is ``"dower"`` (Dower 1980) or ``"pinv"`` (pinv of the inverse Dower matrix, as 3KG).
    The result is a pure dipole ECG: whatever of the original 8 leads lies outside the 3-D span of the
    back-projection (the non-dipolar part, about a tenth of the signal energy in real ECGs) is gone.
    """
    if back_projection not in BACK_PROJECTIONS:
        raise ValueError(f"back_projection: expected one of {sorted(BACK_PROJECTIONS)}, got {back_projection!r}")
    _check_leads(vcg, 3, "vcg_to_ecg")
    return eight_to_twelve(_as_matrix(BACK_PROJECTIONS[back_projection], vcg) @ vcg)


def dipolar_fraction(ecg12, method: str = "inverse_dower", back_projection: str = "pinv") -> float:
    """Share of the 8 independent leads' energy kept by the round trip ECG -> VCG -> ECG (1.0 = pure dipole)."""
    ecg8 = twelve_to_eight(ecg12)
    kept = twelve_to_eight(vcg_to_ecg(ecg_to_vcg(ecg12, method), back_projection))
    lib = np if isinstance(ecg8, np.ndarray) else __import__("torch")
    return float(1.0 - lib.sum((ecg8 - kept) ** 2) / lib.sum(ecg8**2))
