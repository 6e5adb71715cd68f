"""Pretraining loop: split hygiene, resume to bit-identical weights, checkpoints, loss curve, CLI and bad input."""

import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from beatssl_lite import cli
from beatssl_lite.config import ConfigError, preset
from beatssl_lite.datasets import load_dataset, ludb_split
from beatssl_lite.model import Encoder, size_preset
from beatssl_lite.pretrain import (CHECKPOINT, CURVE, ENCODER, PREVIOUS_CHECKPOINT, SPLIT, CheckpointError, DataError,
                                   Runtime, load_checkpoint, load_encoder_state, load_records, make_loader,
                                   pretrain, pretraining_indices, read_curve)

N_RECORDS = 48


@pytest.fixture(scope="module")
def synthetic():
    """48 synthetic ECGs at 100 Hz with PTB-XL-like folds (some in fold 10)."""
    return load_dataset("synthetic", n_records=N_RECORDS, fs=100, seed=3)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


def tiny(name="row9", **overrides):
    settings = dict(batch_size=8, epochs=2, checkpoint_every=3, lr=2e-3)
    settings.update(overrides)
    return preset(name, "tiny", **settings)


class Interrupted(Exception):
    pass


def interrupt_at(step):
    def on_step(current, metrics):
        if current == step:
            raise Interrupted(f"killed at step {current}")
    return on_step


# --- what pretraining sees -------------------------------------------------------------------------------------

def test_fold_10_is_never_yielded(synthetic, cache_dir, tmp_path):
    test_ids = {str(r) for r, fold in zip(synthetic.record_ids, synthetic.folds) if fold == 10}
    assert test_ids, "the fixture must hold fold-10 records for this test to mean anything"
    config = tiny(batch_size=4)
    records, split = load_records(synthetic, config, cache_dir, progress=False)
    assert f"{len(test_ids)} of strat_fold 10" in split
    seen = set()
    for epoch in range(3):
        for batch in make_loader(records, config, epoch, Runtime(torch.device("cpu"))):
            seen |= {records.record_ids[i] for i in batch.indices.tolist()}
    assert seen and not seen & test_ids
    assert len(seen) == N_RECORDS - len(test_ids)  # and everything else is used


def test_ludb_test_split_is_left_out(synthetic):
    as_ludb = dataclasses.replace(synthetic, name="ludb", folds=None)
    indices, split = pretraining_indices(as_ludb)
    _, test = ludb_split(as_ludb)
    assert not set(indices) & set(test) and len(indices) + len(test) == len(as_ludb)
    assert "LUDB test split" in split


def test_batch_carries_the_cached_beats_of_its_records(synthetic, cache_dir):
    records, _ = load_records(synthetic, tiny(), cache_dir, progress=False)
    batch = records[[5, 2, 7]]
    assert torch.equal(batch.signals[1], torch.from_numpy(np.asarray(records.signals[2], np.float32)))
    counts = records.cache.beat_counts[[5, 2, 7]]
    assert batch.beat_record_index.tolist() == sum(([i] * c for i, c in enumerate(counts)), [])
    offsets = records.cache.beat_offsets
    assert batch.r_peaks.tolist() == records.cache.r_peaks[offsets[5]:offsets[6]].tolist() + \
        records.cache.r_peaks[offsets[2]:offsets[3]].tolist() + records.cache.r_peaks[offsets[7]:offsets[8]].tolist()


# --- training, resume, checkpoints ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def uninterrupted(synthetic, cache_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    return pretrain(tiny(), synthetic, out, cache_dir=cache_dir, progress=False)


def test_resume_after_interruption_is_bit_identical(synthetic, cache_dir, tmp_path, uninterrupted):
    # 44 pretraining records (4 in fold 10) / batch 8 = 5 full steps per epoch; checkpoints at steps 3 and 5; killed at step 4,
    # mid-epoch, one step after the last checkpoint: the resumed run must redo step 4 exactly.
    assert uninterrupted.steps == 10
    with pytest.raises(Interrupted):
        pretrain(tiny(), synthetic, tmp_path, cache_dir=cache_dir, progress=False, on_step=interrupt_at(4))
    assert load_checkpoint(tmp_path / CHECKPOINT)["step"] == 3
    resumed = pretrain(tiny(), synthetic, tmp_path, cache_dir=cache_dir, progress=False)
    assert resumed.steps == 10
    expected = dict(uninterrupted.model.named_parameters())
    for name, value in resumed.model.named_parameters():
        assert torch.equal(value, expected[name]), name
    columns = ("step", "epoch", "loss", "rhythm_loss", "beat_loss", "lr")
    assert [[row[c] for c in columns] for row in resumed.curve] == \
        [[row[c] for c in columns] for row in uninterrupted.curve]


def test_run_folder_and_weights_only_loading(uninterrupted):
    out = uninterrupted.out_dir
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT, ENCODER, CURVE, SPLIT, "config.json"):
        assert (out / name).is_file(), name
    state = torch.load(out / CHECKPOINT, weights_only=True)
    assert state["step"] == 10 and state["config"] == tiny().to_dict()
    assert set(state) >= {"model", "optimiser", "scheduler", "scaler", "rng"}
    assert set(state["rng"][0]) == {"python", "numpy", "torch", "cuda", "augment"}
    assert torch.load(out / PREVIOUS_CHECKPOINT, weights_only=True)["step"] == 9  # checkpoint_every=3
    assert torch.load(out / ENCODER, weights_only=True)["fs"] == 100.0
    encoder_state, config = load_encoder_state(out / ENCODER)
    encoder = Encoder(size_preset(config.size), fs=100)
    encoder.load_state_dict(encoder_state)
    for name, value in encoder.named_parameters():
        assert torch.equal(value, dict(uninterrupted.model.encoder.named_parameters())[name])
    assert len(uninterrupted.curve) == 10 and all(np.isfinite(row["loss"]) for row in uninterrupted.curve)


def test_a_finished_run_is_not_trained_again(synthetic, cache_dir, uninterrupted):
    before = (uninterrupted.out_dir / CHECKPOINT).read_bytes()
    again = pretrain(tiny(), synthetic, uninterrupted.out_dir, cache_dir=cache_dir, progress=False)
    assert again.steps == 10 and (uninterrupted.out_dir / CHECKPOINT).read_bytes() == before


def test_tiny_run_lowers_the_loss(synthetic, cache_dir, tmp_path):
    result = pretrain(tiny("row1", epochs=6, batch_size=16, lr=3e-3), synthetic, tmp_path, cache_dir=cache_dir,
                      progress=False)
    losses = [row["loss"] for row in result.curve]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1, losses


def test_checkpoint_of_another_configuration_names_both(synthetic, cache_dir, uninterrupted):
    written = (uninterrupted.out_dir / "config.json").read_text()
    with pytest.raises(ConfigError, match=r"row9/tiny, this run is row1/tiny"):
        pretrain(tiny("row1"), synthetic, uninterrupted.out_dir, cache_dir=cache_dir, progress=False)
    assert (uninterrupted.out_dir / "config.json").read_text() == written  # the run folder is left as it was


def test_checkpoint_of_other_data_is_refused(synthetic, cache_dir, uninterrupted):
    other = synthetic.subset(np.arange(len(synthetic) - 8))
    with pytest.raises(DataError, match=r"was trained on .*'n_records': 44.*this run's records are .*'n_records'"):
        pretrain(tiny(), other, uninterrupted.out_dir, cache_dir=cache_dir, progress=False)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_checkpoint_is_a_clear_error_and_the_previous_survives(synthetic, cache_dir, tmp_path, damage,
                                                                       uninterrupted):
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        (tmp_path / name).write_bytes((uninterrupted.out_dir / name).read_bytes())
    good = (tmp_path / CHECKPOINT).read_bytes()
    (tmp_path / CHECKPOINT).write_bytes(good[: len(good) // 2] if damage == "truncated" else b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt: corrupt or truncated checkpoint.*previous "
                                              r"checkpoint .*checkpoint\.prev\.pt is intact"):
        pretrain(tiny(), synthetic, tmp_path, cache_dir=cache_dir, progress=False)
    assert load_checkpoint(tmp_path / PREVIOUS_CHECKPOINT, tiny())["step"] == 9


def test_torn_curve_line_is_skipped(tmp_path):
    (tmp_path / CURVE).write_text("step,epoch,loss,rhythm_loss,beat_loss,lr,seconds\n1,0,2.5,2.0,0.5,0.001,0.1\n2,0,2.")
    assert [row["step"] for row in read_curve(tmp_path / CURVE)] == [1.0]


# --- bad input -------------------------------------------------------------------------------------------------

def test_batch_larger_than_the_dataset(synthetic, cache_dir, tmp_path):
    n_train = int(np.sum(synthetic.folds != 10))
    with pytest.raises(DataError, match=rf"batch_size=64 is larger than the {n_train} pretraining records"):
        pretrain(tiny(batch_size=64), synthetic, tmp_path, cache_dir=cache_dir, progress=False)


def test_data_without_beats(cache_dir, tmp_path):
    flat = load_dataset("synthetic", n_records=6, fs=100, seed=0)
    flat = dataclasses.replace(flat, signals=np.zeros_like(flat.signals), folds=None)
    with pytest.raises(DataError, match="hold no detectable beat"):
        pretrain(tiny(batch_size=2), flat, tmp_path, cache_dir=cache_dir, progress=False)


def run_cli(*argv):
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    return stop.value.code


def test_cli_unknown_preset_lists_the_valid_ones(tmp_path, capsys):
    assert run_cli("pretrain", "--config", "row99", "--data", "synthetic", "--out", str(tmp_path)) == 2
    assert "unknown preset 'row99': expected one of row1, row2" in capsys.readouterr().err


def test_cli_ptbxl_absent_is_an_error_not_a_synthetic_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BEATSSL_DATA", str(tmp_path))  # a root without ptb-xl/
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert run_cli("pretrain", "--config", "row9", "--size", "tiny", "--data", "ptbxl", "--out",
                   str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "no real ptb-xl/ found" in err
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_cli_missing_data_folder(tmp_path, capsys):
    assert run_cli("pretrain", "--config", "row9", "--data", str(tmp_path / "nowhere"), "--out",
                   str(tmp_path / "run")) == 2
    assert "nowhere' : not one of ptbxl, ludb, synthetic" in capsys.readouterr().err.replace("':", "' :")


def test_cli_batch_larger_than_data_and_corrupt_checkpoint(tmp_path, capsys, cache_dir):
    common = ("pretrain", "--config", "row1", "--size", "tiny", "--data", "synthetic", "--n-records", "12",
              "--no-progress", "--cache-dir", str(cache_dir), "--out", str(tmp_path))
    assert run_cli(*common, "--batch-size", "32") == 2
    assert "batch_size=32 is larger than the" in capsys.readouterr().err
    (tmp_path / CHECKPOINT).write_bytes(b"\0" * 100)
    assert run_cli(*common, "--batch-size", "4") == 2
    assert "corrupt or truncated checkpoint" in capsys.readouterr().err


def test_cli_synthetic_run_and_console_entry(tmp_path, cache_dir):
    assert cli.main(["pretrain", "--config", "beat-ssl", "--size", "tiny", "--data", "synthetic", "--n-records",
                     "24", "--batch-size", "8", "--epochs", "1", "--no-progress", "--cache-dir", str(cache_dir),
                     "--out", str(tmp_path)]) == 0
    assert len(read_curve(tmp_path / CURVE)) == 2 and (tmp_path / "loss_curve.png").is_file()
    help_text = subprocess.run([sys.executable, "-m", "beatssl_lite", "pretrain", "--help"], capture_output=True,
                               text=True, check=True, env={**os.environ, "COLUMNS": "120"}).stdout
    for name in [f"row{i}" for i in range(1, 15)] + ["beat-ssl"]:
        assert name in help_text
    script = shutil.which("beatssl-lite", path=os.path.dirname(sys.executable))  # the console script
    assert script, "pip install -e . installs the beatssl-lite console script"
    assert subprocess.run([script, "pretrain", "--help"], capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": "120"}).stdout == help_text


def test_pca_2d_matches_the_covariance_eigenvectors():
    from beatssl_lite.plots import pca_2d

    x = np.random.default_rng(0).normal(size=(50, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    top = vectors[:, np.argsort(values)[::-1][:2]]
    expected = centred @ top
    got = pca_2d(x)
    for k in range(2):  # each component is defined up to its sign
        assert np.allclose(np.abs(got[:, k]), np.abs(expected[:, k]))
        assert np.allclose(got[:, k], expected[:, k]) or np.allclose(got[:, k], -expected[:, k])
    assert np.allclose(pca_2d(x), pca_2d(x[::-1])[::-1])  # sign convention: independent of the row order
