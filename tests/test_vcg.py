"""VCG transforms checked against the lead identities, the published matrices and naive per-sample products."""

import numpy as np
import pytest
import torch

from beatssl_lite import vcg


def test_derived_leads_follow_einthoven_and_goldberger_exactly():
    ecg8 = np.random.default_rng(0).normal(size=(3, 8, 50))
    ecg12 = vcg.eight_to_twelve(ecg8)
    lead = {name: ecg12[:, i] for i, name in enumerate(vcg.LEADS)}
    np.testing.assert_array_equal(lead["III"], lead["II"] - lead["I"])
    np.testing.assert_array_equal(lead["aVR"], -(lead["I"] + lead["II"]) / 2)
    np.testing.assert_array_equal(lead["aVL"], lead["I"] - lead["II"] / 2)
    np.testing.assert_array_equal(lead["aVF"], lead["II"] - lead["I"] / 2)
    np.testing.assert_array_equal(vcg.twelve_to_eight(ecg12), ecg8)


def test_ecg_to_vcg_equals_naive_per_sample_product():
    ecg12 = vcg.eight_to_twelve(np.random.default_rng(1).normal(size=(8, 20)))
    for method, matrix in vcg.MATRICES.items():
        ours = vcg.ecg_to_vcg(ecg12, method)
        for t in range(20):
            independent = [ecg12[vcg.LEADS.index(name), t] for name in vcg.INDEPENDENT_LEADS]
            np.testing.assert_allclose(ours[:, t], matrix @ independent, atol=1e-12)


def test_published_matrices_are_near_inverses_of_each_other():
    # The spec: pinv(Dower) reproduces the inverse Dower table to < 1e-3 (the tables are rounded to 3 decimals).
    assert np.abs(np.linalg.pinv(vcg.DOWER) - vcg.INVERSE_DOWER).max() < 1e-3


@pytest.mark.parametrize("back_projection, bound", [("pinv", 1e-12), ("dower", 2e-3)])
def test_vcg_round_trip_error_is_bounded(back_projection, bound):
    # VCG -> 12 leads -> VCG is D_inv @ B @ v; its error is at most ||D_inv B - I||_2 times ||v||.
    operator_error = np.linalg.norm(vcg.INVERSE_DOWER @ vcg.BACK_PROJECTIONS[back_projection] - np.eye(3), 2)
    assert operator_error < bound
    v = np.random.default_rng(2).normal(size=(5, 3, 100))
    back = vcg.ecg_to_vcg(vcg.vcg_to_ecg(v, back_projection))
    assert np.linalg.norm(back - v, axis=1).max() <= operator_error * np.linalg.norm(v, axis=1).max() + 1e-12


def test_dipolar_fraction_is_one_for_a_pure_dipole_and_below_one_otherwise():
    dipole_ecg = vcg.vcg_to_ecg(np.random.default_rng(3).normal(size=(3, 500)), back_projection="pinv")
    assert vcg.dipolar_fraction(dipole_ecg) == pytest.approx(1.0, abs=1e-9)
    noise_ecg = vcg.eight_to_twelve(np.random.default_rng(4).normal(size=(8, 500)))
    assert vcg.dipolar_fraction(noise_ecg) < 0.6  # 3 of 8 random directions survive


def test_torch_matches_numpy_and_keeps_dtype():
    ecg12 = vcg.eight_to_twelve(np.random.default_rng(5).normal(size=(2, 8, 30))).astype(np.float32)
    ours = vcg.ecg_to_vcg(torch.from_numpy(ecg12), "kors")
    assert ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), vcg.ecg_to_vcg(ecg12, "kors"), atol=1e-6)
    np.testing.assert_allclose(vcg.vcg_to_ecg(ours).numpy(), vcg.vcg_to_ecg(ours.numpy()), atol=1e-6)


def test_bad_shapes_and_names_are_refused():
    with pytest.raises(ValueError, match=r"\(\.\.\., 12, time\)"):
        vcg.ecg_to_vcg(np.zeros((8, 100)))
    with pytest.raises(ValueError, match="method"):
        vcg.ecg_to_vcg(np.zeros((12, 100)), "frank")
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, time\)"):
        vcg.vcg_to_ecg(np.zeros((12, 100)))
