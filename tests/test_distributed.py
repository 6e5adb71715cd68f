"""Data-parallel pretraining on CPU with gloo and 2 processes.

1. One step: the loss and the gradients of a distributed step (DDP, negatives gathered with gradients) equal those
   of one process on the same global batch, for a rhythm-only row, Beat-SSL (row 9) and a soft-beat row.
2. The whole ``pretrain`` under 2 processes: rank 0 alone writes the run folder, the checkpoint holds both ranks'
   RNG states, and a second launch resumes it.
"""

import os
import socket

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from beatssl_lite.config import preset
from beatssl_lite.datasets import load_dataset
from beatssl_lite.features import BEAT_FEATURES, RECORD_FEATURES
from beatssl_lite.targets import feature_scales
from beatssl_lite.pretrain import CHECKPOINT, CURVE, Batch, build_model, compute_losses, load_checkpoint, pretrain

WORLD = 2
ROWS = ("row1", "row9", "row14")
FS, N_SAMPLES, PER_RANK = 100, 1000, 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def similar_rows(n: int, names, g: torch.Generator) -> torch.Tensor:
    """n feature rows that differ by about half a soft_2 scale per feature: targets spread over (0, 1)."""
    scales = torch.from_numpy(feature_scales(names))
    base = 50 + 50 * torch.rand(len(names), generator=g, dtype=torch.float64)
    return (base + 0.5 * scales * torch.randn(n, len(names), generator=g, dtype=torch.float64)).abs()


def global_batch() -> tuple[torch.Tensor, torch.Tensor, Batch]:
    """Two views and the features of 6 ECGs: random, but with what the targets need (positive record features,
    beat classes, R peaks inside the record, some at its edges), and an ECG without beats on each rank."""
    g = torch.Generator().manual_seed(0)
    b = WORLD * PER_RANK
    counts = [4, 0, 2, 3, 5, 0]  # ECGs 1 and 5 (one per rank) have no beat
    m = sum(counts)
    peaks = torch.cat([torch.sort(torch.randint(0, N_SAMPLES, (c,), generator=g)).values for c in counts])
    peaks[0], peaks[-1] = 0, N_SAMPLES - 1
    record_features = similar_rows(b, RECORD_FEATURES, g)
    record_features[2, 3] = float("nan")  # an undefined feature
    return (torch.randn(b, 12, N_SAMPLES, generator=g, dtype=torch.float64),
            torch.randn(b, 12, N_SAMPLES, generator=g, dtype=torch.float64),
            Batch(signals=torch.zeros(b, 12, N_SAMPLES), indices=torch.arange(b),
                  record_features=record_features,
                  beat_features=similar_rows(m, BEAT_FEATURES, g),
                  beat_record_index=torch.repeat_interleave(torch.arange(b), torch.tensor(counts)),
                  beat_classes=torch.randint(0, 5, (m,), generator=g), r_peaks=peaks))


def rank_share(view1, view2, batch: Batch, rank: int):
    """The ECGs of ``rank`` (consecutive, PER_RANK each) with their beats, indices rebased to the share."""
    lo, hi = rank * PER_RANK, (rank + 1) * PER_RANK
    beats = (batch.beat_record_index >= lo) & (batch.beat_record_index < hi)
    share = Batch(signals=batch.signals[lo:hi], indices=batch.indices[lo:hi],
                  record_features=batch.record_features[lo:hi], beat_features=batch.beat_features[beats],
                  beat_record_index=batch.beat_record_index[beats] - lo, beat_classes=batch.beat_classes[beats],
                  r_peaks=batch.r_peaks[beats])
    return view1[lo:hi], view2[lo:hi], share


def step(model, view1, view2, batch, config, gather):
    model.zero_grad(set_to_none=True)
    total, rhythm, beat = compute_losses(model, view1, view2, batch, config, gather=gather)
    total.backward()
    module = getattr(model, "module", model)
    grads = {name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
             for name, p in module.named_parameters()}
    return torch.stack([total.detach(), rhythm.detach(), beat.detach()]), grads


def _step_worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        view1, view2, batch = global_batch()
        view1, view2, share = rank_share(view1, view2, batch, rank)
        results = {}
        for row in ROWS:
            config = preset(row, "tiny")
            torch.manual_seed(0)
            model = torch.nn.parallel.DistributedDataParallel(build_model(config, FS).double(),
                                                              find_unused_parameters=not config.loss.uses_beats)
            results[row] = step(model, view1, view2, share, config, gather=True)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_distributed_step_equals_one_process_on_the_global_batch(tmp_path):
    mp.start_processes(_step_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True,
                       start_method="spawn")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    view1, view2, batch = global_batch()
    losses = {}
    for row in ROWS:
        config = preset(row, "tiny")
        torch.manual_seed(0)
        expected_losses, expected_grads = step(build_model(config, FS).double(), view1, view2, batch, config, gather=False)
        # Each rank's loss is world x its anchors' share; their mean is the global loss (what DDP differentiates).
        mean_losses = torch.stack([ranks[r][row][0] for r in range(WORLD)]).mean(0)
        torch.testing.assert_close(mean_losses, expected_losses, rtol=1e-10, atol=1e-12, msg=row)
        for r in range(WORLD):  # DDP averages gradients: every rank holds the global gradient
            for name, grad in expected_grads.items():
                torch.testing.assert_close(ranks[r][row][1][name], grad, rtol=1e-7, atol=1e-10,
                                           msg=f"{row} rank {r} {name}")
        assert any(g.abs().sum() > 0 for g in expected_grads.values())
        losses[row] = expected_losses
    # the soft rows are not hard ones in disguise: their targets are spread
    assert not torch.isclose(losses["row14"][1], losses["row1"][1]) and losses["row9"][2] > 0


def _pretrain_worker(rank: int, port: int, out_dir: str, cache_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        dataset = load_dataset("synthetic", n_records=40, fs=FS, seed=5)
        config = preset("row9", "tiny", batch_size=8, epochs=1, checkpoint_every=2)
        pretrain(config, dataset, out_dir, cache_dir=cache_dir, device="cpu", progress=False)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_pretrain_under_two_processes_writes_once_and_resumes(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "features"
    mp.start_processes(_pretrain_worker, args=(free_port(), str(out), str(cache)), nprocs=WORLD, join=True,
                       start_method="spawn")
    state = load_checkpoint(out / CHECKPOINT)
    n_train = 36  # 40 synthetic records, 4 of them in fold 10
    assert state["world_size"] == WORLD and len(state["rng"]) == WORLD
    assert state["step"] == n_train // WORLD // (8 // WORLD)  # 18 records per rank, local batch 4: 4 steps
    assert not torch.equal(state["rng"][0]["augment"], state["rng"][1]["augment"])  # ranks seeded apart
    rows = (out / CURVE).read_text().splitlines()
    assert len(rows) == 1 + state["step"]  # one header, one line per step: rank 0 alone writes
    assert not list(out.glob("*.tmp")) and not list(out.glob("*.new"))
    before = (out / CHECKPOINT).read_bytes()
    mp.start_processes(_pretrain_worker, args=(free_port(), str(out), str(cache)), nprocs=WORLD, join=True,
                       start_method="spawn")
    assert (out / CHECKPOINT).read_bytes() == before  # finished: resumed at the end, nothing retrained
    # one process (as reproduce runs) loads the finished two-process run as is, with its weights
    dataset = load_dataset("synthetic", n_records=40, fs=FS, seed=5)
    result = pretrain(preset("row9", "tiny", batch_size=8, epochs=1, checkpoint_every=2), dataset, out,
                      cache_dir=cache, device="cpu", progress=False)
    assert result.steps == state["step"] and (out / CHECKPOINT).read_bytes() == before
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(tensor, state["model"][name]), name
    assert np.isfinite([float(line.split(",")[2]) for line in rows[1:]]).all()
