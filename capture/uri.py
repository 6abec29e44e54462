"""Scanners named by URI, as given to ``--scanner`` and in configuration.

==========================================================  =========================================
URI                                                         Scanner
==========================================================  =========================================
``usb://`` or ``usb://?serial=PV-0042&timeout_ms=1000``     PV-NIR USB scanner (libusb)
``usb-emulated://?serial=PV-EMU-0001&seed=0&faults=...``    the same driver on an emulated device
``uvc://0`` or ``uvc:///dev/video2?width=640&height=480``   UVC NIR camera through OpenCV
``folder:///data/palms`` or ``folder://relative/dir``       images of a folder, replayed in order
``sim://?seed=0&geometry=contactless&identity=3``           the simulated NIR sensor, no USB
==========================================================  =========================================

``usb-emulated`` also takes ``count`` (how many emulated scanners are on the bus; serials
``PV-EMU-0001`` ... unless ``serials=A,B`` names them), ``width``, ``height``, ``wavelength``,
``faults`` (see :meth:`capture.usb.emulated.Faults.parse`, e.g. ``faults=corrupt:2,stall:1``) and
``source``: ``sim`` (default, the simulated sensor) or ``synthetic`` (a crude, fast test hand).
``hand_at`` (mm) makes the emulated proximity sensor report a hand held at that distance (without
it no hand is ever seen, so a capture session waiting for the hand times out).
``sim`` and ``usb-emulated`` with ``source=sim`` take the presented palm: ``identity``, ``session``,
``hand`` (right/left), ``geometry`` (contactless/pegged); ``sim`` also ``width`` and ``height``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from capture.scanner import DeviceInfo, ScannerBase

DEFAULT_SCANNER_URI = "usb-emulated://"
SCHEMES = ("usb", "usb-emulated", "uvc", "folder", "sim")


class ScannerUriError(ValueError):
    """A scanner URI that cannot be understood."""


@dataclass(frozen=True)
class _Uri:
    text: str
    scheme: str
    location: str
    params: dict[str, str]

    def take(self, name: str, default: str | None = None) -> str | None:
        return self.params.pop(name, default)

    def take_int(self, name: str, default: int | None = None) -> int | None:
        value = self.params.pop(name, None)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise ScannerUriError(f"{name}={value!r} in {self.text!r} is not an integer") from exc

    def done(self) -> None:
        if self.params:
            unknown = ", ".join(sorted(self.params))
            raise ScannerUriError(f"unknown parameter(s) {unknown} in scanner URI {self.text!r}")


def _parse(uri: str) -> _Uri:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ScannerUriError(
            f"scanner URI {uri!r} has no scheme; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    location, _, query = rest.partition("?")
    params: dict[str, str] = {}
    for name, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        if len(values) > 1:
            raise ScannerUriError(f"parameter {name} is given twice in scanner URI {uri!r}")
        params[name] = values[0]
    return _Uri(uri, scheme.lower(), unquote(location), params)


def _emulated_backend(uri: _Uri) -> Any:
    from capture.usb.emulated import (
        EmulatedBackend,
        EmulatedScanner,
        Faults,
        SyntheticPalm,
        simulated_frame_source,
    )

    count = uri.take_int("count", 1)
    if count is None or not 1 <= count <= 127:
        raise ScannerUriError(f"count in {uri.text!r} must be 1-127 (devices on one USB bus)")
    serials_param = uri.take("serials")
    serial = uri.params.get("serial")
    if serials_param:
        serials = [s for s in serials_param.split(",") if s]
    elif serial is not None and count == 1:
        serials = [serial]
    else:
        serials = [f"PV-EMU-{k:04d}" for k in range(1, count + 1)]
    seed = uri.take_int("seed", 0)
    if seed is None or seed < 0:
        raise ScannerUriError(f"seed in {uri.text!r} must be non-negative")
    options: dict[str, Any] = {}
    for name, key in (("width", "width"), ("height", "height"), ("wavelength", "wavelength_nm")):
        value = uri.take_int(name)
        if value is not None:
            if not 1 <= value <= 0xFFFF:
                raise ScannerUriError(f"{name}={value} in {uri.text!r} must be 1-65535")
            options[key] = value
    hand_at = uri.take_int("hand_at")
    if hand_at is not None:
        if not 1 <= hand_at <= 0xFFFE:
            raise ScannerUriError(f"hand_at={hand_at} in {uri.text!r} must be 1-65534 mm")
        options.update(distance_mm=hand_at, hand_present=True)
    faults_text = uri.take("faults", "") or ""
    source = uri.take("source", "sim")
    if source not in ("sim", "synthetic"):
        raise ScannerUriError(f"source={source!r} in {uri.text!r}: use sim or synthetic")
    presented = _presented_palm(uri)
    width, height = options.get("width", 640), options.get("height", 480)
    devices = []
    for k, device_serial in enumerate(serials):
        try:
            faults = Faults.parse(faults_text)
        except ValueError as exc:
            raise ScannerUriError(f"{exc} (in {uri.text!r})") from exc
        try:
            frame_source = (
                simulated_frame_source(width, height, seed + k, **presented)
                if source == "sim"
                else SyntheticPalm(width, height, seed + k)
            )
            devices.append(
                EmulatedScanner(
                    serial=device_serial,
                    seed=seed + k,
                    faults=faults,
                    frame_source=frame_source,
                    **options,
                )
            )
        except ValueError as exc:
            raise ScannerUriError(f"{exc} (in {uri.text!r})") from exc
    return EmulatedBackend(devices)


def _presented_palm(uri: _Uri) -> dict[str, Any]:
    """identity, session, hand and geometry parameters of the simulated sensor."""
    hand = uri.take("hand", "right")
    geometry = uri.take("geometry", "contactless")
    if hand not in ("right", "left"):
        raise ScannerUriError(f"hand={hand!r} in {uri.text!r}: use right or left")
    if geometry not in ("contactless", "pegged"):
        raise ScannerUriError(f"geometry={geometry!r} in {uri.text!r}: use contactless or pegged")
    identity, session = uri.take_int("identity", 0), uri.take_int("session", 0)
    if identity is None or session is None or identity < 0 or session < 0:
        raise ScannerUriError(f"identity and session in {uri.text!r} must be non-negative")
    return {"identity": identity, "session": session, "hand": hand, "geometry": geometry}


def _sim(uri: _Uri) -> ScannerBase:
    from capture.sim import SimulatedScanner

    if uri.location:
        raise ScannerUriError(f"sim:// takes no host or path (got {uri.location!r})")
    seed = uri.take_int("seed", 0)
    if seed is None or seed < 0:
        raise ScannerUriError(f"seed in {uri.text!r} must be non-negative")
    width, height = uri.take_int("width"), uri.take_int("height")
    if (width is None) != (height is None):
        raise ScannerUriError(f"give both width and height or neither in {uri.text!r}")
    presented = _presented_palm(uri)
    uri.done()
    shape = (height, width) if width is not None and height is not None else None
    return SimulatedScanner(seed, shape=shape, **presented)


def _usb(uri: _Uri, backend: Any) -> ScannerBase:
    from capture.usb.driver import DEFAULT_TIMEOUT_MS, UsbScanner

    if uri.location:
        raise ScannerUriError(
            f"{uri.scheme}:// takes no host or path (got {uri.location!r}); select a scanner "
            "with ?serial="
        )
    serial = uri.take("serial")
    timeout_ms = uri.take_int("timeout_ms", DEFAULT_TIMEOUT_MS) or DEFAULT_TIMEOUT_MS
    retries = uri.take_int("retries", 3)
    uri.done()
    return UsbScanner(serial, backend=backend, timeout_ms=timeout_ms, frame_retries=retries or 0)


def _uvc(uri: _Uri) -> ScannerBase:
    from capture.uvc import UvcScanner

    location = uri.location or "0"
    device: int | str = int(location) if location.isdigit() else location
    width, height = uri.take_int("width"), uri.take_int("height")
    wavelength = uri.take_int("wavelength", 850) or 850
    uri.done()
    return UvcScanner(device, width=width, height=height, wavelength_nm=wavelength)


def _folder(uri: _Uri) -> ScannerBase:
    from capture.folder import FolderScanner

    if not uri.location:
        raise ScannerUriError(f"folder URI {uri.text!r} names no folder; e.g. folder:///data/palms")
    recursive = (uri.take("recursive", "1") or "1") not in ("0", "false", "no")
    uri.done()
    return FolderScanner(uri.location, recursive=recursive)


_BUILDERS: dict[str, Callable[[_Uri], ScannerBase]] = {
    "usb": lambda uri: _usb(uri, None),
    "usb-emulated": lambda uri: _usb(uri, _emulated_backend(uri)),
    "uvc": _uvc,
    "folder": _folder,
    "sim": _sim,
}


def scanner_from_uri(uri: str) -> ScannerBase:
    """Build (but do not open) the scanner a URI names.

    Parameters
    ----------
    uri : str
        See the module documentation for the schemes and their parameters.

    Returns
    -------
    ScannerBase
        An unopened scanner implementing :class:`capture.scanner.Scanner`.

    Raises
    ------
    ScannerUriError
        Unknown scheme or parameter, or a malformed value.
    """
    parsed = _parse(uri)
    builder = _BUILDERS.get(parsed.scheme)
    if builder is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ScannerUriError(f"unknown scanner scheme {parsed.scheme!r} in {uri!r}; use {known}")
    return builder(parsed)


def list_scanners(uri: str = DEFAULT_SCANNER_URI) -> list[DeviceInfo]:
    """Every scanner reachable through a URI's transport.

    For ``usb`` and ``usb-emulated`` this is every PV-NIR scanner on the bus (a ``serial``
    parameter narrows the list to that scanner); for the other schemes it is the one scanner
    the URI names, opened briefly to read its information.
    """
    parsed = _parse(uri)
    if parsed.scheme in ("usb", "usb-emulated"):
        from capture.usb.driver import UsbScanner

        backend = _emulated_backend(parsed) if parsed.scheme == "usb-emulated" else None
        serial = parsed.take("serial")
        parsed.take("timeout_ms")
        parsed.take("retries")
        parsed.done()
        found = UsbScanner.list_devices(backend)
        return [info for info in found if serial is None or info.serial == serial]
    scanner = scanner_from_uri(uri)
    with scanner:
        return [scanner.info]
