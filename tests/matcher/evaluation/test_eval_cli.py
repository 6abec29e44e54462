"""``palmvein eval`` end to end, with the engine replaced by the toy extractor.

(Kept beside the evaluation tests; it belongs in tests/palmvein/cli/ once that is shared.)
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import biometric
from palmvein.cli import eval_cmd
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

from .test_runner import toy_compare_many, toy_extract


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(biometric, "extract", toy_extract)
    monkeypatch.setattr(biometric, "compare_many", toy_compare_many)
    monkeypatch.setattr(biometric, "TemplateStack", list)
    root = typer.Typer()
    eval_cmd.register(root)
    root.command("other")(lambda: None)  # a group, so "eval" is a subcommand as in palmvein
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "palms"
    for k in range(3):
        for name, offset in (("s1_01", 0), ("s2_01", 1), ("s2_02", -1)):
            path = root / f"person{k}" / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.full((10, 10), 60 + 10 * k + offset, np.uint8))
    return root


def test_eval_prints_the_summary_and_writes_the_outputs(app, dataset, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["eval", str(dataset), "--layout", "folder", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "EER" in result.output and "0.000%" in result.output
    assert "not measurable" in result.output  # 12 impostor pairs cannot support FMR 1e-3
    assert {p.name for p in out.iterdir()} == {"report.json", "scores.txt", "det.png"}


def test_eval_json_is_the_report(app, dataset, tmp_path):
    out = tmp_path / "out"
    args = ["eval", str(dataset), "--out", str(out), "--json", "--gzip-scores"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    start = result.stdout.index("{")
    report = json.loads(result.stdout[start:])
    assert report == json.loads((out / "report.json").read_text())
    assert report["verification"]["genuine_pairs"] == 3 * 2
    assert report["outputs"]["scores"] == "scores.txt.gz"
    assert (out / "scores.txt.gz").exists()


def test_eval_limits_identities(app, dataset, tmp_path):
    args = ["eval", str(dataset), "--out", str(tmp_path / "o"), "--json", "--limit-identities", "2"]
    result = CliRunner().invoke(app, args)
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["dataset"]["identities"] == 2 and report["config"]["limit_identities"] == 2


def test_eval_of_an_empty_folder_is_a_clear_error(app, tmp_path):
    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--layout", "polyu"])
    assert isinstance(result.exception, CliError)
    assert result.exception.code == ExitCode.NOT_FOUND
    assert "no polyu images" in result.exception.message


def test_eval_refuses_an_unknown_layout(app, dataset):
    result = CliRunner().invoke(app, ["eval", str(dataset), "--layout", "lfw"])
    assert isinstance(result.exception, CliError) and result.exception.code == ExitCode.USAGE


def test_eval_checks_the_shipped_thresholds_on_the_datasets_impostors(app, dataset, tmp_path):
    from matcher.calibration import shipped

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(dataset), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    fixed = report["verification"]["fixed_thresholds"]
    assert fixed["source"].startswith("matcher.calibration.shipped()")
    assert [p["target_fmr"] for p in fixed["points"]] == [1e-3, 1e-4, 1e-5, 1e-6]
    dist = shipped()
    assert fixed["points"][1]["threshold"] == dist.threshold_for(1e-4).score
    # The toy's scores (0.96-1.0) are all above the engine's thresholds (about 0.6): every
    # impostor pair passes, which the report must say rather than hide.
    assert all(p["fmr"] == 1.0 and p["fmr_measurable"] for p in fixed["points"])
    table = CliRunner().invoke(app, ["eval", str(dataset), "--out", str(tmp_path / "o2")])
    assert "Shipped threshold, FMR 1e-06" in table.output
