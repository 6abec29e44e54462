"""``palmvein eval-pad``: APCER and BPCER of the presentation-attack check on simulated attacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from biometric.pad import THRESHOLD
from capture.simulated.attacks import ATTACK_KINDS
from capture.simulated.pad_report import BONA_FIDE, PadReport, Presentation, run
from palmvein.cli.common import JSON_HELP
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.cli.sim_cmd import _geometry

_STATEMENT = (
    "These are SIMULATED attacks (models of prints, screens and injected frames) on a SIMULATED "
    "sensor. The rates say how the check treats those models and nothing about real attacks."
)


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"PAD at threshold {summary['threshold']:.2f} (ISO/IEC 30107-3 rates)")
    table.add_column("Presentations")
    table.add_column("n", justify="right")
    table.add_column("Rate")
    table.add_column("Variants accepted / n")
    table.add_column("Most frequent reasons")
    per_kind = summary["per_kind"]
    for kind, info in per_kind.items():
        if kind == BONA_FIDE:
            rate, (low, high) = f"BPCER {_percent(summary['bpcer'])}", summary["bpcer_ci95"]
        else:
            rate, (low, high) = (
                f"APCER {_percent(summary['apcer'][kind])}",
                summary["apcer_ci95"][kind],
            )
        rate += f"\n(95 % CI {_percent(low)}-{_percent(high)})"
        variants = ", ".join(
            f"{v} {d['accepted']}/{d['presentations']}" for v, d in info["variants"].items()
        )
        reasons = ", ".join(f"{r} {n}" for r, n in list(info["reasons"].items())[:4]) or "-"
        table.add_row(kind, str(info["presentations"]), rate, variants, reasons)
    return table


def save_score_plot(report: PadReport, path: Path) -> None:
    """Histograms of the liveness scores per presentation type, with the threshold."""
    # A bare Figure renders with the Agg canvas: no pyplot, no global backend switch.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    bins = [i / 40 for i in range(41)]
    for kind in [BONA_FIDE, *ATTACK_KINDS]:
        scores = report.scores(kind)
        if scores:
            ax.hist(
                scores, bins=bins, histtype="step", linewidth=1.6, label=f"{kind} ({len(scores)})"
            )
    ax.axvline(report.threshold, color="black", linestyle="--", label="threshold")
    ax.set_yscale("log")
    ax.set_xlabel("liveness score (0 = attack, 1 = live)")
    ax.set_ylabel("presentations")
    ax.set_title("palmvein PAD on SIMULATED attacks (says nothing about real attacks)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def eval_pad_command(
    bona_fide: Annotated[
        int, typer.Option("--bona-fide", min=1, help="Simulated live captures.")
    ] = 300,
    attacks: Annotated[
        int, typer.Option("--attacks", min=1, help="Simulated presentations per attack type.")
    ] = 300,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the population (attacks: seed + 1).")
    ] = 0,
    geometry: Annotated[str, typer.Option("--geometry", help="contactless or pegged.")] = (
        "contactless"
    ),
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="Operating threshold.")
    ] = THRESHOLD,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for pad_scores.png and pad_report.json."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """APCER per attack type and BPCER of the liveness check on simulated attacks."""
    geom = _geometry(geometry)
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {out}: {exc}", code=ExitCode.INVALID) from exc
    total = bona_fide + attacks * len(ATTACK_KINDS)
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
    ) as progress:
        task = progress.add_task("simulating and scoring", total=total)

        def advance(p: Presentation) -> None:
            progress.update(task, advance=1, description=f"scoring {p.kind}")

        report = run(
            bona_fide, attacks, seed=seed, geometry=geom, threshold=threshold, progress=advance
        )
    summary: dict[str, Any] = report.summary()
    if out is not None:
        save_score_plot(report, out / "pad_scores.png")
        (out / "pad_report.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if as_json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return
    stdout = Console()
    stdout.print(_table(summary))
    stdout.print(f"APCER (worst attack type): {_percent(summary['apcer_max'])}")
    stdout.print(f"[bold]{_STATEMENT}[/bold]")
    if out is not None:
        stdout.print(f"plot: {out / 'pad_scores.png'}; figures: {out / 'pad_report.json'}")


def register(app: typer.Typer) -> None:
    """Add ``palmvein eval-pad`` to the root CLI."""
    app.command("eval-pad")(eval_pad_command)
