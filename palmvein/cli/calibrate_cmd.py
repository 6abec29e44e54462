"""``palmvein calibrate``: decision thresholds from the impostor scores of the site's own palms."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from palmvein.cli.common import JSON_HELP, console, database, load_settings, print_json, transaction
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode
from palmvein.cli.keys_cmd import _keyring
from palmvein.core.errors import Conflict

calibrate_app = typer.Typer(
    help="Decision thresholds from the impostor scores of the palms enrolled here.",
    no_args_is_help=True,
)

#: Target FMRs shown: 1e-6 is a 1:N search at FPIR 0.1 % in a gallery of 1000.
_TARGETS = (1e-3, 1e-4, 1e-5, 1e-6)


def _thresholds(calibration: Any) -> list[dict[str, Any]]:
    rows = []
    for fmr in _TARGETS:
        ref = calibration.shipped.threshold_for(fmr)
        site = calibration.site.threshold_for(fmr) if calibration.site is not None else None
        used = calibration.threshold_for(fmr)
        rows.append({
            "fmr": fmr,
            "shipped": round(ref.score, 6),
            "site": None if site is None else round(site.score, 6),
            "site_extrapolated": None if site is None else site.extrapolated,
            "used": round(used.score, 6),
            "from": "site" if site is not None and site.score > ref.score else "shipped",
        })
    return rows


def _print(calibration: Any, row: Any, as_json: bool) -> None:
    thresholds = _thresholds(calibration)
    info = None if row is None else {
        "id": row.id, "created_at": row.created_at.isoformat(), "created_by": row.created_by,
        "persons": row.owners, "hands": row.templates, "pairs": row.pairs,
    }
    if as_json:
        print_json({"algorithm": calibration.algorithm, "site_calibration": info,
                    "thresholds": thresholds})
        return
    if info is None:
        console.print("[yellow]No site calibration[/]: decisions use the shipped thresholds, "
                      "made from simulated palms (run `palmvein calibrate run`).")
    else:
        console.print(f"Site calibration #{info['id']} of {info['created_at']} by "
                      f"{info['created_by']}: {info['persons']:,} persons, {info['hands']:,} "
                      f"hands, {info['pairs']:,} impostor pairs", highlight=False)
    from rich.table import Table

    table = Table(title=f"Thresholds ({calibration.algorithm})")
    for col in ("target FMR", "shipped", "site", "used"):
        table.add_column(col, justify="right")
    for t in thresholds:
        site = "-" if t["site"] is None else (
            f"{t['site']:.4f}" + (" (tail fit)" if t["site_extrapolated"] else ""))
        table.add_row(f"{t['fmr']:g}", f"{t['shipped']:.4f}", site, f"{t['used']:.4f} ({t['from']})")
    console.print(table)


def _service(session: Any, actor: str) -> Any:
    from matcher.repository import IndexFollower
    from matcher.service import MatcherService

    return MatcherService(session, IndexFollower(_keyring()), actor=actor)


@calibrate_app.command("run")
def run_command(
    max_hands: Annotated[
        int, typer.Option("--max-hands", min=2, help="Enrolled hands compared (drawn at random).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    actor: Annotated[str, typer.Option("--actor", help="Who runs it, for the audit log.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Compare every pair of enrolled hands of different persons and store their scores as the
    site calibration: decisions then use the stricter of the shipped and the site threshold.

    Needs the palms of at least 50 persons; run it again as enrolment grows.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with database(load_settings()) as engine, transaction(engine) as session:
        service = _service(session, actor)
        with Progress("Comparing enrolled hands", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, transient=True,
                      disable=as_json) as bar:
            task = bar.add_task("calibrate", total=None)
            try:
                row = service.calibrate(
                    max_hands=max_hands, seed=seed,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except Conflict as exc:
                raise CliError(
                    str(exc),
                    hint="enrol more staff first; until then decisions use the shipped thresholds",
                    code=ExitCode.CONFLICT,
                ) from None
        _print(service.impostors, row, as_json)


@calibrate_app.command("show")
def show_command(
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """The thresholds decisions use now: shipped, site and the stricter of the two."""
    from biometric.compare import comparator
    from matcher.repository import calibration, latest_calibration_id

    with database(load_settings()) as engine, transaction(engine) as session:
        thresholds = _service(session, "cli").impostors
        site_id = latest_calibration_id(session, thresholds.algorithm, comparator().id)
        _print(thresholds, None if site_id is None else calibration(session, site_id), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(calibrate_app, name="calibrate")
