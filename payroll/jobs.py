"""Long payroll work as jobs: each batch is its own unit of work (committed on its own), so a
killed job resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.db import unit_of_work
from payroll import runs


def post_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    actor: str,
    now: Callable[[], datetime],
    batch_size: int = runs.DEFAULT_BATCH,
    max_batches: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> runs.RunSummary:
    """Post an approved (or interrupted) run batch by batch; returns its summary.

    With ``max_batches`` it stops after that many batches (the run stays ``posting`` and the next
    call goes on), which keeps an HTTP request short.
    """
    with unit_of_work(factory) as session:
        runs.start_posting(session, run_id, actor=actor, now=now())
    batches = 0
    while max_batches is None or batches < max_batches:
        with unit_of_work(factory) as session:
            posted = runs.post_batch(session, run_id, now=now(), batch_size=batch_size)
        if posted == 0:
            break
        batches += 1
        if on_progress is not None:
            on_progress(posted)
    with unit_of_work(factory) as session:
        runs.finish_posting(session, run_id, actor=actor, now=now())
        return runs.summarize(session, run_id, problem_limit=0)
