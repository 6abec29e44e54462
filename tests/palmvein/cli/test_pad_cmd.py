"""``palmvein eval-pad``: APCER/BPCER on simulated attacks, JSON for scripts, a plot."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from capture.simulated.pad_report import interval95
from palmvein.cli import app


def test_eval_pad_reports_rates_and_says_they_are_simulated(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval-pad", "--bona-fide", "2", "--attacks", "1", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["simulated"] is True and "nothing about" in summary["statement"]
    assert summary["per_kind"]["bona_fide"]["presentations"] == 2
    assert set(summary["apcer"]) == {"print", "screen", "injection"}
    assert 0.0 <= summary["bpcer"] <= 1.0 and summary["threshold"] == 0.5
    assert (tmp_path / "pad_scores.png").stat().st_size > 0
    assert json.loads((tmp_path / "pad_report.json").read_text()) == summary


def test_eval_pad_table_carries_the_statement() -> None:
    result = CliRunner().invoke(app, ["eval-pad", "--bona-fide", "1", "--attacks", "1"])
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.output and "BPCER" in result.output


def test_eval_pad_refuses_an_unknown_geometry() -> None:
    result = CliRunner().invoke(app, ["eval-pad", "--geometry", "flatbed"])
    assert result.exit_code != 0


def test_exact_binomial_intervals() -> None:
    assert interval95(0, 300) == (0.0, interval95(0, 300)[1])
    assert 0.012 < interval95(0, 300)[1] < 0.0123  # the "rule of three" is 3/300 = 0.01
    low, high = interval95(11, 300)
    assert low < 11 / 300 < high
