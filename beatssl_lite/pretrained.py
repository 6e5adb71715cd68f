"""Shipped encoders: ``load_pretrained("beat-ssl")`` instead of pretraining.

The package carries two pretrained row-9 (Beat-SSL) encoders, each with the recipe of its random-init twin (the
same architecture and seed, untrained: the baseline it must beat), all at 100 Hz, the reproduction's PTB-XL rate:

- ``"beat-ssl"`` / ``"random-init"``: size ``cpu``, from the 3-seed reproduction in ``results/`` (2 CPU cores);
- ``"beat-ssl-paper"`` / ``"random-init-paper"``: size ``paper``, from the one-seed GPU run in
  ``results/paper-gpu/``; the larger encoder segments LUDB better (see its card).

The weights are a plain ``encoder.pt`` (loaded with ``torch.load(weights_only=True)``, so loading runs no pickled
code), checked against a SHA-256 recorded here. Each pretrained encoder has a model card (``model_card(name)``)
saying what it was trained on, how it scores, and what it is not for.

``ship_weights`` copies a finished reproduction unit into the package and writes the card from that unit's result
files, so that every figure on a card comes from the results folder::

    python -m beatssl_lite.pretrained --results results/ --config row9 --seed 0
    python -m beatssl_lite.pretrained --results results/paper-gpu/ --name beat-ssl-paper --twin random-init-paper
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .downstream import load_encoder, random_encoder
from .model import Encoder

logger = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class PretrainedEncoder:
    """One loadable encoder: a weights file in ``WEIGHTS_DIR`` (``None``: randomly initialised with ``seed``), and
    the model card in ``WEIGHTS_DIR`` that describes it (a random twin shares its pretrained encoder's card)."""

    name: str
    description: str
    size: str
    fs: float
    config: str
    seed: int
    card: str
    file: str | None = None
    sha256: str | None = None


PRETRAINED = {
    "beat-ssl": PretrainedEncoder(
        name="beat-ssl", description="row 9 of Table 1 (soft_1 rhythm targets at power 50 + hard beat targets), "
        "pretrained on the PTB-XL subset without fold 10", size="cpu", fs=100.0, config="row9", seed=0,
        card=MODEL_CARD, file="beat-ssl-row9-cpu-100hz-seed0.pt",
        sha256="8950c82bfb82818210947b8e941ae1f1472563aa589880046f0e40e88d798500"),
    "random-init": PretrainedEncoder(
        name="random-init", description="the same encoder randomly initialised (downstream.random_encoder, seed 0): "
        "the reproduction's random-init baseline", size="cpu", fs=100.0, config="random-init", seed=0,
        card=MODEL_CARD),
    "beat-ssl-paper": PretrainedEncoder(
        name="beat-ssl-paper", description="row 9 of Table 1 at size paper (width 128, 6 blocks, 20 ms frames), "
        "pretrained on one GPU on the PTB-XL subset without fold 10", size="paper", fs=100.0, config="row9", seed=0,
        card="MODEL_CARD-paper.md", file="beat-ssl-row9-paper-100hz-seed0.pt",
        sha256="654dc58b53322fea08438006d6325536782cc18c9d66f4acb86ead282d88ee2f"),
    "random-init-paper": PretrainedEncoder(
        name="random-init-paper", description="the paper-size encoder randomly initialised (downstream.random_encoder, "
        "seed 0): the GPU run's random-init baseline", size="paper", fs=100.0, config="random-init", seed=0,
        card="MODEL_CARD-paper.md"),
}


class PretrainedError(ValueError):
    """An unknown name, or a weights file that is missing or not the one shipped."""


def available() -> list[str]:
    """Names ``load_pretrained`` accepts."""
    return list(PRETRAINED)


def _entry(name: str) -> PretrainedEncoder:
    if name not in PRETRAINED:
        raise PretrainedError(f"name: expected one of {', '.join(PRETRAINED)}, got {name!r}")
    return PRETRAINED[name]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def weights_path(name: str = "beat-ssl") -> Path:
    """The shipped weights file of ``name``, checked against its recorded SHA-256."""
    entry = _entry(name)
    if entry.file is None:
        raise PretrainedError(f"{name!r} has no weights file: it is a random initialisation (seed {entry.seed})")
    path = WEIGHTS_DIR / entry.file
    if not path.is_file():
        raise PretrainedError(f"{path}: the weights of {name!r} are missing from this installation (reinstall "
                              "beatssl_lite; an install that leaves out package data drops them)")
    digest = _sha256(path)
    if digest != entry.sha256:
        raise PretrainedError(f"{path}: SHA-256 {digest[:12]}... is not the shipped {entry.sha256[:12]}... (a "
                              "truncated download, a Git LFS pointer, or weights replaced without updating "
                              "PRETRAINED)")
    return path


def load_pretrained(name: str = "beat-ssl", device: str | torch.device = "cpu") -> Encoder:
    """A shipped encoder in eval mode on ``device``: ``"beat-ssl"`` (pretrained, row 9, size ``cpu``),
    ``"random-init"`` (its untrained twin), ``"beat-ssl-paper"`` / ``"random-init-paper"`` (the same at size
    ``paper``).

    All are built for 100 Hz input (``encoder.fs``): feed them ECGs at that rate, shape (batch, 12, n_samples) in
    mV. Downstream code uses ``encoder.encode`` / the evaluation functions of ``beatssl_lite.downstream``.
    """
    entry = _entry(name)
    if entry.file is None:
        encoder = random_encoder(entry.size, entry.fs, seed=entry.seed)
    else:
        encoder = load_encoder(weights_path(name), entry.size, entry.fs)
    return encoder.to(device).eval()


def model_card(name: str = "beat-ssl") -> str:
    """The model card (markdown) of the shipped encoder ``name`` (a random twin: its pretrained encoder's card)."""
    return (WEIGHTS_DIR / _entry(name).card).read_text()


# --- shipping a reproduction unit ---------------------------------------------------------------------------------

def _unit(results: Path, config: str, seed: int, task: str) -> dict | None:
    path = results / "units" / config / f"seed{seed}" / f"{task}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _score_rows(results: Path, configs: dict, seed: int) -> list[str]:
    """Markdown rows of the card's score table: a value with its 95 % interval where the unit has one; 'n/a' for
    a task the configuration does not run (random-init is never fine-tuned, supervised never probed)."""
    from .reproduce import CONFIG_TASKS

    def cell(config, task, metric):
        if task not in CONFIG_TASKS[config]:
            return "n/a"
        unit = _unit(results, config, seed, task)
        if unit is None:
            return "not run yet"
        value = unit["values"].get(metric)
        if value is None:
            return "undefined"
        interval = unit.get("metrics", {}).get(f"{metric}_ci")
        if interval and interval.get("low") is not None:
            return f"{value:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"
        return f"{value:.3f}"

    rows = ["| encoder | PTB-XL fine-tuned macro AUROC | fine-tuned macro F1 | linear-probe macro AUROC | "
            "LUDB sample-wise F1 | LUDB Dice |", "|---|---|---|---|---|---|"]
    for label, config in configs.items():
        rows.append(f"| {label} | {cell(config, 'ptbxl-finetune', 'auroc')} | {cell(config, 'ptbxl-finetune', 'f1')} "
                    f"| {cell(config, 'ptbxl-probe', 'auroc')} | {cell(config, 'ludb', 'f1')} | "
                    f"{cell(config, 'ludb', 'dice')} |")
    return rows


def _trained_on(machine: dict) -> str:
    if machine.get("device") == "cuda":
        return f"on one {machine.get('gpu', 'GPU')}"
    return f"on {machine['cpu_count']} CPU cores"


def build_model_card(results, config: str = "row9", seed: int = 0, file: str = "", sha256: str = "",
                     name: str = "beat-ssl", twin: str = "random-init", results_label: str | None = None) -> str:
    """The model card of the ``config``/``seed`` encoder of the reproduction in ``results``, from its unit files.

    ``name`` and ``twin`` are the ``load_pretrained`` names of the encoder and of its random twin; ``results_label``
    is how the card names the results folder (default: its last component, e.g. ``results/``).
    """
    results = Path(results)
    label = results_label or f"{results.name}/"
    reference = _unit(results, config, seed, "ptbxl-probe") or _unit(results, config, seed, "ptbxl-finetune")
    if reference is None:
        raise PretrainedError(f"{results}: no finished PTB-XL unit of {config} seed {seed} (run the reproduction)")
    pretraining, data, protocol = reference["pretraining"], reference["data"], reference["protocol"]
    ludb = _unit(results, config, seed, "ludb")
    encoder = protocol["encoder"]
    loss = pretraining["config"]["loss"]
    lines = [
        "# Model card: beatssl_lite shipped encoders",
        "",
        f"Written by `python -m beatssl_lite.pretrained --results {label} --config {config} --seed {seed}"
        f"{'' if (name, twin) == ('beat-ssl', 'random-init') else f' --name {name} --twin {twin}'}` from "
        f"the reproduction's unit files; commit {reference['git']['commit'][:10]}"
        f"{' (uncommitted changes)' if reference['git'].get('dirty') else ''}.",
        "",
        "## What it is",
        f"- `load_pretrained(\"{name}\")`: the encoder of configuration `{config}` (rhythm targets "
        f"{loss['rhythm']}, beat targets {loss['beat'] or 'none'}, power {loss['power']:g}, temperature "
        f"{loss['temperature']:g}), seed {seed}, pretrained {pretraining['steps']} steps "
        f"({pretraining['config']['train']['epochs']} epochs of batches of {pretraining['config']['train']['batch_size']}) "
        f"in {pretraining['train_seconds']:.0f} s {_trained_on(reference['machine'])}. File `{file}`, "
        f"SHA-256 `{sha256}`.",
        f"- `load_pretrained(\"{twin}\")`: the same architecture randomly initialised with seed {seed} "
        "(`downstream.random_encoder`), the baseline every pretrained number must beat.",
        f"- Architecture: size `{pretraining['config']['size']}` ({encoder['n_parameters']:,} parameters, "
        f"{json.dumps(encoder['config'])}), input 12 leads at {encoder['fs']:g} Hz in mV, one frame every "
        f"{encoder['stride_samples']} samples, receptive field {encoder['receptive_field_samples']} samples.",
        "",
        "## Training data",
        f"- {pretraining['split']}. PTB-XL: {data['ptbxl']['n_records']} records at {data['ptbxl']['fs']:g} Hz "
        f"(the subset of the data root, record-id SHA-256 {data['ptbxl']['record_ids_sha256'][:12]}...). No labels "
        "are used in pretraining; fold 10 (the downstream test fold) is excluded in code.",
        "",
        "## How it scores (the reproduction's protocol; test data never seen in pretraining)",
        f"- PTB-XL: {reference['protocol_summary']}.",
        f"- LUDB: {ludb['protocol_summary'] if ludb else 'not run'}.",
        "",
        *_score_rows(results, {name: config, f"{twin} (same downstream code)": "random-init",
                               "supervised from scratch": "supervised"}, seed),
        "",
        f"Seed {seed} only. In brackets: 95 % percentile-bootstrap intervals over the "
        f"{reference['protocol']['n_test']} test records (macro AUROC). Which differences between these encoders the "
        f"data can resolve, and any other seeds and rows run there, are in `{label}table1.md`. The paper's Table 1 "
        "(full PTB-XL, its own encoder) reports 0.843 fine-tuned AUROC and 0.911 LUDB F1 for this row [paper].",
        "",
        "## Intended use and limits",
        "- Research and teaching: the chapters of the beatssl_lite book, and a starting point for experiments on "
        "12-lead ECG representation learning.",
        "- **Not for diagnosis or any clinical decision.** It was pretrained on a subset of one German hospital "
        f"database (PTB-XL, {data['ptbxl']['n_records']} records, one device family) and evaluated on a few hundred "
        "records; it has not been validated on other populations, devices, sampling rates, paced rhythms or "
        "paediatric ECGs.",
        f"- Input at another sampling rate than {encoder['fs']:g} Hz gives meaningless features (the kernels are "
        f"sized in samples for {encoder['fs']:g} Hz); resample first.",
    ]
    if reference["machine"].get("device") == "cuda":
        lines.append("- Pretrained on a GPU, whose kernels are not deterministic: the same command gives close but "
                     "not bit-identical weights and scores.")
    return "\n".join(lines) + "\n"


def ship_weights(results, config: str = "row9", seed: int = 0, dest: Path = WEIGHTS_DIR, name: str = "beat-ssl",
                 twin: str = "random-init", results_label: str | None = None) -> tuple[Path, str]:
    """Copy ``results/pretrain/<config>/seed<seed>/encoder.pt`` into ``dest`` as the weights of ``name`` and write
    its model card there (the card file of ``PRETRAINED[name]``, ``MODEL_CARD-<name>.md`` for a new name).

    Returns (weights path, SHA-256); ``PRETRAINED[name]`` must then be given that digest (the function logs it).
    """
    results, dest = Path(results), Path(dest)
    source = results / "pretrain" / config / f"seed{seed}" / "encoder.pt"
    if not source.is_file():
        raise PretrainedError(f"{source}: no pretrained encoder (run the reproduction for {config} seed {seed})")
    locations = set()
    saved = torch.load(source, map_location=lambda storage, location: locations.add(location) or storage,
                       weights_only=True)
    file = f"beat-ssl-{config}-{saved['config']['size']}-{saved['fs']:g}hz-seed{seed}.pt"
    card = PRETRAINED[name].card if name in PRETRAINED else f"MODEL_CARD-{name}.md"
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / file
    if locations <= {"cpu"}:
        shutil.copyfile(source, target)
    else:
        # Saved from a GPU: a plain torch.load of that file fails on a machine without one, so ship CPU tensors.
        torch.save(saved, target)
    digest = _sha256(target)
    (dest / card).write_text(build_model_card(results, config, seed, file=file, sha256=digest, name=name, twin=twin,
                                              results_label=results_label))
    logger.info("shipped %s (sha256 %s) with %s; set PRETRAINED[%r] file=%r sha256=%r", target, digest, card, name,
                file, digest)
    return target, digest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m beatssl_lite.pretrained",
                                     description="Ship a reproduction encoder into the package, with its model card.")
    parser.add_argument("--results", required=True, type=Path, help="the reproduction's results folder")
    parser.add_argument("--config", default="row9", help="configuration to ship (default row9)")
    parser.add_argument("--seed", type=int, default=0, help="seed to ship (default 0)")
    parser.add_argument("--name", default="beat-ssl", help="load_pretrained name of the encoder (default beat-ssl)")
    parser.add_argument("--twin", default="random-init",
                        help="load_pretrained name of its random twin, for the card (default random-init)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    label = args.results.as_posix().rstrip("/") + "/"
    try:
        ship_weights(args.results, args.config, args.seed, name=args.name, twin=args.twin, results_label=label)
    except PretrainedError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
