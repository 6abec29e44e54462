"""Dataset layouts on disk -> the list of samples to evaluate.

Three layouts are known:

``folder``
    ``<root>/<identity>/<sample>.<ext>``. A sample named ``sN_...`` (e.g.
    ``s1_03.png``, as the simulated sensor writes) belongs to session ``N``;
    otherwise the session is unknown (``None``).
``polyu``
    PolyU multispectral palmprint database, NIR band:
    ``<root>/PPPP/S_NN.jpg`` with palm ``PPPP``, session ``S`` in {1, 2} and
    sample ``NN``. ``root`` may be the NIR folder itself or a folder that
    holds ``NIR/``.
``casia``
    CASIA multispectral palmprint database V1.0: ``SSS_H_WWW_NN.jpg`` with
    subject ``SSS``, hand ``H`` (l/r), wavelength ``WWW`` (460, 630, 700,
    850, 940 or WHT) and sample ``NN``; flat or in per-subject folders. The
    identity is subject + hand (each palm is its own identity).

    Sessions: the database note says each hand was captured in two sessions
    more than a month apart, three samples each, but it does not say which
    sample numbers belong to which session. By default the session is
    therefore ``None`` (all distinct pairs are compared, which mixes
    same-session pairs in and is optimistic). ``casia_sessions=True``
    assumes samples 1-3 are session 1 and 4-6 session 2, the capture order,
    which gives the stricter cross-session protocol; its figures are only as
    right as that assumption.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"})
LAYOUTS = ("folder", "polyu", "casia")

_SESSION_PREFIX = re.compile(r"^s(\d+)_", re.IGNORECASE)
_POLYU_NAME = re.compile(r"^([12])_(\d+)$")
_CASIA_NAME = re.compile(r"^(\d+)_([lr])_([0-9a-z]+)_(\d+)$", re.IGNORECASE)


class DatasetError(ValueError):
    """The dataset directory is missing, empty, or not in the requested layout."""


@dataclass(frozen=True)
class Sample:
    """One image of a dataset.

    Attributes
    ----------
    path : Path
        Image file.
    identity : str
        The biometric source (one palm).
    session : int or None
        Capture session, when the layout records it.
    name : str
        Sample name, unique within the identity (file name without suffix).
    """

    path: Path
    identity: str
    session: int | None
    name: str

    def sort_key(self) -> tuple[str, int, str]:
        return self.identity, -1 if self.session is None else self.session, self.name


def _images(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _require_dir(root: Path) -> Path:
    if not root.exists():
        raise DatasetError(f"dataset directory {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory")
    return root


def _nonempty(samples: list[Sample], root: Path, layout: str, expected: str) -> list[Sample]:
    if not samples:
        raise DatasetError(f"no {layout} images found under {root} (expected {expected})")
    return sorted(samples, key=Sample.sort_key)


def folder_samples(root: Path) -> list[Sample]:
    """Samples of a ``<root>/<identity>/<sample>.<ext>`` tree."""
    root = _require_dir(root)
    samples: list[Sample] = []
    for identity_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in _images(identity_dir):
            match = _SESSION_PREFIX.match(path.stem)
            session = int(match.group(1)) if match else None
            samples.append(Sample(path, identity_dir.name, session, path.stem))
    found = _nonempty(samples, root, "folder", "<root>/<identity>/<sample>.png|jpg|bmp|...")
    sessions = {s.session is None for s in found}
    if len(sessions) > 1:
        # Half-known sessions would silently drop the unlabelled samples from
        # cross-session pairs; refuse instead.
        raise DatasetError(
            f"some but not all sample names under {root} start with sN_ (session N); "
            "name all samples sN_... or none"
        )
    return found


def polyu_samples(root: Path) -> list[Sample]:
    """Samples of the PolyU multispectral palmprint NIR band (``PPPP/S_NN.jpg``)."""
    root = _require_dir(root)
    if (root / "NIR").is_dir():
        root = root / "NIR"
    samples: list[Sample] = []
    for palm_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        for path in _images(palm_dir):
            match = _POLYU_NAME.match(path.stem)
            if match:
                samples.append(Sample(path, palm_dir.name, int(match.group(1)), path.stem))
    return _nonempty(samples, root, "polyu", "<root>[/NIR]/0001/1_01.jpg ... 2_06.jpg")


def casia_samples(root: Path, wavelength: str = "850", sessions: bool = False) -> list[Sample]:
    """Samples of the CASIA multispectral palmprint database for one band.

    Parameters
    ----------
    root : Path
        Folder with the images, flat or one folder per subject.
    wavelength : str
        Band to keep: ``"460"``, ``"630"``, ``"700"``, ``"850"``, ``"940"`` or ``"WHT"``.
    sessions : bool
        Assume samples 1-3 are session 1 and 4-6 session 2 (see the module notes).
    """
    root = _require_dir(root)
    wanted = wavelength.lower()
    paths = _images(root) + [p for d in sorted(root.iterdir()) if d.is_dir() for p in _images(d)]
    samples: list[Sample] = []
    bands: set[str] = set()
    for path in paths:
        match = _CASIA_NAME.match(path.stem)
        if not match:
            continue
        subject, hand, band, number = match.groups()
        bands.add(band.lower())
        if band.lower() != wanted:
            continue
        session = (1 if int(number) <= 3 else 2) if sessions else None
        samples.append(Sample(path, f"{subject}_{hand.lower()}", session, path.stem))
    if not samples and bands:
        raise DatasetError(
            f"no CASIA images of wavelength {wavelength} under {root}; "
            f"bands present: {', '.join(sorted(bands))}"
        )
    return _nonempty(samples, root, "casia", "SSS_l_850_NN.jpg, flat or per subject")


def load_samples(
    root: Path, layout: str, *, wavelength: str = "850", casia_sessions: bool = False
) -> list[Sample]:
    """Samples of a dataset in one of :data:`LAYOUTS`, sorted by identity, session, name."""
    loaders: dict[str, Callable[[Path], list[Sample]]] = {
        "folder": folder_samples,
        "polyu": polyu_samples,
        "casia": lambda r: casia_samples(r, wavelength, casia_sessions),
    }
    if layout not in loaders:
        raise DatasetError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return loaders[layout](Path(root))


def limit_identities(samples: list[Sample], count: int) -> list[Sample]:
    """The samples of the first ``count`` identities in sorted order (deterministic)."""
    if count < 1:
        raise DatasetError(f"identity limit must be at least 1, got {count}")
    keep = set(sorted({s.identity for s in samples})[:count])
    return [s for s in samples if s.identity in keep]
