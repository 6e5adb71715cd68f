"""The shipped encoders: what load_pretrained returns is the reproduction's row-9 encoder, bit for bit, and its
random twin; a damaged or foreign weights file is refused with a message naming it; the model card is what the
reproduction's unit files say."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from beatssl_lite import load_pretrained, make_synthetic_dataset, pretrained
from beatssl_lite.downstream import load_encoder, random_encoder
from beatssl_lite.model import Encoder

RESULTS = Path(__file__).resolve().parents[1] / "results"
SHIPPED_FROM = RESULTS / "pretrain" / "row9" / "seed0" / "encoder.pt"
needs_results = pytest.mark.skipif(not SHIPPED_FROM.is_file(), reason="results/ (the committed reproduction) absent")
PAPER_RESULTS = RESULTS / "paper-gpu"
PAPER_SHIPPED_FROM = PAPER_RESULTS / "pretrain" / "row9" / "seed0" / "encoder.pt"
needs_paper_results = pytest.mark.skipif(not PAPER_SHIPPED_FROM.is_file(),
                                         reason="results/paper-gpu/ (the committed GPU run) absent")


def _saved_on_cpu(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@needs_results
def test_beat_ssl_is_the_reproductions_row9_encoder():
    encoder = load_pretrained("beat-ssl")
    saved = torch.load(SHIPPED_FROM, map_location="cpu", weights_only=True)
    assert isinstance(encoder, Encoder) and not encoder.training
    assert encoder.fs == saved["fs"] == 100.0 and saved["config"]["name"] == "row9"
    state = encoder.state_dict()
    assert set(state) == set(saved["encoder"])
    for name, tensor in saved["encoder"].items():
        assert torch.equal(state[name], tensor), name


@needs_paper_results
def test_beat_ssl_paper_is_the_gpu_runs_row9_encoder_on_cpu_tensors():
    encoder = load_pretrained("beat-ssl-paper")
    saved = _saved_on_cpu(PAPER_SHIPPED_FROM)
    assert encoder.fs == saved["fs"] == 100.0 and saved["config"]["name"] == "row9"
    assert encoder.config.width == 128 and encoder.config.n_blocks == 6
    for name, tensor in saved["encoder"].items():
        assert torch.equal(encoder.state_dict()[name], tensor), name
    # The run saved CUDA tensors; the shipped file must load without map_location on a machine with no GPU.
    shipped = torch.load(pretrained.weights_path("beat-ssl-paper"), weights_only=True)
    assert all(t.device.type == "cpu" for t in shipped["encoder"].values())


@pytest.mark.parametrize("name, twin_name, size", [("beat-ssl", "random-init", "cpu"),
                                                    ("beat-ssl-paper", "random-init-paper", "paper")])
def test_random_twin_is_the_seeded_random_encoder_and_differs_from_the_pretrained(name, twin_name, size):
    twin, reference = load_pretrained(twin_name), random_encoder(size, 100.0, seed=0)
    pretrained_state = load_pretrained(name).state_dict()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(twin.state_dict()[name], tensor), name
    weights = [name for name, tensor in pretrained_state.items() if tensor.is_floating_point() and tensor.ndim > 1]
    assert all(not torch.equal(pretrained_state[name], twin.state_dict()[name]) for name in weights)


def test_encodes_a_12_lead_ecg_at_its_rate():
    encoder = load_pretrained()
    embedding = encoder.encode(make_synthetic_dataset(n_records=3, fs=100, seed=0).signals)
    assert embedding.shape == (3, encoder.config.width)
    assert np.isfinite(embedding).all() and np.ptp(embedding, axis=0).max() > 0


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(pretrained.PretrainedError, match="beat-ssl, random-init, beat-ssl-paper.*'simclr'"):
        load_pretrained("simclr")
    assert pretrained.available() == ["beat-ssl", "random-init", "beat-ssl-paper", "random-init-paper"]


def test_each_name_has_its_card_and_a_twin_shares_its_encoders():
    assert pretrained.model_card("random-init") == pretrained.model_card("beat-ssl")
    assert pretrained.model_card("random-init-paper") == pretrained.model_card("beat-ssl-paper")
    assert '`load_pretrained("beat-ssl-paper")`' in pretrained.model_card("beat-ssl-paper")
    assert "beat-ssl-paper" not in pretrained.model_card("beat-ssl")


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(pretrained.WEIGHTS_DIR, folder)
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", folder)
    return folder / pretrained.PRETRAINED["beat-ssl"].file


def test_a_changed_byte_is_refused_naming_the_file(weights_copy):
    data = bytearray(weights_copy.read_bytes())
    data[len(data) // 2] ^= 1
    weights_copy.write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedError, match=f"{weights_copy.name}: SHA-256"):
        load_pretrained("beat-ssl")


def test_missing_weights_say_so(weights_copy):
    weights_copy.unlink()
    with pytest.raises(pretrained.PretrainedError, match="missing from this installation"):
        load_pretrained("beat-ssl")


def test_weights_for_another_size_are_refused():
    with pytest.raises(ValueError, match="'cpu' encoder, expected size='tiny'"):
        load_encoder(pretrained.weights_path("beat-ssl"), "tiny", 100.0)


@needs_results
def test_model_card_is_the_one_the_results_write(tmp_path):
    """The shipped card is regenerated from results/ unchanged: a re-run unit without re-shipping fails here."""
    entry = pretrained.PRETRAINED["beat-ssl"]
    card = pretrained.build_model_card(RESULTS, entry.config, entry.seed, file=entry.file,
                                       sha256=entry.sha256)
    assert card == pretrained.model_card("beat-ssl")
    assert "Not for diagnosis" in card and entry.sha256 in card


@needs_paper_results
def test_paper_model_card_is_the_one_the_gpu_run_writes():
    entry = pretrained.PRETRAINED["beat-ssl-paper"]
    card = pretrained.build_model_card(PAPER_RESULTS, entry.config, entry.seed, file=entry.file,
                                       sha256=entry.sha256, name="beat-ssl-paper", twin="random-init-paper",
                                       results_label="results/paper-gpu/")
    assert card == pretrained.model_card("beat-ssl-paper")
    assert "on one NVIDIA H200" in card and "not bit-identical" in card and "size `paper`" in card


@needs_paper_results
def test_shipping_gpu_weights_saves_them_on_cpu_with_the_recorded_digest(tmp_path):
    path, digest = pretrained.ship_weights(PAPER_RESULTS, "row9", 0, dest=tmp_path, name="beat-ssl-paper",
                                           twin="random-init-paper")
    assert path.name == pretrained.PRETRAINED["beat-ssl-paper"].file
    assert digest == pretrained.PRETRAINED["beat-ssl-paper"].sha256
    assert (tmp_path / "MODEL_CARD-paper.md").is_file()


@needs_results
def test_ship_weights_copies_and_records_the_digest(tmp_path):
    path, digest = pretrained.ship_weights(RESULTS, "row9", 0, dest=tmp_path)
    assert path.read_bytes() == SHIPPED_FROM.read_bytes()
    assert digest == pretrained.PRETRAINED["beat-ssl"].sha256
    assert (tmp_path / pretrained.MODEL_CARD).is_file()


@needs_results
def test_shipping_under_a_new_name_writes_that_names_card(tmp_path):
    pretrained.ship_weights(RESULTS, "row9", 0, dest=tmp_path, name="beat-ssl-mine", twin="random-init")
    assert '`load_pretrained("beat-ssl-mine")`' in (tmp_path / "MODEL_CARD-beat-ssl-mine.md").read_text()


def test_ship_weights_of_an_unrun_unit_is_an_error(tmp_path):
    with pytest.raises(pretrained.PretrainedError, match="no pretrained encoder"):
        pretrained.ship_weights(tmp_path, "row3", 0, dest=tmp_path / "out")
