"""Contrastive losses of Beat-SSL: hard and soft rhythm losses, hard and soft beat losses, their total.

Every loss compares two augmented views of the same N items (N ECGs for rhythm contrasting, the M beats of a
batch for beat contrasting). With z = [view 1 of items 0..N-1; view 2 of items 0..N-1] (2N rows, L2-normalised),
s_ab = z_a . z_b / tau and the log-softmax over every candidate but the anchor itself,

    log p_ab = s_ab - log sum_{c != a} exp(s_ac),

the losses differ only in the target weights w_ab of each anchor a (the same layout as ``targets.two_view_targets``:
w_aa = 0, w_a,partner(a) = 1, and for two different items i != j, w = W[i, j] whichever views a and b come from):

- ``nt_xent_loss`` (hard rhythm) **[paper, ref: SimCLR, Chen et al. 2020]**: w one-hot at the partner view;
  L = mean_a -log p_a,partner(a).
- ``soft_1_loss`` **[ours: the spec's reading of SoftCLT, Lee et al. ICLR 2024]**: W unnormalised in [0, 1];
  L = mean_a sum_{b != a} w_ab (-log p_ab). One-hot W gives exactly NT-Xent. Each row's loss grows with its
  target mass, and its gradient pulls z_a towards the softmax target w_a / sum_b w_ab **[ours, inferred]**.
- ``soft_2_loss`` **[ours]**: the cross-entropy between the row-normalised targets and the softmax,
  L = mean_a sum_{b != a} (w_ab / sum_c w_ac) (-log p_ab). One-hot W gives NT-Xent too; unlike soft_1, every
  anchor weighs the same whatever its target mass. (The paper's soft_2 is not public; this is the second form the
  spec suggests, and with the soft_2 targets of ``targets`` it is ours twice over.)
- ``hard_beat_loss`` **[paper: hard beat targets from a beat classifier; ref: SupCon, Khosla et al. 2020, the
  L_out form]**: positives of a beat are its other view and every other beat (either view, any ECG of the batch)
  of the same class; L = mean_a -1/|P(a)| sum_{p in P(a)} log p_ap, i.e. ``soft_2_loss`` with binary targets.
  A beat whose class is Q (unclassifiable) or negative has its other view as its only positive.
- soft beat losses: ``soft_1_loss`` / ``soft_2_loss`` on beat embeddings with the beat feature similarity as W.
- ``total_loss`` = rhythm + beat_weight * beat **[paper: a sum; the weight is ours, 1 by default]**.

Target contract (independent of how the targets are built): ``weights`` is the *single-view* item similarity W,
(N, N) float, non-negative: the cross-view block P of ``targets.rhythm_target_block`` / ``beat_target_block``, or
the numpy ``targets.similarity`` as a tensor. Its diagonal is ignored and the two-view layout [[W, W], [W, W]] with
self excluded and partner = 1 is applied here. Beat classes are (M,) integer codes into
``vocabulary.BEAT_CLASSES``; Q or a negative code means "no class positive".

Numerics [ours]: the similarity matrix and the log-softmax are computed in float32 (float64 stays float64) with
autocast disabled inside the loss, whatever the dtype of z (logits reach 1/tau = 20 at tau = 0.05, and a
log-softmax over thousands of entries in bfloat16 keeps 2-3 digits); the anchor's own logit is set to -inf (a
large finite negative overflows float16, and -inf never wins a softmax) and the masked log-probabilities are
zeroed *before* multiplying by the targets (0 * -inf = NaN).

Data-parallel training [ours; ref: the autograd-aware gathers, e.g. ``torch.distributed.nn.functional.all_gather``
(deprecated in recent torch), whose backward sums every rank's gradient of the gathered tensor; the widely copied
``GatherLayer`` returns only the local one, about 7 % off. ``AllGatherWithGrad`` does the same with public
collectives: all_gather forward, all_reduce(sum) of the gradient backward]: with ``gather`` on (the default
whenever a process group is initialised), each rank's anchors are its own items and its candidates are the items
of every rank, gathered with gradients; item counts may differ between ranks (beats), so tensors are padded to
the largest count, gathered and unpadded. Beat classes are gathered too; soft ``weights`` must then be the
*global* (N_total, N_total) matrix over the items of all ranks in rank order (gather the feature rows with
``all_gather_variable(..., with_grad=False)``) or this rank's (N_local, N_total) rows of it. Each rank returns
world_size x (its anchors' summed loss) / (all anchors): their mean, which is what DistributedDataParallel's
gradient averaging differentiates, is the loss of one process on the global batch (checked by hand with 2 gloo
processes and uneven beat counts: loss and input gradients equal to 1e-15 in float64).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .vocabulary import BEAT_CLASSES

RHYTHM_STRATEGIES = ("hard", "soft_1", "soft_2")
BEAT_STRATEGIES = ("none", "hard", "soft_1", "soft_2")
#: Code of the unclassifiable beat class (Q): such beats are positives of no other beat.
UNCLASSIFIED = BEAT_CLASSES.index("Q")


def gather_default() -> bool:
    """Whether losses gather across processes by default: when a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


class AllGatherWithGrad(torch.autograd.Function):
    """Gather (n, ...) from every rank into (world, n, ...); backward returns this rank's slice of the gradient
    summed over all ranks (each rank's loss depends on every rank's embeddings)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        pieces = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(pieces, x.contiguous())
        return torch.stack(pieces)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[dist.get_rank()]


def all_gather_variable(x: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, int]:
    """Concatenate every rank's ``x`` (n_r, ...) along dim 0, n_r free to differ: returns (sum_r n_r, ...) in rank
    order and the offset of this rank's rows. ``with_grad``: gradients flow back to every rank's ``x``
    (``AllGatherWithGrad``); otherwise a plain collective (targets, classes)."""
    world = dist.get_world_size()
    count = torch.tensor([x.shape[0]], device=x.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    counts = [int(c) for c in torch.cat(counts).tolist()]
    padded = F.pad(x, (0, 0) * (x.ndim - 1) + (0, max(counts) - x.shape[0]))
    if with_grad:
        pieces = AllGatherWithGrad.apply(padded)
    else:
        pieces = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(pieces, padded.contiguous())
    rank = dist.get_rank()
    return torch.cat([piece[:n] for piece, n in zip(pieces, counts)]), sum(counts[:rank])


def _check_views(z1, z2) -> None:
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.dtype.is_floating_point:
            raise ValueError(f"{name}: expected a (N, D) float tensor of embeddings, got "
                             f"{getattr(z, 'dtype', type(z).__name__)} {tuple(getattr(z, 'shape', ()))}")
    if z1.shape != z2.shape:
        raise ValueError(f"z1, z2: expected the two views of the same N items, got {tuple(z1.shape)} and "
                         f"{tuple(z2.shape)}")


def _check_temperature(temperature) -> float:
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    return value


def _weight_rows(weights, n_local: int, n_total: int, offset: int, dtype, device) -> torch.Tensor:
    """This rank's (n_local, n_total) rows of the single-view item weights, validated."""
    if not isinstance(weights, torch.Tensor) or weights.ndim != 2:
        raise ValueError(f"weights: expected a (N, N) tensor of item targets, got "
                         f"{getattr(weights, 'dtype', type(weights).__name__)} "
                         f"{tuple(getattr(weights, 'shape', ()))}")
    if weights.shape == (n_total, n_total):
        weights = weights[offset:offset + n_local]
    elif weights.shape != (n_local, n_total):
        expected = f"({n_total}, {n_total})" + (f" or ({n_local}, {n_total})" if n_local != n_total else "")
        raise ValueError(f"weights: expected {expected} single-view item targets, got {tuple(weights.shape)}")
    weights = weights.to(device=device, dtype=dtype)
    if not bool(((weights >= 0) & torch.isfinite(weights)).all()):
        raise ValueError("weights: expected finite, non-negative targets")
    return weights


def _two_view_contrastive(z1, z2, temperature, *, weights=None, classes=None, normalize_rows: bool,
                          gather: bool | None) -> torch.Tensor:
    """The loss of the module docstring for one choice of targets: ``weights`` (soft), ``classes`` (SupCon) or
    neither (one-hot partner, NT-Xent). Returns a 0-d tensor; no items anywhere gives 0 (still in the graph)."""
    _check_views(z1, z2)
    tau = _check_temperature(temperature)
    gather = gather_default() if gather is None else bool(gather)
    dtype = torch.promote_types(z1.dtype, torch.float32)
    device = z1.device
    n = z1.shape[0]
    with torch.autocast(device_type=device.type, enabled=False):
        z1f, z2f = z1.to(dtype), z2.to(dtype)
        if gather:
            world = dist.get_world_size()
            all1, offset = all_gather_variable(z1f)
            all2, _ = all_gather_variable(z2f)
        else:
            world, all1, all2, offset = 1, z1f, z2f, 0
        n_total = all1.shape[0]
        if n_total == 0:
            return (z1f.sum() + z2f.sum()) * 0.0
        anchors = F.normalize(torch.cat([z1f, z2f]), dim=1)
        candidates = F.normalize(torch.cat([all1, all2]), dim=1)
        logits = anchors @ candidates.T / tau  # (2n, 2 n_total)
        rows = torch.arange(2 * n, device=device)
        local = torch.arange(n, device=device) + offset
        self_col = torch.cat([local, local + n_total])
        partner_col = torch.cat([local + n_total, local])
        self_mask = torch.zeros_like(logits, dtype=torch.bool)
        self_mask[rows, self_col] = True
        log_prob = torch.log_softmax(logits.masked_fill(self_mask, -math.inf), dim=1).masked_fill(self_mask, 0.0)
        if weights is None and classes is None:
            per_anchor = -log_prob[rows, partner_col]
        else:
            if classes is not None:
                all_classes = all_gather_variable(classes, with_grad=False)[0] if gather else classes
                own = classes.unsqueeze(1)
                item_rows = ((own == all_classes.unsqueeze(0)) & (own >= 0)).to(dtype)
            else:
                item_rows = _weight_rows(weights, n, n_total, offset, dtype, device)
            two_view = item_rows.repeat(2, 2)  # rows [view 1; view 2] x cols [view 1, view 2]: [[W, W], [W, W]]
            two_view[rows, self_col] = 0.0
            two_view[rows, partner_col] = 1.0
            per_anchor = -(two_view * log_prob).sum(dim=1)
            if normalize_rows:
                per_anchor = per_anchor / two_view.sum(dim=1)
        return per_anchor.sum() * (world / (2 * n_total))


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1,
                 gather: bool | None = None) -> torch.Tensor:
    """Hard rhythm loss, NT-Xent (SimCLR): each view's positive is the other view of the same ECG.

    z1, z2: (N, D) embeddings of views 1 and 2 (row i of both = item i); any float dtype, any device.
    temperature: tau (0.1 in 3KG [ref]). gather: across processes (default: when a process group is initialised).
    Returns a 0-d float32 (float64 for float64 input) tensor on z1's device: mean_a -log p_a,partner(a).
    """
    return _two_view_contrastive(z1, z2, temperature, normalize_rows=False, gather=gather)


def soft_1_loss(z1: torch.Tensor, z2: torch.Tensor, weights: torch.Tensor, temperature: float = 0.1,
                gather: bool | None = None) -> torch.Tensor:
    """soft_1: weighted contrastive loss with unnormalised targets, mean_a sum_{b != a} w_ab (-log p_ab).

    z1, z2: (N, D) the two views. weights: (N, N) single-view item targets W >= 0 (diagonal ignored; two-view
    layout, self = 0 and partner = 1 applied here; with gathering (N_total, N_total) or (N, N_total), module
    docstring). One-hot W (zero off the diagonal) gives ``nt_xent_loss``. Returns a 0-d tensor.
    """
    return _two_view_contrastive(z1, z2, temperature, weights=weights, normalize_rows=False, gather=gather)


def soft_2_loss(z1: torch.Tensor, z2: torch.Tensor, weights: torch.Tensor, temperature: float = 0.1,
                gather: bool | None = None) -> torch.Tensor:
    """soft_2: cross-entropy between row-normalised targets and the softmax,
    mean_a sum_{b != a} (w_ab / sum_c w_ac) (-log p_ab).

    Arguments and layout as ``soft_1_loss``. One-hot W gives ``nt_xent_loss``. Returns a 0-d tensor.
    """
    return _two_view_contrastive(z1, z2, temperature, weights=weights, normalize_rows=True, gather=gather)


def hard_beat_loss(b1: torch.Tensor, b2: torch.Tensor, beat_classes: torch.Tensor, temperature: float = 0.1,
                   gather: bool | None = None, unmatched_class: int | None = UNCLASSIFIED) -> torch.Tensor:
    """Hard beat loss, supervised-contrastive (Khosla et al. 2020, L_out) over the beats of both views.

    b1, b2: (M, D) beat embeddings of views 1 and 2 (row m of both = beat m; M may be 0: the loss is then 0).
    beat_classes: (M,) integer class codes (``vocabulary.BEAT_CLASSES``); two different beats are positives when
    their codes are equal, unless the code is negative or ``unmatched_class`` (default Q, unclassifiable: two Q beats
    share no morphology [ours], as in ``targets.beat_target_block``); a beat's other view is always a positive.
    With one beat per ECG and all-distinct classes this is ``nt_xent_loss`` on the beats; it equals
    ``soft_2_loss`` with the binary block of ``targets.beat_target_block(..., strategy='hard')``. Returns a 0-d
    tensor.
    """
    if (not isinstance(beat_classes, torch.Tensor) or beat_classes.dtype.is_floating_point
            or beat_classes.shape != (b1.shape[0],)):
        raise ValueError(f"beat_classes: expected ({b1.shape[0]},) integer codes, one per beat, got "
                         f"{getattr(beat_classes, 'dtype', type(beat_classes).__name__)} "
                         f"{tuple(getattr(beat_classes, 'shape', ()))}")
    classes = beat_classes.to(b1.device)
    if unmatched_class is not None:
        classes = classes.masked_fill(classes == unmatched_class, -1)
    return _two_view_contrastive(b1, b2, temperature, classes=classes, normalize_rows=True, gather=gather)


def rhythm_loss(strategy: str, z1: torch.Tensor, z2: torch.Tensor, weights: torch.Tensor | None = None,
                temperature: float = 0.1, gather: bool | None = None) -> torch.Tensor:
    """The rhythm loss of a Table-1 strategy: 'hard' (``nt_xent_loss``, ``weights`` unused), 'soft_1', 'soft_2'."""
    if strategy == "hard":
        return nt_xent_loss(z1, z2, temperature, gather)
    if strategy == "soft_1":
        return soft_1_loss(z1, z2, weights, temperature, gather)
    if strategy == "soft_2":
        return soft_2_loss(z1, z2, weights, temperature, gather)
    raise ValueError(f"strategy: expected one of {RHYTHM_STRATEGIES} for the rhythm loss, got {strategy!r}")


def beat_loss(strategy: str, b1: torch.Tensor, b2: torch.Tensor, beat_classes: torch.Tensor | None = None,
              weights: torch.Tensor | None = None, temperature: float = 0.1,
              gather: bool | None = None) -> torch.Tensor:
    """The beat loss of a Table-1 strategy: 'hard' (``hard_beat_loss`` with ``beat_classes``), 'soft_1' /
    'soft_2' (with the (M, M) beat similarity ``weights``), 'none' (a 0 that keeps b1, b2 in the graph)."""
    if strategy == "hard":
        return hard_beat_loss(b1, b2, beat_classes, temperature, gather)
    if strategy == "soft_1":
        return soft_1_loss(b1, b2, weights, temperature, gather)
    if strategy == "soft_2":
        return soft_2_loss(b1, b2, weights, temperature, gather)
    if strategy == "none":
        return (b1.float().sum() + b2.float().sum()) * 0.0
    raise ValueError(f"strategy: expected one of {BEAT_STRATEGIES} for the beat loss, got {strategy!r}")


def total_loss(rhythm: torch.Tensor, beat: torch.Tensor, beat_weight: float = 1.0) -> torch.Tensor:
    """rhythm + beat_weight * beat [paper: the sum of both losses; the weight lambda is ours, 1 by default]."""
    if not math.isfinite(float(beat_weight)) or beat_weight < 0:
        raise ValueError(f"beat_weight: expected a non-negative number, got {beat_weight!r}")
    return rhythm + beat_weight * beat
