"""Presentation-attack detection (PAD) from the scanner's LED-off / LED-on frame pair.

A scanner that switches its own NIR illuminator gives two frames a few milliseconds apart: the
LED-off frame holds the ambient light alone, the LED-on frame ambient plus the LED's light, so
their difference ``D = lit - ambient`` is the scene as lit by the scanner alone (the flash /
no-flash pair). The cues below follow from the physics of that pair, not from any simulator:

``led_gain``, ``object_size``, ``solidity``
    The LED sits a few centimetres from a live hand: the presented object must show a strong
    gain ``D`` over a solid region about the size of a hand at the working distance (the
    distance sensor holds the hand within the depth of field, so its size in the frame is
    bounded). A display emits visible light only and its panel reflects little NIR: the gain
    lies on its bezel (a hollow frame) and in a mirror spot. A frame sent twice has no gain.
``specular``
    Skin and paper scatter light diffusely, so ``D`` over the object is smooth (the LED's
    fall-off). Cover glass mirrors the LED back into the lens: a hot spot many times the
    object's typical gain.
``depth``
    Irradiance from the near LED falls with the square of the distance while room light falls on
    near and far things alike, so the ratio ``D / ambient`` (reflectance cancels) is far larger on
    the object than on the distant background. Not measurable without ambient light on the
    background: the cue is then left out.
``falloff``
    Across the object the LED's irradiance varies (the cos^4 / inverse-square fall-off from its
    axis) while room light varies little, so ``D / ambient`` spreads over the object's blocks.
    An "LED-off" frame made by scaling a stored LED-on frame down gives one constant ratio: the
    difference then does not show the LED's fall-off. Needs ambient light on the object.
``ambient_alignment``
    When the LED-off frame shows an object (ambient light on the hand), it must show it where
    the LED-on frame does, the two being taken milliseconds apart: intersection over union of
    the two silhouettes. An LED-off frame of another capture shows the hand elsewhere.
``ambient_noise``
    A real LED-off frame is a sensor readout and carries read and shot noise; a constant frame
    was not read from a sensor.
``surround``
    A hand is held in front of a distant background, so a ring just outside it receives little
    LED light. Paper held at the hand's distance brings its surroundings along: printed toner
    and unprinted paper at the hand's distance, lit by the LED as strongly as the palm.
``spectrum``
    Fourier high-frequency energy share of the LED-gain image over the object, the frequency
    cue used against printed finger-vein images by Nguyen et al. [3]_ and in the finger-vein PAD
    competition [2]_. It is measured on the full frame's object, not on the ROI: such cues lose
    most of their power on cropped ROIs. At 1.7 px/mm a halftone screen or a display's pixel grid
    is finer than a sensor pixel, so this cue mostly sees noise-dominated small objects.

Not used: 3-D shading of the palm and vein-to-skin contrast. A print reproduces the shading and
the vein contrast of the capture it was printed from, so on their own they tell little; the
flatness of a print shows more directly in ``surround`` (its surroundings are at the hand's
distance).

Each cue maps to [0, 1] by a linear ramp between an attack-like and a live-like value; the
score is the smallest cue score (one failed physical check is enough to refuse), and every cue
below 0.5 names a reason. The ramps and :data:`THRESHOLD` were set on simulated captures of a
development seed (``palmvein eval-pad`` prints the rates on another seed); see
docs/RECOGNITION.md for the measured APCER / BPCER and for what this cannot detect.

References
----------
.. [1] P. Tome and S. Marcel, "On the vulnerability of palm vein recognition to spoofing
       attacks", ICB 2015.
.. [2] P. Tome, R. Raghavendra, C. Busch et al., "The 1st competition on counter measures to
       finger vein spoofing attacks", ICB 2015.
.. [3] D. T. Nguyen et al., "Fake finger-vein image detection based on Fourier and wavelet
       transforms", Digital Signal Processing 23(5), 2013.
.. [4] G. Petschnigg et al., "Digital photography with flash and no-flash image pairs",
       ACM Transactions on Graphics 23(3), 2004.
.. [5] ISO/IEC 30107-3:2017, Biometric presentation attack detection - Part 3: Testing and
       reporting (APCER, BPCER).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]

#: Scores below this are refused as suspected attacks.
THRESHOLD = 0.5

_MIN_SIDE = 32
# Cues are measured at about 320 px width: enough for every cue, a quarter of the pixels.
_WORK_WIDTH = 320
_BLOCK = 8
# In working pixels (a 640 px frame is halved): the surround ring starts 2 px (4 px of a 640 px
# frame, clear of the optics' blur) outside the object and reaches 6 px (12).
_RING_START = 2
_NEAR = 6


class PadInputError(ValueError):
    """The frames cannot be scored (wrong type, shape or size)."""


@dataclass(frozen=True)
class PadResult:
    """The liveness score of a frame pair and why.

    Attributes
    ----------
    score : float
        0 (attack) to 1 (live); the smallest of the cue scores.
    reasons : tuple of str
        Codes of the cues scoring below 0.5, e.g. ``"no_led_response"``; empty when live.
    cues : dict
        Cue name -> score in [0, 1].
    metrics : dict
        The measured values behind the cues.
    """

    score: float
    reasons: tuple[str, ...]
    cues: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def is_live(self, threshold: float = THRESHOLD) -> bool:
        """Whether the pair passes at ``threshold``."""
        return self.score >= threshold


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 1 at ``good``, linear between (either direction)."""
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0))


# cue -> (bad, good, reason); the metric of the same name is ramped.
_CUES: dict[str, tuple[float, float, str]] = {
    "led_gain": (6.0, 20.0, "no_led_response"),
    "object_size": (0.03, 0.06, "object_too_small"),
    "solidity": (0.5, 0.75, "hollow_object"),
    "specular": (8.0, 4.0, "specular_reflection"),
    "depth": (2.0, 4.0, "no_depth_contrast"),
    "falloff": (0.08, 0.2, "no_led_falloff"),
    "ambient_alignment": (0.5, 0.75, "ambient_misaligned"),
    "ambient_noise": (0.15, 0.4, "ambient_noise_free"),
    "surround": (0.06, 0.04, "flat_surround"),
    "spectrum": (0.5, 0.3, "spectral_artefacts"),
}


def _check(name: str, frame: object) -> U8:
    if not isinstance(frame, np.ndarray):
        raise PadInputError(f"{name} frame: expected a NumPy array, got {type(frame).__name__}")
    if frame.ndim != 2:
        raise PadInputError(f"{name} frame: expected a 2-D grey image, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise PadInputError(f"{name} frame: expected uint8 pixels, got {frame.dtype}")
    if frame.size == 0:
        raise PadInputError(f"{name} frame is empty")
    if min(frame.shape) < _MIN_SIDE:
        raise PadInputError(f"{name} frame {frame.shape} is too small (min side {_MIN_SIDE} px)")
    return frame


def _shrink(image: npt.NDArray[np.generic], factor: int) -> F32:
    f = np.asarray(image, dtype=np.float32)
    if factor == 1:
        return f
    size = (f.shape[1] // factor, f.shape[0] // factor)
    return np.asarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA), dtype=np.float32)


def _block_means(image: F32) -> F32:
    return _shrink(image, _BLOCK)


def _otsu(values: F32) -> float:
    """Otsu's threshold of an image, on 256 levels between its minimum and maximum."""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-6:
        return hi
    levels = np.asarray((values - lo) * (255.0 / (hi - lo)), dtype=np.float32).astype(np.uint8)
    t, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return lo + float(t) * (hi - lo) / 255.0


def _dilate(mask: BoolArray, radius: int) -> BoolArray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    out: BoolArray = cv2.dilate(mask.astype(np.uint8), k).astype(bool)
    return out


def _object_mask(gain: F32) -> tuple[BoolArray, float]:
    """Pixels lit by the LED well above the rest: Otsu on the smoothed gain, at least 6 levels."""
    smooth = np.asarray(cv2.GaussianBlur(gain, (0, 0), 1.5), dtype=np.float32)
    hi = float(np.percentile(smooth, 99.5))
    threshold = max(_otsu(np.clip(smooth, 0.0, hi)), 6.0)
    above = (smooth > threshold).astype(np.uint8)
    opened = cv2.morphologyEx(above, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return np.asarray(opened, dtype=bool), threshold


def _fill_holes(mask: BoolArray) -> BoolArray:
    """The mask with every region not connected to the frame border filled."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    out: BoolArray = mask | holes
    return out


def _noise_sigma(image: U8) -> float:
    """Pixel noise from horizontal neighbour differences on every fourth row.

    Differences above 12 grey levels (edges) are left out; sensor noise of an LED-off frame is
    a few levels at most.
    """
    rows = image[::4].astype(np.int16)
    diff = rows[:, 1:] - rows[:, :-1]
    small = diff[np.abs(diff) <= 12]
    return float(small.std() / np.sqrt(2.0)) if small.size else 0.0


def _spectral_ratio(gain: F32, mask: BoolArray) -> float:
    """High-frequency energy share of the object's LED-gain image (Fourier, windowed)."""
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    patch = gain[r0:r1, c0:c1] * mask[r0:r1, c0:c1]
    patch = patch - patch[mask[r0:r1, c0:c1]].mean() * mask[r0:r1, c0:c1]
    win = np.outer(np.hanning(patch.shape[0]), np.hanning(patch.shape[1])).astype(np.float32)
    power = np.abs(np.fft.rfft2(patch * win)) ** 2
    fy = np.fft.fftfreq(patch.shape[0])[:, None]
    fx = np.fft.rfftfreq(patch.shape[1])[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    total = float(power[radius > 0.02].sum())
    high = float(power[radius > 0.25].sum())
    return high / total if total > 0 else 0.0


def measure(
    ambient: npt.NDArray[np.uint8],
    lit: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_] | None = None,
) -> dict[str, float]:
    """The raw cue measurements of a frame pair (see the module docstring).

    Parameters
    ----------
    ambient, lit : (M, N) ndarray of uint8
        LED-off and LED-on frames of one presentation. Neither is modified.
    mask : (M, N) ndarray of bool, optional
        The presented object (e.g. a hand segmentation of the LED-on frame); by default the
        region the LED lights well above the rest.

    Returns
    -------
    dict
        Metric name -> value; NaN where a cue cannot be measured on this pair.

    Raises
    ------
    PadInputError
        Not 2-D uint8 arrays of one size, empty or smaller than 32 px a side, or a mask of
        another size or not boolean.
    """
    a8 = _check("LED-off", ambient)
    l8 = _check("LED-on", lit)
    if a8.shape != l8.shape:
        raise PadInputError(f"LED-off frame {a8.shape} and LED-on frame {l8.shape} differ in size")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise PadInputError("the mask must be a boolean NumPy array")
        if mask.shape != l8.shape:
            raise PadInputError(f"mask {mask.shape} and frames {l8.shape} differ in size")
    factor = max(1, l8.shape[1] // _WORK_WIDTH)
    a = _shrink(a8, factor)
    lf = _shrink(l8, factor)
    gain = lf - a
    nan = float("nan")
    m: dict[str, float] = dict.fromkeys(_CUES, nan)
    m["ambient_noise"] = _noise_sigma(a8)

    if mask is not None:
        obj = _shrink(mask, factor) > 0.5
    else:
        obj, _threshold = _object_mask(gain)
    m["object_size"] = float(obj.mean())
    if obj.sum() < max(16, 0.005 * obj.size):
        # Nothing the LED lights distinctly: the frame's typical gain is all there is.
        m["led_gain"] = float(np.median(gain))
        return m
    g_obj = gain[obj]
    median_gain = float(np.median(g_obj))
    m["led_gain"] = median_gain
    m["solidity"] = float(obj.sum()) / max(1.0, float(_fill_holes(obj).sum()))
    m["specular"] = float(np.percentile(g_obj, 99.5)) / max(median_gain, 1.0)

    # Depth: LED gain per unit of ambient light, object against the far background (blocks).
    near = _dilate(obj, _NEAR)
    far = ~near
    ga, aa = _block_means(gain), _block_means(a)
    ob, fb = _block_means(obj.astype(np.float32)) > 0.9, _block_means(far.astype(np.float32)) > 0.99
    if ob.sum() >= 4 and fb.sum() >= 4:
        amb_far = float(np.median(aa[fb]))
        m["ambient_background"] = amb_far
        if amb_far >= 1.0:
            ratio_obj = float(np.median(ga[ob] / np.maximum(aa[ob], 0.25)))
            ratio_far = float(np.median(ga[fb] / np.maximum(aa[fb], 0.25)))
            m["depth"] = ratio_obj / max(ratio_far, 0.05)
        # Fall-off: the LED's irradiance varies across the object while room light varies
        # little, so gain / ambient spreads across the object's blocks; an LED-off frame made by
        # scaling the LED-on frame gives one constant ratio. Needs measurable ambient light.
        lit_blocks = ob & (aa >= 1.0)
        if lit_blocks.sum() >= 8:
            r = ga[lit_blocks] / aa[lit_blocks]
            p10, p50, p90 = np.percentile(r, [10, 50, 90])
            m["falloff"] = float((p90 - p10) / max(p50, 1e-3))
        # Alignment: when the LED-off frame shows an object (ambient light on the hand), it must
        # show it where the LED-on frame does (intersection over union of the silhouettes).
        smooth_a = np.asarray(cv2.GaussianBlur(a, (0, 0), 2.0), dtype=np.float32)
        split = _otsu(smooth_a)
        upper, lower = smooth_a > split, smooth_a <= split
        if upper.any() and lower.any():
            contrast = float(smooth_a[upper].mean() - smooth_a[lower].mean())
            m["ambient_contrast"] = contrast
            if contrast >= 1.5:
                union = float((upper | obj).sum())
                m["ambient_alignment"] = float((upper & obj).sum()) / max(union, 1.0)

    ring = _dilate(obj, _NEAR) & ~_dilate(obj, _RING_START)
    if ring.sum() >= 16:
        m["surround"] = float(np.median(gain[ring])) / max(median_gain, 1.0)

    m["spectrum"] = _spectral_ratio(gain, obj)
    return m


def score_frames(
    ambient: npt.NDArray[np.uint8],
    lit: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_] | None = None,
    *,
    free_space: bool = True,
) -> PadResult:
    """Liveness score of an LED-off / LED-on frame pair, 0 (attack) to 1 (live), with reasons.

    Parameters
    ----------
    ambient, lit : (M, N) ndarray of uint8
        LED-off and LED-on frames taken back to back by a scanner that switches its
        illuminator. Neither is modified.
    mask : (M, N) ndarray of bool, optional
        The presented object; found from the LED gain when omitted.
    free_space : bool
        The scanner images the hand in free space in front of a distant background
        (contactless). False for contact / pegged devices, whose plate, pegs and casing lie at
        the hand's distance: the ``surround`` cue is then left out, and with it the only cue
        that refuses the simulated prints.

    Returns
    -------
    PadResult
        ``score < THRESHOLD`` means a suspected presentation attack; ``reasons`` say which
        physical checks failed.

    Raises
    ------
    PadInputError
        Frames that are not 2-D uint8 arrays of one size (see :func:`measure`).

    Examples
    --------
    >>> import numpy as np
    >>> frame = np.full((64, 64), 40, np.uint8)
    >>> score_frames(frame, frame).reasons
    ('no_led_response',)
    """
    metrics = measure(ambient, lit, mask)
    cues: dict[str, float] = {}
    reasons: list[str] = []
    for name, (bad, good, reason) in _CUES.items():
        if name == "surround" and not free_space:
            continue
        value = metrics[name]
        if np.isnan(value):
            # Not measurable on this pair (no object, no ambient light): no evidence either way,
            # except for the LED gain, without which there is no object at all.
            continue
        cue = _ramp(value, bad, good)
        cues[name] = cue
        if cue < 0.5:
            reasons.append(reason)
    score = min(cues.values()) if cues else 0.0
    return PadResult(round(score, 4), tuple(reasons), cues, metrics)


__all__ = ["THRESHOLD", "PadInputError", "PadResult", "measure", "score_frames"]
