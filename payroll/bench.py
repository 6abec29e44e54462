"""Payroll benchmark: import, compute and post N generated employees, timing each stage.

Runs on the database it is given (PostgreSQL for meaningful figures), which must hold no
payroll yet: ``palmvein payroll bench --employees 100000 --url postgresql+psycopg://...``.
Every stage goes through the same services and job as production (the import from checked
records, :func:`payroll.runs.compute_run`, :func:`payroll.jobs.post_run` batch by batch), and
the ledger is verified at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from payments import ledger
from payroll import jobs, runs, service
from payroll.importer import COLUMNS, validate_rows
from payroll.models import Employee
from payroll.sample import ALGERIA_FROM, algeria_structure, employee_rows


@dataclass(frozen=True)
class BenchResult:
    employees: int
    batch_size: int
    backend: str
    generate_and_check_s: float
    import_s: float
    compute_s: float
    post_s: float
    payslips_per_s_compute: float
    payslips_per_s_post: float
    net_total_minor: int
    ledger_problems: int

    @property
    def compute_and_post_s(self) -> float:
        return self.compute_s + self.post_s


def run_benchmark(
    factory: sessionmaker[Session],
    *,
    employees: int,
    batch_size: int = runs.DEFAULT_BATCH,
    seed: int = 42,
    progress: Callable[[str, int, int], None] | None = None,
) -> BenchResult:
    """Import, compute and post ``employees`` employees; returns the measured seconds."""
    now = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
    with unit_of_work(factory) as session:
        backend = session.get_bind().dialect.name
        if session.scalar(select(func.count()).select_from(Employee)):
            raise RuntimeError("the benchmark needs a database without employees")
    start = time.perf_counter()
    rows = employee_rows(employees, seed=seed)
    records, problems = validate_rows(list(COLUMNS), rows, currency="DZD")
    assert not problems, problems[:3]
    checked = time.perf_counter()
    with unit_of_work(factory) as session:
        service.import_employees(session, records, rows=len(records), actor="bench", now=now)
        service.add_structure(
            session, grade="G12", currency="DZD", effective_from=ALGERIA_FROM,
            definition=algeria_structure(), actor="bench", now=now,
        )  # fmt: skip
        run = runs.open_run(session, period="2026-03", currency="DZD", actor="bench", now=now)
        run_id = run.id
    imported = time.perf_counter()
    done = 0

    def advance(stage: str) -> Callable[[int], None]:
        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(stage, done, employees)

        return step

    with unit_of_work(factory) as session:
        summary = runs.compute_run(
            session, run_id, actor="officer", now=now, on_progress=advance("compute")
        )
    computed = time.perf_counter()
    with unit_of_work(factory) as session:
        runs.submit_run(session, run_id, actor="officer", now=now)
        runs.approve_run(session, run_id, actor="approver", now=now)
    done = 0
    approved = time.perf_counter()
    posted = jobs.post_run(
        factory, run_id, actor="approver", now=lambda: now, batch_size=batch_size,
        on_progress=advance("post"),
    )  # fmt: skip
    finished = time.perf_counter()
    assert posted.posted == summary.payable and posted.posted_net == summary.net
    with unit_of_work(factory) as session:
        problems_found = len(ledger.verify_ledger(session))
    compute_s, post_s = computed - imported, finished - approved
    return BenchResult(
        employees=employees,
        batch_size=batch_size,
        backend=backend,
        generate_and_check_s=checked - start,
        import_s=imported - checked,
        compute_s=compute_s,
        post_s=post_s,
        payslips_per_s_compute=employees / compute_s,
        payslips_per_s_post=posted.posted / post_s,
        net_total_minor=posted.posted_net,
        ledger_problems=problems_found,
    )
