"""Encoder, projectors and RoI beat pooling: presets, receptive field, pooling against a per-beat loop."""

import math

import numpy as np
import pytest
import torch

from beatssl_lite.model import (SIZE_PRESETS, BeatSSLModel, Encoder, ModelConfig, count_parameters,
                                receptive_field, roi_pool, size_preset, stride_samples)

# (stride, receptive field in samples, encoder parameters, encoder + projector parameters) at 100 and 500 Hz:
# the table of the model module's docstring.
PRESET_TABLE = {
    ("tiny", 100): (4, 131, 8_944, 12_144),
    ("tiny", 500): (20, 665, 17_184, 20_384),
    ("cpu", 100): (4, 259, 146_752, 179_904),
    ("cpu", 500): (20, 1_305, 213_504, 246_656),
    ("paper", 100): (2, 515, 687_872, 819_712),
    ("paper", 500): (10, 2_585, 911_488, 1_043_328),
}


@pytest.mark.parametrize("preset, fs", list(PRESET_TABLE))
def test_preset_table(preset, fs):
    model = BeatSSLModel(size_preset(preset), fs)
    stride, field, encoder_params, all_params = PRESET_TABLE[preset, fs]
    assert (model.encoder.stride, model.encoder.receptive_field) == (stride, field)
    assert (count_parameters(model.encoder), count_parameters(model)) == (encoder_params, all_params)


def _empirical_receptive_field(encoder: Encoder, n_samples: int, frame: int) -> tuple[int, int]:
    """First and last input sample with a non-zero gradient of one output frame."""
    encoder = encoder.double().eval()
    x = torch.randn(1, 12, n_samples, dtype=torch.float64, requires_grad=True)
    # A random mix of the channels: their plain sum after the final LayerNorm is constant, with zero gradient.
    mix = torch.randn(encoder.config.width, dtype=torch.float64)
    (encoder(x)[0, :, frame] * mix).sum().backward()
    support = np.flatnonzero(x.grad.abs().sum(dim=(0, 1)).numpy())
    return int(support[0]), int(support[-1])


@pytest.mark.parametrize("config, fs", [
    (SIZE_PRESETS["tiny"], 100.0), (SIZE_PRESETS["tiny"], 500.0), (SIZE_PRESETS["cpu"], 100.0),
    (ModelConfig(width=8, n_blocks=2, kernel_size=5, frame_ms=25.0, projection_hidden=8, projection_dim=8), 360.0),
])
def test_receptive_field_matches_the_gradient_support(config, fs):
    torch.manual_seed(0)
    encoder = Encoder(config, fs)
    field = receptive_field(config, fs)
    n_samples = 2 * field + 10 * encoder.stride
    frame = encoder.n_frames(n_samples) // 2
    first, last = _empirical_receptive_field(encoder, n_samples, frame)
    centre = frame * encoder.stride  # frame t is centred on sample t * stride
    assert (first, last) == (centre - (field - 1) // 2, centre + (field - 1) // 2)


def test_stride_maps_milliseconds_to_samples():
    config = ModelConfig(frame_ms=40.0)
    assert [stride_samples(config, fs) for fs in (100, 250, 360, 500)] == [4, 10, 14, 20]
    encoder = Encoder(config, 360)
    x = torch.randn(2, 12, 3601)
    assert encoder(x).shape == (2, config.width, math.ceil(3601 / 14))


def test_embedding_of_an_ecg_does_not_depend_on_its_batch():
    torch.manual_seed(0)
    encoder = Encoder(SIZE_PRESETS["tiny"], 100.0).double()
    x = torch.randn(5, 12, 1000, dtype=torch.float64)
    alone = encoder(x[:1])
    together = encoder(x)[:1]
    torch.testing.assert_close(alone, together, rtol=1e-12, atol=1e-12)


def naive_roi_pool(feature_map, r_peaks, record_index, n_samples, stride, fs, pre_ms=250.0, post_ms=400.0):
    """A loop over beats and frames: mean of the frames whose centre t*stride lies in the beat's window
    [r - pre, r + post] clipped to the record, or the frame nearest to r when none does."""
    pre, post = round(pre_ms * fs / 1000), round(post_ms * fs / 1000)
    out = []
    for r, b in zip(r_peaks.tolist(), record_index.tolist()):
        low, high = max(0, r - pre), min(n_samples - 1, r + post)
        frames = [t for t in range(feature_map.shape[2]) if low <= t * stride <= high]
        nearest = min(range(feature_map.shape[2]), key=lambda t: (abs(t * stride - r), t))
        frames = sorted(set(frames) | {nearest})
        out.append(feature_map[b][:, frames].mean(dim=1))
    return torch.stack(out)


@pytest.mark.parametrize("fs", [100.0, 500.0])
def test_roi_pool_equals_a_per_beat_loop_including_the_edges(fs):
    torch.manual_seed(0)
    n_samples = int(10 * fs)
    stride = stride_samples(SIZE_PRESETS["tiny"], fs)
    frames = math.ceil(n_samples / stride)
    feature_map = torch.randn(4, 6, frames, dtype=torch.float64)
    step = int(fs) // 100
    peaks = torch.tensor([0, 7 * step, 300 * step, n_samples - 1, 12 * step, 555 * step, 990 * step,
                          n_samples - 3])
    record = torch.tensor([0, 0, 0, 0, 2, 2, 3, 3])  # ECG 1 has no beats; edges at both ends
    got = roi_pool(feature_map, peaks, record, n_samples, stride, fs)
    torch.testing.assert_close(got, naive_roi_pool(feature_map, peaks, record, n_samples, stride, fs))


def test_roi_pool_narrow_window_keeps_the_nearest_frame():
    feature_map = torch.arange(10.0).reshape(1, 1, 10)  # stride 10 at 100 Hz: 100 ms frames
    peaks, record = torch.tensor([14, 16, 99]), torch.zeros(3, dtype=torch.long)
    got = roi_pool(feature_map, peaks, record, 100, 10, 100.0, pre_ms=10.0, post_ms=10.0)
    torch.testing.assert_close(got, naive_roi_pool(feature_map, peaks, record, 100, 10, 100.0, 10.0, 10.0))
    assert got[:, 0].tolist() == [1.0, 2.0, 9.0]


def test_roi_pool_gradient_flows_to_the_pooled_frames_only():
    feature_map = torch.randn(2, 3, 250, requires_grad=True)
    roi_pool(feature_map, torch.tensor([500]), torch.tensor([1]), 1000, 4, 100.0).sum().backward()
    touched = feature_map.grad.abs().sum(dim=1).nonzero().tolist()
    # window [500 - 25, 500 + 40] samples: frames centred at 4t in it are t = 119..135
    assert touched == [[1, t] for t in range(119, 136)]


@pytest.mark.parametrize("peaks, record, message", [
    (torch.tensor([10, 2000]), torch.tensor([0, 0]), "r_peaks: expected sample indices"),
    (torch.tensor([10, 20]), torch.tensor([0, 5]), "beat_record_index: expected ECG indices"),
    (torch.tensor([10.0]), torch.tensor([0]), "r_peaks: expected a 1-D integer"),
    (torch.tensor([10, 20]), torch.tensor([0]), "the same length"),
])
def test_roi_pool_bad_beats_are_named(peaks, record, message):
    with pytest.raises(ValueError, match=message):
        roi_pool(torch.zeros(2, 3, 250), peaks, record, 1000, 4, 100.0)


def test_model_forward_shapes_with_and_without_beats():
    model = BeatSSLModel(size_preset("tiny"), 100.0)
    x = torch.randn(3, 12, 1000)
    z_rhythm, z_beats = model(x, torch.tensor([100, 500, 200]), torch.tensor([0, 0, 2]))
    assert z_rhythm.shape == (3, 32) and z_beats.shape == (3, 32)
    _, none = model(x, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert none.shape == (0, 32)
    assert model(x)[1] is None


def test_encode_numpy_in_numpy_out_equals_the_pooled_forward():
    torch.manual_seed(0)
    model = BeatSSLModel(size_preset("tiny"), 100.0)
    signals = np.random.default_rng(0).normal(size=(5, 12, 1000)).astype(np.float32)
    embeddings = model.encode(signals, batch_size=2)
    assert embeddings.dtype == np.float32 and embeddings.shape == (5, 16)
    with torch.no_grad():
        expected = model.encoder.pool(model.encoder(torch.from_numpy(signals))).numpy()
    np.testing.assert_allclose(embeddings, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.encode(signals[0]), expected[0], rtol=1e-5, atol=1e-6)
    assert model.encoder.encode(signals, feature_map=True).shape == (5, 16, 250)
    assert model.training  # restored
    assert model.encode(signals[:0]).shape == (0, 16)


def test_encode_rejects_transposed_and_nan_input():
    encoder = Encoder(size_preset("tiny"), 100.0)
    with pytest.raises(ValueError, match="transpose"):
        encoder.encode(np.zeros((1000, 12)))
    bad = np.zeros((2, 12, 1000))
    bad[1, 3, 5] = np.nan
    with pytest.raises(ValueError, match=r"signals\[1\]: NaN"):
        encoder.encode(bad)


@pytest.mark.parametrize("overrides, message", [
    ({"width": 0}, "width"), ({"kernel_size": 4}, "kernel_size"), ({"frame_ms": -1.0}, "frame_ms"),
    ({"n_blocks": 2.5}, "n_blocks"), ({"stem_kernel_ms": float("nan")}, "stem_kernel_ms"),
])
def test_config_is_validated(overrides, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**overrides)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="tiny, cpu, paper"):
        size_preset("huge")
    with pytest.raises(ValueError, match="fs"):
        Encoder(size_preset("tiny"), 0)
