"""DET curves drawn on normal-deviate axes, as in NIST evaluations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

# A bare Figure renders with the Agg canvas: no pyplot, no global backend switch, no display.
from matplotlib.figure import Figure
from scipy.special import ndtri

from matcher.evaluation.metrics import DetCurve

_TICKS = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99)
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
    return f"{rate * 100:.8f}".rstrip("0").rstrip(".")  # 1e-7 -> "0.00001", never "1e-05"


def _floor_decade(curves: Mapping[str, DetCurve], attribute: str) -> float:
    """The decade at or below the smallest non-zero rate: where the data ends."""
    smallest = 1e-1
    for curve in curves.values():
        rates = getattr(curve, attribute)
        positive = rates[rates > 0]
        if positive.size:
            smallest = min(smallest, float(positive.min()))
    return max(float(10.0 ** np.floor(np.log10(smallest))), 1e-8)


def _axis(ticks_low: float, high: float) -> tuple[list[float], npt.NDArray[np.float64]]:
    ticks = [t for t in _TICKS if ticks_low <= t <= high]
    return ticks, _deviate(np.array(ticks), ticks_low, high)


def save_det_plot(
    curves: Mapping[str, DetCurve],
    path: Path,
    *,
    title: str = "DET",
    marks: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Write a DET plot (FNMR against FMR, both on normal-deviate scales) to a PNG.

    Each axis starts at the decade of its smallest non-zero rate (about one
    over the number of comparisons); rates of 0 are drawn on that edge.

    Parameters
    ----------
    curves : mapping of label -> DetCurve
        One line per curve.
    path : Path
        Output PNG.
    marks : mapping of label -> (fmr, fnmr), optional
        Operating points to mark (e.g. the EER, FNMR at FMR 1e-4).

    References
    ----------
    A. Martin et al., "The DET curve in assessment of detection task
    performance", Eurospeech 1997.
    """
    x_low, y_low = _floor_decade(curves, "fmr"), _floor_decade(curves, "fnmr")
    high = 0.99
    fig = Figure(figsize=(6.4, 6.0), dpi=120)
    ax = fig.subplots()
    for label, curve in curves.items():
        x = _deviate(curve.fmr, x_low, high)
        y = _deviate(curve.fnmr, y_low, high)
        keep = _thin(x, y)
        ax.plot(x[keep], y[keep], label=label, linewidth=1.5)
    for label, (fmr, fnmr) in (marks or {}).items():
        ax.plot(
            _deviate(np.array([fmr]), x_low, high),
            _deviate(np.array([fnmr]), y_low, high),
            marker="o",
            linestyle="none",
            label=label,
        )
    x_ticks, x_pos = _axis(x_low, high)
    y_ticks, y_pos = _axis(y_low, high)
    ax.set_xticks(x_pos, [_label(t) for t in x_ticks], rotation=45)
    ax.set_yticks(y_pos, [_label(t) for t in y_ticks])
    x_lim = (float(x_pos[0]) - 0.1, float(ndtri(high)))
    y_lim = (float(y_pos[0]) - 0.1, float(ndtri(high)))
    ax.set_xlim(*x_lim)
    ax.set_ylim(*y_lim)
    diagonal = [max(x_lim[0], y_lim[0]), x_lim[1]]
    ax.plot(diagonal, diagonal, color="0.8", linewidth=0.8, linestyle=":")
    ax.set_xlabel("False match rate (%)")
    ax.set_ylabel("False non-match rate (%)")
    ax.set_title(title)
    ax.grid(True, color="0.9")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")
