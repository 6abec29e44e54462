"""Simulated presentation attacks on the NIR palm sensor, deterministic from a seed.

Three attack families, each giving the LED-off (ambient) and LED-on frame pair a scanner with
illuminator control would deliver, rendered with the same LED, blur and noise model as live
captures (:mod:`capture.simulated.optics`):

``print``
    A capture of the enrolled palm printed on paper and held in front of the sensor, the attack of
    Tome and Marcel [1]_ (a commercial printer, a contactless palm-vein sensor, 65 % of the prints
    accepted by an unprotected system) and of the finger-vein print attacks of [2]_ and [3]_.
    Paper scatters NIR diffusely, so under the LED the print shows its own grey levels: toner
    coverage turned into reflectance between the toner's and the paper's (limited dynamic range:
    the attacker's brightness matching clips at paper white and at toner black), with paper
    formation mottle and toner granularity, on a flat sheet with sharp cut edges, at the hand's
    distance (so the printed surroundings of the hand receive as much LED light as the hand).
    Halftone screens are *not* rendered: a 60-150 lpi screen has a period of 0.3-0.7 px at the
    contactless pitch (1.7 px/mm), and pixel integration times the optics' MTF leaves less than
    0.1 % of its amplitude, below one grey level.
``screen``
    A phone or tablet showing a palm image. Displays emit visible light only (LED backlight and
    phosphor, about 400-750 nm), and the scanner sees 850/940 nm through a visible-cut filter: the
    picture leaks at a few per cent at most and is the same in the LED-off and LED-on frames
    (self-lit), the glass and the dark panel reflect little NIR, the body reflects some, and the
    cover glass mirrors the LED back into the lens (a specular hot spot in the LED-on frame only).
    The pixel grid (0.05-0.25 mm) is finer than a sensor pixel and is not rendered, for the
    same reason as halftone.
``injection``
    Frames fed into the pipeline instead of captured, without the LED-off/LED-on relationship:
    ``same`` (one stored LED-on frame sent as both), ``scaled`` (a stored LED-on frame and an
    "ambient" frame made from it by scaling it down and adding noise), ``mismatched`` (a stored
    LED-on frame and a genuine LED-off frame of another capture, so another pose) and ``dark``
    (an LED-off frame of constant black without sensor noise).

These are models of attacks, not attacks: rates measured on them say how the detector treats
these models and nothing about real prints, screens or injection tools.

References
----------
.. [1] P. Tome and S. Marcel, "On the vulnerability of palm vein recognition to spoofing
       attacks", IAPR International Conference on Biometrics (ICB), 2015 (the VERA palm-vein
       spoofing data).
.. [2] P. Tome, M. Vanoni and S. Marcel, "On the vulnerability of finger vein recognition to
       spoofing", BIOSIG 2014.
.. [3] D. T. Nguyen et al., "Fake finger-vein image detection based on Fourier and wavelet
       transforms", Digital Signal Processing 23(5), 2013 (prints on A4, matte paper and film).
.. [4] ISO/IEC 30107-3:2017, Biometric presentation attack detection - Part 3: Testing and
       reporting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from capture.simulated.identity import Hand
from capture.simulated.optics import blur, led_field, sensor_readout
from capture.simulated.sensor import SimulatedSensor
from capture.simulated.texture import smooth_noise

AttackKind = Literal["print", "screen", "injection"]
InjectionMode = Literal["same", "scaled", "mismatched", "dark"]
ATTACK_KINDS: tuple[AttackKind, ...] = ("print", "screen", "injection")
INJECTION_MODES: tuple[InjectionMode, ...] = ("same", "scaled", "mismatched", "dark")

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

_KIND_CODE = {"print": 11, "screen": 12, "injection": 13}
# The stolen capture is an enrolment sample: session 0. Attacks are presented in later sessions.
_SOURCE_SESSION = 0


@dataclass(frozen=True)
class AttackCapture:
    """One attack presentation: the frame pair the scanner (or the pipeline) receives.

    Attributes
    ----------
    kind : {"print", "screen", "injection"}
    variant : str
        ``sheet``/``cutout`` (print), ``phone``/``tablet`` (screen) or the injection mode.
    ambient, lit : (rows, cols) ndarray of uint8
        The LED-off and LED-on frames.
    identity, session, sample : int
        The attacked palm and the presentation indices.
    """

    kind: AttackKind
    variant: str
    ambient: U8
    lit: U8
    identity: int
    session: int
    sample: int


@dataclass(frozen=True)
class _Photometry:
    exposure: float
    led_centre_rc: tuple[float, float]
    led_radius_px: float
    ambient: float
    defocus_sigma: float
    electrons_per_level: float
    read_noise: float


class AttackSimulator:
    """Renders attack presentations against the palms of a :class:`SimulatedSensor`.

    Parameters
    ----------
    sensor : SimulatedSensor
        The sensor the attacks are presented to (its geometry, frame size and photometric ranges);
        the attacked palms are its identities.
    seed : int
        Seed of the attacks (attack geometry, printer, paper, screen). Everything is a pure
        function of ``(seed, kind, identity, session, sample)`` and the sensor's seed.

    Examples
    --------
    >>> from capture.simulated import SimulatedSensor
    >>> attacks = AttackSimulator(SimulatedSensor(seed=0), seed=1)
    >>> a = attacks.printed(identity=3, session=1, sample=0)
    >>> a.ambient.shape == a.lit.shape == (480, 640)
    True
    """

    def __init__(self, sensor: SimulatedSensor, seed: int = 0) -> None:
        self.sensor = sensor
        self.seed = int(seed)

    def attack(
        self,
        kind: AttackKind,
        identity: int,
        session: int = 1,
        sample: int = 0,
        *,
        hand: Hand = "right",
    ) -> AttackCapture:
        """One presentation of ``kind``; the variant is drawn from the seed."""
        if kind == "print":
            return self.printed(identity, session, sample, hand=hand)
        if kind == "screen":
            return self.screen(identity, session, sample, hand=hand)
        if kind == "injection":
            return self.injected(identity, session, sample, hand=hand)
        raise ValueError(f"unknown attack kind {kind!r}; expected one of {ATTACK_KINDS}")

    # -- shared -------------------------------------------------------------------------------

    def _rng(
        self, kind: AttackKind, identity: int, session: int, sample: int
    ) -> np.random.Generator:
        if min(identity, session, sample) < 0:
            raise ValueError("identity, session and sample must be non-negative")
        return np.random.default_rng(
            [
                self.seed,
                self.sensor.seed,
                _KIND_CODE[kind],
                int(identity),
                int(session),
                int(sample),
            ]
        )

    def _source(self, rng: np.random.Generator, identity: int, hand: Hand) -> U8:
        """The stolen LED-on capture of the enrolled palm (an enrolment-session sample)."""
        sample = int(rng.integers(0, 5))
        return self.sensor.capture(identity, _SOURCE_SESSION, sample, hand=hand).image

    def _photometry(self, rng: np.random.Generator) -> _Photometry:
        """Conditions of the presentation, from the same ranges as live captures."""
        cfg = self.sensor.config
        rows, cols = self.sensor.shape
        diag = math.hypot(rows, cols)
        gain = math.exp(rng.normal(0.0, math.hypot(cfg.session_gain_sigma, cfg.sample_gain_sigma)))
        return _Photometry(
            exposure=cfg.exposure * gain,
            led_centre_rc=(
                rows / 2 + rng.normal(0.0, cfg.led_offset_sigma) * diag,
                cols / 2 + rng.normal(0.0, cfg.led_offset_sigma) * diag,
            ),
            led_radius_px=float(rng.uniform(*cfg.led_radius_range)) * diag,
            ambient=float(rng.uniform(*cfg.ambient_range)),
            defocus_sigma=float(rng.uniform(*cfg.defocus_range)),
            electrons_per_level=float(rng.uniform(*cfg.electrons_range)),
            read_noise=cfg.read_noise,
        )

    def _light(self, ph: _Photometry, rng: np.random.Generator) -> F32:
        rows, cols = self.sensor.shape
        yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
        # A flat object held slightly tilted: a small linear irradiance gradient.
        gradient = (float(rng.normal(0.0, 2e-4)), float(rng.normal(0.0, 2e-4)))
        return led_field(yy, xx, ph.led_centre_rc, ph.led_radius_px, gradient).astype(np.float32)

    def _background(self, rng: np.random.Generator) -> F32:
        """What lies far behind the presented object: dim, slightly uneven."""
        rows, cols = self.sensor.shape
        noise = smooth_noise(rng, (rows, cols), 6.0)
        return (self.sensor.config.background * (1.0 + 0.15 * noise)).astype(np.float32)

    def _expose(
        self, ph: _Photometry, led_scene: F32, ambient_scene: F32, rng: np.random.Generator
    ) -> tuple[U8, U8]:
        """LED-off and LED-on frames of a scene (signals in grey levels before readout)."""
        on = blur(led_scene + ambient_scene, ph.defocus_sigma, 0.0, 0.0)
        off = blur(ambient_scene, ph.defocus_sigma, 0.0, 0.0)
        ambient = sensor_readout(off, rng, ph.electrons_per_level, ph.read_noise)
        lit = sensor_readout(on, rng, ph.electrons_per_level, ph.read_noise)
        return ambient, lit

    def _placement(self, rng: np.random.Generator, max_shift: float) -> npt.NDArray[np.float64]:
        """A homography moving the printed/displayed picture: rotation, scale, shift, tilt."""
        rows, cols = self.sensor.shape
        a = math.radians(rng.uniform(-8.0, 8.0))
        s = rng.uniform(0.92, 1.08)
        c = np.array([cols / 2, rows / 2])
        m = np.eye(3)
        m[:2, :2] = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        m[:2, 2] = c - m[:2, :2] @ c + rng.uniform(-max_shift, max_shift, 2)
        # Out-of-plane tilt of a few degrees: a weak projective term.
        m[2, :2] = rng.normal(0.0, 3e-5, 2)
        return m

    # -- print --------------------------------------------------------------------------------

    def printed(
        self, identity: int, session: int = 1, sample: int = 0, *, hand: Hand = "right"
    ) -> AttackCapture:
        """A printed capture of the palm held in front of the sensor (``sheet`` or ``cutout``).

        The attacker prints a stolen LED-on capture of the enrolled palm life-size, brightening
        it so the printed palm's median reflects 0.55-0.80 of the NIR (clipping at paper white), on
        paper of NIR reflectance 0.65-0.85 with toner of 0.04-0.10 and a dot gain of 10-30 %.
        ``sheet``: the printed rectangle around the hand with an unprinted margin, sheet edges
        straight; ``cutout``: the sheet cut along the hand's outline 2-8 mm outside it with
        scissors (a ragged edge).
        """
        rng = self._rng("print", identity, session, sample)
        source = self._source(rng, identity, hand).astype(np.float32)
        rows, cols = self.sensor.shape
        ppm = self.sensor.config.px_per_mm
        ph = self._photometry(rng)
        variant = "sheet" if rng.random() < 0.5 else "cutout"

        paper = float(rng.uniform(0.65, 0.85))
        toner = float(rng.uniform(0.04, 0.10))
        dot_gain = float(rng.uniform(0.10, 0.30))
        # Brightness matching: the palm's median grey level should come out at a skin-like
        # reflectance (0.55-0.8); the printer cannot go above paper white or below toner black.
        hand_px = source > 40
        median = float(np.median(source[hand_px])) if hand_px.any() else 100.0
        target = np.clip(source / median * rng.uniform(0.55, 0.80), toner, paper)
        coverage = (paper - target) / (paper - toner)
        coverage = np.clip(coverage + dot_gain * coverage * (1.0 - coverage), 0.0, 1.0)
        reflectance = paper - (paper - toner) * coverage
        # Paper formation (fibre flocs, about 1 mm) and toner granularity (pixel scale).
        reflectance *= 1.0 + float(rng.uniform(0.01, 0.03)) * smooth_noise(
            rng, (rows, cols), 0.6 * ppm
        )
        reflectance *= 1.0 + float(rng.uniform(0.005, 0.02)) * rng.standard_normal(
            (rows, cols)
        ).astype(np.float32)

        # The paper's extent in source coordinates.
        support = np.zeros((rows, cols), np.float32)
        ys, xs = np.nonzero(hand_px)
        if variant == "sheet":
            pad = rng.uniform(10.0, 30.0) * ppm
            y0, y1 = ys.min() - pad, ys.max() + pad
            x0, x1 = xs.min() - pad, xs.max() + pad
            margin = rng.uniform(4.0, 6.0) * ppm  # printers leave the sheet's edge unprinted
            printed = np.zeros((rows, cols), np.float32)
            cv2.rectangle(printed, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, -1)
            cv2.rectangle(
                support,
                (int(x0 - margin), int(y0 - margin)),
                (int(x1 + margin), int(y1 + margin)),
                1.0,
                -1,
            )
            reflectance = np.where(printed > 0, reflectance, paper).astype(np.float32)
        else:
            hand_mask = cv2.morphologyEx(
                hand_px.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
            )
            dist = cv2.distanceTransform(1 - hand_mask, cv2.DIST_L2, 5)
            margin = rng.uniform(2.0, 8.0) * ppm
            ragged = 1.5 * ppm * smooth_noise(rng, (rows, cols), 2.0 * ppm)
            # Scissors follow the outline roughly but never cut into the hand.
            support = ((dist < margin + ragged) | (hand_mask > 0)).astype(np.float32)

        # Presented flat at the working distance, slightly moved and tilted.
        h = self._placement(rng, 25.0)
        warp = (cols, rows)
        refl = cv2.warpPerspective(reflectance, h, warp, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(support, h, warp, flags=cv2.INTER_LINEAR)
        light = self._light(ph, rng)
        background = self._background(rng)
        led_scene = ph.exposure * light * (alpha * refl + (1.0 - alpha) * background)
        # The same ambient model as live captures: a reflectance-independent share (stray light)
        # plus the light the object reflects.
        ambient_scene = ph.ambient * (0.35 + 0.6 * alpha * refl)
        ambient, lit = self._expose(
            ph, led_scene.astype(np.float32), ambient_scene.astype(np.float32), rng
        )
        return AttackCapture("print", variant, ambient, lit, identity, session, sample)

    # -- screen -------------------------------------------------------------------------------

    def screen(
        self, identity: int, session: int = 1, sample: int = 0, *, hand: Hand = "right"
    ) -> AttackCapture:
        """A phone or tablet showing a capture of the palm, held at the working distance.

        The picture's NIR leak is 0-3 % of a white skin-level signal and identical in both frames
        (the display lights itself); the panel reflects 2-6 % of the LED light, the body 10-30 %,
        and the cover glass returns a specular hot spot of the LED in the LED-on frame only.
        """
        rng = self._rng("screen", identity, session, sample)
        source = self._source(rng, identity, hand).astype(np.float32)
        rows, cols = self.sensor.shape
        ppm = self.sensor.config.px_per_mm
        ph = self._photometry(rng)
        variant = "phone" if rng.random() < 0.5 else "tablet"
        w_mm, h_mm = (70.0, 150.0) if variant == "phone" else (160.0, 240.0)
        body_w, body_h = w_mm * ppm, h_mm * ppm
        bezel = rng.uniform(3.0, 8.0) * ppm
        cy, cx = rows / 2 + rng.uniform(-40, 40), cols / 2 + rng.uniform(-60, 60)

        body = np.zeros((rows, cols), np.float32)
        panel = np.zeros((rows, cols), np.float32)
        cv2.rectangle(
            body,
            (int(cx - body_w / 2), int(cy - body_h / 2)),
            (int(cx + body_w / 2), int(cy + body_h / 2)),
            1.0,
            -1,
        )
        px0, py0 = cx - body_w / 2 + bezel, cy - body_h / 2 + bezel
        pw, phh = body_w - 2 * bezel, body_h - 2 * bezel
        cv2.rectangle(panel, (int(px0), int(py0)), (int(px0 + pw), int(py0 + phh)), 1.0, -1)
        # The palm picture scaled to fill the panel.
        k = min(pw / cols, phh / rows)
        fit = np.array([[k, 0.0, px0 + (pw - k * cols) / 2], [0.0, k, py0 + (phh - k * rows) / 2]])
        picture = cv2.warpAffine(source / 255.0, fit, (cols, rows), flags=cv2.INTER_AREA)
        h = self._placement(rng, 15.0)
        body = np.asarray(cv2.warpPerspective(body, h, (cols, rows)), dtype=np.float32)
        panel = np.asarray(cv2.warpPerspective(panel, h, (cols, rows)), dtype=np.float32)
        picture = cv2.warpPerspective(picture.astype(np.float32), h, (cols, rows))

        light = self._light(ph, rng)
        background = self._background(rng)
        panel_r = float(rng.uniform(0.02, 0.06))
        body_r = float(rng.uniform(0.10, 0.30))
        surface = panel * panel_r + (body - panel) * body_r + (1.0 - body) * background
        led_scene = ph.exposure * light * surface
        # Specular reflection of the LED ring in the cover glass, where the glass faces the lens.
        yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
        sy = ph.led_centre_rc[0] + rng.normal(0.0, 30.0)
        sx = ph.led_centre_rc[1] + rng.normal(0.0, 30.0)
        spot_sigma = float(rng.uniform(6.0, 20.0))
        spot = np.exp(-((yy - sy) ** 2 + (xx - sx) ** 2) / (2 * spot_sigma**2))
        led_scene += float(rng.uniform(80.0, 400.0)) * spot * panel
        leak = float(rng.uniform(0.0, 0.03)) * self.sensor.config.exposure
        emitted = leak * picture * panel
        ambient_scene = ph.ambient * (0.35 + 0.6 * surface) + emitted
        ambient, lit = self._expose(
            ph, led_scene.astype(np.float32), ambient_scene.astype(np.float32), rng
        )
        return AttackCapture("screen", variant, ambient, lit, identity, session, sample)

    # -- injection ----------------------------------------------------------------------------

    def injected(
        self,
        identity: int,
        session: int = 1,
        sample: int = 0,
        *,
        hand: Hand = "right",
        mode: InjectionMode | None = None,
    ) -> AttackCapture:
        """Stored frames fed to the pipeline in place of a capture (``mode`` drawn if None)."""
        rng = self._rng("injection", identity, session, sample)
        if mode is None:
            mode = INJECTION_MODES[int(rng.integers(0, len(INJECTION_MODES)))]
        if mode not in INJECTION_MODES:
            raise ValueError(f"unknown injection mode {mode!r}; expected one of {INJECTION_MODES}")
        stolen = int(rng.integers(0, 5))
        lit = self.sensor.capture(identity, _SOURCE_SESSION, stolen, hand=hand).image
        if mode == "same":
            ambient = lit.copy()
        elif mode == "scaled":
            k = float(rng.uniform(0.02, 0.10))
            fake = k * lit.astype(np.float32) + rng.normal(0.0, 1.2, lit.shape)
            ambient = np.clip(np.rint(fake), 0, 255).astype(np.uint8)
        elif mode == "mismatched":
            other = (stolen + 1 + int(rng.integers(0, 4))) % 5
            ambient = self.sensor.capture(
                identity, _SOURCE_SESSION, other, hand=hand, led=False
            ).image
        else:
            ambient = np.full(lit.shape, int(rng.integers(0, 4)), np.uint8)
        return AttackCapture("injection", mode, ambient, np.array(lit), identity, session, sample)


__all__ = [
    "ATTACK_KINDS",
    "INJECTION_MODES",
    "AttackCapture",
    "AttackKind",
    "AttackSimulator",
    "InjectionMode",
]
