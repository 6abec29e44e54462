"""1:N identification benchmark: large galleries from simulated palms, measured end to end.

Gallery
-------
* ``identities`` simulated palms (:class:`capture.simulated.SimulatedSensor`) are captured
  ``enrol_captures + 1`` times: the captures of session 0 are enrolled (3 by default, the fewest
  the enrolment service accepts for a hand), a capture of session 1 is the probe. Their
  templates come from the real pipeline (:func:`biometric.extract`).
* The rest of the gallery is *background* templates, one per synthetic subject, made by
  perturbing templates of ``bases`` further simulated palms (captured once each, never probed):
  the code grid is cut into 2 x 2 tiles of 16 x 16 cells, each tile copied from a randomly chosen
  base template at the same place, then a fraction ``flip`` of all code bits is inverted; the
  validity mask is that of one randomly chosen base. Copying tiles in place keeps the
  position-dependent statistics of real codes (ROI borders, the common run of the palm's main
  lines), so probes score against the background much as against real impostors; rotating the
  orientation codes or smaller tiles made the background measurably easier than real impostors.
  Each run reports how the probes score against a sample of the background next to their scores
  against the other simulated palms, so the reader can judge it.

Measurements (all in the same run)
----------------------------------
* build time (codes + FAISS insertion + template arrays) and index memory;
* identify latency (``PalmIndex.search``) p50 / p99 over all probes and repeats;
* recall: the fraction of probes whose index top-1 is the exhaustive exact top-1
  (:meth:`PalmIndex.search_exhaustive`, every template scored as :func:`biometric.compare_many`
  scores it, in C), on as many probes as the exhaustive budget allows; and the
  fraction whose index top-1 is the true palm, on all probes, with its misses split into those
  where the true palm's templates score above the index's answer (the index lost it: a certain
  disagreement with the exhaustive search; counted apart when the palm's score reaches the match
  threshold, i.e. when the exhaustive search would have matched it) and those where exact
  comparison itself ranks an impostor first;
* the coarse scan's kernel (:mod:`matcher._hamming`): the same searches with the AVX-512 kernel
  and the portable POPCNT one, alternating probe by probe so both see the same machine load;
* baselines: the same index without its coarse stage (full codes scanned in FAISS); the same
  shortlist search by brute force in NumPy (XOR + popcount of every scanned
  probe variant, ``PROBE_SHIFTS``, against all codes, ``argpartition``, same re-ranking), and the exhaustive exact search
  itself;
* the memory-bandwidth floor: the time to read the bytes the first stage scans (N codes),
  from a read-bandwidth measurement (NumPy sum over a buffer larger than the caches) with one and
  with ``shards`` threads.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

import biometric
from matcher import _hamming
from matcher.calibration import shipped
from matcher.codes import BLOCK, probe_codes, shortlist_codes
from matcher.decision import DecisionPolicy, decide
from matcher.index import DEFAULT_COARSE, DEFAULT_SHORTLIST, Geometry, PalmIndex

Progress = Callable[[str, int, int], None]
"""Progress callback: (stage, done, total)."""

#: Side of the background mosaic's tiles, in code cells.
_TILE = 16
_CHUNK = 32768
_BACKGROUND_CHUNK = 8192


@dataclass(frozen=True)
class BenchConfig:
    gallery: int = 10_000
    identities: int = 100
    #: Captures enrolled per palm: 3 is the enrolment service's minimum per hand (it takes 3-5).
    enrol_captures: int = 3
    bases: int = 100
    shortlist: int = DEFAULT_SHORTLIST
    shards: int = 2
    block: int = BLOCK
    coarse: int = DEFAULT_COARSE
    flip: float = 0.01
    repeats: int = 3
    exact_budget_s: float = 120.0
    seed: int = 1


@dataclass
class BenchResult:
    config: dict[str, Any]
    gallery_templates: int = 0
    real_subjects: int = 0
    probes: int = 0
    code_bytes: int = 0
    build_s: float = 0.0
    memory: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    kernel: str = ""
    kernel_pairs_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    one_stage_ms: dict[str, float] = field(default_factory=dict)
    one_stage_true_top1: dict[str, int] = field(default_factory=dict)
    numpy_shortlist_ms: dict[str, float] = field(default_factory=dict)
    exhaustive_ms: dict[str, float] = field(default_factory=dict)
    bandwidth_gbps: dict[str, float] = field(default_factory=dict)
    floor_ms: dict[str, float] = field(default_factory=dict)
    recall_vs_exhaustive: dict[str, float] = field(default_factory=dict)
    true_subject_top1: dict[str, float] = field(default_factory=dict)
    background_check: dict[str, float] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1e3
    return {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
            "mean": float(a.mean()), "n": float(len(a))}


def wilson_lower(successes: int, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson score interval (95 % by default) of a proportion."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


# -- gallery -------------------------------------------------------------------------------------


def simulated_palms(
    identities: int, seed: int, progress: Progress | None = None, enrol_captures: int = 3
) -> tuple[dict[str, list[biometric.Template]], dict[str, biometric.Template]]:
    """Enrolment templates (``enrol_captures`` per palm, session 0) and probes (session 1) of
    simulated palms ``0 .. identities - 1``; a palm with any capture refused is left out."""
    from capture.simulated import SimulatedSensor

    sensor = SimulatedSensor(seed=seed, cache_size=2)
    enrolment: dict[str, list[biometric.Template]] = {}
    probes: dict[str, biometric.Template] = {}
    for i in range(identities):
        got: list[biometric.Template] = []
        # The probe keeps sample 2 of session 1 whatever the number enrolled (comparable runs).
        for session, sample in [(0, j) for j in range(enrol_captures)] + [(1, 2)]:
            try:
                got.append(biometric.extract(sensor.capture(i, session, sample).image))
            except biometric.BiometricError:
                continue
        if len(got) == enrol_captures + 1:
            enrolment[f"palm-{i:05d}"] = got[:-1]
            probes[f"palm-{i:05d}"] = got[-1]
        if progress:
            progress("simulated captures", i + 1, identities)
    return enrolment, probes


def simulated_bases(
    first: int, count: int, seed: int, progress: Progress | None = None
) -> list[biometric.Template]:
    """One template each of simulated palms ``first .. first + count - 1`` (background bases)."""
    from capture.simulated import SimulatedSensor

    sensor = SimulatedSensor(seed=seed, cache_size=2)
    out: list[biometric.Template] = []
    for j in range(count):
        try:
            out.append(biometric.extract(sensor.capture(first + j, 0, 0).image))
        except biometric.BiometricError:
            pass
        if progress:
            progress("background bases", j + 1, count)
    return out


def background_templates(
    bases: list[biometric.Template], n: int, flip: float, rng: np.random.Generator,
) -> Iterator[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]:
    """Synthetic impostor templates made from ``bases`` (see the module docstring), in chunks of
    (planes (m, P, R), mask (m, R))."""
    planes = np.stack([t.planes for t in bases])
    masks = np.stack([t.mask for t in bases])
    n_bases, n_planes, rows = planes.shape
    cols = bases[0].cols
    made = 0
    while made < n:
        m = min(_BACKGROUND_CHUNK, n - made)
        out = np.zeros((m, n_planes, rows), dtype=np.uint32)
        for r0 in range(0, rows, _TILE):
            for c0 in range(0, cols, _TILE):
                width = min(_TILE, cols - c0)
                columns = np.uint32(((1 << width) - 1) << c0)
                src = rng.integers(n_bases, size=m)
                out[:, :, r0:r0 + _TILE] |= planes[src, :, r0:r0 + _TILE] & columns
        if flip > 0:
            bits = rng.random((m, n_planes, rows, cols), dtype=np.float32) < flip
            out ^= (bits.astype(np.uint32) << np.arange(cols, dtype=np.uint32)).sum(
                axis=3, dtype=np.uint32)
        yield out, masks[rng.integers(n_bases, size=m)]
        made += m


# -- measurements -------------------------------------------------------------------------------


def read_bandwidth(threads: int, nbytes: int = 512 * 2**20, repeats: int = 5) -> float:
    """Sustained read bandwidth in bytes/s: the best of ``repeats`` NumPy sums over a buffer
    of ``nbytes`` (far larger than the caches), split over ``threads`` threads."""
    buf = np.ones(nbytes // 8, dtype=np.uint64)
    parts = np.array_split(buf, threads)
    best = math.inf
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = min(best, time.perf_counter() - t0)
    return nbytes / best


def _numpy_shortlist_search(
    codes64: npt.NDArray[np.uint64], probe: biometric.Template, subjects: list[str],
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], shortlist: int, block: int,
) -> str:
    # The same probe variants and weights as the index, distances in half bits likewise.
    code = probe_codes(probe, block=block, extra=())
    pad = codes64.shape[1] * 8 - code.codes.shape[1]
    q = np.pad(code.codes, ((0, 0), (0, pad))).view(np.uint64)
    w = np.pad(code.weights, ((0, 0), (0, pad))).view(np.uint64)
    offsets = 64 * q.shape[1] - np.bitwise_count(w).sum(axis=1)
    dist = np.full(len(codes64), np.iinfo(np.uint16).max, dtype=np.uint16)
    for variant, weight, offset in zip(q, w, offsets.tolist(), strict=True):
        d = 2 * np.bitwise_count((codes64 ^ variant) & weight).sum(axis=1, dtype=np.uint16)
        np.minimum(dist, d + np.uint16(offset), out=dist)
    top = np.argpartition(dist, shortlist)[:shortlist]
    stack = biometric.TemplateStack(
        [biometric.Template(planes[i], mask[i], probe.cols, probe.algorithm) for i in top])
    scores = biometric.compare_many(probe, stack)
    return subjects[int(top[int(np.argmax(scores))])]


def run(config: BenchConfig, progress: Progress | None = None) -> BenchResult:
    """Build a gallery of ``config.gallery`` templates and measure identification on it."""
    result = BenchResult(config=asdict(config))
    rng = np.random.default_rng(config.seed)
    enrolment, probes = simulated_palms(config.identities, config.seed, progress,
                                         config.enrol_captures)
    if not probes:
        raise RuntimeError("the simulated sensor produced no usable palm")
    real = [(s, t) for s, ts in enrolment.items() for t in ts]
    n_background = config.gallery - len(real)
    if n_background < 0:
        raise ValueError(f"gallery {config.gallery} is smaller than the {len(real)} enrolled "
                         "simulated templates; lower --identities")
    geometry = Geometry.of(real[0][1])
    bases = simulated_bases(config.identities, config.bases, config.seed, progress)
    if not bases:
        raise RuntimeError("the simulated sensor produced no usable background base")

    # The benchmark keeps its own copy of everything for the NumPy baselines.
    all_planes = np.empty((config.gallery, geometry.planes, geometry.rows), np.uint32)
    all_mask = np.empty((config.gallery, geometry.rows), np.uint32)
    all_planes[: len(real)] = np.stack([t.planes for _, t in real])
    all_mask[: len(real)] = np.stack([t.mask for _, t in real])
    subjects = [s for s, _ in real] + [f"bg-{i:07d}" for i in range(n_background)]
    at = len(real)
    for planes, mask in background_templates(bases, n_background, config.flip, rng):
        all_planes[at:at + len(planes)], all_mask[at:at + len(mask)] = planes, mask
        at += len(planes)
        if progress:
            progress("background templates", at - len(real), n_background)

    index = PalmIndex(shortlist=config.shortlist, shards=config.shards, block=config.block,
                      coarse=config.coarse)
    # Shuffle the insertion order so the real palms are not all in the first slots.
    order = rng.permutation(config.gallery)
    build = 0.0
    for start in range(0, config.gallery, _CHUNK):
        sel = order[start:start + _CHUNK]
        t0 = time.perf_counter()
        index.add_many([subjects[i] for i in sel], all_planes[sel], all_mask[sel], geometry)
        build += time.perf_counter() - t0
        if progress:
            progress("index build", min(start + _CHUNK, config.gallery), config.gallery)
    result.build_s = build
    result.gallery_templates = len(index)
    result.real_subjects = len(enrolment)
    result.probes = len(probes)
    result.memory = index.memory_bytes()
    result.code_bytes = index.scanned_code_bytes

    # Latency of the index, warm.
    probe_items = list(probes.items())
    index.search(probe_items[0][1])
    times: list[float] = []
    top1: dict[str, str] = {}
    top1_score: dict[str, float] = {}
    total = len(probe_items) * config.repeats
    for rep in range(config.repeats):
        for j, (subject, probe) in enumerate(probe_items):
            t0 = time.perf_counter()
            found = index.search(probe, k=5)
            times.append(time.perf_counter() - t0)
            top1[subject] = found[0].subject_id
            top1_score[subject] = found[0].score
            if progress:
                progress("identify latency", rep * len(probe_items) + j + 1, total)
    result.latency_ms = _percentiles(times)
    hits = sum(top1[s] == s for s in probes)
    result.true_subject_top1 = {"hits": hits, "probes": len(probes), "rate": hits / len(probes)}
    # Every probe whose index top-1 is not its palm: if the palm's own templates score higher
    # than that answer, the exhaustive search would have answered differently (a certain recall
    # miss, found without the exhaustive search); otherwise exact comparison itself prefers an
    # impostor (a recognition error, not the index's).
    # Of those, the ones that matter for money: the palm scores at or above the match threshold
    # at this gallery size, so the exhaustive search would have matched it.
    match_threshold = shipped(geometry.algorithm).threshold_for(
        DecisionPolicy().target_fpir / len(index)).score
    lost = lost_matchable = 0
    for subject, probe in probe_items:
        if top1[subject] != subject:
            own = float(np.max(
                biometric.compare_many(probe, biometric.TemplateStack(enrolment[subject]))))
            lost += own > top1_score[subject]
            lost_matchable += own > top1_score[subject] and own >= match_threshold
    result.true_subject_top1["index_lost"] = lost
    result.true_subject_top1["index_lost_above_threshold"] = lost_matchable
    result.true_subject_top1["exact_prefers_impostor"] = len(probes) - hits - lost

    # The coarse scan's kernels, alternating per probe (same load for both).
    result.kernel = _hamming.kernel()
    kernels = [result.kernel] + [k for k in ("popcnt",) if k != result.kernel]
    if config.coarse > 0 and len(kernels) > 1:
        pair_times: dict[str, list[float]] = {k: [] for k in kernels}
        try:
            for j, (_, probe) in enumerate(probe_items):
                for name in kernels:
                    _hamming.set_kernel(name)
                    t0 = time.perf_counter()
                    index.search(probe, k=5)
                    pair_times[name].append(time.perf_counter() - t0)
                if progress:
                    progress("scan kernels, alternating", j + 1, len(probe_items))
        finally:
            _hamming.set_kernel(result.kernel)
        result.kernel_pairs_ms = {k: _percentiles(v) for k, v in pair_times.items()}

    # Baseline 0: the same index without the coarse stage (full codes in FAISS).
    if config.coarse > 0:
        one_stage = PalmIndex(shortlist=config.shortlist, shards=config.shards,
                              block=config.block, coarse=0)
        for start in range(0, config.gallery, _CHUNK):
            sel = order[start:start + _CHUNK]
            one_stage.add_many([subjects[i] for i in sel], all_planes[sel], all_mask[sel],
                               geometry)
        one_stage.search(probe_items[0][1])
        one_times: list[float] = []
        one_hits = 0
        for j, (subject, probe) in enumerate(probe_items):
            t0 = time.perf_counter()
            found = one_stage.search(probe, k=5)
            one_times.append(time.perf_counter() - t0)
            one_hits += found[0].subject_id == subject
            if progress:
                progress("one-stage index latency", j + 1, len(probe_items))
        one_stage.close()
        del one_stage
        result.one_stage_ms = _percentiles(one_times)
        result.one_stage_true_top1 = {"hits": one_hits, "probes": len(probes)}

    # Baseline 1: the same two-stage search by brute force in NumPy.
    codes = shortlist_codes(all_planes, all_mask, geometry.cols, config.block)
    pad = (-codes.shape[1]) % 8
    codes64 = np.ascontiguousarray(np.pad(codes, ((0, 0), (0, pad)))).view(np.uint64)
    del codes
    numpy_times = []
    n_numpy = min(len(probe_items), 20)
    for j, (_, probe) in enumerate(probe_items[:n_numpy]):
        t0 = time.perf_counter()
        _numpy_shortlist_search(codes64, probe, subjects, all_planes, all_mask, config.shortlist,
                                config.block)
        numpy_times.append(time.perf_counter() - t0)
        if progress:
            progress("NumPy brute-force shortlist", j + 1, n_numpy)
    result.numpy_shortlist_ms = _percentiles(numpy_times)

    # Baseline 2 and recall reference: exhaustive exact comparison, within the time budget.
    # Besides the top-1 agreement, compare the decisions (FPIR 1e-3 at this gallery size): a
    # shortlist miss only matters for money where the exhaustive search would have matched.
    impostors = shipped(geometry.algorithm)
    policy = DecisionPolicy()
    agree = exact_true = done = decisions_agree = exact_matches = 0
    exhaustive_times: list[float] = []
    spent = 0.0
    for subject, probe in probe_items:
        if done and spent + np.mean(exhaustive_times) > config.exact_budget_s:
            break
        t0 = time.perf_counter()
        exact_candidates = index.search_exhaustive(probe, k=policy.candidates)
        exhaustive_times.append(time.perf_counter() - t0)
        spent += exhaustive_times[-1]
        exact = exact_candidates[0]
        done += 1
        agree += exact.subject_id == top1[subject]
        exact_true += exact.subject_id == subject
        by_exact = decide(exact_candidates, len(index), policy, impostors)
        by_index = decide(index.search(probe, k=policy.candidates), len(index), policy,
                          impostors)
        exact_matches += by_exact.matched
        decisions_agree += (by_exact.outcome, by_exact.subject_id) == (
            by_index.outcome, by_index.subject_id)
        if progress:
            progress("exhaustive exact search", done, len(probe_items))
    result.exhaustive_ms = _percentiles(exhaustive_times)
    result.recall_vs_exhaustive = {
        "agree": agree, "probes": done, "rate": agree / done,
        "wilson95_lower": wilson_lower(agree, done), "exhaustive_true_top1": exact_true,
        "decisions_agree": decisions_agree, "exhaustive_matches": exact_matches,
        "threshold": impostors.threshold_for(policy.target_fpir / len(index)).score,
    }

    # The memory-bandwidth floor for the bytes the first stage scans.
    scanned = len(index) * result.code_bytes
    for threads in sorted({1, config.shards}):
        bw = read_bandwidth(threads)
        result.bandwidth_gbps[f"{threads}_threads"] = bw / 1e9
        result.floor_ms[f"{threads}_threads"] = scanned / bw * 1e3
    result.floor_ms["bytes_scanned"] = float(scanned)

    # How the background looks to the probes, next to real simulated impostors.
    sample = rng.choice(np.arange(len(real), config.gallery), size=min(2000, n_background),
                        replace=False) if n_background else np.zeros(0, np.int64)
    bg_scores, real_imp = [], []
    for subject, probe in probe_items[:20]:
        if len(sample):
            stack = biometric.TemplateStack([
                biometric.Template(all_planes[i], all_mask[i], geometry.cols, geometry.algorithm)
                for i in sample[:200]])
            bg_scores.append(biometric.compare_many(probe, stack))
        others = [t for s, t in real if s != subject]
        if others:
            real_imp.append(biometric.compare_many(probe, others))
    if bg_scores:
        b = np.concatenate(bg_scores)
        result.background_check.update(background_mean=float(b.mean()),
                                       background_std=float(b.std()), background_n=len(b))
    if real_imp:
        r = np.concatenate(real_imp)
        result.background_check.update(real_impostor_mean=float(r.mean()),
                                       real_impostor_std=float(r.std()), real_impostor_n=len(r))
    result.machine = {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())}
    index.close()
    return result
