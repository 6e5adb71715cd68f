"""downstream: the probe learns a trivially separable constructed case, label subsets, the segmentation decoder's
shapes and upsampling at 100 and 500 Hz input, determinism, the synthetic-data refusal and bad weights.
Tiny encoders and a few records only (CPU)."""

import json
import logging

import numpy as np
import pytest
import torch

from beatssl_lite import ECGDataset, make_synthetic_dataset
from beatssl_lite.config import preset
from beatssl_lite import downstream
from beatssl_lite.downstream import (SegmentationModel, draw_augmentation, evaluate_classification,
                                     evaluate_segmentation, label_subset, load_encoder, random_encoder,
                                     segmentation_kfold, summary_rows, unwarp_time, upsample_frames, warp_time)
from beatssl_lite.pretrain import save_encoder
from beatssl_lite.vocabulary import SUPERCLASSES


def _separable(n=100, name="constructed"):
    """Class k of record i = (i // 10) % 5, shown as a (k + 1) Hz, 1 mV sine on lead 2k over 0.05 mV noise; folds
    i % 10 + 1, so fold 10 holds two records of each class."""
    rng = np.random.default_rng(0)
    t = np.arange(1000) / 100.0
    classes = (np.arange(n) // 10) % 5
    signals = 0.05 * rng.standard_normal((n, 12, 1000)).astype(np.float32)
    for i, k in enumerate(classes):
        signals[i, 2 * k] += np.sin(2 * np.pi * (k + 1) * t).astype(np.float32)
    return ECGDataset(signals=signals, fs=100.0, record_ids=[f"r{i:03d}" for i in range(n)], name=name,
                      labels=np.eye(5, dtype=np.uint8)[classes], folds=np.arange(n) % 10 + 1)


@pytest.fixture(scope="module")
def separable():
    return _separable()


@pytest.fixture(scope="module")
def tiny_ludb():
    return make_synthetic_dataset(n_records=6, fs=500.0)


def test_probe_learns_a_separable_case_and_states_its_protocol(separable, caplog):
    encoder = random_encoder("tiny", 100.0, seed=0)
    with caplog.at_level(logging.INFO, logger="beatssl_lite.downstream"):
        result = evaluate_classification(encoder, separable, mode="probe", label_fraction=0.5, seed=0,
                                         n_bootstrap=50)
    assert result["task"] == "ptbxl-probe" and result["metrics"]["auroc"] > 0.9
    assert result["metrics"]["auroc_classes_averaged"] == 5
    protocol = result["protocol"]
    assert protocol["sampling_rate_hz"] == 100.0 and protocol["crop"] == "none: the full 10 s record"
    assert "mean of the encoder feature map" in protocol["aggregation"]
    assert protocol["label_fraction"] == 0.5 and protocol["n_train"] == 40 and protocol["n_train_folds"] == 80
    assert protocol["train_record_ids"][0] in caplog.text
    assert result["predictions"]["scores"].shape == (10, 5)
    assert set(result["metrics"]["thresholds"]) == set(SUPERCLASSES)
    # everything but the predictions goes to JSON as it is
    json.dumps({key: value for key, value in result.items() if key != "predictions"})


def test_random_init_baseline_and_finetuning_share_the_code_path_and_are_deterministic(separable):
    encoder = random_encoder("tiny", 100.0, seed=1)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    runs = [evaluate_classification(encoder, separable, mode="finetune", label_fraction=0.25, epochs=1, seed=3,
                                    n_bootstrap=0)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0]["predictions"]["scores"], runs[1]["predictions"]["scores"])
    assert runs[0]["task"] == "ptbxl-finetune"
    # the caller's encoder is not trained
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    # same seed, same random encoder
    assert all(torch.equal(a, b) for a, b in zip(random_encoder("tiny", 100.0, seed=1).state_dict().values(),
                                                  encoder.state_dict().values()))


def test_label_subset_is_drawn_once_per_seed():
    train = np.arange(3, 1484)  # 1481 training records, as the offline PTB-XL subset's folds 1-8
    one_percent = label_subset(train, 0.01, seed=0)
    assert len(one_percent) == 15 and np.all(np.isin(one_percent, train)) and np.all(np.diff(one_percent) > 0)
    np.testing.assert_array_equal(one_percent, label_subset(train, 0.01, seed=0))
    assert not np.array_equal(one_percent, label_subset(train, 0.01, seed=1))
    assert len(label_subset(train, 0.1, seed=0)) == 148
    np.testing.assert_array_equal(label_subset(train, 1.0, seed=5), train)
    assert len(label_subset(np.arange(20), 0.01, seed=0)) == 1  # never empty
    with pytest.raises(ValueError, match="label_fraction"):
        label_subset(train, 0.0, seed=0)


def test_classification_refuses_synthetic_unless_asked_and_empty_splits():
    synthetic = make_synthetic_dataset(n_records=20, fs=100.0)
    encoder = random_encoder("tiny", 100.0)
    with pytest.raises(ValueError, match="allow_synthetic=True"):
        evaluate_classification(encoder, synthetic)
    no_test_fold = _separable(n=100).subset(np.arange(100) % 10 != 9)
    with pytest.raises(ValueError, match="test \\(fold 10\\) split .* is empty"):
        evaluate_classification(encoder, no_test_fold)
    with pytest.raises(ValueError, match="mode"):
        evaluate_classification(encoder, _separable(), mode="linear")
    with pytest.raises(TypeError, match="Encoder"):
        evaluate_classification(torch.nn.Linear(2, 2), _separable())


@pytest.mark.parametrize("fs, n_in", [(100.0, 1000), (500.0, 5000)])
def test_segmentation_output_is_at_500_hz_for_100_and_500_hz_input(fs, n_in):
    encoder = random_encoder("tiny", fs)
    model = SegmentationModel(encoder, out_fs=500.0, n_out=5000)
    logits = model(torch.zeros(2, 12, n_in))
    assert logits.shape == (2, 12, 4, 5000)
    assert encoder(torch.zeros(1, 12, n_in)).shape[-1] == encoder.n_frames(n_in) == 250  # 40 ms frames


@pytest.mark.parametrize("fs, stride", [(100.0, 4), (500.0, 20), (100.0, 2)])
def test_upsampling_places_frame_t_at_sample_t_stride(fs, stride):
    frames = torch.randn(3, 250, dtype=torch.float64)
    out = upsample_frames(frames, stride, fs, 500.0, 5000)
    # independent: np.interp at each output sample's time, frame centres at t * stride / fs seconds
    centres = np.arange(250) * stride / fs
    times = np.arange(5000) / 500.0
    expected = np.stack([np.interp(times, centres, row) for row in frames.numpy()])
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


def test_time_warp_matches_interpolation_from_its_formula_and_unwarp_inverts_it():
    t = np.arange(1000) / 100.0
    x = torch.from_numpy(np.stack([np.sin(2 * np.pi * 0.7 * t + k) for k in range(12)]))[None]  # (1, 12, 1000)
    np.testing.assert_array_equal(unwarp_time(warp_time(x, 1.0, 37), 37, 1000).numpy(), x.numpy())
    assert torch.equal(warp_time(x, 1.0, 37)[..., 37:], x[..., :-37])
    warped = warp_time(x, 1.08, 0)
    assert warped.shape == (1, 12, 1080)
    # independent: output sample k of n sits at input position (k + 0.5) T / n - 0.5 (sample centres aligned)
    position = np.clip((np.arange(1080) + 0.5) * 1000 / 1080 - 0.5, 0, 999)
    np.testing.assert_allclose(warped[0, 3].numpy(), np.interp(position, np.arange(1000), x[0, 3].numpy()),
                               atol=1e-12)
    back = unwarp_time(warp_time(x, 0.93, -21), -21, 1000)
    np.testing.assert_allclose(back[..., 50:-50].numpy(), x[..., 50:-50].numpy(), atol=2e-3)


def test_augmentation_draws_stay_in_their_stated_ranges():
    torch.manual_seed(0)
    draws = [draw_augmentation(("scale", "stretch", "shift"), 4, 12, 100.0) for _ in range(300)]
    scales = torch.cat([d["scale"] for d in draws])
    assert scales.shape == (1200, 12, 1) and 0.7 <= scales.min() < 0.702 and 1.298 < scales.max() <= 1.3
    factors = np.array([d["factor"] for d in draws])
    assert 0.9 <= factors.min() < 0.905 and 1.095 < factors.max() <= 1.1
    shifts = np.array([d["shift"] for d in draws])
    assert shifts.min() == -50 and shifts.max() == 50  # +-0.5 s at 100 Hz
    assert draw_augmentation((), 4, 12, 100.0) == {"scale": None, "factor": 1.0, "shift": 0}


def test_augmented_training_keeps_the_logits_aligned_with_the_masks(monkeypatch):
    torch.manual_seed(0)
    plain = SegmentationModel(random_encoder("tiny", 100.0), out_fs=500.0, n_out=5000)
    augmented = SegmentationModel(random_encoder("tiny", 100.0), out_fs=500.0, n_out=5000,
                                  augment=("shift", "scale"))
    augmented.load_state_dict(plain.state_dict())
    assert augmented.augment == ("scale", "shift")  # canonical order
    x = torch.randn(2, 12, 1000)
    expected = plain.eval()(x)
    torch.testing.assert_close(augmented.eval()(x), expected)  # evaluation is never augmented
    # a shift of whole frames, unit scale: the logits rolled back onto the masks equal the unshifted ones inside
    # the scored samples (the wrapped junction stays at the edges)
    monkeypatch.setattr(downstream, "draw_augmentation",
                        lambda *args: {"scale": torch.ones(2, 12, 1), "factor": 1.0, "shift": 8})
    torch.testing.assert_close(augmented.train()(x)[..., 500:4500], expected[..., 500:4500], atol=1e-5, rtol=1e-5)
    monkeypatch.setattr(downstream, "draw_augmentation",
                        lambda *args: {"scale": None, "factor": 1.1, "shift": 0})
    stretched = augmented.train()(x)
    assert stretched.shape == expected.shape and not torch.allclose(stretched, expected)


def test_segmentation_runs_is_deterministic_and_states_its_protocol(tiny_ludb):
    encoder = random_encoder("tiny", 100.0)
    runs = [evaluate_segmentation(encoder, tiny_ludb, train_idx=[0, 1, 2, 3], test_idx=[4, 5], epochs=1,
                                  seed=2, allow_synthetic=True) for _ in range(2)]
    result = runs[0]
    np.testing.assert_array_equal(result["predictions"]["masks"], runs[1]["predictions"]["masks"])
    assert result["predictions"]["masks"].shape == (2, 12, 5000)
    assert result["metrics"]["f1_mean"] == runs[1]["metrics"]["f1_mean"]
    for key in ("f1_P", "f1_QRS", "f1_T", "dice_mean", "boundary_f1_QRS_on"):
        assert key in result["metrics"]
    protocol = result["protocol"]
    assert protocol["sample_scores"]["window"] == [500, 4500] and protocol["boundary_scores"]["tolerance_ms"] == 150
    assert protocol["encoder_input_fs_hz"] == 100.0 and protocol["dataset_fs_hz"] == 500.0
    assert protocol["test_record_ids"] == [tiny_ludb.record_ids[4], tiny_ludb.record_ids[5]]
    assert protocol["augment"] == "none"
    json.dumps({key: value for key, value in result.items() if key != "predictions"})
    # augmented training: as deterministic, and stated
    augmented = [evaluate_segmentation(encoder, tiny_ludb, train_idx=[0, 1, 2, 3], test_idx=[4, 5], epochs=1,
                                       seed=2, allow_synthetic=True, augment="stretch") for _ in range(2)]
    np.testing.assert_array_equal(augmented[0]["predictions"]["masks"], augmented[1]["predictions"]["masks"])
    assert augmented[0]["protocol"]["augment"].startswith("stretch: time x U(0.9, 1.1), one draw per training batch")


def test_segmentation_with_an_encoder_at_the_masks_rate(tiny_ludb):
    result = evaluate_segmentation(random_encoder("tiny", 500.0), tiny_ludb, train_idx=[0, 1], test_idx=[2],
                                   epochs=1, allow_synthetic=True)
    assert result["predictions"]["masks"].shape == (1, 12, 5000)
    assert result["protocol"]["encoder_input_fs_hz"] == 500.0


def test_segmentation_refusals(tiny_ludb):
    encoder = random_encoder("tiny", 100.0)
    with pytest.raises(ValueError, match="allow_synthetic=True"):
        evaluate_segmentation(encoder, tiny_ludb)
    with pytest.raises(ValueError, match="empty test split"):
        evaluate_segmentation(encoder, tiny_ludb, train_idx=[0, 1], test_idx=[], allow_synthetic=True)
    with pytest.raises(ValueError, match="both sides"):
        evaluate_segmentation(encoder, tiny_ludb, train_idx=[0, 1], test_idx=[1, 2], allow_synthetic=True)
    with pytest.raises(ValueError, match="no masks"):
        evaluate_segmentation(encoder, _separable(), allow_synthetic=True)
    with pytest.raises(ValueError, match=r"augment: unknown \['flip'\]"):
        evaluate_segmentation(encoder, tiny_ludb, allow_synthetic=True, augment=("shift", "flip"))


def test_kfold_tests_every_record_once(tiny_ludb):
    results = segmentation_kfold(random_encoder("tiny", 100.0), tiny_ludb, k=2, epochs=1, allow_synthetic=True)
    tested = sorted(i for r in results for i in r["protocol"]["test_record_ids"])
    assert tested == sorted(tiny_ludb.record_ids) and [r["fold"] for r in results] == [0, 1]
    rows = summary_rows(results[1], "random-init")
    assert [(r["metric"], r["fold"], r["task"]) for r in rows] == [("f1", 1, "ludb"), ("dice", 1, "ludb")]
    assert rows[0]["value"] == pytest.approx(results[1]["metrics"]["f1_mean"])


def test_weights_of_another_size_or_rate_are_refused(tmp_path):
    cpu_weights = random_encoder("cpu", 100.0).state_dict()
    with pytest.raises(ValueError, match="'tiny' encoder at 100 Hz.*shapes differ"):
        load_encoder(cpu_weights, "tiny", 100.0)
    with pytest.raises(ValueError, match="another sampling rate"):
        load_encoder(random_encoder("tiny", 500.0).state_dict(), "tiny", 100.0)
    tiny = random_encoder("tiny", 100.0, seed=4)
    loaded = load_encoder(tiny.state_dict(), "tiny", 100.0)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tiny.state_dict().values()))
    path = save_encoder(tmp_path / "encoder.pt", random_encoder("cpu", 100.0), preset("row9", size="cpu"), step=1)
    with pytest.raises(ValueError, match="weights of a 'cpu' encoder, expected size='tiny'"):
        load_encoder(path, "tiny", 100.0)
    assert load_encoder(path, "cpu", 100.0).config.width == 64
    # a rate whose kernels happen to have the same lengths is caught by the rate the file records
    same_shapes = save_encoder(tmp_path / "at110.pt", random_encoder("cpu", 110.0), preset("row9", size="cpu"), step=1)
    assert all(a.shape == b.shape for a, b in zip(random_encoder("cpu", 110.0).state_dict().values(),
                                                  random_encoder("cpu", 100.0).state_dict().values()))
    with pytest.raises(ValueError, match="for 110 Hz input, expected fs=100"):
        load_encoder(same_shapes, "cpu", 100.0)


devices = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", devices)
def test_both_tasks_train_on_the_device_asked_and_return_numpy(separable, tiny_ludb, device):
    """The default (the encoder's device, CPU here) and an explicit device give the same result: on CPU bit for
    bit; on CUDA to float tolerance (other kernels). The caller's encoder stays where it was."""
    encoder = random_encoder("tiny", 100.0, seed=1)
    options = dict(mode="finetune", label_fraction=0.25, epochs=1, seed=3, n_bootstrap=0)
    default = evaluate_classification(encoder, separable, **options)
    moved = evaluate_classification(encoder, separable, device=device, **options)
    probe = evaluate_classification(encoder, separable, mode="probe", epochs=5, n_bootstrap=0, device=device)
    segmentation = [evaluate_segmentation(encoder, tiny_ludb, train_idx=[0, 1, 2, 3], test_idx=[4, 5], epochs=1,
                                          seed=2, allow_synthetic=True, device=option) for option in (None, device)]
    assert next(encoder.parameters()).device.type == "cpu"
    assert isinstance(moved["predictions"]["scores"], np.ndarray) and isinstance(probe["predictions"]["scores"],
                                                                                 np.ndarray)
    if device == "cpu":
        np.testing.assert_array_equal(default["predictions"]["scores"], moved["predictions"]["scores"])
        np.testing.assert_array_equal(*(run["predictions"]["masks"] for run in segmentation))
    else:
        np.testing.assert_allclose(default["predictions"]["scores"], moved["predictions"]["scores"], atol=1e-3)
        assert (segmentation[0]["predictions"]["masks"] == segmentation[1]["predictions"]["masks"]).mean() > 0.99


def test_the_probe_trains_on_one_thread_and_restores_the_setting(separable, monkeypatch):
    seen = []
    original = torch.nn.functional.binary_cross_entropy_with_logits

    def recording(*args, **kwargs):  # the probe's loss: called once per training step
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy_with_logits", recording)
        evaluate_classification(random_encoder("tiny", 100.0), separable, mode="probe", epochs=5, n_bootstrap=0,
                                allow_synthetic=True)
        assert seen == [1] * 5  # benchmarks/bench_probe_threads.py: why
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_frame_rate_masks_give_each_sample_the_code_at_its_nearest_frame_centre():
    from beatssl_lite.downstream import frame_rate_masks

    masks = np.random.default_rng(0).integers(0, 4, size=(3, 2, 101)).astype(np.int8)
    np.testing.assert_array_equal(frame_rate_masks(masks, 1), masks)  # one-sample frames lose nothing
    out = frame_rate_masks(masks, 4)
    assert out.shape == masks.shape
    centres = np.arange(0, 101, 4)
    for n in range(101):  # naive: the nearest centre, where one is nearest (not halfway between two)
        distances = np.abs(centres - n)
        if (distances == distances.min()).sum() == 1 and n <= centres[-1]:
            np.testing.assert_array_equal(out[..., n], masks[..., centres[distances.argmin()]])
    with pytest.raises(ValueError, match="frame_samples"):
        frame_rate_masks(masks, 0)
