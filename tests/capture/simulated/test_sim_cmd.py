"""The ``palmvein sim`` commands (the CLI module lives in palmvein/cli/sim_cmd.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import typer
from typer.testing import CliRunner

from palmvein.cli.sim_cmd import register


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_show_writes_one_capture_and_prints_its_truth(tmp_path: Path) -> None:
    out = tmp_path / "one.png"
    result = CliRunner().invoke(
        make_app(), ["sim", "show", str(out), "--identity", "3", "--overlay"]
    )
    assert result.exit_code == 0, result.output
    image = cv2.imread(str(out))
    assert image is not None and image.shape == (480, 640, 3)
    truth = json.loads(result.output)
    assert truth["identity"] == 3 and truth["geometry"] == "contactless"


def test_dataset_command_writes_the_folder_layout(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        make_app(),
        [
            "sim",
            "dataset",
            str(tmp_path),
            "--identities",
            "2",
            "--sessions",
            "1",
            "--samples",
            "1",
            "--geometry",
            "pegged",
            "--seed",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "0001" / "s1_01.png").exists()
    assert (tmp_path / "truth.json").exists()


def test_unknown_geometry_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        make_app(), ["sim", "show", str(tmp_path / "x.png"), "--geometry", "round"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "x.png").exists()


def test_show_pegged_with_fingers_at_the_left_edge(tmp_path: Path) -> None:
    out = tmp_path / "polyu_like.png"
    result = CliRunner().invoke(
        make_app(),
        ["sim", "show", str(out), "--geometry", "pegged", "--finger-edge", "left"],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads(result.output)
    assert truth["shape"] == [288, 352]
    assert truth["valleys"]["middle_ring"][1] < 0.25 * 352


def test_fingers_at_the_left_edge_of_a_contactless_frame_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        make_app(), ["sim", "show", str(tmp_path / "x.png"), "--finger-edge", "left"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "x.png").exists()
