"""3KG augmentation: rotate and scale the heart's dipole in 3-D, project back to 12 leads, mask time.

Per view and per record [ref: Gopal et al., ML4H 2021, and their public code]:
1. VCG = D_inv @ ecg8 with the inverse Dower matrix (8 independent leads -> X, Y, Z);
2. a random rotation R from three Euler angles ~ U(-45, 45) degrees, 'zyx' as scipy reads it;
3. a random per-axis scaling S = diag(U(1, 1.5)), applied after the rotation;
4. back to 8 leads with B = pinv(D_inv), the four derived leads recomputed from I and II;
5. per lead, a contiguous block of 50 % of the samples set to zero, starting at a random sample and wrapping
   around the end of the record.
Every number is a field of ``ThreeKGConfig``; the VCG matrix and the back-projection can be swapped for Kors /
Dower ones [ours: options, the defaults are the reference's].

Two variants, and what each discards:
- plain (the reference): x' = B S R D_inv x. B D_inv has rank 3, so even with R = S = I the output is the
  *dipolar* ECG: whatever of the 8 leads no single 3-D dipole explains (local, non-dipolar activity, seen mostly in
  the precordial leads, and electrode noise) is gone, and with it the lead-specific detail of the waves.
- residual [ours]: x' = x + B (S R - I) D_inv x. Only the dipolar part is rotated and scaled; the non-dipolar
  remainder x - B D_inv x is kept as it is, and R = S = I gives x back exactly. What it gives up: the non-dipolar
  part is not "rotated with the heart", so a large rotation pairs a turned dipole with the old residual.

Implementation [ours: same result as the step-by-step recipe up to float rounding, tested against it]:
- Steps 1-4 are one linear map per record, A = B S R D_inv on the 8 independent leads; folding in the selection
  of those 8 leads and the derived-lead identities makes it a 12 x 12 map, so the whole batch is one batched
  matrix product; rotation matrices for the whole batch come from tensor ops, not scipy.
- Every wrapping mask is a window of one periodic template [1]*L + [0]*(T-L), read at offset (T - start) mod T:
  the template's T windows are one strided view, and a gather copies the chosen ones. On a CPU this is two orders
  of magnitude faster than comparing (t - start) mod T < L for every sample, and gives the same mask (tested).
- ``out=`` writes into a preallocated tensor: on a CPU, mapping a fresh 61 MB output (256 x 12 x 5000 float32)
  page by page costs about as much as the augmentation itself (``benchmarks/bench_augment.py`` measures both).

Everything runs in torch on the input's device, batched ``(batch, 12, time)``; numpy in gives numpy out.
Randomness comes from a seeded ``torch.Generator`` on the CPU, so the same seed gives the same views on any device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .vcg import BACK_PROJECTIONS, INDEPENDENT_INDEX, MATRICES, eight_to_twelve


@dataclass(frozen=True)
class ThreeKGConfig:
    """Parameters of one 3KG view. The defaults are the reference implementation's [ref]."""

    max_angle_deg: float = 45.0  # each Euler angle ~ U(-max, max)
    scale_min: float = 1.0  # each axis scale ~ U(scale_min, scale_max), applied after the rotation
    scale_max: float = 1.5
    mask_fraction: float = 0.5  # share of each lead's samples zeroed, one contiguous (wrapping) block
    vcg_matrix: str = "inverse_dower"  # 8 leads -> VCG: "inverse_dower" (3KG) or "kors"
    back_projection: str = "pinv"  # VCG -> 8 leads: "pinv" (pinv of inverse Dower, 3KG), "dower" or "pinv_kors"
    residual: bool = False  # keep the non-dipolar part (see the module docstring)

    def __post_init__(self):
        if not 0 <= self.max_angle_deg <= 180:
            raise ValueError(f"max_angle_deg: expected a value in [0, 180], got {self.max_angle_deg}")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"scale_min, scale_max: expected 0 < min <= max, got {self.scale_min}, {self.scale_max}")
        if not 0 <= self.mask_fraction < 1:
            raise ValueError(f"mask_fraction: expected a value in [0, 1), got {self.mask_fraction}")
        if self.vcg_matrix not in MATRICES:
            raise ValueError(f"vcg_matrix: expected one of {sorted(MATRICES)}, got {self.vcg_matrix!r}")
        if self.back_projection not in BACK_PROJECTIONS:
            raise ValueError(
                f"back_projection: expected one of {sorted(BACK_PROJECTIONS)}, got {self.back_projection!r}"
            )


def rotation_matrices(angles_rad: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from Euler angles, shape (B, 3) -> (B, 3, 3).

    The columns of ``angles_rad`` are the angles about z, y and x, applied in that order about the fixed axes,
    which is scipy's ``Rotation.from_euler('zyx', angles)``: R = Rx(a_x) @ Ry(a_y) @ Rz(a_z).
    """
    if not isinstance(angles_rad, torch.Tensor) or angles_rad.ndim != 2 or angles_rad.shape[1] != 3:
        shape = tuple(angles_rad.shape) if hasattr(angles_rad, "shape") else type(angles_rad).__name__
        raise ValueError(f"angles_rad: expected a tensor of shape (batch, 3), got {shape}")
    cz, cy, cx = torch.cos(angles_rad).unbind(1)
    sz, sy, sx = torch.sin(angles_rad).unbind(1)
    one, zero = torch.ones_like(cz), torch.zeros_like(cz)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(-1, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(-1, 3, 3)
    return rx @ ry @ rz


def lead_maps(rotations: torch.Tensor, scales: torch.Tensor, config: ThreeKGConfig) -> torch.Tensor:
    """The per-record linear map on the 8 independent leads, (B, 3, 3) and (B, 3) -> (B, 8, 8).

    Plain: B S R D; residual: I + B (S R - I) D (B the back-projection, D the VCG matrix, S = diag(scales)).
    """
    like = dict(dtype=rotations.dtype, device=rotations.device)
    to_vcg = torch.as_tensor(MATRICES[config.vcg_matrix], **like)
    back = torch.as_tensor(BACK_PROJECTIONS[config.back_projection], **like)
    dipole_map = scales.unsqueeze(-1) * rotations  # S @ R with S diagonal
    if config.residual:
        return torch.eye(8, **like) + back @ (dipole_map - torch.eye(3, **like)) @ to_vcg
    return back @ dipole_map @ to_vcg


def twelve_lead_maps(maps8: torch.Tensor) -> torch.Tensor:
    """Lift maps on the 8 independent leads (B, 8, 8) to maps on all 12 leads (B, 12, 12).

    Output rows: the 8 mapped leads plus III, aVR, aVL, aVF derived from the mapped I and II; input columns of
    the 4 derived leads are zero (they carry no information the 8 independent leads lack).
    """
    expand = eight_to_twelve(torch.eye(8, dtype=maps8.dtype, device=maps8.device))  # (12, 8)
    select = expand.new_zeros(8, 12)
    select[torch.arange(8), torch.tensor(INDEPENDENT_INDEX)] = 1.0
    return expand @ maps8 @ select


def mask_length(n_samples: int, mask_fraction: float) -> int:
    """Samples zeroed per lead: ``round(mask_fraction * n_samples)``."""
    return round(mask_fraction * n_samples)


def _mask_windows(n_samples: int, length: int, device) -> torch.Tensor:
    """All T wrapping masks of ``length`` samples as one strided view (T, T); row k starts at sample (T - k) % T."""
    template = torch.zeros(2 * n_samples, dtype=torch.bool, device=device)
    template[:length] = True
    template[n_samples : n_samples + length] = True
    return template.unfold(0, n_samples, 1)


def time_mask(n_samples: int, starts: torch.Tensor, length: int) -> torch.Tensor:
    """Boolean mask (..., T), True on the ``length`` samples from ``starts`` (...) on, wrapping at the end."""
    if not 0 <= length <= n_samples:
        raise ValueError(f"length: expected 0 <= length <= n_samples = {n_samples}, got {length}")
    return _mask_windows(n_samples, length, starts.device)[(n_samples - starts.long()) % n_samples]


def sample_parameters(batch: int, n_samples: int, config: ThreeKGConfig, generator: torch.Generator | None = None):
    """Draw one view's random parameters on the CPU.

    Returns a dict of CPU tensors: ``angles_deg`` (B, 3) float64, the Euler angles about z, y, x (the columns of
    ``rotation_matrices``); ``scales`` (B, 3) float64, the scale of the rotated X, Y, Z axes; ``mask_start``
    (B, 12) int64, the first masked sample of each lead.
    """
    angles = (torch.rand(batch, 3, generator=generator, dtype=torch.float64) * 2 - 1) * config.max_angle_deg
    scales = config.scale_min + torch.rand(batch, 3, generator=generator, dtype=torch.float64) * (
        config.scale_max - config.scale_min
    )
    starts = torch.randint(0, n_samples, (batch, 12), generator=generator)
    return {"angles_deg": angles, "scales": scales, "mask_start": starts}


def make_parameters(angles_deg, scales=(1.0, 1.0, 1.0), mask_start=0, batch: int = 1) -> dict:
    """Explicit 3KG parameters, each broadcast to the batch: angles (3,) or (B, 3) about z, y, x in degrees,
    scales (3,) or (B, 3), mask_start scalar, (12,) or (B, 12). Same dict as ``sample_parameters`` returns."""
    def broadcast(value, width, dtype, name):
        tensor = torch.as_tensor(np.asarray(value), dtype=dtype)
        try:
            return tensor.expand(batch, width).clone()
        except RuntimeError:
            raise ValueError(
                f"{name}: expected a scalar, ({width},) or ({batch}, {width}), got {tuple(tensor.shape)}"
            ) from None

    return {
        "angles_deg": broadcast(angles_deg, 3, torch.float64, "angles_deg"),
        "scales": broadcast(scales, 3, torch.float64, "scales"),
        "mask_start": broadcast(mask_start, 12, torch.int64, "mask_start"),
    }


def apply_three_kg(x: torch.Tensor, params: dict, config: ThreeKGConfig, out: torch.Tensor | None = None):
    """Apply given 3KG parameters (as from ``sample_parameters``) to ECGs ``x`` (B, 12, T) -> (B, 12, T).

    out: optional contiguous tensor of x's shape, dtype and device to write into (reusing one saves the
    allocation, which on a CPU costs about as much as the augmentation itself: first-touch page faults).
    """
    _check_batch(x)
    x = x if x.is_floating_point() else x.float()
    batch, _, n_samples = x.shape
    _check_params(params, batch)
    if out is None:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
    elif out.shape != x.shape or out.dtype != x.dtype or out.device != x.device or not out.is_contiguous():
        raise ValueError(f"out: expected a contiguous {x.dtype} tensor of shape {tuple(x.shape)} on {x.device}, "
                         f"got {out.dtype} {tuple(out.shape)} on {out.device}")
    # The maps are tiny: built in float64 on the CPU (some devices have no float64) and cast once, so float32 views
    # carry one rounding, not three.
    rotations = rotation_matrices(params["angles_deg"].cpu().double() * (math.pi / 180))
    maps = twelve_lead_maps(lead_maps(rotations, params["scales"].cpu().double(), config)).to(x.device, x.dtype)
    length = mask_length(n_samples, config.mask_fraction)
    windows = _mask_windows(n_samples, length, x.device)
    offsets = (n_samples - params["mask_start"].to(x.device, torch.long)) % n_samples
    torch.bmm(maps, x, out=out)
    if length:
        out.masked_fill_(windows[offsets], 0.0)
    return out


def _generator(generator) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise ValueError(f"generator: expected a torch.Generator, an int seed or None, got {type(generator).__name__}")


def three_kg(x, config: ThreeKGConfig | None = None, generator=None, out=None):
    """One random 3KG view of each ECG in ``x`` (B, 12, T), a torch tensor (any device) or a numpy array.

    generator: a CPU ``torch.Generator``, an int seed, or None (torch's global generator).
    out: optional array of x's shape and kind to write the views into (see ``apply_three_kg``).
    Returns ``(views, params)``: views of the same kind, shape and device as ``x`` (integer input gives float32);
    params as in ``sample_parameters`` (CPU tensors), so every view can be explained and reproduced.
    """
    config = config or ThreeKGConfig()
    is_numpy = isinstance(x, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else x
    _check_batch(tensor)
    if is_numpy and out is not None:
        out = torch.from_numpy(out)
    params = sample_parameters(tensor.shape[0], tensor.shape[-1], config, _generator(generator))
    views = apply_three_kg(tensor, params, config, out)
    return (views.numpy() if is_numpy else views), params


def two_views(x, config: ThreeKGConfig | None = None, generator=None):
    """The two independently augmented views a contrastive step needs: ``(view1, view2, params1, params2)``."""
    generator = _generator(generator)
    view1, params1 = three_kg(x, config, generator)
    view2, params2 = three_kg(x, config, generator)
    return view1, view2, params1, params2


def _check_batch(x) -> None:
    if not hasattr(x, "ndim") or x.ndim != 3 or x.shape[1] != 12:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"x: expected a batch of 12-lead ECGs of shape (batch, 12, time), got {shape}")
    if x.shape[-1] < 1:
        raise ValueError("x: expected at least one sample per lead, got time = 0")


def _check_params(params: dict, batch: int) -> None:
    expected = {"angles_deg": (batch, 3), "scales": (batch, 3), "mask_start": (batch, 12)}
    for name, shape in expected.items():
        value = params.get(name) if isinstance(params, dict) else None
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if hasattr(value, "shape") else type(value).__name__
            raise ValueError(f"params[{name!r}]: expected a tensor of shape {shape}, got {got}")
