"""Losses against naive loops written from the papers' formulas, closed forms, numerics and the gathered path."""

import math

import numpy as np
import pytest
import torch
import torch.distributed as dist

from beatssl_lite.losses import (beat_loss, hard_beat_loss, nt_xent_loss, rhythm_loss, soft_1_loss, soft_2_loss,
                                 total_loss)
from beatssl_lite.model import BeatSSLModel, size_preset
from beatssl_lite.vocabulary import BEAT_CLASSES


def _unit(z):
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def naive_weighted(z1, z2, item_weights, tau, normalise):
    """Loop over anchors a and candidates b of the 2N two-view items, straight from the module's formula."""
    z = _unit(np.concatenate([np.asarray(z1, np.float64), np.asarray(z2, np.float64)]))
    n = len(z1)
    total = 0.0
    for a in range(2 * n):
        denominator = sum(math.exp(z[a] @ z[c] / tau) for c in range(2 * n) if c != a)
        row, mass = 0.0, 0.0
        for b in range(2 * n):
            if b == a:
                continue
            if b % n == a % n:
                w = 1.0  # the other view of the same item
            else:
                w = item_weights[a % n][b % n]
            row += -w * math.log(math.exp(z[a] @ z[b] / tau) / denominator)
            mass += w
        total += row / mass if normalise else row
    return total / (2 * n)


def naive_nt_xent(z1, z2, tau):
    """SimCLR's NT-Xent: l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau), averaged over 2N anchors."""
    z = _unit(np.concatenate([np.asarray(z1, np.float64), np.asarray(z2, np.float64)]))
    n = len(z1)
    losses = []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = sum(math.exp(z[i] @ z[k] / tau) for k in range(2 * n) if k != i)
        losses.append(-math.log(math.exp(z[i] @ z[j] / tau) / denominator))
    return float(np.mean(losses))


def naive_supcon(b1, b2, classes, tau):
    """Khosla et al. 2020, L_out: -1/|P(i)| sum_{p in P(i)} log exp(z_i z_p / tau) / sum_{a != i} exp(z_i z_a / tau),
    P(i) = the other view of the same beat and every other beat (either view) of the same non-negative class."""
    z = _unit(np.concatenate([np.asarray(b1, np.float64), np.asarray(b2, np.float64)]))
    labels = list(classes) * 2
    m = len(b1)
    losses = []
    for i in range(2 * m):
        positives = [p for p in range(2 * m) if p != i and (p % m == i % m or (labels[p] == labels[i] >= 0))]
        denominator = sum(math.exp(z[i] @ z[a] / tau) for a in range(2 * m) if a != i)
        losses.append(-np.mean([math.log(math.exp(z[i] @ z[p] / tau) / denominator) for p in positives]))
    return float(np.mean(losses))


@pytest.fixture
def views():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.randn(5, 8, generator=generator, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(5, 8, generator=generator, dtype=torch.float64)
    weights = torch.rand(5, 5, generator=generator, dtype=torch.float64)
    return z1, z2, (weights + weights.T) / 2


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_the_simclr_formula(views, tau):
    z1, z2, _ = views
    assert nt_xent_loss(z1, z2, tau).item() == pytest.approx(naive_nt_xent(z1, z2, tau), rel=1e-12)


@pytest.mark.parametrize("loss, normalise", [(soft_1_loss, False), (soft_2_loss, True)])
def test_soft_losses_match_a_loop_over_anchors_and_candidates(views, loss, normalise):
    z1, z2, weights = views
    expected = naive_weighted(z1, z2, weights.numpy(), 0.2, normalise)
    assert loss(z1, z2, weights, 0.2).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss", [soft_1_loss, soft_2_loss])
def test_soft_losses_with_one_hot_targets_are_nt_xent(views, loss):
    z1, z2, _ = views
    z1, z2 = z1.float(), z2.float()
    diagonal_only = torch.eye(5) * 0.7  # the diagonal is ignored: the partner is always 1
    assert loss(z1, z2, diagonal_only, 0.1).item() == pytest.approx(nt_xent_loss(z1, z2, 0.1).item(), rel=1e-6)


@pytest.mark.parametrize("loss", [soft_1_loss, soft_2_loss])
def test_soft_losses_are_symmetric_in_the_two_views(views, loss):
    z1, z2, weights = views
    assert loss(z1, z2, weights).item() == pytest.approx(loss(z2, z1, weights).item(), rel=1e-12)
    assert nt_xent_loss(z1, z2).item() == pytest.approx(nt_xent_loss(z2, z1).item(), rel=1e-12)


def test_closed_form_when_all_embeddings_coincide():
    n = 6
    z = torch.ones(n, 4)
    weights = torch.full((n, n), 0.5)
    # Every logit is equal, so p = 1 / (2N - 1) for every candidate.
    assert nt_xent_loss(z, z).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    assert soft_2_loss(z, z, weights).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    target_mass = 1 + 0.5 * 2 * (n - 1)  # the partner, and both views of the N - 1 other items
    assert soft_1_loss(z, z, weights).item() == pytest.approx(target_mass * math.log(2 * n - 1), rel=1e-6)


def test_hard_beat_loss_matches_supcon_loop():
    generator = torch.Generator().manual_seed(1)
    b1 = torch.randn(7, 6, generator=generator, dtype=torch.float64)
    b2 = b1 + 0.3 * torch.randn(7, 6, generator=generator, dtype=torch.float64)
    classes = torch.tensor([0, 0, 1, 2, 0, -1, 2])
    expected = naive_supcon(b1, b2, classes.tolist(), 0.1)
    assert hard_beat_loss(b1, b2, classes, 0.1).item() == pytest.approx(expected, rel=1e-12)


def test_hard_beat_loss_leaves_q_beats_without_class_positives():
    generator = torch.Generator().manual_seed(4)
    b1 = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    b2 = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    q = BEAT_CLASSES.index("Q")
    classes = torch.tensor([q, q, 0, 0, q])
    expected = naive_supcon(b1, b2, [-1, -2, 0, 0, -3], 0.1)  # every Q beat its own class
    assert hard_beat_loss(b1, b2, classes, 0.1).item() == pytest.approx(expected, rel=1e-12)
    as_a_class = naive_supcon(b1, b2, classes.tolist(), 0.1)
    assert hard_beat_loss(b1, b2, classes, 0.1, unmatched_class=None).item() == pytest.approx(as_a_class, rel=1e-12)


@pytest.mark.parametrize("strategy, loss", [("hard", None), ("soft_1", soft_1_loss), ("soft_2", soft_2_loss)])
def test_losses_take_the_target_blocks_of_the_targets_module(strategy, loss):
    """The contract with ``targets``: its (M, M) cross-view blocks are the losses' ``weights``."""
    from beatssl_lite.targets import beat_target_block, beat_targets, two_view_targets

    rng = np.random.default_rng(5)
    features = rng.uniform(1, 500, size=(6, 4))
    record, classes = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 4, 0, 1, 4, 0])
    b1, b2 = torch.randn(2, 6, 8, dtype=torch.float64)
    names = ["rr_pre_ms", "rr_post_ms", "pr_ms", "qrs_ms"]
    block = beat_target_block(features, record, classes, strategy=strategy, power=3.0, names=names)
    reference = two_view_targets(beat_targets(features, record, classes, strategy=strategy, power=3.0, names=names))
    expected = naive_weighted(b1, b2, reference[:6, :6] + np.eye(6), 0.1, normalise=strategy != "soft_1")
    if loss is None:
        got = hard_beat_loss(b1, b2, torch.as_tensor(classes), 0.1)
        assert soft_2_loss(b1, b2, block, 0.1).item() == pytest.approx(got.item(), rel=1e-6)
    else:
        got = loss(b1, b2, block, 0.1)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def _one_beat_per_ecg(fs=100.0):
    torch.manual_seed(0)
    model = BeatSSLModel(size_preset("tiny"), fs)
    x1, x2 = torch.randn(2, 4, 12, int(10 * fs))
    peaks = torch.tensor([100, 300, 520, 990]) * int(fs // 100)
    record = torch.arange(4)
    _, b1 = model(x1, peaks, record)
    _, b2 = model(x2, peaks, record)
    return b1, b2


def test_beat_loss_with_one_beat_per_ecg_and_distinct_classes_is_the_rhythm_loss_on_the_beats():
    b1, b2 = _one_beat_per_ecg()
    rhythm = nt_xent_loss(b1, b2, 0.1).item()
    assert hard_beat_loss(b1, b2, torch.tensor([0, 1, 2, 3]), 0.1).item() == pytest.approx(rhythm, rel=1e-6)
    assert hard_beat_loss(b1, b2, torch.tensor([-1, -1, -1, -1]), 0.1).item() == pytest.approx(rhythm, rel=1e-6)


def test_ecgs_without_beats_contribute_nothing():
    torch.manual_seed(0)
    model = BeatSSLModel(size_preset("tiny"), 100.0)
    x1, x2 = torch.randn(2, 5, 12, 1000)
    peaks = torch.tensor([120, 400, 700, 250, 600, 130, 500, 880])
    record = torch.tensor([0, 0, 0, 2, 2, 4, 4, 4])  # ECGs 1 and 3 have no beats
    classes = torch.tensor([0, 1, 0, 0, 1, 2, 0, -1])
    _, b1 = model(x1, peaks, record)
    _, b2 = model(x2, peaks, record)
    keep = torch.tensor([0, 2, 4])
    remap = torch.tensor([0, -1, 1, -1, 2])[record]
    _, c1 = model(x1[keep], peaks, remap)
    _, c2 = model(x2[keep], peaks, remap)
    full = hard_beat_loss(b1, b2, classes)
    assert torch.isfinite(full)
    assert full.item() == pytest.approx(hard_beat_loss(c1, c2, classes).item(), rel=1e-5)


def test_no_beats_at_all_gives_zero_and_a_zero_gradient():
    b = torch.zeros(0, 8, requires_grad=True)
    loss = hard_beat_loss(b, b, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and b.grad is not None and b.grad.shape == (0, 8)
    assert soft_1_loss(b, b, torch.zeros(0, 0)).item() == 0.0


def _power_50_case():
    generator = torch.Generator().manual_seed(2)
    features = torch.rand(8, 6, generator=generator) * torch.tensor([800.0, 400, 100, 1.5, 0.3, 0.1]) + 1
    unit = features / features.norm(dim=1, keepdim=True)
    return (unit @ unit.T).clamp(0, 1) ** 50


@pytest.mark.parametrize("loss_name", ["hard", "soft_1", "soft_2"])
def test_finite_values_and_gradients_under_bfloat16_autocast(loss_name):
    torch.manual_seed(0)
    model = BeatSSLModel(size_preset("tiny"), 100.0)
    x = torch.randn(2, 8, 12, 1000)
    weights = _power_50_case()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z1, _ = model(x[0])
        z2, _ = model(x[1])
        assert z1.dtype == torch.bfloat16  # the autocast really is on
        loss = rhythm_loss(loss_name, z1, z2, weights, temperature=0.05)
    loss.backward()
    assert torch.isfinite(loss)
    rhythm_branch = [*model.encoder.parameters(), *model.rhythm_projector.parameters()]
    assert all(torch.isfinite(p.grad).all() for p in rhythm_branch)
    reference = rhythm_loss(loss_name, z1.float(), z2.float(), weights, temperature=0.05)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)  # the loss itself runs in float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 autocast needs CUDA")
def test_finite_values_and_gradients_under_float16_autocast_on_cuda():
    torch.manual_seed(0)
    model = BeatSSLModel(size_preset("tiny"), 100.0).cuda()
    x = torch.randn(2, 8, 12, 1000, device="cuda")
    weights = _power_50_case().cuda()
    with torch.autocast("cuda", dtype=torch.float16):
        z1, _ = model(x[0])
        z2, _ = model(x[1])
        loss = soft_1_loss(z1, z2, weights, temperature=0.05)
    loss.backward()
    assert torch.isfinite(loss) and loss.device.type == "cuda"
    rhythm_branch = [*model.encoder.parameters(), *model.rhythm_projector.parameters()]
    assert all(torch.isfinite(p.grad).all() for p in rhythm_branch)


def test_gradcheck_in_float64():
    generator = torch.Generator().manual_seed(3)
    z1 = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(3, 3, generator=generator, dtype=torch.float64)
    classes = torch.tensor([0, 0, 1])
    assert torch.autograd.gradcheck(lambda a, b: nt_xent_loss(a, b, 0.3), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: soft_1_loss(a, b, weights, 0.3), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: soft_2_loss(a, b, weights, 0.3), (z1, z2))
    assert torch.autograd.gradcheck(lambda a, b: hard_beat_loss(a, b, classes, 0.3), (z1, z2))


@pytest.fixture
def single_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_gathered_path_with_world_size_one_equals_the_plain_path(views, single_process_group):
    z1, z2, weights = views
    classes = torch.tensor([0, 1, 0, -1, 1])
    cases = [
        lambda a, b, g: nt_xent_loss(a, b, 0.2, gather=g),
        lambda a, b, g: soft_1_loss(a, b, weights, 0.2, gather=g),
        lambda a, b, g: soft_2_loss(a, b, weights[:5], 0.2, gather=g),
        lambda a, b, g: hard_beat_loss(a, b, classes, 0.2, gather=g),
    ]
    for loss in cases:
        grads = []
        values = []
        for gather in (True, False):
            a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
            value = loss(a, b, gather)
            value.backward()
            values.append(value.item())
            grads.append(torch.cat([a.grad, b.grad]))
        assert values[0] == pytest.approx(values[1], rel=1e-12)
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-14)
    from beatssl_lite.losses import gather_default

    assert gather_default()


def test_dispatch_and_total():
    z = torch.randn(4, 3)
    assert rhythm_loss("hard", z, z + 1).item() == nt_xent_loss(z, z + 1).item()
    assert beat_loss("none", z, z).item() == 0.0
    assert total_loss(torch.tensor(2.0), torch.tensor(3.0), 0.5).item() == 3.5


@pytest.mark.parametrize("call, message", [
    (lambda z: nt_xent_loss(z, z[:3]), "z1, z2"),
    (lambda z: nt_xent_loss(z, z, temperature=0), "temperature"),
    (lambda z: nt_xent_loss(z[0], z[0]), "z1"),
    (lambda z: soft_1_loss(z, z, torch.ones(3, 3)), r"weights: expected \(4, 4\)"),
    (lambda z: soft_1_loss(z, z, -torch.ones(4, 4)), "non-negative"),
    (lambda z: soft_2_loss(z, z, torch.full((4, 4), float("nan"))), "finite"),
    (lambda z: hard_beat_loss(z, z, torch.zeros(4)), "beat_classes"),
    (lambda z: hard_beat_loss(z, z, torch.zeros(3, dtype=torch.long)), "beat_classes"),
    (lambda z: rhythm_loss("soft_3", z, z), "strategy"),
    (lambda z: beat_loss("nope", z, z), "strategy"),
    (lambda z: total_loss(z.sum(), z.sum(), -1), "beat_weight"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.randn(4, 3))
