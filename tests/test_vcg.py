"""VCG transforms checked against the lead identities, the published matrices, closed-form round-trip bounds and
naive per-sample products."""

from pathlib import Path

import numpy as np
import pytest
import torch

from beatssl_lite import vcg


def _ecg12(shape=(3,), n_samples=50, seed=0):
    return vcg.eight_to_twelve(np.random.default_rng(seed).normal(size=(*shape, 8, n_samples)))


def test_derived_leads_follow_einthoven_and_goldberger_exactly():
    ecg12 = _ecg12()
    lead = {name: ecg12[:, i] for i, name in enumerate(vcg.LEADS)}
    np.testing.assert_array_equal(lead["III"], lead["II"] - lead["I"])
    np.testing.assert_array_equal(lead["aVR"], -(lead["I"] + lead["II"]) / 2)
    np.testing.assert_array_equal(lead["aVL"], lead["I"] - lead["II"] / 2)
    np.testing.assert_array_equal(lead["aVF"], lead["II"] - lead["I"] / 2)
    np.testing.assert_array_equal(vcg.twelve_to_eight(ecg12), np.random.default_rng(0).normal(size=(3, 8, 50)))
    # The same identities hold in every 12-lead output of the package, e.g. after a back-projection.
    back = vcg.vcg_to_ecg(np.random.default_rng(1).normal(size=(3, 40)))
    np.testing.assert_array_equal(back[2], back[1] - back[0])
    np.testing.assert_array_equal(back[5], back[1] - back[0] / 2)


def test_ecg_to_vcg_and_back_equal_naive_per_sample_products():
    ecg12 = _ecg12(shape=(), n_samples=20, seed=1)
    for method, matrix in vcg.MATRICES.items():
        ours = vcg.ecg_to_vcg(ecg12, method)
        for t in range(20):
            independent = [ecg12[vcg.LEADS.index(name), t] for name in vcg.INDEPENDENT_LEADS]
            np.testing.assert_allclose(ours[:, t], matrix @ independent, atol=1e-12)
    v = np.random.default_rng(2).normal(size=(3, 20))
    for name, back in vcg.BACK_PROJECTIONS.items():
        ours = vcg.vcg_to_ecg(v, name)
        for t in range(20):
            lead_i, lead_ii = back[0] @ v[:, t], back[1] @ v[:, t]
            expected = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2,
                        lead_ii - lead_i / 2, *(back[2:] @ v[:, t])]
            np.testing.assert_allclose(ours[:, t], expected, atol=1e-12)


def test_lead_vectors_reproduce_the_back_projection():
    v = np.random.default_rng(3).normal(size=(2, 3, 30))
    for name in vcg.BACK_PROJECTIONS:
        np.testing.assert_allclose(vcg.lead_vectors(name) @ v, vcg.vcg_to_ecg(v, name), atol=1e-12)
    # Dower's lead vector of lead II points mostly to the feet (+Y): a textbook fact about the frontal plane.
    lead_ii = vcg.lead_vectors()[vcg.LEADS.index("II")]
    assert np.argmax(np.abs(lead_ii)) == 1 and lead_ii[1] > 0


# The published tables, copied by hand from the project spec (../shared/spec/beat-ssl.md, section 4), each row
# labelled as printed there. Compared exactly: a mistyped coefficient anywhere in vcg.py fails the test.
KORS_TABLE = """
X  0.38 -0.07 -0.13  0.05 -0.01  0.14  0.06  0.54
Y -0.07  0.93  0.06 -0.02 -0.05  0.06 -0.17  0.13
Z  0.11 -0.23 -0.43 -0.06 -0.14 -0.20 -0.11  0.31
"""
INVERSE_DOWER_TABLE = """
X  0.156 -0.010 -0.172 -0.074  0.122  0.231  0.239  0.194
Y -0.227  0.887  0.057 -0.019 -0.106 -0.022  0.041  0.048
Z  0.022  0.102 -0.229 -0.310 -0.246 -0.063  0.055  0.108
"""
DOWER_TABLE = """
I   0.632 -0.235  0.059
II  0.235  1.066 -0.132
V1 -0.515  0.157 -0.917
V2  0.044  0.164 -1.387
V3  0.882  0.098 -1.277
V4  1.213  0.127 -0.601
V5  1.125  0.127 -0.086
V6  0.831  0.076  0.230
"""


def _table(text):
    """(row labels, coefficients) of a table written as in the spec."""
    rows = [line.split() for line in text.strip().splitlines()]
    return [row[0] for row in rows], np.array([[float(value) for value in row[1:]] for row in rows])


@pytest.mark.parametrize("table, name", [(KORS_TABLE, "KORS"), (INVERSE_DOWER_TABLE, "INVERSE_DOWER"),
                                         (DOWER_TABLE, "DOWER")])
def test_matrices_are_the_published_tables_coefficient_for_coefficient(table, name):
    labels, published = _table(table)
    ours = getattr(vcg, name)
    assert ours.shape == published.shape
    np.testing.assert_array_equal(ours, published)  # exact: both are the same decimal literals parsed to float64
    # Rows X, Y, Z and columns I, II, V1-V6 for the ECG -> VCG matrices; the transpose for Dower's.
    assert labels == (list(vcg.INDEPENDENT_LEADS) if name == "DOWER" else list(vcg.VCG_AXES))
    assert list(vcg.INDEPENDENT_LEADS) == ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    # ... and what the functions look the matrices up in holds the same coefficients.
    served = {"KORS": vcg.MATRICES["kors"], "INVERSE_DOWER": vcg.MATRICES["inverse_dower"],
              "DOWER": vcg.BACK_PROJECTIONS["dower"]}[name]
    np.testing.assert_array_equal(served, published)


SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "beat-ssl.md"


@pytest.mark.skipif(not SPEC.is_file(), reason="the project spec (../shared/spec/beat-ssl.md) is not here")
def test_the_tables_written_out_above_are_the_specs():
    # Guards the hand copy itself: section 4's three code blocks, in order, are the three tables of this file.
    section = SPEC.read_text().split("## 4.")[1].split("\n## ")[0]
    blocks = section.split("```")[1::2]
    assert len(blocks) == 3, f"expected three tables in section 4 of {SPEC}, found {len(blocks)} code blocks"
    for block, table in zip(blocks, (KORS_TABLE, INVERSE_DOWER_TABLE, DOWER_TABLE)):
        assert _table(block)[0] == _table(table)[0]
        np.testing.assert_array_equal(_table(block)[1], _table(table)[1])


def test_published_matrices_are_near_inverses_of_each_other():
    # The spec: pinv(Dower) reproduces the inverse Dower table to < 1e-3 (the tables are rounded to 3 decimals).
    assert np.abs(np.linalg.pinv(vcg.DOWER) - vcg.INVERSE_DOWER).max() < 1e-3


@pytest.mark.parametrize(
    "method, back_projection, stated",
    [("inverse_dower", "pinv", 1e-15), ("kors", "pinv_kors", 1e-15), ("inverse_dower", "dower", 1.05e-3)],
)
def test_vcg_round_trip_error_is_the_closed_form_bound(method, back_projection, stated):
    # VCG -> 12 leads -> VCG applies M = D_inv @ B; its relative error is at most ||M - I||_2, computed here
    # independently from the matrices, and the worst direction (top right-singular vector of M - I) attains it.
    operator = vcg.MATRICES[method] @ vcg.BACK_PROJECTIONS[back_projection]
    bound = np.linalg.svd(operator - np.eye(3), compute_uv=False)[0]
    assert vcg.vcg_round_trip_bound(method, back_projection) == pytest.approx(bound, abs=1e-15)
    assert bound <= stated * 1.01
    v = np.random.default_rng(4).normal(size=(5, 3, 100))
    error = np.linalg.norm(vcg.ecg_to_vcg(vcg.vcg_to_ecg(v, back_projection), method) - v, axis=-2)
    assert (error <= bound * np.linalg.norm(v, axis=-2) + 1e-12).all()
    worst = np.linalg.svd(operator - np.eye(3))[2][0][:, None]
    worst_error = np.linalg.norm(vcg.ecg_to_vcg(vcg.vcg_to_ecg(worst, back_projection), method) - worst)
    assert worst_error == pytest.approx(bound, rel=1e-6, abs=1e-15)


def test_kors_and_dower_do_not_mix():
    # Kors VCG projected back with Dower's lead vectors is off by 40 %: they are different coordinate systems.
    assert vcg.vcg_round_trip_bound("kors", "dower") > 0.3


def test_dipolar_part_is_an_orthogonal_projection_with_pinv():
    x = _ecg12(shape=(4,), n_samples=200, seed=5)
    kept = vcg.dipolar_part(x)
    np.testing.assert_allclose(vcg.dipolar_part(kept), kept, atol=1e-12)  # idempotent
    lost8, kept8 = vcg.twelve_to_eight(x - kept), vcg.twelve_to_eight(kept)
    np.testing.assert_allclose((lost8 * kept8).sum(axis=(-2, -1)), 0.0, atol=1e-9)  # orthogonal
    fraction = vcg.dipolar_fraction(x)
    assert fraction.shape == (4,)
    np.testing.assert_allclose(fraction, (kept8**2).sum((-2, -1)) / (vcg.twelve_to_eight(x) ** 2).sum((-2, -1)))


def test_dipolar_fraction_is_one_for_a_pure_dipole_and_three_eighths_for_white_noise():
    dipole_ecg = vcg.vcg_to_ecg(np.random.default_rng(6).normal(size=(3, 500)), back_projection="pinv")
    assert vcg.dipolar_fraction(dipole_ecg) == pytest.approx(1.0, abs=1e-9)
    # Isotropic noise in 8 dimensions keeps 3/8 of its energy in a 3-D subspace (expected value).
    noise_ecg = vcg.eight_to_twelve(np.random.default_rng(7).normal(size=(8, 100_000)))
    assert vcg.dipolar_fraction(noise_ecg) == pytest.approx(3 / 8, abs=0.01)


def test_torch_matches_numpy_keeps_dtype_and_promotes_integers():
    ecg12 = _ecg12(shape=(2,), n_samples=30, seed=8).astype(np.float32)
    ours = vcg.ecg_to_vcg(torch.from_numpy(ecg12), "kors")
    assert ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), vcg.ecg_to_vcg(ecg12, "kors"), atol=1e-6)
    np.testing.assert_allclose(vcg.vcg_to_ecg(ours).numpy(), vcg.vcg_to_ecg(ours.numpy()), atol=1e-6)
    as64 = vcg.dipolar_part(torch.from_numpy(ecg12.astype(np.float64)))
    assert as64.dtype == torch.float64
    np.testing.assert_allclose(as64.numpy(), vcg.dipolar_part(ecg12.astype(np.float64)), atol=1e-12)
    integers = np.round(ecg12 * 1000).astype(np.int16)
    assert vcg.ecg_to_vcg(integers).dtype == np.float32
    assert vcg.ecg_to_vcg(torch.from_numpy(integers)).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_results_stay_on_the_gpu():
    x = torch.from_numpy(_ecg12(shape=(2,), seed=9)).cuda()
    out = vcg.dipolar_part(x)
    assert out.device == x.device
    np.testing.assert_allclose(out.cpu().numpy(), vcg.dipolar_part(x.cpu().numpy()), atol=1e-10)


def test_bad_shapes_and_names_are_refused():
    with pytest.raises(ValueError, match=r"ecg12: expected an array of shape \(\.\.\., 12, time\), got \(8, 100\)"):
        vcg.ecg_to_vcg(np.zeros((8, 100)))
    with pytest.raises(ValueError, match="method"):
        vcg.ecg_to_vcg(np.zeros((12, 100)), "frank")
    with pytest.raises(ValueError, match=r"vcg: expected an array of shape \(\.\.\., 3, time\)"):
        vcg.vcg_to_ecg(np.zeros((12, 100)))
    with pytest.raises(ValueError, match="back_projection"):
        vcg.vcg_round_trip_bound("kors", "frank")
    with pytest.raises(ValueError, match=r"\(\.\.\., 12, time\), got list"):
        vcg.ecg_to_vcg([[0.0] * 12])


def test_plot_vcg_loops_colours_exactly_the_samples_of_each_wave():
    from beatssl_lite.vocabulary import WAVES
    from beatssl_lite.plots import _wave_codes, plot_vcg_loops

    d = np.random.default_rng(10).normal(size=(3, 40))
    codes = np.zeros(40, dtype=int)
    codes[5:10], codes[15:25], codes[30:36] = 1, 2, 3
    # Per-lead masks: 7 of 12 leads agree, the others mark nothing or a different wave; the vote gives `codes`.
    masks = np.zeros((12, 40), dtype=int)
    masks[:7] = codes
    masks[7:9, 15:25] = 3
    np.testing.assert_array_equal(_wave_codes(masks, 40), codes)
    fig = plot_vcg_loops(d, 500.0, masks=masks, lead_vectors=vcg.lead_vectors())
    traces = {trace.name: trace for trace in fig.data}
    assert set(traces) == {"whole record", "P", "QRS", "T", "lead vectors", "lead names"}
    for code, wave in enumerate(WAVES[1:], start=1):
        drawn = ~np.isnan(np.asarray(traces[wave].x, dtype=float))
        np.testing.assert_array_equal(drawn, codes == code)
    tips = np.stack([traces["lead names"].x, traces["lead names"].y, traces["lead names"].z], axis=1)
    np.testing.assert_allclose(tips / np.linalg.norm(tips, axis=1, keepdims=True),
                               vcg.lead_vectors() / np.linalg.norm(vcg.lead_vectors(), axis=1, keepdims=True))
    with pytest.raises(ValueError, match=r"vcg: expected \(3, n_samples\)"):
        plot_vcg_loops(np.zeros((12, 40)), 500.0)


def test_plot_vcg_planes_and_leads_overlay_draw_what_they_are_given():
    from beatssl_lite.plots import plot_leads_overlay, plot_vcg_planes

    ecg12 = _ecg12(shape=(), n_samples=100, seed=11)
    planes = plot_vcg_planes({"inverse Dower": vcg.ecg_to_vcg(ecg12), "Kors": vcg.ecg_to_vcg(ecg12, "kors")})
    assert len(planes.axes) == 6
    frontal = planes.axes[0].get_lines()[0]
    np.testing.assert_allclose(frontal.get_xdata(), vcg.ecg_to_vcg(ecg12)[0])
    assert planes.axes[0].get_ylim()[0] > planes.axes[0].get_ylim()[1]  # +Y points down
    overlay = plot_leads_overlay({"a": ecg12, "b": 2 * ecg12}, 50.0, leads=("V1", "aVF"), start_s=1.0)
    lines = overlay.axes[1].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata(), 2 * ecg12[vcg.LEADS.index("aVF"), 50:])
    with pytest.raises(ValueError, match=r"signals\['b'\]: expected \(12, 100\)"):
        plot_leads_overlay({"a": ecg12, "b": ecg12[:8]}, 50.0)
