"""beatssl_lite: Beat-SSL (rhythm- and beat-level contrastive learning for 12-lead ECG) re-implemented, step by step.

Modules go top-down, with no import back up:
- shared names and checks: ``vocabulary``, ``validation``, ``cache``;
- per-record numpy: ``records``, ``wfdb_io``, ``datasets``, ``synthetic``, ``download``, ``vcg``, ``beats``,
  ``delineation``, ``features``, ...;
- per-batch torch, then orchestration (training), with ``plots`` on the side.

The data side is importable from here (``from beatssl_lite import load_dataset, ECGDataset, LEADS``); importing
the package loads numpy only, never torch. (``download`` stays a module: ``from beatssl_lite import download``
then ``download.download('ludb')``, or ``python -m beatssl_lite.download ludb``.)
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

__all__ = [
    "BEAT_CLASSES", "DATASETS", "DATA_ENV", "ECGDataset", "ECGRecord", "INDEPENDENT_LEADS", "LEADS", "LUDB_ADC_GAIN",
    "SUPERCLASSES", "WAVES", "check_ecg", "check_fs", "data_root", "load_dataset", "load_ludb",
    "load_ptbxl", "load_wfdb_folder", "ludb_folds", "ludb_split", "make_synthetic_dataset", "make_synthetic_record",
    "ptbxl_split", "read_wave_annotations", "read_wfdb_record", "user_cache_dir",
]
