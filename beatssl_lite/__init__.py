"""beatssl_lite: Beat-SSL (rhythm- and beat-level contrastive learning for 12-lead ECG) re-implemented, step by step.

Modules go top-down, with no import back up:
- shared names and checks: ``vocabulary``, ``validation``, ``cache``;
- per-record numpy: ``records``, ``wfdb_io``, ``datasets``, ``synthetic``, ``download``, ``vcg``, ``beats``,
  ``delineation``, ``t_onset``, ``features``, ``beat_classes``, ``precompute``;
- per-batch torch: ``augment``, ``targets``, ``model``, ``losses``;
- orchestration: ``config``, ``pretrain``, ``metrics``, ``stats``, ``downstream``, ``pretrained``, ``reproduce``,
  ``cli``;
  with ``plots`` on the side.

The public API is importable from here: the data side (``from beatssl_lite import load_dataset, ECGDataset,
LEADS``) directly, the method's main entries (``extract``, ``FeatureCache``, ``two_views``, ``BeatSSLModel``,
``preset``, ``evaluate_classification``, ``load_pretrained``, ...) on first use, so that importing the package
loads numpy only, never torch. (``download``, ``precompute``, ``pretrain`` and ``reproduce`` stay modules: ``from beatssl_lite import
pretrain`` then ``pretrain.pretrain(...)``; or the command line, ``beatssl-lite --help``.)
"""

from .datasets import (
    DATA_ENV,
    DATASETS,
    LUDB_ADC_GAIN,
    data_root,
    load_dataset,
    load_ludb,
    load_ptbxl,
    load_wfdb_folder,
    ludb_folds,
    ludb_split,
    ptbxl_split,
    user_cache_dir,
)
from .records import ECGDataset, ECGRecord
from .synthetic import make_synthetic_dataset, make_synthetic_record
from .validation import check_ecg, check_fs
from .vocabulary import BEAT_CLASSES, INDEPENDENT_LEADS, LEADS, SUPERCLASSES, WAVES
from .wfdb_io import read_wave_annotations, read_wfdb_record

__version__ = "0.1.0"

#: Names imported on first access (PEP 562): their modules import torch or scipy, which ``import beatssl_lite``
#: should not pay for.
_LAZY = {
    "extract": "features", "ECGFeatures": "features", "detect_r_peaks": "beats", "delineate": "delineation",
    "t_onsets": "t_onset", "classify_beats": "beat_classes", "FeatureCache": "precompute",
    "ecg_to_vcg": "vcg", "three_kg": "augment", "two_views": "augment", "ThreeKGConfig": "augment",
    "rhythm_target_block": "targets", "beat_target_block": "targets",
    "Encoder": "model", "BeatSSLModel": "model", "size_preset": "model",
    "nt_xent_loss": "losses", "soft_1_loss": "losses", "soft_2_loss": "losses", "hard_beat_loss": "losses",
    "preset": "config", "PretrainConfig": "config",
    "evaluate_classification": "downstream", "evaluate_segmentation": "downstream", "load_encoder": "downstream",
    "random_encoder": "downstream", "load_pretrained": "pretrained",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'beatssl_lite' has no attribute {name!r}")

__all__ = [
    "BEAT_CLASSES", "DATASETS", "DATA_ENV", "ECGDataset", "ECGRecord", "INDEPENDENT_LEADS", "LEADS", "LUDB_ADC_GAIN",
    "SUPERCLASSES", "WAVES", "check_ecg", "check_fs", "data_root", "load_dataset", "load_ludb",
    "load_ptbxl", "load_wfdb_folder", "ludb_folds", "ludb_split", "make_synthetic_dataset", "make_synthetic_record",
    "ptbxl_split", "read_wave_annotations", "read_wfdb_record", "user_cache_dir", *_LAZY,
]
