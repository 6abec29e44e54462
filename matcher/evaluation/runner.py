"""Technology evaluation of an extractor and comparator on a dataset (ISO/IEC 19795-1).

Extraction, scoring and evaluation are separate stages, as in Idiap's bob:

1. **Extraction**: every image is read (grey) and turned into a template.
   Images that cannot be read, or that the extractor rejects with one of
   ``failure_types`` (:class:`biometric.BiometricError` by default), are
   failures to enrol with their reason; any other exception is a *crash*
   (a bug in the extractor), counted and reported separately.
2. **Scoring**: comparisons vectorised per probe (``compare_many``), streamed
   to a 4-column score file (:mod:`matcher.evaluation.scores`).
3. **Evaluation**: :mod:`matcher.evaluation.metrics` on the scores.

Protocols
---------
*Verification.* When the layout records sessions, every sample of the first
session is compared with every sample of the later sessions (genuine *and*
impostor pairs are cross-session); otherwise all distinct pairs ``i < j``.
*Closed-set identification.* Gallery = the first session's templates,
probes = the later sessions' (without sessions: the first half of each
identity's samples, by name, at least one, are the gallery; the rest are
probes). An identity's score is the maximum over its gallery samples.
*Open-set identification.* The gallery identities are split in half by a
seeded permutation (:func:`metrics.split_identities`); only one half stays
enrolled, and all probes are searched: probes of enrolled identities are
mated searches, the others non-mated.

Failures to enrol are per image (each image is one enrolment attempt); the
error rates are over the comparisons that could be made.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from biometric.errors import BiometricError
from matcher.evaluation import metrics
from matcher.evaluation.datasets import Sample
from matcher.evaluation.det_plot import save_det_plot
from matcher.evaluation.scores import ScoreWriter

Extractor = Callable[[npt.NDArray[np.uint8]], Any]
CompareMany = Callable[[Any, Any], npt.ArrayLike]
PrepareGallery = Callable[[list[Any]], Any]

#: Gallery block for the all-pairs protocol: probe j meets the templates i < j
#: as whole prepared blocks plus one partial block.
_BLOCK = 256
#: Ranks kept in the report's CMC curve.
_CMC_RANKS = 10


class EvaluationError(ValueError):
    """The dataset cannot support the evaluation (e.g. no genuine pairs)."""


@dataclass(frozen=True)
class Failure:
    """An image that gave no template.

    ``kind`` is ``"unreadable"`` (not an image), ``"rejected"`` (the
    extractor refused it, e.g. poor quality or no palm ROI) or ``"crash"``
    (an unexpected exception: a bug to fix, not a property of the image).
    """

    file: str
    identity: str
    kind: str
    reason: str
    detail: str = ""


@dataclass
class EvaluationResult:
    """Everything :func:`evaluate` measured; ``report`` is what report.json holds."""

    report: dict[str, Any]
    genuine: npt.NDArray[np.float32]
    impostor: npt.NDArray[np.float32]
    out_dir: Path
    failures: list[Failure] = field(default_factory=list)


# --- extraction -----------------------------------------------------------------------------


def _extract_file(
    extract: Extractor, failure_types: tuple[type[BaseException], ...], path: Path
) -> tuple[Any, float | None, str | None, str, str]:
    """(template, seconds, failure kind, reason, detail) for one image; runs in workers."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        return None, None, "unreadable", "unreadable", "cv2.imread could not decode the file"
    start = time.perf_counter()
    try:
        template = extract(np.asarray(image, dtype=np.uint8))
    except failure_types as exc:
        reasons = getattr(exc, "reasons", ())
        detail = ", ".join(reasons) if reasons else ""
        return None, None, "rejected", f"{type(exc).__name__}: {exc}", detail
    # Any other exception is a bug in the extractor: recorded as a crash, kept apart from
    # image failures, so one bad image cannot end a run of thousands.
    except Exception as exc:  # noqa: BLE001
        tb = traceback.format_exc(limit=-3)
        return None, None, "crash", f"{type(exc).__name__}: {exc}", tb
    return template, time.perf_counter() - start, None, "", ""


@contextmanager
def _progress(console: Console, enabled: bool) -> Iterator[Progress]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not enabled, transient=False) as bar:
        yield bar


def _extract_all(
    samples: Sequence[Sample],
    extract: Extractor,
    failure_types: tuple[type[BaseException], ...],
    jobs: int,
    bar: Progress,
) -> Iterator[tuple[Any, float | None, str | None, str, str]]:
    task = bar.add_task("Extracting", total=len(samples))
    work = partial(_extract_file, extract, failure_types)
    paths = [s.path for s in samples]
    if jobs <= 1:
        for path in paths:
            outcome = work(path)
            bar.advance(task)
            yield outcome
        return
    # fork: the extractor need not be importable by name in a fresh interpreter.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        for outcome in pool.map(work, paths, chunksize=4):
            bar.advance(task)
            yield outcome


# --- scoring --------------------------------------------------------------------------------


class _Scorer:
    """compare_many with timing; per-comparison time from full-gallery calls only."""

    def __init__(self, compare_many: CompareMany, prepare: PrepareGallery | None) -> None:
        self._compare = compare_many
        self._prepare = prepare
        self.per_comparison: list[float] = []
        self.timed_pairs = 0
        self.timed_seconds = 0.0

    def gallery(self, templates: list[Any]) -> Any:
        return self._prepare(templates) if self._prepare is not None else templates

    def scores(self, probe: Any, gallery: Any, size: int, timed: bool) -> npt.NDArray[np.float32]:
        start = time.perf_counter()
        values = np.asarray(self._compare(probe, gallery), dtype=np.float32).ravel()
        elapsed = time.perf_counter() - start
        if values.size != size:
            raise EvaluationError(f"compare_many returned {values.size} scores for {size}")
        if not np.all(np.isfinite(values)):
            raise EvaluationError("compare_many returned NaN or infinite scores")
        if timed:
            self.per_comparison.append(elapsed / size)
            self.timed_pairs += size
            self.timed_seconds += elapsed
        return values


@dataclass
class _Templates:
    samples: list[Sample]
    templates: list[Any]
    files: list[str]

    def ids(self) -> list[str]:
        return [s.identity for s in self.samples]


def _score_matrix(
    scorer: _Scorer,
    probes: _Templates,
    gallery: _Templates,
    writer: ScoreWriter | None,
    bar: Progress,
    description: str,
) -> npt.NDArray[np.float32]:
    """(P, G) scores, one compare_many per probe, each row streamed to ``writer``."""
    matrix = np.empty((len(probes.templates), len(gallery.templates)), dtype=np.float32)
    prepared = scorer.gallery(gallery.templates)
    enrolled = gallery.ids()
    task = bar.add_task(description, total=len(probes.templates))
    for row, (sample, template, name) in enumerate(
        zip(probes.samples, probes.templates, probes.files, strict=True)
    ):
        matrix[row] = scorer.scores(template, prepared, len(gallery.templates), timed=True)
        if writer is not None:
            writer.write(enrolled, sample.identity, name, matrix[row])
        bar.advance(task)
    return matrix


def _all_pairs(
    scorer: _Scorer, everyone: _Templates, writer: ScoreWriter, bar: Progress
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Scores and genuine flags of all pairs i < j, streamed probe by probe."""
    n = len(everyone.templates)
    total = n * (n - 1) // 2
    scores = np.empty(total, dtype=np.float32)
    genuine = np.empty(total, dtype=np.bool_)
    codes = np.unique(np.asarray(everyone.ids()), return_inverse=True)[1]
    ids = everyone.ids()
    blocks = [
        scorer.gallery(everyone.templates[start : start + _BLOCK])
        for start in range(0, n - _BLOCK + 1, _BLOCK)
    ]
    task = bar.add_task("Comparing (all pairs)", total=n)
    pos = 0
    for j in range(n):
        probe = everyone.templates[j]
        parts = [scorer.scores(probe, blocks[b], _BLOCK, timed=False) for b in range(j // _BLOCK)]
        rest = j % _BLOCK
        if rest:
            start = j - rest
            partial_gallery = scorer.gallery(everyone.templates[start:j])
            parts.append(scorer.scores(probe, partial_gallery, rest, timed=False))
        if parts:
            row = np.concatenate(parts)
            scores[pos : pos + j] = row
            genuine[pos : pos + j] = codes[:j] == codes[j]
            writer.write(ids[:j], ids[j], everyone.files[j], row)
            pos += j
        bar.advance(task)
    return scores, genuine


def _first_half_split(everyone: _Templates) -> tuple[_Templates, _Templates]:
    """Gallery = the first half (at least one) of each identity's templates, by name."""
    by_identity: dict[str, list[int]] = {}
    for i, sample in enumerate(everyone.samples):
        by_identity.setdefault(sample.identity, []).append(i)
    gallery_idx: list[int] = []
    probe_idx: list[int] = []
    for indices in by_identity.values():
        indices.sort(key=lambda i: everyone.samples[i].name)
        cut = max(1, len(indices) // 2)
        gallery_idx += indices[:cut]
        probe_idx += indices[cut:]
    return _subset(everyone, gallery_idx), _subset(everyone, probe_idx)


def _subset(everyone: _Templates, indices: Sequence[int]) -> _Templates:
    return _Templates(
        [everyone.samples[i] for i in indices],
        [everyone.templates[i] for i in indices],
        [everyone.files[i] for i in indices],
    )


_EXTREMES = 10  # worst genuine and impostor comparisons listed in the report, for diagnosis


def _extreme_positions(
    values: npt.NDArray[np.float32], candidates: npt.NDArray[np.intp], lowest: bool
) -> npt.NDArray[np.intp]:
    """Positions (among ``candidates``) of the lowest or highest values, most extreme first."""
    if candidates.size == 0:
        return candidates
    picked = values[candidates] if lowest else -values[candidates]
    k = min(_EXTREMES, candidates.size)
    top = np.argpartition(picked, k - 1)[:k]
    return candidates[top[np.argsort(picked[top], kind="stable")]]


def _pair_rows(
    values: npt.NDArray[np.float32],
    positions: npt.NDArray[np.intp],
    probe_of: Callable[[int], tuple[str, str]],
    enrolled_of: Callable[[int], tuple[str, str]],
    split: Callable[[npt.NDArray[np.intp]], tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]],
) -> list[dict[str, Any]]:
    rows, cols = split(positions)
    out = []
    for pos, r, c in zip(positions, rows, cols, strict=True):
        probe_id, probe_file = probe_of(int(r))
        enrolled_id, enrolled_file = enrolled_of(int(c))
        out.append(
            {
                "enrolled_id": enrolled_id,
                "enrolled_file": enrolled_file,
                "probe_id": probe_id,
                "probe_file": probe_file,
                "score": float(values[pos]),
            }
        )
    return out


def _cross_session_extremes(
    matrix: npt.NDArray[np.float32],
    same: npt.NDArray[np.bool_],
    probes: _Templates,
    gallery: _Templates,
) -> dict[str, Any]:
    flat, mated = matrix.ravel(), same.ravel()

    def who(t: _Templates) -> Callable[[int], tuple[str, str]]:
        return lambda i: (t.samples[i].identity, t.files[i])

    def split(p: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        rows, cols = np.divmod(p, matrix.shape[1])
        return rows, cols

    low = _extreme_positions(flat, np.flatnonzero(mated), lowest=True)
    high = _extreme_positions(flat, np.flatnonzero(~mated), lowest=False)
    return {
        "lowest_genuine": _pair_rows(flat, low, who(probes), who(gallery), split),
        "highest_impostor": _pair_rows(flat, high, who(probes), who(gallery), split),
    }


def _all_pairs_extremes(
    scores: npt.NDArray[np.float32], flags: npt.NDArray[np.bool_], everyone: _Templates
) -> dict[str, Any]:
    def who(i: int) -> tuple[str, str]:
        return everyone.samples[i].identity, everyone.files[i]

    def split(p: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        # Pair (i, j), i < j, sits at j (j - 1) / 2 + i: invert the triangular number.
        j = np.floor((1 + np.sqrt(1 + 8 * p.astype(np.float64))) / 2).astype(np.intp)
        j -= (j * (j - 1) // 2) > p  # guard against rounding either way
        j += ((j + 1) * j // 2) <= p
        return j, p - j * (j - 1) // 2

    low = _extreme_positions(scores, np.flatnonzero(flags), lowest=True)
    high = _extreme_positions(scores, np.flatnonzero(~flags), lowest=False)
    return {
        "lowest_genuine": _pair_rows(scores, low, who, who, split),
        "highest_impostor": _pair_rows(scores, high, who, who, split),
    }


# --- evaluation -----------------------------------------------------------------------------


def _median_ms(values: Sequence[float], scale: float) -> float | None:
    return round(statistics.median(values) * scale, 6) if values else None


def _operating_point(point: metrics.OperatingPoint) -> dict[str, Any]:
    return {
        "target": point.target,
        "measurable": point.measurable,
        "threshold": point.threshold,
        "false_positive_rate": point.false_positive_rate,
        "false_negative_rate": point.false_negative_rate,
        "negatives": point.negatives,
        "negatives_needed": point.negatives_needed,
        "reason": point.reason,
    }


def _identification(
    matrix: npt.NDArray[np.float32],
    probes: _Templates,
    gallery: _Templates,
    seed: int,
    fpir_target: float,
) -> dict[str, Any]:
    probe_ids = np.asarray(probes.ids())
    gallery_ids = np.asarray(gallery.ids())
    enrolled_ids = sorted(set(gallery.ids()))
    result: dict[str, Any] = {
        "gallery_templates": int(gallery_ids.size),
        "gallery_identities": len(enrolled_ids),
    }
    closed_rows = np.isin(probe_ids, enrolled_ids)
    result["closed_set"] = {"probes": int(closed_rows.sum())}
    result["closed_set"]["probes_without_gallery"] = int((~closed_rows).sum())
    if closed_rows.any():
        rank = metrics.ranks(matrix[closed_rows], probe_ids[closed_rows], gallery_ids)
        curve = metrics.cmc(rank, _CMC_RANKS)
        result["closed_set"].update(
            rank1=float(curve[0]),
            cmc=[float(v) for v in curve],
            ties="pessimistic: another identity tied with the true one ranks ahead of it",
        )
    else:
        result["closed_set"].update(rank1=None, cmc=[])
    if len(enrolled_ids) < 2:
        result["open_set"] = {"measurable": False, "reason": "fewer than two gallery identities"}
        return result
    kept, left_out = metrics.split_identities(enrolled_ids, seed)
    columns = np.isin(gallery_ids, kept)
    mated = np.isin(probe_ids, kept)
    open_set: dict[str, Any] = {
        "seed": seed,
        "enrolled_identities": len(kept),
        "not_enrolled_identities": len(left_out),
        "gallery_templates": int(columns.sum()),
        "mated_searches": int(mated.sum()),
        "nonmated_searches": int((~mated).sum()),
    }
    if mated.any() and (~mated).any():
        point = metrics.fnir_at_fpir(
            matrix[:, columns], probe_ids, gallery_ids[columns], fpir_target
        )
        open_set["fnir_at_fpir"] = _operating_point(point)
    else:
        open_set["fnir_at_fpir"] = None
    result["open_set"] = open_set
    return result


def _verification(
    genuine: npt.NDArray[np.float32],
    impostor: npt.NDArray[np.float32],
    fmr_targets: Sequence[float],
) -> tuple[dict[str, Any], metrics.Eer | None, list[metrics.OperatingPoint]]:
    out: dict[str, Any] = {"genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size)}
    if genuine.size == 0 or impostor.size == 0:
        out.update(eer=None, fnmr_at_fmr=[], reason="no genuine or no impostor pairs")
        return out, None, []
    result = metrics.eer(genuine, impostor)
    points = [metrics.fnmr_at_fmr(genuine, impostor, t) for t in fmr_targets]
    out.update(
        eer=result.eer,
        eer_method="linear interpolation of the empirical ROC at FMR = FNMR",
        eer_threshold=result.threshold,
        eer_threshold_fmr=result.fmr,
        eer_threshold_fnmr=result.fnmr,
        fnmr_at_fmr=[_operating_point(p) for p in points],
        genuine_scores=_summary(genuine),
        impostor_scores=_summary(impostor),
    )
    return out, result, points


def _fixed_thresholds(
    genuine: npt.NDArray[np.float32],
    impostor: npt.NDArray[np.float32],
    thresholds: Mapping[float, float],
) -> list[dict[str, Any]]:
    """Error rates this dataset gives at thresholds set elsewhere (a deployment's calibration).

    The FMR a threshold was set for holds only for impostors like the ones it was set on; here
    it is measured on this dataset's impostor pairs, with the ratio measured / intended.
    """
    rows = []
    for target, threshold in sorted(thresholds.items(), reverse=True):
        above = int(np.count_nonzero(impostor >= threshold)) if impostor.size else 0
        fmr = above / impostor.size if impostor.size else None
        needed = metrics.negatives_needed(target)
        rows.append(
            {
                "target_fmr": target,
                "threshold": threshold,
                "fmr": fmr,
                "fmr_ratio": None if fmr is None else fmr / target,
                "impostor_pairs_at_or_above": above,
                "fmr_measurable": int(impostor.size) >= needed or above > 0,
                "impostor_pairs_needed": needed,
                "fnmr": float(np.mean(genuine < threshold)) if genuine.size else None,
            }
        )
    return rows


def _summary(values: npt.NDArray[np.float32]) -> dict[str, float]:
    v = values.astype(np.float64)
    return {
        "min": float(v.min()),
        "p01": float(np.percentile(v, 1)),
        "median": float(np.median(v)),
        "p99": float(np.percentile(v, 99)),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "std": float(v.std()),
    }


def _algorithm(templates: Sequence[Any]) -> dict[str, Any]:
    names = sorted({str(a) for t in templates if (a := getattr(t, "algorithm", None)) is not None})
    versions = sorted({str(v) for t in templates if (v := getattr(t, "version", None)) is not None})
    return {"ids": names, "versions": versions}


def evaluate(
    samples: Sequence[Sample],
    extract: Extractor,
    compare_many: CompareMany,
    *,
    out_dir: Path,
    prepare_gallery: PrepareGallery | None = None,
    jobs: int = 1,
    seed: int = 0,
    fmr_targets: Sequence[float] = (1e-3, 1e-4),
    fpir_target: float = 0.01,
    failure_types: tuple[type[BaseException], ...] = (BiometricError,),
    dataset: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    console: Console | None = None,
    progress: bool = True,
    scores_name: str = "scores.txt",
    fixed_thresholds: Mapping[float, float] | None = None,
    fixed_thresholds_source: str = "",
) -> EvaluationResult:
    """Extract, compare and evaluate; write report.json, the score file and det.png.

    Parameters
    ----------
    samples : sequence of Sample
        The dataset (:func:`matcher.evaluation.datasets.load_samples`).
    extract : callable
        ``extract(image) -> template``; image is a 2-D uint8 array. Must be a
        module-level function when ``jobs > 1``.
    compare_many : callable
        ``compare_many(probe, gallery) -> (G,) scores``, higher = more similar.
    out_dir : Path
        Created if missing; receives ``report.json``, the score file, ``det.png``.
    prepare_gallery : callable, optional
        ``prepare_gallery(list_of_templates) -> gallery`` passed to
        ``compare_many`` (e.g. :class:`biometric.TemplateStack`); without it
        ``compare_many`` receives the list.
    jobs : int
        Extraction processes.
    seed : int
        Seed of the open-set split.
    fmr_targets, fpir_target : float
        Operating points reported.
    failure_types : tuple of exception types
        Exceptions that mean "this image gives no template" (failure to
        enrol); anything else is a crash.
    dataset, config : mapping
        Recorded in the report as given.
    fixed_thresholds : mapping of float to float, optional
        ``{target FMR: threshold}`` as a deployment would set them (e.g. from
        :func:`matcher.calibration.shipped`); the report gives the FMR and FNMR this dataset
        measures at each (``verification.fixed_thresholds``), so a calibration made on other
        palms is checked against these.
    fixed_thresholds_source : str
        Where those thresholds come from, recorded beside them.
    """
    console = console or Console(stderr=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    if not samples:
        raise EvaluationError("no samples to evaluate")
    root = Path(dataset["root"]) if dataset and "root" in dataset else None

    def relative(path: Path) -> str:
        if root is not None:
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                pass
        return path.as_posix()

    kept_samples: list[Sample] = []
    templates: list[Any] = []
    extract_seconds: list[float] = []
    failures: list[Failure] = []
    scorer = _Scorer(compare_many, prepare_gallery)
    scores_path = out_dir / scores_name
    with _progress(console, progress) as bar:
        outcomes = _extract_all(samples, extract, failure_types, jobs, bar)
        for sample, (template, seconds, kind, reason, detail) in zip(
            samples, outcomes, strict=True
        ):
            if kind is None:
                kept_samples.append(sample)
                templates.append(template)
                extract_seconds.append(float(seconds or 0.0))
            else:
                failures.append(
                    Failure(relative(sample.path), sample.identity, kind, reason, detail)
                )
        crashes = [f for f in failures if f.kind == "crash"]
        if crashes:
            console.print(
                f"[bold red]{len(crashes)} extraction crash(es)[/]: the extractor raised "
                f"unexpected exceptions, e.g. {crashes[0].file}: {crashes[0].reason}"
            )
        everyone = _Templates(kept_samples, templates, [relative(s.path) for s in kept_samples])
        # The protocol follows the layout, not what survived extraction.
        sessions = sorted({s.session for s in samples if s.session is not None})
        cross_session = len(sessions) >= 2 and all(s.session is not None for s in samples)
        if len(everyone.templates) < 2:
            raise EvaluationError(
                f"only {len(everyone.templates)} of {len(samples)} images gave a template"
            )
        with ScoreWriter(scores_path) as writer:
            if cross_session:
                first = [i for i, s in enumerate(kept_samples) if s.session == sessions[0]]
                later = [i for i, s in enumerate(kept_samples) if s.session != sessions[0]]
                if not first or not later:
                    raise EvaluationError(
                        f"no templates from session {sessions[0]}"
                        if not first
                        else "no templates from the later sessions"
                    )
                gallery, probes = _subset(everyone, first), _subset(everyone, later)
                matrix = _score_matrix(
                    scorer, probes, gallery, writer, bar, "Comparing (cross-session)"
                )
                same = np.asarray(probes.ids())[:, None] == np.asarray(gallery.ids())[None, :]
                genuine, impostor = matrix[same], matrix[~same]
                extremes = _cross_session_extremes(matrix, same, probes, gallery)
                protocol = (
                    f"cross-session: session {sessions[0]} samples x samples of sessions "
                    + ", ".join(str(s) for s in sessions[1:])
                )
            else:
                scores, flags = _all_pairs(scorer, everyone, writer, bar)
                genuine, impostor = scores[flags], scores[~flags]
                extremes = _all_pairs_extremes(scores, flags, everyone)
                del scores, flags
                gallery, probes = _first_half_split(everyone)
                matrix = _score_matrix(
                    scorer, probes, gallery, None, bar, "Comparing (identification)"
                )
                protocol = "all distinct pairs (sessions unknown)"
            score_lines = writer.lines
    verification, eer_result, points = _verification(genuine, impostor, fmr_targets)
    verification["protocol"] = protocol
    if fixed_thresholds:
        verification["fixed_thresholds"] = {
            "source": fixed_thresholds_source,
            "points": _fixed_thresholds(genuine, impostor, fixed_thresholds),
        }
    verification.update(extremes)
    identification = (
        _identification(matrix, probes, gallery, seed, fpir_target)
        if len(probes.templates)
        else {"reason": "no probes"}
    )
    det_path = out_dir / "det.png"
    if eer_result is not None:
        marks = {f"EER {eer_result.eer:.3%}": (eer_result.eer, eer_result.eer)}
        for p in points:
            if p.measurable and p.false_positive_rate is not None:
                marks[f"FMR<={p.target:g}: FNMR {p.false_negative_rate:.3%}"] = (
                    p.false_positive_rate,
                    float(p.false_negative_rate or 0.0),
                )
        save_det_plot(
            {"verification": metrics.det_curve(genuine, impostor)},
            det_path,
            title=f"DET, {protocol.split(':')[0]}",
            marks=marks,
        )
    finished = datetime.now(UTC)
    kinds = {k: sum(f.kind == k for f in failures) for k in ("unreadable", "rejected", "crash")}
    report: dict[str, Any] = {
        "standard": "ISO/IEC 19795-1 technology evaluation",
        "dataset": {
            **(dict(dataset) if dataset else {}),
            "samples": len(samples),
            "identities": len({s.identity for s in samples}),
            "sessions": sessions,
        },
        "config": {
            **(dict(config) if config else {}),
            "jobs": jobs,
            "seed": seed,
            "fmr_targets": list(fmr_targets),
            "fpir_target": fpir_target,
        },
        "algorithm": _algorithm(templates),
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "enrolment": {
            "attempts": len(samples),
            "templates": len(templates),
            "failures": len(failures),
            "fte_rate": len(failures) / len(samples),
            "by_kind": kinds,
            "crashes": kinds["crash"],
            "failure_list": [vars(f) for f in failures],
        },
        "verification": verification,
        "identification": identification,
        "timing": {
            "median_extract_ms": _median_ms(extract_seconds, 1e3),
            "median_compare_us": _median_ms(scorer.per_comparison, 1e6),
            "compare_pairs_per_second": (
                scorer.timed_pairs / scorer.timed_seconds if scorer.timed_seconds > 0 else None
            ),
            "timed_comparisons": scorer.timed_pairs,
            "extraction_processes": jobs,
            "note": "extraction time excludes image decoding; per-comparison time is "
            "compare_many time over full-gallery calls divided by the gallery size",
        },
        "outputs": {
            "report": "report.json",
            "scores": scores_name,
            "score_lines": score_lines,
            "det_plot": det_path.name if eer_result is not None else None,
        },
    }
    (out_dir / "report.json").write_text(
        json.dumps(_finite(report), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    return EvaluationResult(report, genuine, impostor, out_dir, failures)


def _finite(value: Any) -> Any:
    """Replace non-finite floats by None so the report is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
