"""The names every module shares: leads and their order, wave codes, PTB-XL superclasses, beat classes.

Nothing here imports from the rest of the package, so every layer can import it.
"""

from __future__ import annotations

#: The 12 standard leads, in the row order of every signal in the package.
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: The 8 independent leads (the others are sums of I and II), the inputs of the VCG matrices.
INDEPENDENT_LEADS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
INDEPENDENT_INDEX = tuple(LEADS.index(name) for name in INDEPENDENT_LEADS)
#: PTB-XL superdiagnostic classes, in the order of the multi-hot label columns.
SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
#: Codes of the per-sample wave masks (LUDB annotations, synthetic ground truth): index = code.
WAVES = ("none", "P", "QRS", "T")
#: AAMI EC57 heartbeat classes: normal (incl. bundle branch block), supraventricular ectopic, ventricular ectopic,
#: fusion, unclassifiable.
BEAT_CLASSES = ("N", "S", "V", "F", "Q")

_LEAD_ALIASES = {name.lower(): name for name in LEADS}


def normalize_lead_name(name: str) -> str:
    """Map a lead name as files spell it ('i', 'AVR', 'v1', ' aVL ') to the standard spelling ('aVR')."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in _LEAD_ALIASES:
        raise ValueError(f"unknown lead name {name!r}: expected one of {', '.join(LEADS)}")
    return _LEAD_ALIASES[key]


def check_lead_order(leads, name: str = "leads") -> None:
    """Raise a ValueError naming ``name`` unless ``leads`` names the 12 standard leads in the order ``LEADS``."""
    try:
        names = tuple(normalize_lead_name(lead) for lead in leads)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if names == LEADS:
        return
    if sorted(names) == sorted(LEADS):
        order = [names.index(lead) for lead in LEADS]
        raise ValueError(f"{name}: the signal's rows are in the order {names}, expected {LEADS}; "
                         f"reorder them first, e.g. signal[{order}]")
    raise ValueError(f"{name}: expected the 12 leads {LEADS}, got {names}")
