"""The in-memory 1:N palm index: binary-code shortlist, exact re-ranking.

A search codes the probe (:mod:`matcher.codes`), finds the ``shortlist`` gallery templates with
the nearest codes by exhaustive Hamming search, and re-ranks those templates with
:func:`biometric.compare_many`. A subject's score is its best template's score.

Design notes
------------
* Exhaustive (flat) Hamming search: its result is exact for the code and removal is real.
  (Binary HNSW cannot remove entries.)
* Two code stages. Scanning the full 192-byte code of every template costs more than the
  memory bandwidth allows for a 10 ms search at a million templates (192 MB per query), so the
  first stage scans a 64-byte coarse code (:func:`matcher.codes.coarse_codes`) and keeps the
  ``coarse`` nearest per shard; their full codes, kept in a NumPy array, pick the ``shortlist``.
* The coarse scan is :mod:`matcher._hamming` (C), not FAISS. A probe is searched as five
  translated variants; FAISS's flat binary index scans the whole gallery once per variant with
  scalar popcounts (about 10 ms per variant-set for 500,000 codes on this machine), while
  ``_hamming`` reads each code once, compares it with every variant and, with AVX-512
  VPOPCNTDQ, counts eight codes per instruction group (about 3 ms; ``palmvein bench
  identify`` measures both in one run). Free slots are skipped by a live flag.
* ``coarse=0`` (one stage) keeps the full codes in FAISS ``IndexBinaryIDMap2(IndexBinaryFlat)``
  shards, the reference the two-stage search is measured against.
* The gallery is split into ``shards`` slot ranges (or FAISS indexes) searched in parallel
  threads: both the C scan and faiss release the GIL, and faiss parallelises a flat binary
  search over queries, not over the database. faiss threads run with one OpenMP thread (see
  :mod:`matcher._faiss`).
* Every template occupies a slot of two NumPy arrays (planes and masks); the slot number is the
  FAISS id. The full templates are kept because re-ranking needs them.
* Thread safety: searches share a readers-writer lock, additions and removals take it
  exclusively, so a search sees each template either completely added or not at all.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

import biometric
from biometric.compare import MAX_SHIFT, REFERENCE_OVERLAP, comparator, rotation_map
from matcher import _hamming
from matcher._faiss import faiss, single_threaded
from matcher.codes import (
    BLOCK,
    COARSE_PLANES,
    PROBE_SHIFTS,
    ProbeCodes,
    coarse_codes,
    code_bits,
    probe_codes,
    search_codes,
    shortlist_codes,
)
from matcher.errors import AlgorithmMismatchError
from matcher.rwlock import ReadWriteLock

#: Templates re-ranked exactly per search (before grouping by subject). 512 (was 32) since the
#: full-code stage reads its candidates in place and the exact comparison has an AVX-512 kernel
#: and runs on both search threads: the lost genuine palms whose 16-variant full-code distance
#: ranked them 78th-415th among a million (the minimum over 16 variants also brings impostors
#: near) are found. Dev gallery (1M templates, 1,488 simulated palms x 3, 2,959 cross-session
#: probes, matcher/README.md), probes lost by the index: coarse 2048 / shortlist 32: 13;
#: 2048 / 64: 11; 2048 / 256: 9; 8192 / 128: 5; 8192 / 256: 4; 8192 / 512: 2; 16384 / 256: 3;
#: 16384 / 512: 0.
DEFAULT_SHORTLIST = 512
#: Coarse-stage candidates per shard, nearest to any probe variant (0: one stage, full codes in
#: FAISS). 16384 (2048 before, 1024 before that): the rest of the lost palms' templates had
#: coarse ranks in the thousands to tens of thousands among a million while their full codes
#: ranked them near the top (see DEFAULT_SHORTLIST for the measurements). Their full codes are
#: compared in place (``_hamming.nearest_rows``, ~0.65 ms per shard for 16384).
DEFAULT_COARSE = 16384
#: Subjects (of the nearest codes) whose every template is re-ranked, not only the shortlisted.
#: 32 (was 8): a palm whose weaker template made the shortlist below the 8th place was scored
#: by that template only; on the dev gallery (exact stage with the rotation search) 32 lost 13
#: probes of 2,959 where 8 lost 16. Each extra subject costs its other templates' exact
#: comparisons (~6 us each with the rotation search, AVX2).
EXPAND_SUBJECTS = 32
#: Templates compared per call when searching exhaustively (bounds temporary memory).
_EXHAUSTIVE_CHUNK = 8192
#: Fewest re-ranked templates per search thread worth a hand-off (~6 us each, AVX2, rotation
#: search on).
_RERANK_PART = 64


@dataclass(frozen=True, order=False)
class Candidate:
    """A gallery subject and its similarity to the probe (:func:`biometric.compare`'s scale)."""

    subject_id: str
    score: float


@dataclass(frozen=True)
class Geometry:
    """What every template of one index shares: algorithm, bit planes, rows and columns."""

    algorithm: str
    planes: int
    rows: int
    cols: int

    @classmethod
    def of(cls, template: biometric.Template) -> Geometry:
        p, r = template.planes.shape
        return cls(template.algorithm, int(p), int(r), int(template.cols))


@dataclass(frozen=True)
class IndexContents:
    """Everything needed to rebuild an index: per template its key, subject and bits."""

    geometry: Geometry
    keys: npt.NDArray[np.int64]
    subject_ids: tuple[str, ...]
    planes: npt.NDArray[np.uint32]
    mask: npt.NDArray[np.uint32]


class PalmIndex:
    """In-memory 1:N index of palm templates, several templates per subject allowed.

    Parameters
    ----------
    shortlist : int
        Number of templates re-ranked exactly per search.
    shards : int
        Number of flat indexes searched in parallel (use the number of cores to give a query).
    algorithm : str, optional
        Only templates of this algorithm are accepted; defaults to :data:`biometric.ALGORITHM`.
    probe_shifts : tuple of (int, int)
        Translations of the probe whose codes are all searched (:data:`matcher.codes.PROBE_SHIFTS`).
    block : int
        Block side of the shortlist code in cells (:mod:`matcher.codes`): 2 (default) gives
        192-byte codes; 4 gives 48-byte codes, four times faster to scan but far worse at
        ranking weak genuine pairs.
    coarse : int
        Candidates kept per shard by the coarse first stage (nearest to any probe variant),
        whose full codes then choose the shortlist; 0 scans the full codes in FAISS (one stage).
        Ignored (one stage) for templates with too few bit planes for
        :data:`matcher.codes.COARSE_PLANES`.

    Examples
    --------
    >>> index = PalmIndex()
    >>> index.add("subject-42", template)                          # doctest: +SKIP
    >>> index.search(probe, k=5)                                   # doctest: +SKIP
    [Candidate(subject_id='subject-42', score=0.71), ...]
    """

    def __init__(
        self,
        *,
        shortlist: int = DEFAULT_SHORTLIST,
        shards: int = 2,
        algorithm: str | None = None,
        probe_shifts: tuple[tuple[int, int], ...] = PROBE_SHIFTS,
        block: int = BLOCK,
        coarse: int = DEFAULT_COARSE,
    ) -> None:
        if shortlist < 1:
            raise ValueError(f"shortlist must be at least 1, got {shortlist}")
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        self.shortlist = shortlist
        self.probe_shifts = probe_shifts
        self.block = block
        if coarse < 0:
            raise ValueError(f"coarse must be 0 or more, got {coarse}")
        self.coarse = coarse
        self._two_stage = False
        self._codes: npt.NDArray[np.uint8] = np.zeros((0, 0), dtype=np.uint8)
        # Two-stage mode: coarse codes and live flags per slot, scanned by matcher._hamming.
        self._coarse: npt.NDArray[np.uint8] = np.zeros((0, 0), dtype=np.uint8)
        self._live: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._scratch = threading.local()
        self.algorithm = algorithm or biometric.ALGORITHM
        self._n_shards = shards
        self._lock = ReadWriteLock()
        self._geometry: Geometry | None = None
        self._shards: list[object] = []
        self._planes: npt.NDArray[np.uint32] = np.zeros((0, 0, 0), dtype=np.uint32)
        self._mask: npt.NDArray[np.uint32] = np.zeros((0, 0), dtype=np.uint32)
        self._subject_of: list[str | None] = []
        self._key_of: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._slots_of: dict[str, list[int]] = {}
        self._slot_of_key: dict[int, int] = {}
        self._free: list[int] = []
        self._next_key = itertools.count(1)
        self._pool = (
            ThreadPoolExecutor(shards, "palm-index", initializer=single_threaded)
            if shards > 1
            else None
        )
        single_threaded()

    # -- size --------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of templates."""
        return len(self._slot_of_key)

    @property
    def subject_count(self) -> int:
        """Number of subjects with at least one template."""
        return len(self._slots_of)

    def __contains__(self, subject_id: object) -> bool:
        return subject_id in self._slots_of

    def has_template(self, key: int) -> bool:
        """Whether a template with ``key`` is in the index."""
        return int(key) in self._slot_of_key

    def subjects(self) -> list[str]:
        """Enrolled subject ids (a copy)."""
        with self._lock.read():
            return list(self._slots_of)

    @property
    def scanned_code_bytes(self) -> int:
        """Bytes of code the first stage scans per template (0 before the first add)."""
        with self._lock.read():
            return 0 if self._geometry is None else self._faiss_code_size()

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held: ``codes`` (FAISS codes and ids) and ``templates`` (re-ranking arrays)."""
        with self._lock.read():
            n = len(self._slot_of_key)
            code_bytes = 0 if self._geometry is None else self._faiss_code_size() * n
            full_codes = self._codes.shape[1] * n if self._two_stage else 0
            ids = n if self._two_stage else 16 * n  # live flags, or FAISS ids and reverse map
            return {
                # First-stage codes and their ids, and the full codes of stage two.
                "codes": code_bytes + ids + full_codes,
                "templates": int(self._planes.nbytes + self._mask.nbytes + self._key_of.nbytes),
            }

    # -- changes -----------------------------------------------------------------------------

    def add(self, subject_id: str, template: biometric.Template, *, key: int | None = None) -> int:
        """Add one template of ``subject_id``; return its key (``key`` if given, else a new one).

        Raises
        ------
        AlgorithmMismatchError
            The template's algorithm or grid differs from the index's.
        ValueError
            ``key`` is already in the index.
        """
        keys = self.add_many(
            [subject_id], template.planes[None], template.mask[None], Geometry.of(template),
            keys=None if key is None else [key],
        )
        return int(keys[0])

    def add_many(
        self,
        subject_ids: Sequence[str],
        planes: npt.NDArray[np.uint32],
        mask: npt.NDArray[np.uint32],
        geometry: Geometry,
        *,
        keys: Sequence[int] | npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.int64]:
        """Add many templates given as stacked arrays (bulk loading); return their keys.

        ``planes`` is (G, P, R) and ``mask`` (G, R) uint32 as in :class:`biometric.Template`.
        """
        g = len(subject_ids)
        if planes.shape[0] != g or mask.shape[0] != g:
            raise ValueError("subject_ids, planes and mask must have the same length")
        if (planes.shape[1:], mask.shape[1:]) != ((geometry.planes, geometry.rows),
                                                  (geometry.rows,)):
            raise ValueError("planes and mask do not match the stated geometry")
        self._check_geometry(geometry)
        for subject in subject_ids:
            if not isinstance(subject, str) or not subject:
                raise ValueError("subject ids must be non-empty strings")
        codes = shortlist_codes(planes, mask, geometry.cols, self.block)  # outside the lock
        with self._lock.write():
            self._ensure_geometry(geometry)
            if keys is None:
                new_keys = np.array([next(self._next_key) for _ in range(g)], dtype=np.int64)
            else:
                new_keys = np.asarray(keys, dtype=np.int64)
                if len(new_keys) != g or len(set(new_keys.tolist())) != g:
                    raise ValueError("keys must be unique and one per template")
                taken = [int(k) for k in new_keys if int(k) in self._slot_of_key]
                if taken:
                    raise ValueError(f"template keys already in the index: {taken[:5]}")
            slots = self._allocate(g)
            if self._two_stage:
                self._codes[slots, : codes.shape[1]] = codes
                coarse = coarse_codes(codes, geometry.planes)
                self._coarse[slots, : coarse.shape[1]] = coarse
            self._planes[slots] = planes
            self._mask[slots] = mask
            self._key_of[slots] = new_keys
            for slot, subject, key in zip(slots.tolist(), subject_ids, new_keys.tolist(),
                                          strict=True):
                self._subject_of[slot] = subject
                self._slots_of.setdefault(subject, []).append(slot)
                self._slot_of_key[key] = slot
            if self._two_stage:
                self._live[slots] = 1  # last: a search never sees a half-written slot
            for s, shard in enumerate(self._shards):
                sel = slots % self._n_shards == s
                if sel.any():
                    shard.add_with_ids(  # type: ignore[attr-defined]
                        np.ascontiguousarray(codes[sel]), slots[sel]
                    )
            if keys is None:
                return new_keys
            # Keep automatically issued keys clear of the caller's.
            top = int(new_keys.max())
            self._next_key = itertools.count(max(top + 1, next(self._next_key)))
            return new_keys

    def remove(self, subject_id: str) -> int:
        """Remove every template of ``subject_id``; return how many were removed (0 if none)."""
        with self._lock.write():
            slots = self._slots_of.pop(subject_id, [])
            self._release(slots)
            return len(slots)

    def remove_template(self, key: int) -> bool:
        """Remove the template with ``key``; return whether it was present."""
        with self._lock.write():
            slot = self._slot_of_key.get(int(key))
            if slot is None:
                return False
            subject = self._subject_of[slot]
            assert subject is not None
            remaining = [s for s in self._slots_of[subject] if s != slot]
            if remaining:
                self._slots_of[subject] = remaining
            else:
                del self._slots_of[subject]
            self._release([slot])
            return True

    # -- search ------------------------------------------------------------------------------

    def search(
        self, probe: biometric.Template, k: int = 5, *, shortlist: int | None = None
    ) -> list[Candidate]:
        """The ``k`` best subjects for ``probe``, best first.

        Parameters
        ----------
        probe : biometric.Template
        k : int
            Number of subjects returned (fewer if the gallery is smaller).
        shortlist : int, optional
            Templates re-ranked exactly; defaults to the index's ``shortlist``.

        Returns
        -------
        list of Candidate
            Scores on :func:`biometric.compare`'s scale.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self._check_geometry(Geometry.of(probe))
        with self._lock.read():
            if not self._slot_of_key:
                return []
            assert self._geometry is not None
            # Coded under the lock: the first add sets the mode and the code widths, and a
            # search racing it must see all of them or none (~0.1 ms, shared with other
            # searches).
            coarse: ProbeCodes | None = None
            if self._two_stage:
                code, coarse = search_codes(probe, self._codes.shape[1], self._coarse.shape[1],
                                            self.probe_shifts, self.block)
            else:
                code = probe_codes(probe, self.probe_shifts, self.block)
            n = min(shortlist or self.shortlist, len(self._slot_of_key))
            slots = self._shortlist(code, n, coarse)
            slots = self._with_sibling_templates(slots)
            subjects = [self._subject_of[s] for s in slots.tolist()]
            scores = np.empty(len(slots), dtype=np.float64)
            # Under the lock: each thread copies its part's templates (the copies are the
            # gathers' cost, ~1 us a template from a large gallery) and scores them.
            self._rerank(probe, slots, self._geometry.cols, scores)
        return _best_per_subject(subjects, scores, k)

    def search_exhaustive(self, probe: biometric.Template, k: int = 5) -> list[Candidate]:
        """Like :meth:`search` but compares ``probe`` with every template exactly (slow: for
        evaluation and as the reference the shortlist is measured against).

        Scores are :func:`biometric.compare_many`'s bit for bit, computed by the C comparison
        (tests/matcher/test_rerank.py) in chunks spread over the index's threads."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self._check_geometry(Geometry.of(probe))
        with self._lock.read():
            if not self._slot_of_key or self._geometry is None:
                return []
            slots = np.fromiter(self._slot_of_key.values(), dtype=np.int64)
            subjects = [self._subject_of[s] for s in slots.tolist()]
            # A copy, so writers are not held up for the seconds a large gallery takes.
            planes, mask, geometry = self._planes[slots], self._mask[slots], self._geometry
        scores = np.empty(len(slots), dtype=np.float64)

        def chunk(start: int) -> None:
            stop = start + _EXHAUSTIVE_CHUNK
            _exact_scores(probe, planes[start:stop], mask[start:stop], geometry.cols,
                          scores[start:stop])

        starts = range(0, len(slots), _EXHAUSTIVE_CHUNK)
        if self._pool is not None:
            list(self._pool.map(chunk, starts))
        else:
            for start in starts:
                chunk(start)
        return _best_per_subject(subjects, scores, k)

    def _rerank(
        self, probe: biometric.Template, slots: npt.NDArray[np.int64], cols: int,
        scores: npt.NDArray[np.float64],
    ) -> None:
        """Under the read lock: exact scores of the templates in ``slots`` into ``scores``,
        split over the search threads (the calling thread takes the first part), each thread
        gathering its part's templates: each score depends on its template alone, so the split
        does not change them."""
        def part(a: int, b: int) -> None:
            # Fancy indexing gives fresh C-contiguous copies, as the C code needs.
            _exact_scores(probe, self._planes[slots[a:b]], self._mask[slots[a:b]], cols,
                          scores[a:b])

        parts = 1 if self._pool is None else min(self._n_shards, len(scores) // _RERANK_PART)
        if parts <= 1:
            part(0, len(scores))
            return
        bounds = np.linspace(0, len(scores), parts + 1).astype(np.int64).tolist()
        assert self._pool is not None
        others = [self._pool.submit(part, a, b) for a, b in itertools.pairwise(bounds[1:])]
        part(0, bounds[1])
        for f in others:
            f.result()

    def contents(self) -> IndexContents:
        """A consistent copy of the index's templates (for snapshots)."""
        with self._lock.read():
            geometry = self._geometry or Geometry(self.algorithm, 0, 0, 0)
            slots = np.fromiter(self._slot_of_key.values(), dtype=np.int64,
                                count=len(self._slot_of_key))
            slots.sort()
            return IndexContents(
                geometry=geometry,
                keys=self._key_of[slots].copy() if len(slots) else np.zeros(0, np.int64),
                subject_ids=tuple(str(self._subject_of[s]) for s in slots.tolist()),
                planes=self._planes[slots] if len(slots) else np.zeros((0, 0, 0), np.uint32),
                mask=self._mask[slots] if len(slots) else np.zeros((0, 0), np.uint32),
            )

    def close(self) -> None:
        """Stop the search threads (the index stays usable single-threaded)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- internals (callers hold the lock where noted) ---------------------------------------

    def _check_geometry(self, geometry: Geometry) -> None:
        if geometry.algorithm != self.algorithm:
            raise AlgorithmMismatchError(
                f"template made by {geometry.algorithm!r}; this index holds {self.algorithm!r}"
            )
        current = self._geometry
        if current is not None and current != geometry:
            raise AlgorithmMismatchError(
                f"template grid {geometry.planes}x{geometry.rows}x{geometry.cols} differs from "
                f"the index's {current.planes}x{current.rows}x{current.cols}"
            )

    def _faiss_code_size(self) -> int:
        assert self._geometry is not None
        g = self._geometry
        if self._two_stage:
            return code_bits(len(COARSE_PLANES), g.rows, g.cols, self.block) // 8
        return code_bits(g.planes, g.rows, g.cols, self.block) // 8

    def _ensure_geometry(self, geometry: Geometry) -> None:
        """Under the write lock: fix the geometry and create the shards on the first add."""
        if self._geometry is not None:
            self._check_geometry(geometry)
            return
        self._geometry = geometry
        self._two_stage = self.coarse > 0 and geometry.planes > max(COARSE_PLANES)
        full = code_bits(geometry.planes, geometry.rows, geometry.cols, self.block) // 8
        self._codes = np.zeros((0, full + (-full) % 8), dtype=np.uint8)
        if self._two_stage:
            width = self._faiss_code_size()
            self._coarse = np.zeros((0, width + (-width) % 8), dtype=np.uint8)
            self._live = np.zeros(0, dtype=np.uint8)
        self._shards = []
        for _ in range(0 if self._two_stage else self._n_shards):
            flat = faiss.IndexBinaryFlat(8 * self._faiss_code_size())
            # Counting sort instead of a heap: far cheaper when thousands of candidates are kept.
            flat.use_heap = not self._two_stage  # type: ignore[attr-defined]
            self._shards.append(faiss.IndexBinaryIDMap2(flat))
        self._planes = np.zeros((0, geometry.planes, geometry.rows), dtype=np.uint32)
        self._mask = np.zeros((0, geometry.rows), dtype=np.uint32)

    def _allocate(self, n: int) -> npt.NDArray[np.int64]:
        """Under the write lock: ``n`` free slots, growing the arrays geometrically."""
        reused = [self._free.pop() for _ in range(min(n, len(self._free)))]
        fresh = n - len(reused)
        start = len(self._subject_of)
        if fresh:
            need = start + fresh
            if need > len(self._planes):
                cap = max(need, int(len(self._planes) * 1.5), 1024)
                self._planes = _grow(self._planes, cap)
                self._mask = _grow(self._mask, cap)
                self._key_of = _grow(self._key_of, cap)
                if self._two_stage:
                    self._codes = _grow(self._codes, cap)
                    self._coarse = _grow(self._coarse, cap)
                    self._live = _grow(self._live, cap)
            self._subject_of.extend([None] * fresh)
        return np.array(reused + list(range(start, start + fresh)), dtype=np.int64)

    def _release(self, slots: Iterable[int]) -> None:
        """Under the write lock: drop slots from the FAISS shards and the maps."""
        slots = list(slots)
        if not slots:
            return
        arr = np.array(slots, dtype=np.int64)
        if self._two_stage:
            self._live[arr] = 0
        for s, shard in enumerate(self._shards):
            sel = arr[arr % self._n_shards == s]
            if len(sel):
                removed = shard.remove_ids(sel)  # type: ignore[attr-defined]
                assert removed == len(sel), "index out of step with its FAISS shards"
        for slot in slots:
            self._subject_of[slot] = None
            del self._slot_of_key[int(self._key_of[slot])]
            self._key_of[slot] = 0
            self._mask[slot] = 0
        self._free.extend(slots)

    def _with_sibling_templates(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Under the read lock: add the other templates of the subjects of the
        :data:`EXPAND_SUBJECTS` nearest codes, so a subject found through one template is scored
        by its best (its best template's code may have ranked outside the shortlist)."""
        extra: list[int] = []
        seen = set(slots.tolist())
        for slot in slots[:EXPAND_SUBJECTS].tolist():
            subject = self._subject_of[slot]
            if subject is None:
                continue
            for sibling in self._slots_of.get(subject, ()):
                if sibling not in seen:
                    seen.add(sibling)
                    extra.append(sibling)
        if not extra:
            return slots
        return np.concatenate([slots, np.array(extra, dtype=np.int64)])

    def _shortlist(
        self, code: ProbeCodes, n: int, coarse: ProbeCodes | None = None
    ) -> npt.NDArray[np.int64]:
        """Under the read lock: slots of the ``n`` templates whose full codes are nearest to any
        of the probe's full codes ``code`` (Q, B), its tied bits left out (one-stage: FAISS
        counts every bit). ``coarse``: the coarse codes of the scanned variants, padded to the
        gallery's width (:func:`matcher.codes.search_codes`), if already made."""
        if not self._two_stage:
            # The variants a coarse stage would scan (every one is a pass over the gallery).
            ids, dist = self._nearest_codes(code.codes[: code.scanned], n)
            return ids[np.lexsort((ids, dist))[:n]]
        assert self._geometry is not None
        slots, full = self._shard_shortlists(code, n, coarse)
        # Each shard's n nearest by (distance, slot) hold the whole gallery's n nearest.
        return slots[np.lexsort((slots, full))[:n]]

    def _shard_shortlists(
        self, code: ProbeCodes, n: int, coarse: ProbeCodes | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint16]]:
        """Under the read lock: per shard (a slot range, in its own thread), the ``coarse`` live
        slots whose coarse codes are nearest to any of the scanned variants of ``code``
        (:mod:`matcher._hamming`), then of those the ``n`` whose full codes are nearest to any
        variant; their slots and full-code distances, all shards together."""
        assert self._geometry is not None
        n_slots = len(self._subject_of)
        if coarse is None:
            coarse = code.coarse(self._geometry.planes)
        probes, weights = _padded(coarse, self._coarse.shape[1])
        full_probes, full_weights = _padded(code, self._codes.shape[1])
        bounds = np.linspace(0, n_slots, self._n_shards + 1).astype(np.int64)

        def one(shard: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint16]]:
            start, stop = int(bounds[shard]), int(bounds[shard + 1])
            if start == stop:
                return np.zeros(0, np.int64), np.zeros(0, np.uint16)
            out = np.empty(self.coarse, dtype=np.int64)
            got = _hamming.nearest(self._coarse, self._live, probes, weights, start, stop,
                                   self.coarse, self._distance_scratch(), out)
            if got == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.uint16)
            candidates = out[:got]  # ascending slots: the scan's ties (by position) are by slot
            full = np.empty(got, dtype=np.uint16)
            chosen = np.empty(n, dtype=np.int64)
            # The candidates' full codes, read in place (no gathered copy).
            kept = _hamming.nearest_rows(self._codes, candidates, full_probes, full_weights, n,
                                         full, chosen)
            chosen = chosen[:kept]
            return candidates[chosen], full[chosen]

        if self._pool is not None:
            # Shard 0 runs on the calling thread: one hand-off fewer per search.
            others = [self._pool.submit(one, s) for s in range(1, self._n_shards)]
            parts = [one(0)] + [f.result() for f in others]
        else:
            parts = [one(s) for s in range(self._n_shards)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _distance_scratch(self) -> npt.NDArray[np.uint16]:
        """This thread's distance buffer for the coarse scan, one entry per slot. Each search
        thread writes only its own shard's range of its own buffer."""
        buf: npt.NDArray[np.uint16] | None = getattr(self._scratch, "dist", None)
        if buf is None or len(buf) < len(self._live):
            buf = np.empty(len(self._live), dtype=np.uint16)
            self._scratch.dist = buf
        return buf

    def _nearest_codes(
        self, code: npt.NDArray[np.uint8], n: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """Under the read lock: the slots among the ``n`` nearest FAISS codes of each shard to
        any of ``code`` (Q, B'), each once at its smallest distance, and those distances."""
        def one(shard: object) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
            ntotal = int(shard.ntotal)  # type: ignore[attr-defined]
            if ntotal == 0:
                return np.zeros(0, np.int32), np.zeros(0, np.int64)
            d, i = shard.search(code, min(n, ntotal))  # type: ignore[attr-defined]
            return d.ravel(), i.ravel()

        if self._pool is not None:
            parts = list(self._pool.map(one, self._shards))
        else:
            parts = [one(s) for s in self._shards]
        dist = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        keep = ids >= 0
        dist, ids = dist[keep], ids[keep]
        # A template found by several probe variants counts at its smallest distance; ties are
        # broken by slot, so the shortlist does not depend on the order shards answer in.
        order = np.lexsort((dist, ids))
        ids, dist = ids[order], dist[order]
        first = np.ones(len(ids), dtype=bool)
        first[1:] = ids[1:] != ids[:-1]
        return ids[first], dist[first]


_Item = TypeVar("_Item", bound=np.generic)


def _exact_scores(
    probe: biometric.Template, planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32],
    cols: int, out: npt.NDArray[np.float64],
) -> None:
    """``biometric.compare_many``'s scores of ``probe`` against (G, P, R) ``planes`` and (G, R)
    ``mask`` (C-contiguous), bit for bit (tests/matcher/test_rerank.py), written to ``out``: in C,
    because the NumPy version spent ~3 ms of a 1M search on ~40 templates in per-shift array
    calls. The rotation search is the contract's (``biometric.compare.ROTATION``, read at each
    call as ``compare_many`` reads it): its turn goes to C as the gather map
    :func:`biometric.compare.rotation_map` gives, and C turns each template with it."""
    rotation = comparator().rotation
    turn = rotation_map(planes.shape[-1], cols, rotation) if rotation else None
    _hamming.compare_many(
        np.ascontiguousarray(probe.planes, dtype=np.uint32),
        np.ascontiguousarray(probe.mask, dtype=np.uint32),
        planes, mask, cols, MAX_SHIFT, float(REFERENCE_OVERLAP), out, turn,
    )


def _padded(code: ProbeCodes, width: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Probe codes and weights zero-padded to the gallery's code width (padding weighs 0: the
    same constant for every code and variant); as they are if already that wide."""
    if code.codes.shape[1] == width:
        return code.codes, code.weights
    probes = np.zeros((len(code.codes), width), dtype=np.uint8)
    weights = np.zeros_like(probes)
    probes[:, : code.codes.shape[1]] = code.codes
    weights[:, : code.weights.shape[1]] = code.weights
    return probes, weights


def _grow(a: npt.NDArray[_Item], cap: int) -> npt.NDArray[_Item]:
    out = np.zeros((cap, *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


def _best_per_subject(
    subjects: Sequence[str | None], scores: npt.NDArray[np.float64], k: int
) -> list[Candidate]:
    """The ``k`` subjects with the highest best score, ordered by (-score, subject id). Walks
    the scores from the highest (a subject's first is its best) and stops once ``k`` subjects
    are found and the scores fall below the k-th's (no later subject can enter), instead of
    visiting all of them (~0.4 ms in Python for 512)."""
    best: dict[str, float] = {}
    kth = -1.0
    for i in np.argsort(-scores, kind="stable").tolist():
        subject, score = subjects[i], float(scores[i])
        if len(best) >= k and score < kth:
            break
        if subject is not None and subject not in best:
            best[subject] = score
            if len(best) == k:
                kth = score
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [Candidate(s, v) for s, v in ranked[:k]]
