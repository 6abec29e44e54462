"""``palmvein bench identify``'s measurements hang together on a small simulated gallery."""

from __future__ import annotations

from matcher import _hamming
from matcher.benchmark import BenchConfig, run, simulated_palms
from palmvein.cli.bench_cmd import result_table


def test_a_small_benchmark_accounts_for_every_probe() -> None:
    result = run(
        BenchConfig(gallery=600, identities=6, bases=4, repeats=1, exact_budget_s=0.0, seed=3)
    ).as_dict()
    probes = result["probes"]
    assert 0 < probes <= 6 and result["gallery_templates"] == 600
    top1 = result["true_subject_top1"]
    # Every probe is a hit, a palm the index lost, or one exact comparison itself gets wrong.
    assert top1["hits"] + top1["index_lost"] + top1["exact_prefers_impostor"] == probes
    assert 0 <= top1["index_lost_above_threshold"] <= top1["index_lost"]
    assert result["kernel"] == _hamming.kernel()
    recall = result["recall_vs_exhaustive"]
    assert recall["probes"] == 1  # a zero budget still runs one exhaustive search
    assert 0 <= recall["agree"] <= recall["probes"]
    assert result["latency_ms"]["n"] == probes
    table = result_table(result)
    assert table.row_count > 10


def test_palms_are_enrolled_with_as_many_captures_as_asked() -> None:
    enrolment, probes = simulated_palms(2, seed=3, enrol_captures=4)
    assert enrolment and set(enrolment) == set(probes)
    for subject, templates in enrolment.items():
        assert len(templates) == 4
        # The probe (session 1) is none of the enrolled captures.
        assert all(t.to_bytes() != probes[subject].to_bytes() for t in templates)
