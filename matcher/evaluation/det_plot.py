"""DET curves drawn on normal-deviate axes, as in NIST evaluations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from matcher.evaluation.metrics import DetCurve

_TICKS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95)
_STEP = 2e-3  # normal deviates; finer detail is invisible at any sensible figure size


def _deviate(rate: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.float64]:
    return np.asarray(ndtri(np.clip(rate, low, high)), dtype=np.float64)


def _thin(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Keep one point per grid cell along the path: millions of points -> thousands."""
    qx = np.round(x / _STEP).astype(np.int64)
    qy = np.round(y / _STEP).astype(np.int64)
    keep: npt.NDArray[np.bool_] = np.r_[True, (qx[1:] != qx[:-1]) | (qy[1:] != qy[:-1])]
    keep[-1] = True
    return keep


def _label(rate: float) -> str:
    percent = rate * 100
    return f"{percent:g}"


def save_det_plot(
    curves: Mapping[str, DetCurve],
    path: Path,
    *,
    title: str = "DET",
    marks: Mapping[str, tuple[float, float]] | None = None,
    lowest_rate: float = 1e-6,
) -> None:
    """Write a DET plot (FNMR against FMR, both on normal-deviate scales) to a PNG.

    Parameters
    ----------
    curves : mapping of label -> DetCurve
        One line per curve.
    path : Path
        Output PNG.
    marks : mapping of label -> (fmr, fnmr), optional
        Operating points to mark (e.g. the EER, FNMR at FMR 1e-4).
    lowest_rate : float
        Rates below this (including 0) are drawn at this value.

    References
    ----------
    A. Martin et al., "The DET curve in assessment of detection task
    performance", Eurospeech 1997.
    """
    low, high = lowest_rate, 1.0 - 1e-3
    fig, ax = plt.subplots(figsize=(6.0, 6.0), dpi=120)
    try:
        for label, curve in curves.items():
            x = _deviate(curve.fmr, low, high)
            y = _deviate(curve.fnmr, low, high)
            keep = _thin(x, y)
            ax.plot(x[keep], y[keep], label=label, linewidth=1.5)
        for label, (fmr, fnmr) in (marks or {}).items():
            ax.plot(
                _deviate(np.array([fmr]), low, high),
                _deviate(np.array([fnmr]), low, high),
                marker="o",
                linestyle="none",
                label=label,
            )
        ticks = [t for t in _TICKS if low <= t <= high]
        positions = _deviate(np.array(ticks), low, high)
        lo, hi = float(positions[0]) - 0.1, float(ndtri(0.6))
        ax.set_xticks(positions, [_label(t) for t in ticks])
        ax.set_yticks(positions, [_label(t) for t in ticks])
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.plot([lo, hi], [lo, hi], color="0.8", linewidth=0.8, linestyle=":")
        ax.set_xlabel("False match rate (%)")
        ax.set_ylabel("False non-match rate (%)")
        ax.set_title(title)
        ax.grid(True, color="0.9")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
