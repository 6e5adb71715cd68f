"""3KG checked against scipy's rotations, a per-record numpy loop written from the reference recipe, and its
defining properties (ranges, mask contiguity, determinism)."""

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
    dipole = vcg.INVERSE_DOWER @ ecg12[list(vcg.INDEPENDENT_INDEX)]
    back = np.linalg.pinv(vcg.INVERSE_DOWER)
    if config.residual:
        ecg8 = ecg12[list(vcg.INDEPENDENT_INDEX)] + back @ (np.diag(scales) @ rotation - np.eye(3)) @ dipole
    else:
        ecg8 = back @ np.diag(scales) @ rotation @ dipole
    out = vcg.eight_to_twelve(ecg8)
    n = out.shape[-1]
    length = round(config.mask_fraction * n)
    for lead in range(12):
        for k in range(length):
            out[lead, (starts[lead] + k) % n] = 0.0
    return out


def test_rotation_matrices_match_scipy_and_are_proper_rotations():
    angles = np.random.default_rng(1).uniform(-np.pi, np.pi, size=(50, 3))
    ours = augment.rotation_matrices(torch.from_numpy(angles)).numpy()
    np.testing.assert_allclose(ours, Rotation.from_euler("zyx", angles).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(ours @ ours.transpose(0, 2, 1), np.broadcast_to(np.eye(3), ours.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(ours), 1.0, atol=1e-12)


@pytest.mark.parametrize("residual", [False, True])
def test_views_equal_naive_per_record_loop(residual):
    config = ThreeKGConfig(residual=residual)
    x = _ecgs()
    views, params = augment.three_kg(x, config, torch.Generator().manual_seed(3))
    for i in range(len(x)):
        expected = _naive_view(
            x[i].copy(), params["angles_deg"][i].numpy(), params["scales"][i].numpy(),
            params["mask_start"][i].numpy(), config,
        )
        np.testing.assert_allclose(views[i], expected, atol=1e-10)


def test_identity_parameters_give_plain_projection_and_residual_gives_input():
    x = torch.from_numpy(_ecgs())
    identity = {"angles_deg": torch.zeros(4, 3), "scales": torch.ones(4, 3), "mask_start": torch.zeros(4, 12)}
    plain = augment.apply_three_kg(x, identity, ThreeKGConfig(mask_fraction=0.0))
    projected = vcg.vcg_to_ecg(vcg.ecg_to_vcg(x), back_projection="pinv")
    torch.testing.assert_close(plain, projected)
    kept = augment.apply_three_kg(x, identity, ThreeKGConfig(mask_fraction=0.0, residual=True))
    torch.testing.assert_close(kept, x)


def test_sampled_parameters_stay_in_range_and_cover_it():
    config = ThreeKGConfig(max_angle_deg=30, scale_min=0.8, scale_max=1.2)
    params = augment.sample_parameters(20000, 1000, config, torch.Generator().manual_seed(0))
    angles, scales, starts = params["angles_deg"], params["scales"], params["mask_start"]
    assert angles.abs().max() <= 30 and angles.min() < -29.5 and angles.max() > 29.5
    assert scales.min() >= 0.8 and scales.max() <= 1.2 and scales.min() < 0.81 and scales.max() > 1.19
    assert starts.min() == 0 and starts.max() == 999


def test_masks_are_contiguous_wrapping_blocks_of_the_asked_length():
    starts = torch.tensor([[0, 5, 9] * 4])
    mask = augment.time_mask(10, starts, 4).numpy()[0]
    assert (mask.sum(1) == 4).all()
    np.testing.assert_array_equal(np.flatnonzero(mask[2]), [0, 1, 2, 9])  # start 9 wraps to 0, 1, 2
    x = torch.ones(2, 12, 101)
    views, params = augment.three_kg(x, ThreeKGConfig(max_angle_deg=0, scale_max=1.0), torch.Generator().manual_seed(0))
    zeros = (views == 0).numpy()
    length = round(0.5 * 101)
    assert (zeros.sum(-1) == length).all()
    for record in range(2):
        for lead in range(12):
            rolled = np.roll(zeros[record, lead], -int(params["mask_start"][record, lead]))
            assert rolled[:length].all() and not rolled[length:].any()


def test_same_seed_same_views_and_numpy_torch_agree():
    x = _ecgs().astype(np.float32)
    a, _ = augment.three_kg(x, generator=torch.Generator().manual_seed(7))
    b, _ = augment.three_kg(torch.from_numpy(x), generator=torch.Generator().manual_seed(7))
    c, _ = augment.three_kg(x, generator=torch.Generator().manual_seed(8))
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b.numpy())
    assert not np.allclose(a, c)
    v1, v2, p1, p2 = augment.two_views(x, generator=torch.Generator().manual_seed(7))
    np.testing.assert_array_equal(v1, a)
    assert not torch.equal(p1["angles_deg"], p2["angles_deg"])


def test_bad_input_names_what_was_expected():
    with pytest.raises(ValueError, match=r"\(batch, 12, time\)"):
        augment.three_kg(np.zeros((12, 100)))
    with pytest.raises(ValueError, match="mask_fraction"):
        ThreeKGConfig(mask_fraction=1.5)
    with pytest.raises(ValueError, match="back_projection"):
        ThreeKGConfig(back_projection="kors")
