"""LUDB segmentation: what the decoder's output rate costs, and whether a finer output helps.

Task 2's decoder (``downstream.SegmentationDecoder``) gives one class per encoder frame (40 ms at the `cpu`
size), interpolated to 500 Hz. Two measurements, on LUDB (all 200 records for the ceilings; ``ludb_split`` seed 0,
160 / 40 records, for the trained decoders), scored as the reproduction does (``metrics.segmentation_scores``:
sample-wise F1 of P, QRS and T on samples 500-4500 at 500 Hz, pooled; their mean):
- ceilings: ``downstream.frame_rate_masks``, the annotated masks reduced to the class at each frame's centre (frames
  of 40, 20 and 10 ms), as one-hot logits interpolated back exactly as the decoder's are; what a perfect frame
  classifier would score;
- trained: the shipped row-9 encoder (``load_pretrained("beat-ssl")``) fine-tuned with the library's frame decoder
  and with a sub-pixel decoder defined here (the same two convolutions, 12 x 4 x stride outputs per frame, frame t
  giving the input samples t * stride - stride // 2 ... + stride - 1, then interpolated to 500 Hz), each through
  ``evaluate_segmentation`` with the reproduction's settings (40 epochs, batches of 8, Adam 1e-3, seed --seed).
  The sub-pixel model is swapped into ``downstream`` for its run only (``unittest.mock.patch.object``).
--quick: 4 epochs, for a smoke run. The training takes minutes per decoder on 2 cores.

    python benchmarks/bench_segmentation_decoder.py [--data DIR] [--quick] [--seed 0] [--no-train]
"""

from __future__ import annotations

import time
from unittest import mock

import numpy as np
import torch
from torch import nn

import common
from beatssl_lite import downstream, load_dataset, load_pretrained
from beatssl_lite.metrics import segmentation_scores
from beatssl_lite.vocabulary import LEADS, WAVES


class SubpixelModel(nn.Module):
    """Encoder + a decoder giving each frame's ``stride`` input samples, interpolated to ``out_fs``."""

    def __init__(self, encoder, out_fs: float, n_out: int, hidden: int = 64):
        super().__init__()
        self.encoder, self.stride = encoder, encoder.stride
        self.out_fs, self.n_out = float(out_fs), int(n_out)
        self.net = nn.Sequential(nn.Conv1d(encoder.config.width, hidden, 5, padding=2), nn.GELU(),
                                 nn.Conv1d(hidden, len(LEADS) * len(WAVES) * self.stride, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(self.encoder(x))  # (B, 12 * 4 * stride, F)
        b, _, n_frames = out.shape
        out = out.reshape(b, len(LEADS), len(WAVES), self.stride, n_frames).transpose(-1, -2)
        # frame t is centred on input sample t * stride: its sub-sample s is sample t * stride - stride // 2 + s
        samples = out.reshape(b, len(LEADS), len(WAVES), n_frames * self.stride)[..., self.stride // 2:]
        return downstream.upsample_frames(samples, 1, self.encoder.fs, self.out_fs, self.n_out)


def main() -> None:
    parser = common.parser(__doc__, data="ludb", repeats=1)
    parser.add_argument("--no-train", action="store_true", help="the ceilings only")
    args = parser.parse_args()
    root = common.data_source(args, "ludb", fallback="the embedded synthetic ECG")
    common.print_header("LUDB segmentation: decoder output rate", args,
                        protocol="sample-wise F1 on samples 500-4500 at 500 Hz, mean over P, QRS, T (see --help)")
    dataset = load_dataset("ludb", root=root, progress=False) if root else load_dataset("ludb", fallback="synthetic")
    masks = np.asarray(dataset.masks)
    for frame_ms in (40, 20, 10):
        scores = segmentation_scores(downstream.frame_rate_masks(masks, round(frame_ms * dataset.fs / 1000)), masks)
        print(f"ceiling, perfect {frame_ms:2d} ms frames ({len(masks)} records): F1 {scores['f1_mean']:.3f} "
              f"(P {scores['f1_P']:.3f}, QRS {scores['f1_QRS']:.3f}, T {scores['f1_T']:.3f})")
    if args.no_train:
        return
    epochs = 4 if args.quick else 40
    decoders = {"frame decoder (library)": downstream.SegmentationModel, "sub-pixel decoder": SubpixelModel}
    for name, model in decoders.items():
        start = time.perf_counter()
        with mock.patch.object(downstream, "SegmentationModel", model):
            result = downstream.evaluate_segmentation(load_pretrained("beat-ssl"), dataset, seed=args.seed,
                                                      epochs=epochs, allow_synthetic=root is None)
        m = result["metrics"]
        print(f"{name}, row-9 encoder fine-tuned, {epochs} epochs, seed {args.seed}, {result['protocol']['n_test']} "
              f"test records: F1 {m['f1_mean']:.3f} (P {m['f1_P']:.3f}, QRS {m['f1_QRS']:.3f}, T {m['f1_T']:.3f}), "
              f"Dice {m['dice_mean']:.3f}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
