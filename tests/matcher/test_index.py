"""The 1:N index: shortlist search agrees with exhaustive comparison, removal, concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pytest

import biometric
import matcher
from matcher import AlgorithmMismatchError, Candidate, PalmIndex

if TYPE_CHECKING:
    from conftest import Palms, Perturb


def enrolled(palms: Palms, **kwargs: int) -> PalmIndex:
    index = PalmIndex(**kwargs)
    for subject in palms.subjects():
        for template in palms.enrolment[subject]:
            index.add(subject, template)
    return index


def test_search_agrees_with_exhaustive_comparison_on_simulated_palms(palms: Palms) -> None:
    # A shortlist much smaller than the gallery, so the binary codes really choose.
    index = enrolled(palms, shortlist=4)
    assert len(index) > 4 * 4
    genuine_first = 0
    for subject, probe in palms.probes.items():
        found = index.search(probe, k=3)
        exact = index.search_exhaustive(probe, k=3)
        assert found[0] == exact[0]
        assert found[0].score == pytest.approx(
            max(biometric.compare(probe, t) for t in palms.enrolment[found[0].subject_id])
        )
        genuine_first += exact[0].subject_id == subject
    # The simulated sensor makes a few hard captures; most probes must find their palm.
    assert genuine_first >= len(palms.probes) - 2


def test_exhaustive_search_scores_every_template_as_biometric_compare_does(palms: Palms) -> None:
    # The reference the index's recall is measured against: every subject, scored by its best
    # template with biometric.compare_many's exact values.
    index = enrolled(palms, shards=2)
    for probe in list(palms.probes.values())[:3]:
        want = sorted(
            ((float(np.max(biometric.compare_many(probe, palms.enrolment[s]))), s)
             for s in palms.subjects()), key=lambda item: (-item[0], item[1]))
        got = index.search_exhaustive(probe, k=len(palms.subjects()))
        assert [(c.score, c.subject_id) for c in got] == want


def test_enrolled_template_finds_its_subject_with_a_perfect_score(palms: Palms) -> None:
    index = enrolled(palms, shortlist=2)
    for subject in palms.subjects():
        for template in palms.enrolment[subject]:
            assert index.search(template, k=1) == [Candidate(subject, 1.0)]


def test_results_are_best_first_one_per_subject(palms: Palms) -> None:
    index = enrolled(palms)
    probe = next(iter(palms.probes.values()))
    found = index.search(probe, k=len(palms.subjects()))
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert len({c.subject_id for c in found}) == len(found) == len(palms.subjects())


def test_removed_person_is_never_returned(palms: Palms) -> None:
    index = enrolled(palms)
    victim = palms.subjects()[0]
    n_before = len(index)
    assert index.remove(victim) == len(palms.enrolment[victim])
    assert len(index) == n_before - len(palms.enrolment[victim])
    assert victim not in index
    for template in palms.enrolment[victim]:
        found = index.search(template, k=len(palms.subjects()))
        assert victim not in {c.subject_id for c in found}
        assert victim not in {c.subject_id for c in index.search_exhaustive(template, k=50)}
    assert index.remove(victim) == 0
    # Slots are reused by later enrolments without resurrecting the removed subject.
    other = palms.subjects()[1]
    index.add("newcomer", palms.enrolment[other][0])
    assert index.search(palms.enrolment[victim][0], k=50)[0].subject_id != victim


def test_remove_one_template_by_key(palms: Palms) -> None:
    index = PalmIndex()
    subject = palms.subjects()[0]
    first, second = palms.enrolment[subject][:2]
    key1 = index.add(subject, first)
    index.add(subject, second)
    assert index.remove_template(key1)
    assert not index.remove_template(key1)
    assert index.search(first, k=1)[0].score < 1.0
    assert index.subject_count == 1


def test_caller_keys_are_kept_and_must_be_unique(palms: Palms) -> None:
    index = PalmIndex()
    t = palms.enrolment[palms.subjects()[0]][0]
    assert index.add("a", t, key=1000) == 1000
    with pytest.raises(ValueError, match="already"):
        index.add("b", t, key=1000)
    assert index.add("c", t) > 1000
    assert index.contents().keys.tolist() == [1000, 1001]


def test_sharding_does_not_change_results(palms: Palms) -> None:
    one, three = enrolled(palms, shards=1, shortlist=6), enrolled(palms, shards=3, shortlist=6)
    everything = len(one)
    for probe in palms.probes.values():
        # Codes at equal distance on the shortlist's edge may be cut differently per shard.
        assert one.search(probe, k=1) == three.search(probe, k=1)
        assert one.search(probe, k=5, shortlist=everything) == three.search(
            probe, k=5, shortlist=everything)


def test_coarse_stage_keeps_what_exhaustive_comparison_finds(palms: Palms) -> None:
    # One coarse candidate per probe variant and shard: the coarse codes really choose.
    two_stage = enrolled(palms, shortlist=4, coarse=1)
    assert len(two_stage) > 2 * 5 * 1 * 2
    for probe in palms.probes.values():
        assert two_stage.search(probe, k=1) == two_stage.search_exhaustive(probe, k=1)


def test_a_coarse_stage_wider_than_the_gallery_changes_nothing(palms: Palms) -> None:
    one_stage, two_stage = enrolled(palms, coarse=0), enrolled(palms, coarse=10_000)
    # 16 x 16 blocks of 2 x 2 cells: 12 planes (bocv-2s6o-c4-v1) in one stage, 2 in the coarse one.
    assert one_stage.scanned_code_bytes == 384
    assert two_stage.scanned_code_bytes == 64
    for probe in palms.probes.values():
        assert one_stage.search(probe, k=5) == two_stage.search(probe, k=5)


def test_empty_index_finds_nothing(palms: Palms) -> None:
    assert PalmIndex().search(next(iter(palms.probes.values()))) == []


def test_other_algorithms_are_refused(palms: Palms) -> None:
    t = palms.enrolment[palms.subjects()[0]][0]
    alien = biometric.Template(t.planes.copy(), t.mask.copy(), t.cols, "another-algorithm")
    index = PalmIndex()
    index.add("a", t)
    with pytest.raises(AlgorithmMismatchError):
        index.add("b", alien)
    with pytest.raises(AlgorithmMismatchError):
        index.search(alien)


def test_searches_during_enrolments_never_fail_or_see_half_added_entries(
    palms: Palms, perturb: Perturb
) -> None:
    rng = np.random.default_rng(3)
    bases = [t for s in palms.subjects() for t in palms.enrolment[s]]
    # Each new subject is enrolled with two templates in one add_many call: a search must see
    # both or neither, so a result for it always carries the score of its best template.
    newcomers = [(f"new-{i:03d}", [perturb(b, rng, 0.05), perturb(b, rng, 0.02)])
                 for i, b in enumerate(bases * 3)]
    index = enrolled(palms, shortlist=8)
    probes = [t for _, ts in newcomers for t in ts[1:]]
    done, searching = threading.Event(), threading.Event()

    def enrol() -> None:
        searching.wait(30)
        try:
            for subject, ts in newcomers:
                index.add_many([subject] * 2, np.stack([t.planes for t in ts]),
                               np.stack([t.mask for t in ts]), matcher.Geometry.of(ts[0]))
        finally:
            done.set()

    def search(seed: int) -> int:
        local = np.random.default_rng(seed)
        searches = 0
        while not done.is_set():
            probe = probes[int(local.integers(len(probes)))]
            for c in index.search(probe, k=3):
                if c.subject_id.startswith("new-"):
                    ts = dict(newcomers)[c.subject_id]
                    assert c.score == pytest.approx(max(biometric.compare(probe, t) for t in ts))
            searches += 1
            searching.set()
        return searches

    with ThreadPoolExecutor(4) as pool:
        searchers = [pool.submit(search, seed) for seed in range(3)]
        pool.submit(enrol).result(timeout=120)
        assert sum(f.result(timeout=120) for f in searchers) > 0
    assert len(index) == sum(len(v) for v in palms.enrolment.values()) + 2 * len(newcomers)
    # After the dust settles every newcomer is found by its own template.
    for subject, ts in newcomers[:: max(1, len(newcomers) // 10)]:
        assert index.search(ts[1], k=1)[0] == Candidate(subject, 1.0)
    index.close()


def test_a_search_racing_the_first_enrolment_waits_for_it(
    palms: Palms, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first add fixes the mode (two stages) and then the code widths; a search that read
    # the mode before the widths were set coded its probe for a gallery of zero-width codes
    # and failed. The add is held half-way, after the mode is set, while a search starts.
    subject = palms.subjects()[0]
    template = palms.enrolment[subject][0]
    index = PalmIndex()
    halfway, go_on = threading.Event(), threading.Event()
    widths = index._faiss_code_size

    def held() -> int:
        halfway.set()
        go_on.wait(30)
        return widths()

    monkeypatch.setattr(index, "_faiss_code_size", held)
    with ThreadPoolExecutor(2) as pool:
        added = pool.submit(index.add, subject, template)
        assert halfway.wait(30)
        found = pool.submit(index.search, template, 1)
        # Give a search that does not wait for the add the time to run to its end.
        with pytest.raises(TimeoutError):
            found.result(timeout=0.3)
        go_on.set()
        added.result(timeout=30)
        assert found.result(timeout=30) == [Candidate(subject, 1.0)]
    index.close()


def test_memory_accounts_for_codes_and_templates(palms: Palms) -> None:
    index = enrolled(palms)
    mem = index.memory_bytes()
    assert mem["codes"] >= len(index) * 48
    assert mem["templates"] >= len(index) * (6 * 32 + 32) * 4
