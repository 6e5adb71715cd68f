"""3KG checked against scipy's rotations, rotation matrices written from the per-axis formula, a per-record numpy
loop written from the reference recipe, and its defining properties (ranges, mask contiguity, determinism)."""

import multiprocessing
import os
import sys

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from beatssl_lite import augment, vcg
from beatssl_lite.augment import ThreeKGConfig


def _ecgs(batch=4, n_samples=200, seed=0):
    ecg8 = np.random.default_rng(seed).normal(size=(batch, 8, n_samples))
    return vcg.eight_to_twelve(ecg8)


def _naive_view(ecg12, angles_deg, scales, starts, config):
    """One record, step by step as the 3KG recipe reads: VCG, rotate, scale, back-project, derive, mask."""
    rotation = Rotation.from_euler("zyx", angles_deg, degrees=True).as_matrix()
    to_vcg = vcg.MATRICES[config.vcg_matrix]
    back = vcg.BACK_PROJECTIONS[config.back_projection]
    ecg8 = ecg12[list(vcg.INDEPENDENT_INDEX)]
    dipole = to_vcg @ ecg8
    if config.residual:
        ecg8 = ecg8 + back @ (np.diag(scales) @ rotation - np.eye(3)) @ dipole
    else:
        ecg8 = back @ np.diag(scales) @ rotation @ dipole
    out = vcg.eight_to_twelve(ecg8)
    n = out.shape[-1]
    for lead in range(12):
        for k in range(round(config.mask_fraction * n)):
            out[lead, (starts[lead] + k) % n] = 0.0
    return out


def _naive_rotation(angle_z, angle_y, angle_x):
    """R = Rx @ Ry @ Rz, each elementary rotation written out from its textbook formula."""
    c, s = np.cos, np.sin
    rz = np.array([[c(angle_z), -s(angle_z), 0], [s(angle_z), c(angle_z), 0], [0, 0, 1]])
    ry = np.array([[c(angle_y), 0, s(angle_y)], [0, 1, 0], [-s(angle_y), 0, c(angle_y)]])
    rx = np.array([[1, 0, 0], [0, c(angle_x), -s(angle_x)], [0, s(angle_x), c(angle_x)]])
    return rx @ ry @ rz


def test_rotation_matrices_match_the_formula_and_scipy_and_are_proper_rotations():
    angles = np.random.default_rng(1).uniform(-np.pi, np.pi, size=(50, 3))
    ours = augment.rotation_matrices(angles)
    np.testing.assert_allclose(ours, [_naive_rotation(*a) for a in angles], atol=1e-12)
    np.testing.assert_allclose(ours, Rotation.from_euler("zyx", angles).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(ours @ ours.transpose(0, 2, 1), np.broadcast_to(np.eye(3), ours.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(ours), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "config",
    [
        ThreeKGConfig(),
        ThreeKGConfig(residual=True),
        ThreeKGConfig(vcg_matrix="kors", back_projection="pinv_kors", mask_fraction=0.3),
        ThreeKGConfig(back_projection="dower", max_angle_deg=90, scale_min=0.5, scale_max=2.0),
    ],
    ids=["reference", "residual", "kors", "dower"],
)
def test_views_equal_naive_per_record_loop(config):
    x = _ecgs(batch=37, n_samples=60)
    views, params = augment.three_kg(x, config, torch.Generator().manual_seed(3))
    for i in range(len(x)):
        expected = _naive_view(
            x[i].copy(), params["angles_deg"][i].numpy(), params["scales"][i].numpy(),
            params["mask_start"][i].numpy(), config,
        )
        np.testing.assert_allclose(views[i], expected, atol=1e-10)


@pytest.mark.parametrize("mask_fraction", [0.0, 0.5, 0.999])
@pytest.mark.parametrize("threads", [1, 2])
def test_fused_cpu_pass_equals_naive_loop_at_every_mask_edge(mask_fraction, threads):
    # Mask starts at the edges of the kernel's two cases (block inside the record / block wrapping its end),
    # out-of-range starts (taken modulo T), and 0.999 of 60 samples rounding to a fully masked lead.
    n = 60
    length = round(mask_fraction * n)
    edge_starts = [0, 1, n - 1, n - length, n - length - 1, n - length + 1, n, -1, 2 * n + 5, 17, 30, 59]
    x = _ecgs(batch=5, n_samples=n, seed=2)
    params = augment.make_parameters(angles_deg=[[10, -20, 30]] * 5, scales=[1.2, 1.0, 1.4], batch=5)
    params["mask_start"] = torch.from_numpy(np.array([np.roll(edge_starts, i) for i in range(5)]))
    config = ThreeKGConfig(mask_fraction=mask_fraction)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # x as a non-contiguous float32 tensor (stride 2 in time): the kernel must read it through a contiguous copy.
        strided = torch.from_numpy(np.repeat(x.astype(np.float32), 2, axis=-1))[..., ::2]
        views = augment.apply_three_kg(strided, params, config)
    finally:
        torch.set_num_threads(torch_threads)
    for i in range(5):
        expected = _naive_view(x[i].copy(), [10, -20, 30], [1.2, 1.0, 1.4], np.mod(np.roll(edge_starts, i), n), config)
        np.testing.assert_allclose(views[i].numpy(), expected, atol=2e-5)
        assert (views[i].numpy() == 0).sum() >= 12 * length  # masked samples are exact zeros


def test_cpu_kernel_and_torch_path_agree_and_torch_path_keeps_gradients():
    # A tensor that requires grad takes the torch path (batched product + masked fill) even on the CPU.
    x = torch.from_numpy(_ecgs(batch=9)).float()
    params = augment.sample_parameters(9, 200, ThreeKGConfig(), torch.Generator().manual_seed(11))
    fused = augment.apply_three_kg(x, params, ThreeKGConfig())
    tracked = x.clone().requires_grad_()
    through_torch = augment.apply_three_kg(tracked, params, ThreeKGConfig())
    torch.testing.assert_close(through_torch.detach(), fused, rtol=0, atol=1e-5)
    through_torch.sum().backward()
    assert tracked.grad is not None and tracked.grad.abs().sum() > 0


def test_out_must_not_share_memory_with_the_input():
    x = torch.from_numpy(_ecgs(batch=2)).float()
    params = augment.make_parameters([0, 0, 0], batch=2)
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        augment.apply_three_kg(x, params, ThreeKGConfig(), out=x)


def test_identity_parameters_give_plain_projection_and_residual_gives_input():
    x = torch.from_numpy(_ecgs())
    identity = {"angles_deg": torch.zeros(4, 3), "scales": torch.ones(4, 3), "mask_start": torch.zeros(4, 12)}
    plain = augment.apply_three_kg(x, identity, ThreeKGConfig(mask_fraction=0.0))
    torch.testing.assert_close(plain, vcg.vcg_to_ecg(vcg.ecg_to_vcg(x), back_projection="pinv"))
    kept = augment.apply_three_kg(x, identity, ThreeKGConfig(mask_fraction=0.0, residual=True))
    torch.testing.assert_close(kept, x)
    # The same through sampling: zero angle range, unit scales, no mask.
    config = ThreeKGConfig(max_angle_deg=0.0, scale_max=1.0, mask_fraction=0.0)
    views, _ = augment.three_kg(x, config, generator=0)
    torch.testing.assert_close(views, vcg.dipolar_part(x))


def test_sampled_parameters_stay_in_range_and_cover_it():
    for config in (ThreeKGConfig(), ThreeKGConfig(max_angle_deg=30, scale_min=0.8, scale_max=1.2)):
        params = augment.sample_parameters(20000, 1000, config, torch.Generator().manual_seed(0))
        angles, scales, starts = params["angles_deg"], params["scales"], params["mask_start"]
        top = config.max_angle_deg
        assert angles.abs().max() <= top and angles.min() < -0.99 * top and angles.max() > 0.99 * top
        width = config.scale_max - config.scale_min
        assert scales.min() >= config.scale_min and scales.max() <= config.scale_max
        assert scales.min() < config.scale_min + 0.01 * width and scales.max() > config.scale_max - 0.01 * width
        assert starts.min() == 0 and starts.max() == 999
        # Each axis on its own covers the range evenly: a quarter of the draws in each quarter.
        quarters = torch.floor((angles + top) / (2 * top) * 4).clamp(max=3)
        for axis in range(3):
            counts = torch.bincount(quarters[:, axis].long(), minlength=4)
            assert (counts - 5000).abs().max() < 300


def test_time_mask_equals_the_modulo_formula():
    n, length = 37, 15
    starts = torch.randint(0, n, (6, 12), generator=torch.Generator().manual_seed(0))
    starts[0, :3] = torch.tensor([0, n - 1, n - length])  # edge cases: no wrap, wrap at once, end exactly at T
    t = torch.arange(n)
    expected = ((t - starts[..., None]) % n) < length
    torch.testing.assert_close(augment.time_mask(n, starts, length), expected)


def test_masks_are_contiguous_wrapping_blocks_of_the_asked_length():
    starts = torch.tensor([[0, 5, 9] * 4])
    mask = augment.time_mask(10, starts, 4).numpy()[0]
    assert (mask.sum(1) == 4).all()
    np.testing.assert_array_equal(np.flatnonzero(mask[2]), [0, 1, 2, 9])  # start 9 wraps to 0, 1, 2
    x = torch.from_numpy(_ecgs(batch=2, n_samples=101))  # no exact zeros
    config = ThreeKGConfig(max_angle_deg=0, scale_max=1.0, residual=True)  # identity map: only the mask zeroes
    views, params = augment.three_kg(x, config, torch.Generator().manual_seed(0))
    zeros = (views == 0).numpy()
    length = round(0.5 * 101)
    assert (zeros.sum(-1) == length).all()
    for record in range(2):
        for lead in range(12):
            rolled = np.roll(zeros[record, lead], -int(params["mask_start"][record, lead]))
            assert rolled[:length].all() and not rolled[length:].any()


def test_mask_starts_are_independent_across_leads():
    params = augment.sample_parameters(4000, 500, ThreeKGConfig(), torch.Generator().manual_seed(1))
    starts = params["mask_start"].double()
    # Independent uniform starts: equal starts in two leads happen 1 time in 500, correlations are ~ 0.
    assert (starts[:, 0] == starts[:, 1]).float().mean() < 0.005
    correlation = np.corrcoef(starts.T.numpy())
    assert np.abs(correlation - np.eye(12)).max() < 0.07  # 4 standard errors of a correlation over 4000 draws


def test_same_seed_same_views_and_numpy_torch_agree():
    x = _ecgs().astype(np.float32)
    a, _ = augment.three_kg(x, generator=torch.Generator().manual_seed(7))
    b, _ = augment.three_kg(torch.from_numpy(x), generator=torch.Generator().manual_seed(7))
    c, _ = augment.three_kg(x, generator=torch.Generator().manual_seed(8))
    d, _ = augment.three_kg(x, generator=7)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b.numpy())
    np.testing.assert_array_equal(a, d)
    assert not np.allclose(a, c)
    v1, v2, p1, p2 = augment.two_views(x, generator=7)
    np.testing.assert_array_equal(v1, a)
    assert not torch.equal(p1["angles_deg"], p2["angles_deg"]) and not np.allclose(v1, v2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_are_kept_and_float32_matches_float64(dtype):
    x = _ecgs()
    views, _ = augment.three_kg(x.astype(dtype), generator=3)
    reference, _ = augment.three_kg(x, generator=3)
    assert views.dtype == dtype
    np.testing.assert_allclose(views, reference, atol=1e-5 if dtype == np.float32 else 1e-12)
    integers, _ = augment.three_kg(np.round(x * 100).astype(np.int16), generator=3)
    assert integers.dtype == np.float32


def test_out_buffer_is_filled_and_returned():
    x = torch.from_numpy(_ecgs(batch=20)).float()
    buffer = torch.full_like(x, float("nan"))
    views, _ = augment.three_kg(x, generator=4, out=buffer)
    assert views.data_ptr() == buffer.data_ptr()
    torch.testing.assert_close(views, augment.three_kg(x, generator=4)[0])
    numpy_buffer = np.empty((20, 12, 200), dtype=np.float32)
    numpy_views, _ = augment.three_kg(x.numpy(), generator=4, out=numpy_buffer)
    np.testing.assert_array_equal(numpy_buffer, views.numpy())
    with pytest.raises(ValueError, match="out: expected a contiguous torch.float32 tensor of shape"):
        augment.three_kg(x, generator=4, out=torch.empty(20, 12, 100))
    pair = (torch.empty_like(x), torch.empty_like(x))
    view1, view2, _, _ = augment.two_views(x, generator=4, out=pair)
    expected1, expected2, _, _ = augment.two_views(x, generator=4)
    assert view1 is pair[0] and view2 is pair[1]
    torch.testing.assert_close((view1, view2), (expected1, expected2), rtol=0, atol=0)
    with pytest.raises(ValueError, match="out: expected a pair of arrays"):
        augment.two_views(x, generator=4, out=pair[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_views_equal_cpu_views_for_the_same_seed():
    x = torch.from_numpy(_ecgs(batch=40))
    on_gpu, params = augment.three_kg(x.cuda(), generator=5)
    assert on_gpu.device.type == "cuda" and params["angles_deg"].device.type == "cpu"
    torch.testing.assert_close(on_gpu.cpu(), augment.three_kg(x, generator=5)[0])


def test_bad_input_names_what_was_expected():
    expected = r"x: expected a batch of 12-lead ECGs of shape \(batch, 12, time\), got \(12, 100\)"
    with pytest.raises(ValueError, match=expected):
        augment.three_kg(np.zeros((12, 100)))
    with pytest.raises(ValueError, match=r"got \(2, 8, 100\)"):
        augment.two_views(torch.zeros(2, 8, 100))
    with pytest.raises(ValueError, match="mask_fraction"):
        ThreeKGConfig(mask_fraction=1.5)
    with pytest.raises(ValueError, match="back_projection"):
        ThreeKGConfig(back_projection="kors")
    with pytest.raises(ValueError, match="vcg_matrix"):
        ThreeKGConfig(vcg_matrix="dower")
    with pytest.raises(ValueError, match="generator"):
        augment.three_kg(np.zeros((1, 12, 10)), generator=1.5)
    with pytest.raises(ValueError, match=r"params\['scales'\]: expected a tensor of shape \(2, 3\)"):
        augment.apply_three_kg(torch.zeros(2, 12, 10), {"angles_deg": torch.zeros(2, 3), "scales": torch.ones(3),
                                                         "mask_start": torch.zeros(2, 12)}, ThreeKGConfig())
    with pytest.raises(ValueError, match=r"angles_rad: expected an array of shape \(batch, 3\), got \(3,\)"):
        augment.rotation_matrices(torch.zeros(3))


def test_plot_rotation_slider_frames_are_the_rotated_projections():
    from beatssl_lite.plots import plot_rotation_slider

    x = _ecgs(batch=1, n_samples=300)[0]
    angles = [-30, 0, 30]
    fig = plot_rotation_slider(x, 100.0, axis="y", angles_deg=angles, leads=("II", "V2"), stop_s=2.0)
    assert [frame.name for frame in fig.frames] == ["-30", "0", "30"]
    assert fig.layout.sliders[0].active == 1
    unmasked = ThreeKGConfig(mask_fraction=0.0)
    for frame, angle in zip(fig.frames, angles):
        expected = augment.apply_three_kg(torch.from_numpy(x[None]), augment.make_parameters([0, angle, 0]), unmasked)
        for trace, lead in zip(frame.data, ("II", "V2")):
            np.testing.assert_allclose(trace.y, expected[0, vcg.LEADS.index(lead), :200].numpy(), atol=1e-4)
    np.testing.assert_allclose(fig.frames[1].data[0].y, vcg.dipolar_part(x)[1, :200], atol=1e-4)
    with pytest.raises(ValueError, match="axis"):
        plot_rotation_slider(x, 100.0, axis="w")


def test_plot_augmentations_shades_each_masked_block():
    from beatssl_lite.plots import plot_augmentations

    x = _ecgs(batch=1, n_samples=100)[0]
    views, params = augment.three_kg(np.repeat(x[None], 2, axis=0), ThreeKGConfig(), generator=0)
    masks = augment.time_mask(100, params["mask_start"], 50).numpy()
    fig = plot_augmentations(x, views, 100.0, titles=["a", "b"], masks=masks, leads=("I", "V1"))
    assert len(fig.axes) == 2 * 3
    for row, lead in enumerate(("I", "V1")):
        for view in range(2):
            ax = fig.axes[row * 3 + view + 1]
            runs = np.diff(np.concatenate([[0], masks[view, vcg.LEADS.index(lead)], [0]]).astype(int))
            assert len(ax.patches) == (runs == 1).sum()  # one shaded span per contiguous block (1 or 2 with wrap)
    with pytest.raises(ValueError, match="titles"):
        plot_augmentations(x, views, 100.0, titles=["a"])


@pytest.mark.skipif(os.cpu_count() < 2 or sys.platform != "linux", reason="needs 2 cores and fork")
def test_a_dataloader_worker_forked_after_a_parallel_run_still_augments():
    # GNU OpenMP kills a forked child that starts a parallel region after its parent did ("Terminating: fork()
    # called from a process already using GNU OpenMP"). A DataLoader worker is such a child, and torch gives it one
    # thread: the kernel must follow torch's thread count there and run serially.
    x = torch.from_numpy(_ecgs(batch=8)).float()
    expected, _ = augment.three_kg(x, generator=6)  # a parallel run in this process
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        in_child = pool.apply_async(_augment_like_a_dataloader_worker, (x,)).get(timeout=60)
    torch.testing.assert_close(in_child, expected, rtol=0, atol=0)


def _augment_like_a_dataloader_worker(x):
    torch.set_num_threads(1)  # what torch.utils.data does in each worker
    return augment.three_kg(x, generator=6)[0]


@pytest.fixture(params=["fused", "torch"])
def cpu_path(request, monkeypatch):
    """Run the test once through the fused numba kernel and once through the torch path (as without numba)."""
    if request.param == "fused" and augment.numba is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(augment, "FUSED_CPU_KERNEL", request.param == "fused")
    return request.param


def test_both_cpu_paths_equal_the_naive_loop(cpu_path):
    config = ThreeKGConfig()
    x = _ecgs(batch=6, n_samples=80, seed=12)
    views, params = augment.three_kg(x, config, generator=13)
    for i in range(len(x)):
        expected = _naive_view(x[i].copy(), params["angles_deg"][i].numpy(), params["scales"][i].numpy(),
                               params["mask_start"][i].numpy(), config)
        np.testing.assert_allclose(views[i], expected, atol=1e-10)


def test_an_empty_batch_gives_empty_views(cpu_path):
    # Rule: a batch of 0 records is a batch like any other (what a filter or an idle distributed rank produces).
    for x in (np.zeros((0, 12, 100), dtype=np.float32), torch.zeros(0, 12, 100, dtype=torch.float64)):
        views, params = augment.three_kg(x, generator=0)
        assert type(views) is type(x) and tuple(views.shape) == (0, 12, 100) and views.dtype == x.dtype
        assert tuple(params["angles_deg"].shape) == (0, 3) and tuple(params["mask_start"].shape) == (0, 12)
        view1, view2, _, _ = augment.two_views(x, generator=0)
        assert tuple(view1.shape) == tuple(view2.shape) == (0, 12, 100)
    buffer = torch.empty(0, 12, 100)
    assert augment.three_kg(torch.zeros(0, 12, 100), generator=0, out=buffer)[0] is buffer


def test_a_view_that_would_hold_nan_or_inf_is_refused_naming_records_and_leads(cpu_path):
    x = _ecgs(batch=5, n_samples=100, seed=14).astype(np.float32)
    x[1, vcg.LEADS.index("V1"), 40] = np.nan
    x[3, vcg.LEADS.index("I"), 99] = np.inf
    x[3, vcg.LEADS.index("V6"), 0] = -np.inf
    with pytest.raises(ValueError, match=r"x: NaN or infinite values in 2 record\(s\) of the batch "
                                         r"\(record 1: V1; record 3: I, V6\)"):
        augment.three_kg(x, generator=0)
    with pytest.raises(ValueError, match=r"record 1: V1"):
        augment.two_views(torch.from_numpy(x), generator=0)
    # Unchecked, the NaN of one lead reaches every lead of the view (at the samples its mask leaves).
    views, params = augment.three_kg(x, ThreeKGConfig(mask_fraction=0.0), generator=0, check_finite=False)
    assert np.isnan(views[1, :, 40]).all() and np.isfinite(views[[0, 2, 4]]).all()


def test_values_that_cannot_reach_a_view_are_ignored(cpu_path):
    # The derived input leads are never read (3KG recomputes them from I and II) ...
    x = _ecgs(batch=2, n_samples=100, seed=15)
    spoiled = x.copy()
    spoiled[:, [vcg.LEADS.index(name) for name in ("III", "aVR", "aVL", "aVF")], 10:20] = np.nan
    np.testing.assert_array_equal(augment.three_kg(spoiled, generator=1)[0], augment.three_kg(x, generator=1)[0])
    # ... nor a sample that every output lead masks (here all 12 leads mask samples 30-79).
    params = augment.make_parameters([10, 20, -30], [1.1, 1.2, 1.3], mask_start=30, batch=2)
    spoiled = x.copy()
    spoiled[:, vcg.LEADS.index("V2"), 50] = np.nan
    config = ThreeKGConfig()
    views = augment.apply_three_kg(torch.from_numpy(spoiled), params, config).numpy()
    for i in range(2):
        np.testing.assert_allclose(views[i], _naive_view(x[i].copy(), [10, 20, -30], [1.1, 1.2, 1.3],
                                                         [30] * 12, config), atol=1e-10)


def test_finite_input_whose_view_overflows_is_refused(cpu_path):
    # A pure dipole ECG whose largest independent lead value is 3e38 (float32 tops at 3.4e38): scaled by 1.5
    # without rotation, its view is itself times 1.5, beyond float32's range. Derived leads are never read: zeros.
    x = _ecgs(batch=2, n_samples=50, seed=16)
    x[0] = vcg.vcg_to_ecg(np.random.default_rng(16).normal(size=(3, 50)), back_projection="pinv")
    x[0] *= 3e38 / np.abs(vcg.twelve_to_eight(x[0])).max()
    x[0, [vcg.LEADS.index(name) for name in ("III", "aVR", "aVL", "aVF")]] = 0.0
    x = x.astype(np.float32)
    assert np.isfinite(x).all()
    with pytest.raises(ValueError, match=r"in 1 record\(s\) .*\(record 0: finite input, the view overflows\)"):
        augment.three_kg(x, ThreeKGConfig(max_angle_deg=0, scale_min=1.5, mask_fraction=0), generator=0)


def test_out_is_refused_for_a_tensor_that_requires_grad():
    x = torch.zeros(2, 12, 10, requires_grad=True)
    with pytest.raises(ValueError, match="out: not supported when x requires grad"):
        augment.three_kg(x, generator=0, out=torch.empty(2, 12, 10))


def test_the_path_taken_is_logged_once(cpu_path, caplog, monkeypatch):
    monkeypatch.setattr(augment, "_logged_paths", set())
    x = torch.from_numpy(_ecgs(batch=2)).float()
    with caplog.at_level("INFO", logger="beatssl_lite.augment"):
        augment.three_kg(x, generator=0)
        augment.three_kg(x, generator=1)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert ("fused numba kernel" if cpu_path == "fused" else "torch path") in messages[0]


def test_without_numba_the_package_imports_and_3kg_runs_the_torch_path():
    # A fresh interpreter in which `import numba` fails, as where the [fast] extra is not installed.
    script = (
        "import logging, sys; sys.modules['numba'] = None\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s', stream=sys.stdout)\n"
        "import numpy as np, beatssl_lite.augment as augment\n"
        "assert augment.numba is None and not augment.FUSED_CPU_KERNEL\n"
        "x = np.random.default_rng(0).normal(size=(3, 12, 64)).astype(np.float32)\n"
        "views, _ = augment.three_kg(x, generator=5)\n"
        "np.save(sys.argv[1], views)\n"
    )
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        saved = os.path.join(folder, "views.npy")
        done = subprocess.run([sys.executable, "-c", script, saved], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "numba is not installed: `pip install beatssl-lite[fast]`" in done.stdout
        x = np.random.default_rng(0).normal(size=(3, 12, 64)).astype(np.float32)
        np.testing.assert_allclose(np.load(saved), augment.three_kg(x, generator=5)[0], atol=1e-5)
