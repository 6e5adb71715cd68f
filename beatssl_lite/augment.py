"""3KG augmentation: rotate and scale the heart's dipole in 3-D, project back to 12 leads, mask time.

Per view and per record [ref: Gopal et al., ML4H 2021, and their public code]:
1. VCG = D_inv @ ecg8 with the inverse Dower matrix (8 independent leads -> X, Y, Z);
2. a random rotation R from three Euler angles ~ U(-45, 45) degrees ('zyx', scipy's extrinsic convention);
3. a random per-axis scaling S = diag(U(1, 1.5)), applied after the rotation;
4. back to 8 leads with P = pinv(D_inv), the four derived leads recomputed from I and II;
5. per lead, a contiguous block of 50 % of the samples set to zero, starting at a random sample and wrapping
   around the end of the record.

Steps 1-4 are one linear map per record, A = P S R D_inv on the 8 independent leads; folding in the selection of
those 8 leads and the derived-lead identities makes it a 12 x 12 map, so the whole batch is one batched matrix
product, and the mask is cut from one precomputed wrapping template instead of modular arithmetic per sample
[ours: implementation choices, same result as the reference's step-by-step projections up to float rounding].

What the projection discards: P D_inv has rank 3, so even with R = S = I the output is the *dipolar* ECG: the
part of the 8 leads that no 3-D dipole explains (local, non-dipolar activity seen mostly in the precordial
leads) is lost. The ``residual=True`` variant [ours] keeps it: x' = x + P (S R - I) D_inv x, which changes only
the dipolar part and returns x unchanged when S R = I.

Everything runs in torch on the input's device, batched ``(batch, 12, time)``; randomness comes from a seeded
``torch.Generator`` on the CPU, so the same seed gives the same views on any device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .vcg import BACK_PROJECTIONS, INDEPENDENT_INDEX, INVERSE_DOWER, eight_to_twelve


@dataclass
class ThreeKGConfig:
    """Parameters of one 3KG view. The defaults are the reference implementation's [ref]."""

    max_angle_deg: float = 45.0  # each Euler angle ~ U(-max, max)
    scale_min: float = 1.0  # each axis scale ~ U(scale_min, scale_max)
    scale_max: float = 1.5
    mask_fraction: float = 0.5  # share of each lead's samples zeroed, one contiguous (wrapping) block
    back_projection: str = "pinv"  # "pinv" (pinv of inverse Dower, as 3KG) or "dower"
    residual: bool = False  # keep the non-dipolar part (see module docstring)

    def __post_init__(self):
        if not 0 <= self.max_angle_deg <= 180:
            raise ValueError(f"max_angle_deg: expected a value in [0, 180], got {self.max_angle_deg}")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"scale_min, scale_max: expected 0 < min <= max, got {self.scale_min}, {self.scale_max}")
        if not 0 <= self.mask_fraction < 1:
            raise ValueError(f"mask_fraction: expected a value in [0, 1), got {self.mask_fraction}")
        if self.back_projection not in BACK_PROJECTIONS:
            raise ValueError(
                f"back_projection: expected one of {sorted(BACK_PROJECTIONS)}, got {self.back_projection!r}"
            )


def rotation_matrices(angles_rad: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from Euler angles, shape (B, 3) -> (B, 3, 3).

    Column k of ``angles_rad`` is the angle about z, y, x respectively, applied in that order about the fixed
    axes (scipy's ``Rotation.from_euler('zyx', ...)``): R = Rx(a_x) @ Ry(a_y) @ Rz(a_z).
    """
    if angles_rad.ndim != 2 or angles_rad.shape[1] != 3:
        raise ValueError(f"angles_rad: expected shape (batch, 3), got {tuple(angles_rad.shape)}")
    cz, cy, cx = torch.cos(angles_rad).unbind(1)
    sz, sy, sx = torch.sin(angles_rad).unbind(1)
    one, zero = torch.ones_like(cz), torch.zeros_like(cz)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(-1, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(-1, 3, 3)
    return rx @ ry @ rz


def lead_maps(rotations: torch.Tensor, scales: torch.Tensor, config: ThreeKGConfig) -> torch.Tensor:
    """The per-record linear map on the 8 independent leads, (B, 3, 3) and (B, 3) -> (B, 8, 8)."""
    d_inv = torch.as_tensor(INVERSE_DOWER, dtype=rotations.dtype, device=rotations.device)
    back = torch.as_tensor(BACK_PROJECTIONS[config.back_projection], dtype=rotations.dtype, device=rotations.device)
    dipole_map = scales.unsqueeze(-1) * rotations  # S @ R with S diagonal
    if config.residual:
        dipole_map = dipole_map - torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    maps = back @ dipole_map @ d_inv
    if config.residual:
        maps = maps + torch.eye(8, dtype=rotations.dtype, device=rotations.device)
    return maps


def twelve_lead_maps(maps8: torch.Tensor) -> torch.Tensor:
    """Lift maps on the 8 independent leads (B, 8, 8) to maps on all 12 leads (B, 12, 12).

    Output rows: the 8 mapped leads plus III, aVR, aVL, aVF derived from the mapped I and II; input columns of
    the 4 derived leads are zero (they carry no information the 8 independent leads lack).
    """
    eye8 = torch.eye(8, dtype=maps8.dtype, device=maps8.device)
    expand = eight_to_twelve(eye8)  # (12, 8): 12 leads as combinations of the 8
    select = expand.new_zeros(8, 12)
    select[torch.arange(8), torch.tensor(INDEPENDENT_INDEX)] = 1.0
    return expand @ maps8 @ select


def time_mask(n_samples: int, starts: torch.Tensor, length: int) -> torch.Tensor:
    """Boolean mask (B, 12, T), True on the ``length`` samples from ``starts`` (B, 12), wrapping at the end."""
    # Every wrapping mask is a window of the periodic template [1]*length + [0]*(T-length) read from
    # offset (T - start) mod T: unfold gives all T windows as a view, and indexing copies only the chosen ones.
    template = torch.zeros(2 * n_samples, dtype=torch.bool, device=starts.device)
    template[:length] = True
    template[n_samples : n_samples + length] = True
    windows = template.unfold(0, n_samples, 1)
    return windows[(n_samples - starts) % n_samples]


def sample_parameters(batch: int, n_samples: int, config: ThreeKGConfig, generator: torch.Generator | None = None):
    """Draw one view's random parameters on the CPU: dict of angles_deg (B, 3), scales (B, 3), mask_start (B, 12)."""
    angles = (torch.rand(batch, 3, generator=generator, dtype=torch.float64) * 2 - 1) * config.max_angle_deg
    scales = config.scale_min + torch.rand(batch, 3, generator=generator, dtype=torch.float64) * (
        config.scale_max - config.scale_min
    )
    starts = torch.randint(0, n_samples, (batch, 12), generator=generator)
    return {"angles_deg": angles, "scales": scales, "mask_start": starts}


def apply_three_kg(x: torch.Tensor, params: dict, config: ThreeKGConfig) -> torch.Tensor:
    """Apply given 3KG parameters (from ``sample_parameters``) to ECGs ``x`` (B, 12, T) -> (B, 12, T)."""
    _check_batch(x)
    dtype = x.dtype if x.dtype.is_floating_point else torch.float32
    rotations = rotation_matrices(params["angles_deg"].to(x.device, torch.float64) * (math.pi / 180))
    maps = twelve_lead_maps(lead_maps(rotations, params["scales"].to(x.device, torch.float64), config))
    views = maps.to(dtype) @ x.to(dtype)
    length = round(config.mask_fraction * x.shape[-1])
    if length:
        views.masked_fill_(time_mask(x.shape[-1], params["mask_start"].to(x.device), length), 0.0)
    return views


def three_kg(x, config: ThreeKGConfig | None = None, generator: torch.Generator | None = None):
    """One random 3KG view of each ECG in ``x`` (B, 12, T), torch tensor or numpy array.

    Returns ``(views, params)``: views of the same kind, shape and device as ``x``; params as in
    ``sample_parameters`` (CPU tensors), so every view can be explained and reproduced.
    """
    config = config or ThreeKGConfig()
    is_numpy = isinstance(x, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else x
    _check_batch(tensor)
    params = sample_parameters(tensor.shape[0], tensor.shape[-1], config, generator)
    views = apply_three_kg(tensor, params, config)
    return (views.numpy() if is_numpy else views), params


def two_views(x, config: ThreeKGConfig | None = None, generator: torch.Generator | None = None):
    """The two independently augmented views a contrastive step needs: ``(view1, view2, params1, params2)``."""
    view1, params1 = three_kg(x, config, generator)
    view2, params2 = three_kg(x, config, generator)
    return view1, view2, params1, params2


def _check_batch(x) -> None:
    if x.ndim != 3 or x.shape[1] != 12:
        raise ValueError(f"x: expected a batch of 12-lead ECGs of shape (batch, 12, time), got {tuple(x.shape)}")
