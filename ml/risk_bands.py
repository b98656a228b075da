"""The churn risk bands, declared once: high when the calibrated probability p >= HIGH_THRESHOLD, medium when
p >= MEDIUM_THRESHOLD, low otherwise. The scoring job, the REST API, the risk report and the risk screen import
these names; nothing else spells the thresholds or the band names.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

RiskBand = Literal["low", "medium", "high"]
BANDS: tuple[str, ...] = get_args(RiskBand)  # lowest risk first: the order of the screen's axes and legends
HIGH_THRESHOLD = 0.7
MEDIUM_THRESHOLD = 0.4


def risk_band(probability: np.ndarray) -> np.ndarray:
    """Return 'high' / 'medium' / 'low' per probability (HIGH_THRESHOLD, MEDIUM_THRESHOLD)."""
    p = np.asarray(probability, dtype=float)
    return np.where(p >= HIGH_THRESHOLD, "high", np.where(p >= MEDIUM_THRESHOLD, "medium", "low"))


def risk_band_of(probability: float) -> str:
    """Return the risk band of one probability (the same thresholds as `risk_band`)."""
    return str(risk_band(np.asarray([probability], dtype=float))[0])
