"""``palmvein eval``: error rates of the recognition engine on a dataset of palm images."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3%}"


def _point(point: dict[str, Any] | None, rate: str) -> str:
    if point is None:
        return "n/a"
    if not point["measurable"]:
        return f"not measurable ({point['reason']})"
    return (
        f"{_percent(point['false_negative_rate'])} "
        f"(threshold {point['threshold']:.4f}, {rate} {point['false_positive_rate']:.2e})"
    )


def _fixed_point(point: dict[str, Any]) -> str:
    if point["fmr"] is None:
        return "n/a"
    if not point["fmr_measurable"]:
        return (
            f"{point['threshold']:.4f}: no impostor reaches it "
            f"({point['impostor_pairs_needed']:,} pairs needed to measure)"
        )
    return (
        f"{point['threshold']:.4f}: measured FMR {point['fmr']:.2e} "
        f"({point['fmr_ratio']:,.1f} x the target), FNMR {_percent(point['fnmr'])}"
    )


def _shipped_thresholds() -> tuple[dict[float, float], str]:
    """The decision thresholds a deployment would use now, from the shipped distribution."""
    from matcher.calibration import shipped
    from matcher.errors import CalibrationError

    try:
        dist = shipped()
    except CalibrationError:
        return {}, ""
    source = (
        f"matcher.calibration.shipped(): {dist.provenance.get('source', 'unknown source')}, "
        f"{dist.count:,} impostor pairs, comparator {dist.comparator}"
    )
    return {fmr: dist.threshold_for(fmr).score for fmr in _CALIBRATION_CHECK}, source


#: Target FMRs whose shipped thresholds an evaluation checks on its own impostors: 1e-6 is
#: 1:N at FPIR 0.1 % against a gallery of 1000, the pay point's everyday case.
_CALIBRATION_CHECK = (1e-3, 1e-4, 1e-5, 1e-6)


def summary_table(report: dict[str, Any]) -> Table:
    """The headline figures of a report.json as a rich table."""
    ver = report["verification"]
    ident = report["identification"]
    enrol = report["enrolment"]
    timing = report["timing"]
    table = Table(title=f"palmvein eval: {report['dataset'].get('root', '')}", show_header=False)
    table.add_column("Figure", style="bold")
    table.add_column("Value")
    table.add_row("Algorithm", ", ".join(report["algorithm"]["ids"]) or "-")
    table.add_row("Protocol", ver.get("protocol", "-"))
    table.add_row(
        "Images / identities", f"{report['dataset']['samples']} / {report['dataset']['identities']}"
    )
    table.add_row(
        "Failures to enrol",
        f"{enrol['failures']} ({_percent(enrol['fte_rate'])}); crashes: {enrol['crashes']}",
    )
    table.add_row(
        "Genuine / impostor pairs", f"{ver['genuine_pairs']:,} / {ver['impostor_pairs']:,}"
    )
    table.add_row("EER", _percent(ver.get("eer")))
    for point in ver.get("fnmr_at_fmr", []):
        table.add_row(f"FNMR @ FMR {point['target']:g}", _point(point, "FMR"))
    closed = ident.get("closed_set", {})
    table.add_row(
        "Rank-1 (closed set)",
        f"{_percent(closed.get('rank1'))} of {closed.get('probes', 0)} probes",
    )
    open_set = ident.get("open_set", {})
    fnir = open_set.get("fnir_at_fpir")
    label = f"FNIR @ FPIR {fnir['target']:g}" if fnir else "FNIR @ FPIR"
    table.add_row(label, _point(fnir, "FPIR"))
    extract_ms = timing["median_extract_ms"]
    compare_us = timing["median_compare_us"]
    fixed = ver.get("fixed_thresholds")
    for point in fixed["points"] if fixed else []:
        table.add_row(
            f"Shipped threshold, FMR {point['target_fmr']:g}", _fixed_point(point)
        )
    table.add_row("Median extract", "n/a" if extract_ms is None else f"{extract_ms:.2f} ms")
    table.add_row(
        "Median compare",
        "n/a"
        if compare_us is None
        else f"{compare_us:.2f} us ({timing['compare_pairs_per_second']:,.0f} pairs/s)",
    )
    return table


def eval_command(
    dataset_dir: Annotated[
        Path, typer.Argument(help="Root folder of the dataset.", show_default=False)
    ],
    layout: Annotated[
        str, typer.Option("--layout", help="Dataset layout: folder, polyu or casia.")
    ] = "folder",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: ./eval-<layout>-<UTC time>)."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Extraction processes.")] = 1,
    limit_identities: Annotated[
        int | None,
        typer.Option("--limit-identities", min=1, help="Use only the first N identities."),
    ] = None,
    wavelength: Annotated[
        str, typer.Option("--wavelength", help="CASIA band: 460, 630, 700, 850, 940 or WHT.")
    ] = "850",
    casia_sessions: Annotated[
        bool,
        typer.Option(
            "--casia-sessions",
            help="CASIA: treat samples 1-3 as session 1 and 4-6 as session 2 (cross-session).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the open-set split.")] = 0,
    gzip_scores: Annotated[
        bool,
        typer.Option("--gzip-scores", help="Write scores.txt.gz (PolyU: 9M lines, ~360 MB plain)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json on stdout.")] = False,
) -> None:
    """Evaluate palm-vein recognition on a dataset: FTE, EER, FNMR@FMR, rank-1, FNIR@FPIR.

    Writes report.json, scores.txt (enrolled id, probe id, probe file, score) and det.png.
    """
    # Imported here: the engine is heavy, and other commands should start without it.
    import biometric
    from matcher.evaluation import (
        LAYOUTS,
        DatasetError,
        EvaluationError,
        evaluate,
        load_samples,
    )
    from matcher.evaluation import (
        limit_identities as limit,
    )

    if layout not in LAYOUTS:
        raise CliError(
            f"unknown layout {layout!r}",
            hint=f"use one of: {', '.join(LAYOUTS)}",
            code=ExitCode.USAGE,
        )
    try:
        samples = load_samples(
            dataset_dir, layout, wavelength=wavelength, casia_sessions=casia_sessions
        )
        if limit_identities is not None:
            samples = limit(samples, limit_identities)
    except DatasetError as exc:
        raise CliError(
            str(exc), hint="check DATASET_DIR and --layout", code=ExitCode.NOT_FOUND
        ) from exc
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out or Path(f"eval-{layout}-{stamp}")
    err = Console(stderr=True)
    err.print(
        f"{len(samples)} images of {len({s.identity for s in samples})} identities "
        f"({layout}) -> {out_dir}"
    )
    thresholds, thresholds_source = _shipped_thresholds()
    try:
        result = evaluate(
            samples,
            biometric.extract,
            biometric.compare_many,
            prepare_gallery=biometric.TemplateStack,
            out_dir=out_dir,
            jobs=jobs,
            seed=seed,
            dataset={"root": str(dataset_dir.resolve()), "layout": layout},
            config={
                "limit_identities": limit_identities,
                "wavelength": wavelength if layout == "casia" else None,
                "casia_sessions": casia_sessions if layout == "casia" else None,
                "extract": "biometric.extract",
                "compare_many": "biometric.compare_many",
            },
            console=err,
            scores_name="scores.txt.gz" if gzip_scores else "scores.txt",
            fixed_thresholds=thresholds,
            fixed_thresholds_source=thresholds_source,
        )
    except EvaluationError as exc:
        raise CliError(str(exc), hint="see the failures above", code=ExitCode.INVALID) from exc
    if as_json:
        print(json.dumps(result.report, indent=2))
        return
    Console().print(summary_table(result.report))
    crashes = result.report["enrolment"]["crashes"]
    if crashes:
        err.print(f"[bold red]{crashes} extraction crash(es): see {out_dir / 'report.json'}[/]")
    Console().print(f"Report, scores and DET plot in {out_dir}")


def register(app: typer.Typer) -> None:
    """Add ``palmvein eval`` to the root CLI."""
    app.command("eval")(eval_command)
