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
- Steps 1-4 are one linear map per record, A = B S R D_inv on the 8 independent leads; folding in the
  derived-lead identities makes it a 12 x 8 map (``output_lead_maps``: all 12 output leads from the 8 independent
  input leads, the input's derived leads never read); the maps of the whole batch come from a few vectorised
  numpy operations (no scipy, no loop over records).
- On a CPU with numba installed (the optional extra ``beatssl-lite[fast]``), map and mask are one pass (a numba
  kernel, records split over torch's thread count): each output lead computes only its unmasked samples from the
  8 independent input leads and writes zeros over the rest. A batched matrix product followed by a masked fill
  reads and writes the whole output twice and computes the half that is then thrown away; the CPU is
  memory-bound here, so one pass is faster (``benchmarks/bench_augment.py`` prints by how much).
- On other devices (GPU), and on a CPU without numba (``FUSED_CPU_KERNEL`` False): a batched product of the 12 x 8
  maps with the input's independent leads (two runs of rows, I-II and V1-V6, read as views), then a masked fill.
  The first call logs (INFO) which path runs. Every wrapping mask is a window of one periodic template
  [1]*L + [0]*(T-L), read at offset (T - start) mod T: the template's T windows are one strided view, and a gather
  copies the chosen ones (the same mask as comparing (t - start) mod T < L, tested).
- ``out=`` writes into a preallocated tensor, as a training loop can: a fresh 61 MB output (256 x 12 x 5000
  float32) must first be mapped and zeroed by the kernel page by page. CPU outputs are allocated through numpy,
  which asks Linux for 2 MB pages; with torch's 4 kB pages the page faults cost several times the augmentation.

Input rules [ours]:
- An empty batch (0, 12, T) gives an empty batch of views (0, 12, T) and parameters for 0 records: a batch that
  a filter emptied, or a rank of a distributed run left without records, flows through like any other.
- A view that would hold a NaN or inf is refused with a ValueError naming the records and the input leads that
  hold non-finite values (``check_finite=False`` skips the check): through the VCG, one NaN in one of the 8
  independent leads would spread to all 12 leads of the view. What reaches a view is the 8 independent leads
  (3KG recomputes the four derived ones from I and II, so their values do not matter) at the samples that some
  output lead leaves unmasked; a non-finite value anywhere else changes nothing and passes. The check runs on
  the output: inside the fused kernel, on values still in registers (no extra pass over memory), and on the torch
  path by one sum per lead (one read of the output); the benchmark prints both costs.

Everything runs in torch on the input's device, batched ``(batch, 12, time)``; numpy in gives numpy out.
Randomness comes from a seeded ``torch.Generator`` on the CPU, so the same seed gives the same views on any device.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
import torch

from .vcg import BACK_PROJECTIONS, INDEPENDENT_INDEX, INDEPENDENT_LEADS, MATRICES, eight_to_twelve

try:
    import numba
except ImportError:  # numba is the optional extra "fast"; without it CPU batches take the torch path
    numba = None

logger = logging.getLogger(__name__)

#: Whether float32/float64 CPU batches run the fused numba kernel: True when numba is installed. Setting it to
#: False sends them through the torch path (batched product + masked fill), as on a machine without numba.
FUSED_CPU_KERNEL = numba is not None


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


def rotation_matrices(angles_rad) -> np.ndarray:
    """Rotation matrices from Euler angles, shape (B, 3) -> (B, 3, 3) float64 (a numpy array or CPU tensor in).

    The columns of ``angles_rad`` are the angles about z, y and x, applied in that order about the fixed axes,
    which is scipy's ``Rotation.from_euler('zyx', angles)``: R = Rx(a_x) @ Ry(a_y) @ Rz(a_z).
    """
    angles = np.asarray(angles_rad, dtype=np.float64)
    if angles.ndim != 2 or angles.shape[1] != 3:
        raise ValueError(f"angles_rad: expected an array of shape (batch, 3), got {angles.shape}")
    (cz, cy, cx), (sz, sy, sx) = np.cos(angles).T, np.sin(angles).T
    # The product Rx Ry Rz multiplied out. The tests check it against the three factors and against scipy.
    return np.stack([
        cy * cz, -cy * sz, sy,
        cx * sz + sx * sy * cz, cx * cz - sx * sy * sz, -sx * cy,
        sx * sz - cx * sy * cz, sx * cz + cx * sy * sz, cx * cy,
    ], axis=1).reshape(-1, 3, 3)


def lead_maps(rotations: np.ndarray, scales: np.ndarray, config: ThreeKGConfig) -> np.ndarray:
    """The per-record linear map on the 8 independent leads, (B, 3, 3) and (B, 3) -> (B, 8, 8) float64.

    Plain: B S R D; residual: I + B (S R - I) D (B the back-projection, D the VCG matrix, S = diag(scales)).
    """
    to_vcg = MATRICES[config.vcg_matrix]
    back = BACK_PROJECTIONS[config.back_projection]
    dipole_map = np.asarray(scales, dtype=np.float64)[:, :, None] * rotations  # S @ R with S diagonal
    if config.residual:
        return np.eye(8) + back @ (dipole_map - np.eye(3)) @ to_vcg
    return back @ dipole_map @ to_vcg


def output_lead_maps(maps8: np.ndarray) -> np.ndarray:
    """Maps on the 8 independent leads (B, 8, 8) -> maps from those 8 input leads to all 12 output leads (B, 12, 8).

    Output rows: the 8 mapped leads plus III, aVR, aVL, aVF derived from the mapped I and II. No output reads an
    input's derived leads: they carry nothing the 8 independent leads lack (and a NaN there, even times a zero
    coefficient, would still be NaN).
    """
    return _EXPAND @ maps8


# (12, 8): the 8 independent leads to all 12 (identity rows, and III, aVR, aVL, aVF from I and II).
_EXPAND = eight_to_twelve(np.eye(8))
# The independent leads as two runs of rows, I-II and V1-V6, so that the torch path reads them as slices (views).
_LIMB_LEADS, _CHEST_LEADS = slice(0, 2), slice(6, 12)
if INDEPENDENT_INDEX != (*range(12)[_LIMB_LEADS], *range(12)[_CHEST_LEADS]):
    raise ImportError(f"augment: expected the independent leads at rows 0-1 and 6-11, got {INDEPENDENT_INDEX}")


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


def apply_three_kg(x: torch.Tensor, params: dict, config: ThreeKGConfig, out: torch.Tensor | None = None,
                   check_finite: bool = True):
    """Apply given 3KG parameters (as from ``sample_parameters``) to ECGs ``x`` (B, 12, T) -> (B, 12, T).

    out: optional contiguous tensor of x's shape, dtype and device to write into, not sharing memory with x
    (reusing one saves allocating and zeroing fresh memory, which on a CPU costs about as much as the augmentation).
    Its content is unspecified after an error.
    check_finite: refuse views that would hold NaN or inf (see the module docstring).
    """
    _check_batch(x)
    x = x if x.is_floating_point() else x.float()
    batch, _, n_samples = x.shape
    _check_params(params, batch)
    if out is not None:
        _check_out(out, x)
        if x.requires_grad:
            raise ValueError("out: not supported when x requires grad (autograd cannot write into a given tensor)")
    if batch == 0:
        return torch.empty_like(x) if out is None else out
    # The maps are tiny: built in float64 numpy on the CPU (some devices have no float64; a few numpy calls cost
    # less than waking torch's threads) and cast once, so float32 views carry one rounding, not three.
    rotations = rotation_matrices(np.deg2rad(params["angles_deg"].cpu().double().numpy()))
    maps8 = lead_maps(rotations, params["scales"].cpu().double().numpy(), config)
    length = mask_length(n_samples, config.mask_fraction)
    if _runs_fused(x):
        _log_path_once("fused", "3KG on the CPU: the fused numba kernel")
        out = _empty_like(x) if out is None else out
        rows = output_lead_maps(maps8).astype(_NUMPY_DTYPES[x.dtype])
        starts = (params["mask_start"].long() % n_samples).numpy()
        x_numpy = x.contiguous().numpy()
        finite = _project_and_mask_cpu(x_numpy, rows, starts, length, out.numpy(), check_finite)
        if not finite.all():
            _raise_non_finite(x, np.flatnonzero(~finite))
        return out
    if x.device.type == "cpu":
        _log_path_once("torch-cpu", "3KG on the CPU: the torch path (batched product + masked fill)"
                       + ("" if numba is not None or x.requires_grad else
                          "; numba is not installed: `pip install beatssl-lite[fast]` for the faster fused kernel"))
    else:
        _log_path_once(f"torch-{x.device.type}", f"3KG on {x.device.type}: the torch path")
    maps = torch.from_numpy(output_lead_maps(maps8)).to(x.device, x.dtype)
    windows = _mask_windows(n_samples, length, x.device)
    offsets = (n_samples - params["mask_start"].to(x.device, torch.long)) % n_samples
    # maps @ x[:, independent leads], from the two runs of rows as views: no copy of x, no read of derived leads.
    limb, chest = maps[:, :, :2], maps[:, :, 2:]
    if x.requires_grad:
        out = torch.baddbmm(torch.bmm(limb, x[:, _LIMB_LEADS]), chest, x[:, _CHEST_LEADS])
        out = out.masked_fill(windows[offsets], 0.0)
    else:
        out = torch.bmm(limb, x[:, _LIMB_LEADS]) if out is None else torch.bmm(limb, x[:, _LIMB_LEADS], out=out)
        out.baddbmm_(chest, x[:, _CHEST_LEADS]).masked_fill_(windows[offsets], 0.0)
    if check_finite:
        # A sum is NaN or inf when any of its terms is: per-lead sums read the output once, with no temporary as
        # large as the batch (torch.isfinite(out) writes one, and costs several times more on a CPU). A sum of
        # finite values that overflows (values near 1e34) is cleared by the exact check of that record.
        sums = out.detach().sum(dim=-1, dtype=torch.float32 if out.dtype in (torch.float16, torch.bfloat16) else None)
        suspects = np.flatnonzero(~torch.isfinite(sums).all(dim=1).cpu().numpy())  # one device sync
        records = [b for b in suspects if not bool(torch.isfinite(out[b]).all())]
        if records:
            _raise_non_finite(x, np.array(records))
    return out


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_logged_paths: set[str] = set()


def _log_path_once(path: str, message: str) -> None:
    if path not in _logged_paths:
        _logged_paths.add(path)
        logger.info(message)


def _raise_non_finite(x: torch.Tensor, records: np.ndarray) -> None:
    """ValueError naming the ``records`` of x whose views hold NaN or inf, and their non-finite independent leads."""
    def culprits(b):
        finite = torch.isfinite(x[b].detach()).all(dim=-1).cpu().numpy()
        leads = [INDEPENDENT_LEADS[k] for k, i in enumerate(INDEPENDENT_INDEX) if not finite[i]]
        return ", ".join(leads) if leads else "finite input, the view overflows"

    shown = "; ".join(f"record {b}: {culprits(b)}" for b in records[:5])
    more = f" (and {len(records) - 5} more records)" if len(records) > 5 else ""
    raise ValueError(f"x: NaN or infinite values in {len(records)} record(s) of the batch ({shown}{more}): through "
                     f"the VCG each spreads to all 12 leads of the view; fill or drop them first "
                     f"(check_finite=False skips this check)")


def _runs_fused(x: torch.Tensor) -> bool:
    """The fused CPU kernel takes float32/float64 CPU tensors outside autograd when numba is there; anything else
    (GPU, half precision, a tensor that requires grad, no numba) takes the torch path: a batched product, then a
    masked fill."""
    return FUSED_CPU_KERNEL and x.device.type == "cpu" and x.dtype in _NUMPY_DTYPES and not x.requires_grad


def _empty_like(x: torch.Tensor) -> torch.Tensor:
    """An uninitialised CPU tensor like x, allocated by numpy, which madvises 2 MB pages for large arrays."""
    return torch.from_numpy(np.empty(tuple(x.shape), dtype=_NUMPY_DTYPES[x.dtype]))


def _jit(**options):
    """``numba.njit(**options)``, or without numba the plain function (never called then: FUSED_CPU_KERNEL is
    False)."""
    return numba.njit(**options) if numba is not None else (lambda function: function)


@_jit(nogil=True, cache=True)
def _project_segment(x8, coefficients, row, start, stop, check_finite):
    """row[start:stop] = sum_k coefficients[k] * x8[k][start:stop], one pass over the row. With ``check_finite``,
    returns whether every value written is finite (y - y is 0 for a finite y, NaN for NaN or inf: a check on
    values still in registers); without, True."""
    a0, a1, a2, a3, a4, a5, a6, a7 = coefficients
    x0, x1, x2, x3, x4, x5, x6, x7 = x8
    # Slicing first lets every index start at 0: numba then drops its negative-index check and LLVM vectorises.
    r = row[start:stop]
    y0, y1, y2, y3, y4, y5, y6, y7 = (x0[start:stop], x1[start:stop], x2[start:stop], x3[start:stop],
                                      x4[start:stop], x5[start:stop], x6[start:stop], x7[start:stop])
    finite = True
    if check_finite:
        for t in range(r.shape[0]):
            value = ((a0 * y0[t] + a1 * y1[t] + a2 * y2[t] + a3 * y3[t])
                     + (a4 * y4[t] + a5 * y5[t] + a6 * y6[t] + a7 * y7[t]))
            r[t] = value
            finite &= (value - value) == 0
    else:
        for t in range(r.shape[0]):
            r[t] = ((a0 * y0[t] + a1 * y1[t] + a2 * y2[t] + a3 * y3[t])
                    + (a4 * y4[t] + a5 * y5[t] + a6 * y6[t] + a7 * y7[t]))
    return finite


@_jit(nogil=True, cache=True)
def _project_and_mask_records(x, maps, columns, starts, length, out, first, stop, check_finite, finite):
    """Records first..stop-1: out[b, j] = maps[b, j] @ x[b, columns] outside lead j's masked block
    [starts[b, j], starts[b, j] + length) (wrapping, 0 <= start < T), zero inside it. maps: (B, 12, 8), the map
    from the 8 independent leads (``columns`` of x) to every output lead. With ``check_finite``, finite[b] is set
    False when record b's view holds a NaN or inf."""
    n_samples = x.shape[2]
    for b in range(first, stop):
        record = x[b]
        x8 = (record[columns[0]], record[columns[1]], record[columns[2]], record[columns[3]],
              record[columns[4]], record[columns[5]], record[columns[6]], record[columns[7]])
        # Zeroing the whole record, then overwriting the unmasked half, is faster than writing each part once
        # (about 15 %, measured): one sequential pass brings the output into cache, and the product writes hit it.
        out[b] = 0.0
        for lead in range(x.shape[1]):
            m = maps[b, lead]
            coefficients = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7])
            start = starts[b, lead]
            end = start + length
            if end <= n_samples:  # masked [start, end): the product on both sides
                finite[b] &= _project_segment(x8, coefficients, out[b, lead], 0, start, check_finite)
                finite[b] &= _project_segment(x8, coefficients, out[b, lead], end, n_samples, check_finite)
            else:  # the mask wraps: masked [start, T) and [0, end - T), the product in between
                finite[b] &= _project_segment(x8, coefficients, out[b, lead], end - n_samples, start, check_finite)


@_jit(nogil=True, parallel=True, cache=True)
def _project_and_mask_parallel(x, maps, columns, starts, length, out, check_finite, finite, n_chunks):
    """``_project_and_mask_records`` over the whole batch, in ``n_chunks`` contiguous runs of records in parallel."""
    batch = x.shape[0]
    for chunk in numba.prange(n_chunks):
        _project_and_mask_records(x, maps, columns, starts, length, out,
                                  chunk * batch // n_chunks, (chunk + 1) * batch // n_chunks, check_finite, finite)


# numba's fallback threading layer (workqueue) must not be entered by two threads at once: parallel runs are
# serialised. The thread count is torch's, so a DataLoader worker (torch sets 1 thread there) runs the serial kernel:
# GNU OpenMP, like torch's own thread pool, hangs or kills a forked child that starts a parallel region after its
# parent did.
_parallel_lock = threading.Lock()


def _project_and_mask_cpu(x: np.ndarray, maps: np.ndarray, starts: np.ndarray, length: int, out: np.ndarray,
                          check_finite: bool) -> np.ndarray:
    """The fused CPU pass over a non-empty batch (maps (B, 12, 8)), on ``torch.get_num_threads()`` threads (records
    split between them). Returns the (B,) flags: record b's view is finite (all True without ``check_finite``)."""
    columns = np.asarray(INDEPENDENT_INDEX, dtype=np.int64)
    finite = np.ones(x.shape[0], dtype=np.bool_)
    workers = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS, x.shape[0])
    if workers == 1:
        _project_and_mask_records(x, maps, columns, starts, length, out, 0, x.shape[0], check_finite, finite)
        return finite
    with _parallel_lock:
        numba.set_num_threads(workers)
        _project_and_mask_parallel(x, maps, columns, starts, length, out, check_finite, finite, workers)
    return finite

def _generator(generator) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise ValueError(f"generator: expected a torch.Generator, an int seed or None, got {type(generator).__name__}")


def three_kg(x, config: ThreeKGConfig | None = None, generator=None, out=None, check_finite: bool = True):
    """One random 3KG view of each ECG in ``x`` (B, 12, T), a torch tensor (any device) or a numpy array.

    generator: a CPU ``torch.Generator``, an int seed, or None (torch's global generator).
    out: optional array of x's shape and kind to write the views into (see ``apply_three_kg``).
    check_finite: refuse views that would hold NaN or inf, with a ValueError naming the records and leads.
    Returns ``(views, params)``: views of the same kind, shape and device as ``x`` (integer input gives float32);
    params as in ``sample_parameters`` (CPU tensors), so every view can be explained and reproduced.
    """
    config = config or ThreeKGConfig()
    is_numpy = isinstance(x, np.ndarray)
    if is_numpy:
        x = np.ascontiguousarray(x)
        # A read-only array (a row of a memory-mapped cache) is copied: torch.from_numpy warns on one, and the
        # views are never written back into it anyway.
        tensor = torch.from_numpy(x if x.flags.writeable else x.copy())
    else:
        tensor = x
    _check_batch(tensor)
    if is_numpy and out is not None:
        out = torch.from_numpy(out)
    params = sample_parameters(tensor.shape[0], tensor.shape[-1], config, _generator(generator))
    views = apply_three_kg(tensor, params, config, out, check_finite)
    return (views.numpy() if is_numpy else views), params


def two_views(x, config: ThreeKGConfig | None = None, generator=None, out=None, check_finite: bool = True):
    """The two independently augmented views a contrastive step needs: ``(view1, view2, params1, params2)``.

    out: optional pair of arrays to write the two views into (see ``three_kg``); a training loop that keeps two
    buffers avoids allocating 2 x batch x 12 x T floats at every step.
    """
    if out is not None and (not isinstance(out, (tuple, list)) or len(out) != 2):
        raise ValueError(f"out: expected a pair of arrays (one per view) or None, got {type(out).__name__}")
    out1, out2 = out if out is not None else (None, None)
    generator = _generator(generator)
    view1, params1 = three_kg(x, config, generator, out1, check_finite)
    view2, params2 = three_kg(x, config, generator, out2, check_finite)
    return view1, view2, params1, params2


def _check_batch(x) -> None:
    if not hasattr(x, "ndim") or x.ndim != 3 or x.shape[1] != 12:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"x: expected a batch of 12-lead ECGs of shape (batch, 12, time), got {shape}")
    if x.shape[-1] < 1:
        raise ValueError("x: expected at least one sample per lead, got time = 0")


def _check_out(out: torch.Tensor, x: torch.Tensor) -> None:
    if out.shape != x.shape or out.dtype != x.dtype or out.device != x.device or not out.is_contiguous():
        raise ValueError(f"out: expected a contiguous {x.dtype} tensor of shape {tuple(x.shape)} on {x.device}, "
                         f"got {out.dtype} {tuple(out.shape)} on {out.device}")
    if x.numel() and out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        raise ValueError("out: must not share memory with x (every output lead reads 8 input leads)")


def _check_params(params: dict, batch: int) -> None:
    expected = {"angles_deg": (batch, 3), "scales": (batch, 3), "mask_start": (batch, 12)}
    for name, shape in expected.items():
        value = params.get(name) if isinstance(params, dict) else None
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if hasattr(value, "shape") else type(value).__name__
            raise ValueError(f"params[{name!r}]: expected a tensor of shape {shape}, got {got}")
