"""Writing simulated captures to disk in the ``folder`` dataset layout.

Layout::

    <root>/<identity>/s<S>_<KK>.png      identity folder "0000", "0001", ... (0-based index);
                                         S = session + 1, KK = sample + 1 (two digits)
    <root>/<identity>L/s<S>_<KK>.png     left hands, when requested (a different identity)
    <root>/truth.json                    sensor settings and the ground truth of every file

So ``0007/s2_03.png`` is ``SimulatedSensor.capture(7, session=1, sample=2)``. Evaluation tools read
the session from the ``s<S>_`` prefix.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from capture.simulated.config import Difficulty, FingerEdge, Geometry
from capture.simulated.identity import Hand
from capture.simulated.sensor import ROI_OFFSET_FACTOR, ROI_SIDE_FACTOR, SimulatedSensor


def sample_name(session: int, sample: int) -> str:
    """File name of a capture: ``s<session+1>_<sample+1:02d>.png``."""
    return f"s{session + 1}_{sample + 1:02d}.png"


def identity_folder(identity: int, hand: Hand = "right") -> str:
    """Folder name of an identity: ``0007`` (right hand) or ``0007L`` (left hand)."""
    return f"{identity:04d}" + ("L" if hand == "left" else "")


def write_dataset(
    root: str | Path,
    n_identities: int,
    sessions: int = 2,
    samples_per_session: int = 5,
    geometry: Geometry = "contactless",
    seed: int = 0,
    *,
    shape: tuple[int, int] | None = None,
    hands: Sequence[Hand] = ("right",),
    first_identity: int = 0,
    difficulty: Difficulty = "default",
    finger_edge: FingerEdge = "top",
    progress: bool = True,
) -> Path:
    """Render a dataset of simulated captures (see the module docstring for the layout).

    Parameters
    ----------
    root : str or Path
        Output folder (created; existing files with the same names are overwritten).
    n_identities : int
        Number of identities, indices ``first_identity .. first_identity + n_identities - 1``.
    sessions, samples_per_session : int
        Captures per identity = ``sessions * samples_per_session``.
    geometry : {"contactless", "pegged"}
    seed : int
    shape : tuple of int, optional
        Frame (rows, cols); the geometry's default when omitted.
    hands : sequence of {"right", "left"}
        Which hands to render; each hand is its own identity folder.
    first_identity : int
        Index of the first identity (to extend a dataset or split work).
    difficulty : {"default", "easy", "hard"}
        Preset of the sensor's knobs (:func:`capture.simulated.config.default_config`).
    finger_edge : {"top", "left"}
        Pegged geometry only: the edge of the finger gaps ("left" is the PolyU layout).
    progress : bool
        Show a rich progress bar.

    Returns
    -------
    Path
        ``root``.
    """
    if n_identities < 1 or sessions < 1 or samples_per_session < 1:
        raise ValueError("n_identities, sessions and samples_per_session must be positive")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sensor = SimulatedSensor(
        seed=seed,
        geometry=geometry,
        shape=shape,
        difficulty=difficulty,
        finger_edge=finger_edge,
        cache_size=2,
    )
    jobs = [
        (i, hand, ses, k)
        for i in range(first_identity, first_identity + n_identities)
        for hand in hands
        for ses in range(sessions)
        for k in range(samples_per_session)
    ]
    images: dict[str, Any] = {}
    columns = (
        TextColumn("[bold]simulating {task.fields[geometry]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("render", total=len(jobs), geometry=geometry)
        for i, hand, ses, k in jobs:
            cap = sensor.capture(i, ses, k, hand=hand)
            folder = root / identity_folder(i, hand)
            folder.mkdir(exist_ok=True)
            rel = f"{folder.name}/{sample_name(ses, k)}"
            if not cv2.imwrite(str(root / rel), cap.image):
                raise OSError(f"could not write {root / rel}")
            images[rel] = cap.truth()
            bar.advance(task)
    truth = {
        "generator": "capture.simulated",
        "seed": seed,
        "geometry": geometry,
        "difficulty": difficulty,
        "finger_edge": finger_edge,
        "shape": list(sensor.shape),
        "identities": n_identities,
        "first_identity": first_identity,
        "sessions": sessions,
        "samples_per_session": samples_per_session,
        "hands": list(hands),
        "roi_side_factor": ROI_SIDE_FACTOR,
        "roi_offset_factor": ROI_OFFSET_FACTOR,
        "config": dataclasses.asdict(sensor.config),
        "images": images,
    }
    (root / "truth.json").write_text(json.dumps(truth, indent=1))
    return root
