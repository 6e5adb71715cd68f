"""LUDB segmentation: what coarse frames cost, whether a finer output helps, and how well the decoders fit.

Task 2's decoder (``downstream.SegmentationDecoder``) gives one class per encoder frame (40 ms at the `cpu`
size), interpolated to 500 Hz. Two measurements, on LUDB (all 200 records for the oracles; ``ludb_split`` seed 0,
160 / 40 records, for the trained decoders), scored as the reproduction does (``metrics.segmentation_scores``:
sample-wise F1 of P, QRS and T on samples 500-4500 at 500 Hz, pooled; their mean):
- hard-frame oracles: ``downstream.frame_rate_masks``, the annotated masks reduced to the class at each frame's
  centre (frames of 40, 20 and 10 ms), as one-hot logits interpolated back exactly as the decoder's are: what frames
  of that length score when each holds one sure class. Not an upper bound: the decoder's soft logits, interpolated,
  can put a boundary between two frame centres (on the synthetic ECG, --quick, the frame decoder scores above its
  40 ms oracle);
- trained: the shipped row-9 encoder (``load_pretrained("beat-ssl")``) fine-tuned with the library's frame decoder
  and with a sub-pixel decoder defined here (the same two convolutions, 12 x 4 x stride outputs per frame, frame t
  giving the input samples t * stride - stride // 2 ... + stride - 1, then interpolated to 500 Hz), each through
  ``evaluate_segmentation`` with the reproduction's settings (40 epochs, batches of 8, Adam 1e-3, seed --seed).
  A third, U-Net-like decoder (defined here) upsamples the feature map through the encoder's own stem outputs
  (skip connections at 20 and 10 ms, the input ECG at the last level) to one class per input sample (10 ms).
  Each model is swapped into ``downstream`` for its run only (``unittest.mock.patch.object``). Each line gives the
  test F1 and the F1 of the same model on its own 160 training records (fit): a decoder that cannot fit its
  training records to a target cannot reach it on held-out ones. --long-epochs N adds the library decoder
  trained N epochs. Each line also gives two other definitions a paper may use, on the same predictions: the
  macro F1 over the four classes (with "none") and the sample accuracy (micro F1 over the four classes).
  --decoders selects some of frame, subpixel, unet (none: the flag alone). --scratch-fs 100 500 also trains the
  `cpu` encoder from scratch (random init, the reproduction's `supervised` baseline) with the frame decoder on
  LUDB resampled to each rate: whether a finer input than PTB-XL's 100 Hz would help. --scratch-size paper trains
  the `paper` encoder from scratch instead (width 128, 6 blocks, 20 ms frames). --encoder PATH fine-tunes that
  ``encoder.pt`` (e.g. results/paper-gpu/pretrain/row9/seed0/encoder.pt, the `paper` size pretrained on a GPU)
  instead of the shipped one, its size read from the file: whether a result from the GPU holds on this CPU.
--quick: 4 epochs, for a smoke run. The training takes minutes per decoder on 2 cores.

    python benchmarks/bench_segmentation_decoder.py [--data DIR] [--quick] [--seed 0] [--no-train]
                                                    [--long-epochs 120] [--decoders frame unet]
                                                    [--scratch-fs 100 500] [--scratch-size paper]
                                                    [--encoder results/paper-gpu/pretrain/row9/seed0/encoder.pt]
"""

from __future__ import annotations

import time
from unittest import mock

import numpy as np
import torch
from torch import nn

import common
from beatssl_lite import downstream, load_dataset, load_pretrained
from beatssl_lite.metrics import SEGMENTATION_WINDOW, segmentation_scores
from beatssl_lite.pretrain import load_encoder_state
from beatssl_lite.reproduce import PTBXL_FS
from beatssl_lite.vocabulary import LEADS, WAVES


class SubpixelModel(nn.Module):
    """Encoder + a decoder giving each frame's ``stride`` input samples, interpolated to ``out_fs``."""

    def __init__(self, encoder, out_fs: float, n_out: int, hidden: int = 64, augment: tuple = ()):
        assert not augment, "this benchmark's decoders train without augmentation"
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


class UNetModel(nn.Module):
    """Encoder + a decoder that climbs back through the stem's feature maps to one class per input sample."""

    def __init__(self, encoder, out_fs: float, n_out: int, hidden: int = 64, augment: tuple = ()):
        assert not augment, "this benchmark's decoders train without augmentation"
        super().__init__()
        self.encoder = encoder
        self.out_fs, self.n_out = float(out_fs), int(n_out)
        width, n_leads = encoder.config.width, encoder.config.n_leads
        self.n_levels = (len(encoder.stem) - 1) // 3  # stem: conv, then (norm, GELU, strided conv) per factor
        self.reduce = nn.ModuleList(nn.Conv1d(hidden if level else width, hidden, 1) for level in range(self.n_levels))
        self.fuse = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden + width + (n_leads if level == self.n_levels - 1 else 0), hidden, 5,
                                    padding=2), nn.GELU(), nn.Conv1d(hidden, hidden, 5, padding=2), nn.GELU())
            for level in range(self.n_levels))
        self.head = nn.Conv1d(hidden, len(LEADS) * len(WAVES), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoder, stem = self.encoder, list(self.encoder.stem)
        h = stem[0](x)
        skips = [h]
        for i in range(1, len(stem), 3):
            h = stem[i + 2](stem[i + 1](stem[i](h)))
            skips.append(h)
        h = encoder.out_norm(encoder.blocks(skips.pop()))
        for level in range(self.n_levels):
            skip = skips[-1 - level]
            h = nn.functional.interpolate(self.reduce[level](h), size=skip.shape[-1], mode="linear")
            h = self.fuse[level](torch.cat([h, skip] + ([x] if level == self.n_levels - 1 else []), 1))
        out = self.head(h)
        out = out.reshape(out.shape[0], len(LEADS), len(WAVES), out.shape[-1])
        return downstream.upsample_frames(out, 1, encoder.fs, self.out_fs, self.n_out)


def other_definitions(predicted: np.ndarray, annotated: np.ndarray, window=SEGMENTATION_WINDOW) -> tuple:
    """(macro F1 over none/P/QRS/T, sample accuracy) of (records, leads, samples) codes in ``window``, pooled."""
    pred, true = predicted[..., window[0]:window[1]], annotated[..., window[0]:window[1]]
    f1 = []
    for code in range(len(WAVES)):
        p, t = pred == code, true == code
        tp = np.count_nonzero(p & t)
        f1.append(2 * tp / max(1, np.count_nonzero(p) + np.count_nonzero(t)))
    return float(np.mean(f1)), float(np.mean(pred == true))


def main() -> None:
    parser = common.parser(__doc__, data="ludb", repeats=1)
    parser.add_argument("--no-train", action="store_true", help="the hard-frame oracles only")
    parser.add_argument("--long-epochs", type=int, default=0, help="also train the library decoder this long")
    parser.add_argument("--decoders", nargs="*", choices=("frame", "subpixel", "unet"),
                        default=["frame", "subpixel", "unet"], help="the decoders to train (default all)")
    parser.add_argument("--scratch-fs", nargs="*", type=float, default=[],
                        help="also train the encoder from scratch at these input rates (Hz)")
    parser.add_argument("--scratch-size", default="cpu", choices=("tiny", "cpu", "paper"),
                        help="the encoder size trained from scratch (default cpu)")
    parser.add_argument("--encoder", metavar="PATH",
                        help="an encoder.pt of a pretraining run to fine-tune (default: the shipped row-9 encoder)")
    args = parser.parse_args()
    root = common.data_source(args, "ludb", fallback="the embedded synthetic ECG")
    common.print_header("LUDB segmentation: decoder output rate", args,
                        protocol="sample-wise F1 on samples 500-4500 at 500 Hz, mean over P, QRS, T (see --help)")
    dataset = load_dataset("ludb", root=root, progress=False) if root else load_dataset("ludb", fallback="synthetic")
    masks = np.asarray(dataset.masks)
    for frame_ms in (40, 20, 10):
        scores = segmentation_scores(downstream.frame_rate_masks(masks, round(frame_ms * dataset.fs / 1000)), masks)
        print(f"hard-frame oracle, {frame_ms:2d} ms frames ({len(masks)} records): F1 {scores['f1_mean']:.3f} "
              f"(P {scores['f1_P']:.3f}, QRS {scores['f1_QRS']:.3f}, T {scores['f1_T']:.3f})")
    if args.no_train:
        return
    epochs = 4 if args.quick else 40
    decoders = {"frame": ("frame decoder (library)", downstream.SegmentationModel),
                "subpixel": ("sub-pixel decoder", SubpixelModel), "unet": ("U-Net decoder (10 ms)", UNetModel)}
    runs = [(*decoders[name], epochs, None) for name in args.decoders]
    runs += [("frame decoder (library)", downstream.SegmentationModel, epochs, fs) for fs in args.scratch_fs]
    if args.long_epochs:
        runs.append(("frame decoder (library)", downstream.SegmentationModel, args.long_epochs, None))
    train_idx, test_idx = downstream.ludb_split(dataset, seed=0)
    if args.encoder:
        pretrained_size = load_encoder_state(args.encoder)[1].size
        pretrained = f"{args.encoder} (size {pretrained_size})"
    else:
        pretrained = "the shipped row-9 encoder"
    print(f"fine-tuned: {pretrained}; from scratch: size {args.scratch_size}; {torch.get_num_threads()} torch "
          f"thread(s)")
    for name, model, n_epochs, scratch_fs in runs:
        if scratch_fs is not None:
            encoder = downstream.random_encoder(args.scratch_size, scratch_fs)
        elif args.encoder:
            encoder = downstream.load_encoder(args.encoder, pretrained_size, PTBXL_FS)  # pretrained on PTB-XL
        else:
            encoder = load_pretrained("beat-ssl")
        x_train = downstream._at_rate(dataset.signals[train_idx], dataset.fs, encoder.fs)
        start = time.perf_counter()
        trained = {}
        predict = downstream._predict

        def keep_model(model, *args, **kwargs):
            trained["model"] = model
            return predict(model, *args, **kwargs)

        with mock.patch.object(downstream, "SegmentationModel", model), \
                mock.patch.object(downstream, "_predict", keep_model):
            result = downstream.evaluate_segmentation(encoder, dataset, seed=args.seed,
                                                      epochs=n_epochs, allow_synthetic=root is None)
        fitted = predict(trained["model"], x_train, 8, torch.device("cpu")).argmax(axis=2)
        fit = segmentation_scores(fitted, masks[train_idx])
        m = result["metrics"]
        macro4, accuracy = other_definitions(result["predictions"]["masks"], masks[test_idx])
        which = (("--encoder" if args.encoder else "row-9 encoder") + " fine-tuned" if scratch_fs is None
                 else f"{args.scratch_size} encoder from scratch at {scratch_fs:g} Hz")
        print(f"{name}, {which}, {n_epochs} epochs, seed {args.seed}, {result['protocol']['n_test']} "
              f"test records: F1 {m['f1_mean']:.3f} (P {m['f1_P']:.3f}, QRS {m['f1_QRS']:.3f}, T {m['f1_T']:.3f}), "
              f"Dice {m['dice_mean']:.3f}; fit on its {len(train_idx)} training records: F1 {fit['f1_mean']:.3f} "
              f"(P {fit['f1_P']:.3f}, QRS {fit['f1_QRS']:.3f}, T {fit['f1_T']:.3f}); other definitions on the "
              f"test records: macro F1 with none {macro4:.3f}, sample accuracy {accuracy:.3f}; "
              f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
