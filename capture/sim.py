"""The simulated NIR palm sensor (:mod:`capture.simulated`) as a scanner and as an emulated device's
frame source.

A scanner presents one palm at a time (``identity``, ``hand``, ``session``); every LED-on frame is a
new sample (new pose, blur and noise) of that palm, and an LED-off frame shows the ambient light of
the sample the next LED-on frame will show, as a real scanner's off/on pair taken a few
milliseconds apart.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from capture.scanner import DeviceInfo, Frame, ScannerBase, ScannerError
from capture.simulated import SimulatedSensor
from capture.usb.protocol import DEFAULT_LED_INTENSITY

Hand = Literal["right", "left"]


class SimulatedFrameSource:
    """Frames of one presented palm from a :class:`SimulatedSensor`.

    Called as ``source(led_on, intensity)`` (the emulated USB device's frame-source signature).
    The LED drive level scales the illuminator's share of the frame: at level ``L`` the frame is
    ``ambient + (lit - ambient) * L / 200``, 200 being the scanner's power-on level.

    Parameters
    ----------
    sensor : SimulatedSensor
    identity, session : int
        The palm presented and the session (sessions differ in exposure, LED placement, focus).
    hand : {"right", "left"}
    """

    def __init__(
        self, sensor: SimulatedSensor, identity: int = 0, session: int = 0, hand: Hand = "right"
    ) -> None:
        self.sensor = sensor
        self.present(identity, session, hand)

    def present(self, identity: int, session: int = 0, hand: Hand = "right") -> None:
        """Put another palm in front of the sensor; samples start again from 0."""
        self.identity, self.session, self.hand = identity, session, hand
        self.sample = 0

    def _render(self, led: bool) -> npt.NDArray[np.uint8]:
        capture = self.sensor.capture(
            self.identity, self.session, self.sample, hand=self.hand, led=led
        )
        return np.asarray(capture.image, dtype=np.uint8)

    def __call__(self, led_on: bool, intensity: int) -> npt.NDArray[np.uint8]:
        if not led_on:
            return self._render(led=False)
        lit = self._render(led=True)
        if intensity != DEFAULT_LED_INTENSITY:
            ambient = self._render(led=False).astype(np.float32)
            scaled = ambient + (lit.astype(np.float32) - ambient) * (
                intensity / DEFAULT_LED_INTENSITY
            )
            lit = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        self.sample += 1
        return lit


class SimulatedScanner(ScannerBase):
    """A scanner backed directly by the simulated sensor (no USB in between).

    Parameters
    ----------
    seed : int
        Seed of the simulated population.
    geometry : {"contactless", "pegged"}
    identity, session, hand
        The palm presented first; change it with :meth:`present`.
    shape : (rows, cols), optional
        Frame size; the sensor's default for the geometry when omitted.
    """

    def __init__(
        self,
        seed: int = 0,
        geometry: Literal["contactless", "pegged"] = "contactless",
        *,
        identity: int = 0,
        session: int = 0,
        hand: Hand = "right",
        shape: tuple[int, int] | None = None,
    ) -> None:
        self.seed = seed
        self.geometry = geometry
        self._shape = shape
        self._initial = (identity, session, hand)
        self._source: SimulatedFrameSource | None = None
        self._sequence = 0

    def open(self) -> None:
        if self._source is None:
            sensor = SimulatedSensor(seed=self.seed, geometry=self.geometry, shape=self._shape)
            self._source = SimulatedFrameSource(sensor, *self._initial)

    def close(self) -> None:
        self._source = None

    def present(self, identity: int, session: int = 0, hand: Hand = "right") -> None:
        """Present another palm (see :meth:`SimulatedFrameSource.present`)."""
        self._initial = (identity, session, hand)
        if self._source is not None:
            self._source.present(identity, session, hand)

    @property
    def info(self) -> DeviceInfo:
        source = self._require_source()
        rows, cols = source.sensor.shape
        return DeviceInfo(
            model=f"simulated NIR sensor ({self.geometry})",
            firmware="",
            serial=f"sim-{self.seed}-{self.geometry}",
            width=cols,
            height=rows,
            wavelength_nm=850,
            led_control=True,
            kind="sim",
        )

    def capture(self, led: bool = True) -> Frame:
        source = self._require_source()
        image = source(led, DEFAULT_LED_INTENSITY)
        self._sequence += 1
        return Frame(
            image=image,
            led_on=led,
            sequence=self._sequence,
            led_intensity=DEFAULT_LED_INTENSITY if led else 0,
        )

    def _require_source(self) -> SimulatedFrameSource:
        if self._source is None:
            raise ScannerError("the simulated scanner is not open; call open() first")
        return self._source
