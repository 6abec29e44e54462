"""End-to-end evaluation with a toy extractor whose results are known in advance.

Each synthetic identity is a flat grey image of its own intensity (identities 5 grey
levels apart), each sample shifted by at most 1 grey level. The toy template is the mean
intensity and the toy score ``1 - |difference| / 255``, so genuine pairs (difference <= 2)
always outscore impostor pairs (difference >= 3): EER 0, rank-1 100 %, FNIR 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from biometric import QualityError
from matcher.evaluation import EvaluationError, evaluate, load_samples, read_genuine_impostor


def toy_extract(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    mean = float(image.mean())
    if mean < 5:
        raise QualityError("image too dark", ("underexposed",))
    if mean > 250:
        raise ZeroDivisionError("toy extractor bug")
    return np.array([mean])


def toy_compare_many(
    probe: npt.NDArray[np.float64], gallery: list[npt.NDArray[np.float64]]
) -> npt.NDArray[np.float64]:
    return 1.0 - np.abs(np.concatenate(gallery) - probe[0]) / 255.0


def _image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((12, 16), value, np.uint8))


@pytest.fixture
def two_sessions(tmp_path: Path) -> Path:
    """4 identities x 2 sessions x 2 samples, plus three images that give no template."""
    root = tmp_path / "data"
    for k, identity in enumerate("abcd"):
        for session in (1, 2):
            for n, offset in ((1, -1), (2, 1)):
                _image(root / identity / f"s{session}_{n:02d}.png", 40 + 5 * k + offset)
    _image(root / "a" / "s2_03.png", 0)  # rejected by the extractor
    (root / "a" / "s2_04.png").write_bytes(b"this is not a PNG")  # unreadable
    _image(root / "b" / "s1_03.png", 255)  # crashes the extractor
    return root


def _run(root: Path, out: Path, **kwargs: object):
    return evaluate(
        load_samples(root, "folder"),
        toy_extract,
        toy_compare_many,
        out_dir=out,
        dataset={"root": str(root), "layout": "folder"},
        progress=False,
        **kwargs,
    )


def test_cross_session_evaluation_end_to_end(two_sessions, tmp_path):
    out = tmp_path / "out"
    result = _run(two_sessions, out)
    report = json.loads((out / "report.json").read_text())
    assert report == result.report

    enrol = report["enrolment"]
    assert (enrol["attempts"], enrol["templates"], enrol["failures"]) == (19, 16, 3)
    assert enrol["by_kind"] == {"unreadable": 1, "rejected": 1, "crash": 1}
    reasons = {f["file"]: (f["kind"], f["reason"]) for f in enrol["failure_list"]}
    assert reasons["a/s2_03.png"] == ("rejected", "QualityError: image too dark")
    assert reasons["a/s2_04.png"] == ("unreadable", "unreadable")
    assert reasons["b/s1_03.png"][0] == "crash" and "ZeroDivisionError" in reasons["b/s1_03.png"][1]

    ver = report["verification"]
    assert ver["protocol"].startswith("cross-session")
    assert (ver["genuine_pairs"], ver["impostor_pairs"]) == (4 * 2 * 2, 8 * 8 - 16)
    assert ver["eer"] == 0.0
    at_1e3 = ver["fnmr_at_fmr"][0]
    assert not at_1e3["measurable"] and at_1e3["negatives_needed"] == 3000

    closed = report["identification"]["closed_set"]
    assert closed["probes"] == 8 and closed["rank1"] == 1.0
    open_set = report["identification"]["open_set"]
    assert open_set["enrolled_identities"] == 2 and open_set["not_enrolled_identities"] == 2
    assert open_set["mated_searches"] + open_set["nonmated_searches"] == 8

    assert report["timing"]["median_extract_ms"] > 0
    assert report["timing"]["timed_comparisons"] == 64
    assert (out / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_score_file_holds_every_comparison_once(two_sessions, tmp_path):
    result = _run(two_sessions, tmp_path / "out")
    scores_path = tmp_path / "out" / "scores.txt"
    assert result.report["outputs"]["score_lines"] == 64
    lines = scores_path.read_text().splitlines()
    assert len(lines) == 64
    # probes are session-2 files, enrolled ids the session-1 identities
    assert {line.split()[2].split("/")[1][:3] for line in lines} == {"s2_"}
    genuine, impostor = read_genuine_impostor(scores_path)
    np.testing.assert_array_equal(np.sort(genuine), np.sort(result.genuine))
    np.testing.assert_array_equal(np.sort(impostor), np.sort(result.impostor))


def test_parallel_extraction_gives_the_same_results(two_sessions, tmp_path):
    serial = _run(two_sessions, tmp_path / "serial")
    parallel = _run(two_sessions, tmp_path / "parallel", jobs=2)
    np.testing.assert_array_equal(serial.genuine, parallel.genuine)
    np.testing.assert_array_equal(serial.impostor, parallel.impostor)
    assert serial.failures == parallel.failures


def test_without_sessions_all_distinct_pairs_and_first_half_gallery(tmp_path):
    root = tmp_path / "data"
    for k in range(40):
        for n, offset in enumerate((-1, 0, 1, 0)):
            _image(root / f"id{k:02d}" / f"{n}.png", 20 + 5 * k + offset)
    result = _run(root, tmp_path / "out", fmr_targets=(0.01,), fpir_target=0.1)
    ver = result.report["verification"]
    assert ver["protocol"] == "all distinct pairs (sessions unknown)"
    assert ver["genuine_pairs"] == 40 * 6
    assert ver["genuine_pairs"] + ver["impostor_pairs"] == 160 * 159 // 2
    assert ver["eer"] == 0.0
    assert ver["fnmr_at_fmr"][0]["false_negative_rate"] == 0.0
    ident = result.report["identification"]
    assert ident["gallery_templates"] == 80 and ident["closed_set"]["probes"] == 80
    assert ident["closed_set"]["rank1"] == 1.0
    point = ident["open_set"]["fnir_at_fpir"]
    assert point["measurable"] and point["false_negative_rate"] == 0.0
    assert point["false_positive_rate"] <= 0.1
    assert result.report["outputs"]["score_lines"] == 160 * 159 // 2


def test_a_confusable_identity_shows_up_in_the_error_rates(tmp_path):
    root = tmp_path / "data"
    for k, identity in enumerate("abc"):
        for session in (1, 2):
            _image(root / identity / f"s{session}_01.png", 40 + 5 * k)
    _image(root / "d" / "s1_01.png", 50)  # d looks exactly like c
    _image(root / "d" / "s2_01.png", 50)
    result = _run(root, tmp_path / "out")
    # c and d tie: both identities' probes rank 2 (ties count against), EER > 0
    assert result.report["identification"]["closed_set"]["rank1"] == pytest.approx(0.5)
    assert result.report["verification"]["eer"] > 0


def test_too_few_templates_is_an_error(tmp_path):
    root = tmp_path / "data"
    _image(root / "a" / "1.png", 0)
    _image(root / "b" / "1.png", 100)
    with pytest.raises(EvaluationError, match="only 1 of 2 images"):
        _run(root, tmp_path / "out")


def _check_extremes(report: dict, result, root: Path) -> None:
    lowest = report["verification"]["lowest_genuine"]
    highest = report["verification"]["highest_impostor"]
    assert lowest and highest
    assert all(p["enrolled_id"] == p["probe_id"] for p in lowest)
    assert all(p["enrolled_id"] != p["probe_id"] for p in highest)
    assert [p["score"] for p in lowest] == sorted(p["score"] for p in lowest)
    assert lowest[0]["score"] == pytest.approx(float(result.genuine.min()))
    assert highest[0]["score"] == pytest.approx(float(result.impostor.max()))
    for pair in lowest + highest:  # the listed files really give the listed score
        a = toy_extract(cv2.imread(str(root / pair["enrolled_file"]), cv2.IMREAD_GRAYSCALE))
        b = toy_extract(cv2.imread(str(root / pair["probe_file"]), cv2.IMREAD_GRAYSCALE))
        assert toy_compare_many(b, [a])[0] == pytest.approx(pair["score"], abs=1e-6)


def test_report_lists_the_worst_pairs_cross_session(two_sessions, tmp_path):
    result = _run(two_sessions, tmp_path / "out")
    _check_extremes(result.report, result, two_sessions)
    lowest = result.report["verification"]["lowest_genuine"]
    assert all("/s1_" in p["enrolled_file"] and "/s2_" in p["probe_file"] for p in lowest)


def test_report_lists_the_worst_pairs_all_pairs(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(5)
    for k in range(30):
        for n in range(3):
            _image(root / f"id{k:02d}" / f"{n}.png", int(rng.integers(10, 240)))
    result = _run(root, tmp_path / "out")
    _check_extremes(result.report, result, root)


def test_a_session_without_templates_is_an_error_not_a_silent_protocol_change(tmp_path):
    root = tmp_path / "data"
    for identity, value in (("a", 50), ("b", 90)):
        _image(root / identity / "s1_01.png", value)
        _image(root / identity / "s1_02.png", value)
        _image(root / identity / "s2_01.png", 0)  # every session-2 image is rejected
    with pytest.raises(EvaluationError, match="no templates from the later sessions"):
        _run(root, tmp_path / "out")


def test_thresholds_set_elsewhere_are_checked_on_this_datasets_impostors(two_sessions, tmp_path):
    # Identities are 5 grey levels apart and samples +/-1: the three neighbouring pairs of
    # identities give 6 cross-session impostor pairs 3 levels apart (score 1 - 3/255) of 48.
    thresholds = {0.1: 1 - 3.5 / 255, 0.01: 1 - 2.5 / 255, 0.001: 1 - 1 / 255}
    report = _run(two_sessions, tmp_path / "out", fixed_thresholds=thresholds,
                  fixed_thresholds_source="toy calibration").report
    fixed = report["verification"]["fixed_thresholds"]
    assert fixed["source"] == "toy calibration"
    loose, middle, strict = fixed["points"]
    assert loose["target_fmr"] == 0.1 and loose["impostor_pairs_at_or_above"] == 6
    assert loose["fmr"] == pytest.approx(6 / 48) and loose["fmr_ratio"] == pytest.approx(1.25)
    assert loose["fmr_measurable"] and loose["fnmr"] == 0.0
    # No impostor passes, but 48 pairs cannot show an FMR of 1 %: not measurable.
    assert middle["fmr"] == 0.0 and not middle["fmr_measurable"]
    assert middle["impostor_pairs_needed"] == 300 and middle["fnmr"] == 0.0
    # Genuine pairs 2 levels apart (half of them) fall under a threshold 1 level from the top.
    assert strict["fnmr"] == pytest.approx(0.5)


def test_without_thresholds_set_elsewhere_the_report_has_no_such_section(two_sessions, tmp_path):
    report = _run(two_sessions, tmp_path / "out").report
    assert "fixed_thresholds" not in report["verification"]
