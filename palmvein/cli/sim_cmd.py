"""``palmvein sim``: the simulated NIR palm sensor (datasets and single captures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
import typer
from rich.console import Console

from capture.simulated import SimulatedSensor
from capture.simulated.dataset import write_dataset
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

GeometryOption = Annotated[
    str,
    typer.Option(
        "--geometry",
        help="contactless (full hand, 640x480) or pegged (palm on a pegged plate, 352x288).",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of all identities.")]
FingerEdgeOption = Annotated[
    str,
    typer.Option(
        "--finger-edge", help="Pegged geometry: finger gaps along the top or the left (PolyU) edge."
    ),
]
DifficultyOption = Annotated[
    str,
    typer.Option("--difficulty", help="Preset of pose/illumination/noise: easy, default, hard."),
]


def _geometry(value: str) -> Literal["contactless", "pegged"]:
    if value == "contactless":
        return "contactless"
    if value == "pegged":
        return "pegged"
    raise CliError(
        f"unknown geometry {value!r}", hint="use contactless or pegged", code=ExitCode.USAGE
    )


def _difficulty(value: str) -> Literal["easy", "default", "hard"]:
    if value == "easy":
        return "easy"
    if value == "default":
        return "default"
    if value == "hard":
        return "hard"
    raise CliError(
        f"unknown difficulty {value!r}", hint="use easy, default or hard", code=ExitCode.USAGE
    )


def _finger_edge(value: str) -> Literal["top", "left"]:
    if value == "top":
        return "top"
    if value == "left":
        return "left"
    raise CliError(f"unknown finger edge {value!r}", hint="use top or left", code=ExitCode.USAGE)


def _shape(width: int | None, height: int | None) -> tuple[int, int] | None:
    if width is None and height is None:
        return None
    if width is None or height is None:
        raise CliError("give both --width and --height", code=ExitCode.USAGE)
    return (height, width)


def dataset(
    out: Annotated[Path, typer.Argument(help="Output folder: <out>/<identity>/sS_KK.png.")],
    identities: Annotated[int, typer.Option("--identities", min=1, help="Identities.")] = 10,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="Sessions each.")] = 2,
    samples: Annotated[int, typer.Option("--samples", min=1, help="Samples per session.")] = 5,
    geometry: GeometryOption = "contactless",
    seed: SeedOption = 0,
    width: Annotated[int | None, typer.Option("--width", min=64, help="Frame width.")] = None,
    height: Annotated[int | None, typer.Option("--height", min=64, help="Frame height.")] = None,
    left: Annotated[
        bool, typer.Option("--left", help="Also left hands (folders <identity>L).")
    ] = False,
    difficulty: DifficultyOption = "default",
    finger_edge: FingerEdgeOption = "top",
) -> None:
    """Write a simulated dataset with ground truth (truth.json) in the folder layout."""
    geom = _geometry(geometry)
    hands: tuple[Literal["right", "left"], ...] = ("right", "left") if left else ("right",)
    try:
        root = write_dataset(
            out,
            identities,
            sessions=sessions,
            samples_per_session=samples,
            geometry=geom,
            seed=seed,
            shape=_shape(width, height),
            hands=hands,
            difficulty=_difficulty(difficulty),
            finger_edge=_finger_edge(finger_edge),
        )
    except ValueError as exc:
        raise CliError(str(exc), code=ExitCode.USAGE) from exc
    n = identities * len(hands) * sessions * samples
    Console().print(f"wrote {n} images and truth.json to {root}")


def show(
    out: Annotated[Path, typer.Argument(help="PNG file to write.")],
    identity: Annotated[int, typer.Option("--identity", min=0, help="Identity index.")] = 0,
    session: Annotated[int, typer.Option("--session", min=0, help="Session index.")] = 0,
    sample: Annotated[int, typer.Option("--sample", min=0, help="Sample index.")] = 0,
    geometry: GeometryOption = "contactless",
    seed: SeedOption = 0,
    left: Annotated[bool, typer.Option("--left", help="The left hand.")] = False,
    led_off: Annotated[
        bool, typer.Option("--led-off", help="The ambient (LED-off) frame.")
    ] = False,
    out_of_frame: Annotated[
        bool, typer.Option("--out-of-frame", help="Let a frame edge cut the hand.")
    ] = False,
    overlay: Annotated[
        bool, typer.Option("--overlay", help="Draw the ground truth (valleys, ROI) in colour.")
    ] = False,
    difficulty: DifficultyOption = "default",
    finger_edge: FingerEdgeOption = "top",
) -> None:
    """Write one simulated capture as PNG and print its ground truth as JSON."""
    try:
        sensor = SimulatedSensor(
            seed=seed,
            geometry=_geometry(geometry),
            difficulty=_difficulty(difficulty),
            finger_edge=_finger_edge(finger_edge),
        )
    except ValueError as exc:
        raise CliError(str(exc), code=ExitCode.USAGE) from exc
    try:
        cap = sensor.capture(
            identity,
            session,
            sample,
            hand="left" if left else "right",
            out_of_frame=out_of_frame,
            led=not led_off,
        )
    except ValueError as exc:
        raise CliError(str(exc), code=ExitCode.USAGE) from exc
    image = cap.image
    if overlay:
        image = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        corners = np.round(cap.roi_corners()[:, ::-1]).astype(np.int32)
        cv2.polylines(image, [corners], True, (0, 255, 0), 1, cv2.LINE_AA)
        for row, col in cap.valleys.as_array():
            cv2.circle(image, (round(col), round(row)), 3, (0, 0, 255), -1, cv2.LINE_AA)
    if not cv2.imwrite(str(out), image):
        raise CliError(f"could not write {out}", hint="check the folder and the .png suffix")
    typer.echo(json.dumps(cap.truth(), indent=1))


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command group to the root CLI."""
    sim = typer.Typer(
        help="Simulated NIR palm sensor: synthetic datasets with ground truth.",
        no_args_is_help=True,
    )
    sim.command("dataset")(dataset)
    sim.command("show")(show)
    app.add_typer(sim, name="sim")
