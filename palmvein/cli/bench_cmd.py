"""``palmvein bench identify``: 1:N identification speed and recall on a large gallery."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

bench_app = typer.Typer(help="Benchmarks: 1:N identification, payments.", no_args_is_help=True)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def result_table(r: dict[str, Any]) -> Table:
    cfg = r["config"]
    table = Table(
        title=f"palmvein bench identify: {r['gallery_templates']:,} templates", show_header=True
    )
    table.add_column("Measure", style="bold")
    table.add_column("Value")
    table.add_row(
        "Gallery",
        f"{r['real_subjects']} simulated palms x {cfg['enrol_captures']} captures + "
        f"{r['gallery_templates'] - cfg['enrol_captures'] * r['real_subjects']:,} background "
        "templates "
        f"(16x16-cell tiles of {cfg['bases']} other simulated palms' codes, "
        f"{cfg['flip']:.0%} of bits flipped)",
    )
    bc = r["background_check"]
    if "background_mean" in bc and "real_impostor_mean" in bc:
        table.add_row(
            "Probe vs background / real impostors",
            f"{bc['background_mean']:.4f} +/- {bc['background_std']:.4f} / "
            f"{bc['real_impostor_mean']:.4f} +/- {bc['real_impostor_std']:.4f} (compare score)",
        )
    table.add_row("Build (codes + arrays)", f"{r['build_s']:.2f} s")
    mem = r["memory"]
    table.add_row(
        "Index memory",
        f"codes {_mib(mem['codes'])} ({r['code_bytes']} B scanned per template) + "
        f"templates for re-ranking {_mib(mem['templates'])}",
    )
    lat = r["latency_ms"]
    table.add_row(
        f"Identify latency ({cfg['shards']} shards, 5 coarse / 16 full-code probe variants, {cfg['block']}-cell "
        f"blocks, coarse {cfg['coarse']}, shortlist {cfg['shortlist']}; scan kernel "
        f"{r['kernel']})",
        f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms ({int(lat['n'])} searches)",
    )
    pairs = r["kernel_pairs_ms"]
    if pairs:
        table.add_row(
            "Coarse-scan kernels, alternating probe by probe",
            ", ".join(f"{k}: p50 {v['p50']:.2f} ms" for k, v in pairs.items()),
        )
    one = r["one_stage_ms"]
    if one:
        table.add_row(
            "Same index without the coarse stage (full codes in FAISS)",
            f"p50 {one['p50']:.2f} ms, p99 {one['p99']:.2f} ms ({int(one['n'])} searches; "
            f"true palm {r['one_stage_true_top1']['hits']}/{r['one_stage_true_top1']['probes']})",
        )
    npl = r["numpy_shortlist_ms"]
    table.add_row(
        "NumPy brute-force two-stage baseline",
        f"p50 {npl['p50']:.2f} ms ({int(npl['n'])} searches)",
    )
    ex = r["exhaustive_ms"]
    table.add_row(
        f"Exhaustive exact compare (every template, C, {cfg['shards']} threads)",
        f"p50 {ex['p50']:.1f} ms ({int(ex['n'])} searches)",
    )
    floor = r["floor_ms"]
    bw = r["bandwidth_gbps"]
    table.add_row(
        "Memory-bandwidth floor",
        ", ".join(f"{floor[k]:.2f} ms at {bw[k]:.1f} GB/s ({k.replace('_', ' ')})" for k in bw)
        + f" for {_mib(floor['bytes_scanned'])} of codes",
    )
    rec = r["recall_vs_exhaustive"]
    table.add_row(
        "Recall vs exhaustive exact top-1",
        f"{rec['agree']}/{rec['probes']} = {rec['rate']:.2%} "
        f"(95 % lower bound {rec['wilson95_lower']:.2%})",
    )
    table.add_row(
        "Decisions equal to exhaustive (FPIR 0.1 %)",
        f"{rec['decisions_agree']}/{rec['probes']} (threshold {rec['threshold']:.4f}; "
        f"exhaustive search matches {rec['exhaustive_matches']} of them)",
    )
    tt = r["true_subject_top1"]
    table.add_row(
        "Index top-1 is the true palm",
        f"{tt['hits']}/{tt['probes']} = {tt['rate']:.2%} "
        f"(exhaustive: {rec['exhaustive_true_top1']}/{rec['probes']})",
    )
    if "index_lost" in tt:
        table.add_row(
            "Probes whose true palm scores above the index's answer",
            f"{tt['index_lost']}/{tt['probes']} (recall at most "
            f"{1 - tt['index_lost'] / tt['probes']:.2%}); of them at or above the match "
            f"threshold: {tt.get('index_lost_above_threshold', '-')}; exact comparison prefers "
            f"an impostor for {tt['exact_prefers_impostor']}",
        )
    m = r["machine"]
    table.add_row(
        "Machine",
        f"{m['cpus']} CPUs, load average {m['load_average'][0]:.2f} "
        "(other processes share the cores)",
    )
    return table


@bench_app.command("identify")
def identify_command(
    gallery: Annotated[
        int, typer.Option("--gallery", min=100, help="Templates in the gallery.")
    ] = 10_000,
    identities: Annotated[
        int,
        typer.Option(
            "--identities", min=1, help="Simulated palms enrolled and probed (1 capture)."
        ),
    ] = 100,
    enrol_captures: Annotated[
        int,
        typer.Option(
            "--enrol-captures", min=1, max=5,
            help="Captures enrolled per palm (the enrolment service takes 3-5 per hand).",
        ),
    ] = 3,
    bases: Annotated[
        int,
        typer.Option(
            min=1, help="Further simulated palms whose templates the background is made from."
        ),
    ] = 100,
    shortlist: Annotated[int, typer.Option(min=1, help="Templates re-ranked exactly.")] = 512,
    shards: Annotated[int, typer.Option(min=1, help="Parallel FAISS shards per query.")] = (
        os.cpu_count() or 1
    ),
    block: Annotated[
        int,
        typer.Option(
            min=1, max=8, help="Shortlist code block side in cells (2: 192-byte, 4: 48-byte codes)."
        ),
    ] = 2,
    coarse: Annotated[
        int,
        typer.Option(
            min=0,
            help="Coarse-stage candidates per shard, nearest to any probe variant (0: one "
            "stage, full codes in FAISS).",
        ),
    ] = 16384,  # matcher.index.DEFAULT_COARSE (not imported: it would load faiss at CLI start;
    # tests/palmvein/cli/test_bench_cmd.py keeps the two equal)
    flip: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.5, help="Fraction of code bits flipped in background templates."
        ),
    ] = 0.01,
    repeats: Annotated[int, typer.Option(min=1, help="Searches per probe for latency.")] = 3,
    exact_budget: Annotated[
        float,
        typer.Option(
            "--exact-budget",
            min=0.0,
            help="Seconds allowed for the exhaustive exact searches (recall reference).",
        ),
    ] = 120.0,
    seed: Annotated[int, typer.Option(min=0, help="Simulated sensor and perturbation seed.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Also write the results as JSON here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Build a gallery from simulated palms and measure 1:N identification speed and recall."""
    from matcher.benchmark import BenchConfig, run

    if enrol_captures * identities > gallery:
        raise CliError(
            f"--gallery {gallery} cannot hold {identities} palms x {enrol_captures} captures",
            hint="raise --gallery or lower --identities",
            code=ExitCode.USAGE,
        )
    config = BenchConfig(
        gallery=gallery,
        identities=identities,
        enrol_captures=enrol_captures,
        bases=bases,
        shortlist=shortlist,
        shards=shards,
        block=block,
        coarse=coarse,
        flip=flip,
        repeats=repeats,
        exact_budget_s=exact_budget,
        seed=seed,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        result = run(config, report).as_dict()
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        Console().print(result_table(result))


def register(app: typer.Typer) -> None:
    # Its commands attach themselves to bench_app when imported.
    from palmvein.cli import bench_payments  # noqa: F401

    app.add_typer(bench_app, name="bench")
