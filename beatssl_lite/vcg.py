"""12-lead ECG <-> vectorcardiogram (VCG, the heart's 3-D electrical dipole X, Y, Z).

Only 8 of the 12 leads are independent: I, II and V1-V6. The four others follow from Einthoven's and
Goldberger's laws: III = II - I, aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2.

Each lead is (to first order) the projection of the dipole on a fixed *lead vector*: lead(t) = l . d(t). The
matrices below are these lead vectors and two ways of inverting them:
- [ref] Kors regression (Kors et al., Eur Heart J 1990), 8 leads -> VCG: fitted to recorded Frank VCGs, the
  better estimate of the clinical VCG.
- [ref] inverse Dower (Edenbrandt & Pahlm 1988), 8 leads -> VCG: the pseudo-inverse of Dower's matrix; the one
  3KG uses.
- [ref] Dower (Dower et al. 1980), VCG -> 8 leads: the lead vectors of a torso model.
Coefficients are copied from the project spec; rows of the VCG matrices are X, Y, Z and their columns the 8
independent leads in the order of ``INDEPENDENT_LEADS``.

Back-projections (VCG -> 8 leads), ``BACK_PROJECTIONS``:
- "dower": Dower's published matrix [ref].
- "pinv": pinv(inverse Dower), what the 3KG reference implementation projects back with [ref]. With it the
  round trip VCG -> 12 leads -> VCG is exact (D_inv pinv(D_inv) = I), while with Dower's own matrix D_inv D
  differs from I by up to 6e-4 per entry, because the published tables are rounded to 3 decimals.
- "pinv_kors": pinv(Kors) [ours], the least-squares way back from a Kors VCG, so that Kors has an exact round
  trip too. Dower's matrix is *not* a way back from Kors: Kors @ Dower differs from I by 0.38 (the two live in
  different coordinates, Frank's measured axes vs Dower's torso model).

The other round trip, ECG -> VCG -> ECG, is never exact on real data: it keeps only the 3-D dipolar part of the
8 independent leads. With "pinv" it is the orthogonal projection onto the 3-D span of the back-projection, so
``dipolar_fraction`` is exactly the share of signal energy kept.

Every function works on numpy arrays or torch tensors of shape ``(..., leads, time)`` and returns the same
kind (torch results stay on the input's device and dtype; integer input is promoted to float32).
"""

from __future__ import annotations

import numpy as np

from .vocabulary import INDEPENDENT_INDEX, INDEPENDENT_LEADS, LEADS

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

#: 8 leads -> VCG, each (3, 8).
MATRICES = {"kors": KORS, "inverse_dower": INVERSE_DOWER}
#: VCG -> 8 leads, each (8, 3); see the module docstring for which goes with which.
BACK_PROJECTIONS = {"dower": DOWER, "pinv": np.linalg.pinv(INVERSE_DOWER), "pinv_kors": np.linalg.pinv(KORS)}


def _lib(x):
    return np if isinstance(x, np.ndarray) else __import__("torch")


def _floating(x):
    """``x`` as a floating array of its own library (integer input -> float32)."""
    if isinstance(x, np.ndarray):
        return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)
    return x if x.is_floating_point() else x.float()


def _as_matrix(matrix, like):
    """Return ``matrix`` as an array of the same library, device and dtype as the floating array ``like``."""
    if isinstance(like, np.ndarray):
        return np.asarray(matrix, dtype=like.dtype)
    import torch

    return torch.as_tensor(np.asarray(matrix), dtype=like.dtype, device=like.device)


def _check_leads(x, expected: int, name: str) -> None:
    if not hasattr(x, "ndim") or x.ndim < 2 or x.shape[-2] != expected:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"{name}: expected an array of shape (..., {expected}, time), got {shape}")


def _check_choice(value: str, choices: dict, name: str) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")


def derived_leads(lead_i, lead_ii):
    """III, aVR, aVL, aVF from leads I and II (exact identities), stacked on axis -2."""
    return _lib(lead_i).stack(
        [lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2], -2
    )


def eight_to_twelve(ecg8):
    """Rebuild the 12 standard leads from the 8 independent ones, shape (..., 8, T) -> (..., 12, T)."""
    _check_leads(ecg8, 8, "ecg8")
    lead_i, lead_ii = ecg8[..., 0, :], ecg8[..., 1, :]
    return _lib(ecg8).concatenate([ecg8[..., :2, :], derived_leads(lead_i, lead_ii), ecg8[..., 2:, :]], -2)


def twelve_to_eight(ecg12):
    """Select the 8 independent leads (I, II, V1-V6), shape (..., 12, T) -> (..., 8, T)."""
    _check_leads(ecg12, 12, "ecg12")
    return ecg12[..., list(INDEPENDENT_INDEX), :]


def ecg_to_vcg(ecg12, method: str = "inverse_dower"):
    """12-lead ECG (..., 12, T) in mV -> VCG (..., 3, T) with rows X, Y, Z.

    ``method`` is ``"inverse_dower"`` (the matrix 3KG uses) or ``"kors"`` (better for clinical VCG).
    """
    _check_choice(method, MATRICES, "method")
    ecg8 = _floating(twelve_to_eight(ecg12))
    return _as_matrix(MATRICES[method], ecg8) @ ecg8


def vcg_to_ecg(vcg, back_projection: str = "dower"):
    """VCG (..., 3, T) -> 12-lead ECG (..., 12, T): back-projection to the 8 independent leads, then the 4 derived.

    ``back_projection`` is ``"dower"`` (Dower 1980), ``"pinv"`` (pinv of the inverse Dower matrix, as 3KG) or
    ``"pinv_kors"`` (pinv of Kors). The result is a pure dipole ECG.
    """
    _check_choice(back_projection, BACK_PROJECTIONS, "back_projection")
    _check_leads(vcg, 3, "vcg")
    vcg = _floating(vcg)
    return eight_to_twelve(_as_matrix(BACK_PROJECTIONS[back_projection], vcg) @ vcg)


def lead_vectors(back_projection: str = "dower") -> np.ndarray:
    """The lead vector of each of the 12 leads, shape (12, 3) in ``LEADS`` order, columns X, Y, Z.

    Lead k of a pure dipole ECG is ``lead_vectors()[k] @ vcg``; the 4 derived leads' vectors follow from I and II
    by the same identities as their signals.
    """
    _check_choice(back_projection, BACK_PROJECTIONS, "back_projection")
    return eight_to_twelve(BACK_PROJECTIONS[back_projection])


def round_trip_operator(method: str = "inverse_dower", back_projection: str = "pinv") -> np.ndarray:
    """The (3, 3) matrix M B that VCG -> 12 leads -> VCG applies (M = ``MATRICES[method]``, B the back-projection)."""
    _check_choice(method, MATRICES, "method")
    _check_choice(back_projection, BACK_PROJECTIONS, "back_projection")
    return MATRICES[method] @ BACK_PROJECTIONS[back_projection]


def vcg_round_trip_bound(method: str = "inverse_dower", back_projection: str = "pinv") -> float:
    """Worst-case relative error of VCG -> 12 leads -> VCG: ``||M B - I||_2`` (spectral norm).

    For every sample, ``|v' - v| <= bound * |v|`` with ``v' = ecg_to_vcg(vcg_to_ecg(v, B), M)``; equality for the
    worst direction. About 1e-16 for ("inverse_dower", "pinv"), 1.05e-3 for ("inverse_dower", "dower").
    """
    return float(np.linalg.norm(round_trip_operator(method, back_projection) - np.eye(3), 2))


def dipolar_part(ecg12, method: str = "inverse_dower", back_projection: str = "pinv"):
    """ECG -> VCG -> ECG, (..., 12, T) -> (..., 12, T): the part of the ECG a single 3-D dipole explains."""
    return vcg_to_ecg(ecg_to_vcg(ecg12, method), back_projection)


def dipolar_fraction(ecg12, method: str = "inverse_dower", back_projection: str = "pinv"):
    """Share of each record's energy in the 8 independent leads that ``dipolar_part`` keeps, 1 - |x - x'|^2 / |x|^2.

    Shape (...,) for input (..., 12, T): one value per record (a 0-d array for one record). 1.0 is a pure
    dipole. With ``back_projection="pinv"`` the round trip is an orthogonal projection, so the value lies in [0, 1].
    """
    ecg8 = _floating(twelve_to_eight(ecg12))
    kept = twelve_to_eight(dipolar_part(ecg12, method, back_projection))
    return 1.0 - ((ecg8 - kept) ** 2).sum(axis=(-2, -1)) / (ecg8**2).sum(axis=(-2, -1))
