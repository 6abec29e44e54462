"""Impostor score distributions and thresholds for a target false-match rate.

A threshold is only meaningful with the distribution of scores between *different* palms
(impostor scores) of the same extraction algorithm, compared the same way. The package ships one
per algorithm version (``matcher/data/impostors-<algorithm>.json``), made by :func:`main`
(``python -m matcher.calibration``) from simulated captures; the file records how it was made and
the comparator whose scores it holds (:func:`biometric.compare.comparator`: translation search,
rotation search, overlap normalisation). Templates do not change when the comparator does (the
algorithm id is the template's), but scores do: :func:`shipped` refuses a file made with another
comparator than the one :func:`biometric.compare` uses now, so a threshold is never read off
another comparator's scores.

Tail model
----------
Where the requested false-match rate ``fmr`` is supported by the data (at least
:data:`MIN_TAIL_COUNT` impostor scores at or above the threshold) the threshold is the empirical
upper quantile. Rarer rates - a gallery of a million at an FPIR of 0.1 % asks for 1e-9 per
comparison - lie beyond any feasible sample, so the tail above the score exceeded by the top
:data:`TAIL_FIT` scores is modelled as exponential (peaks over threshold with a generalised Pareto
shape of zero, fitted by maximum likelihood). Impostor Hamming distances are near-binomial, whose
tail falls faster than exponential, so the extrapolated threshold errs high (safe for money, at a
cost in false non-matches). Such thresholds are flagged ``extrapolated``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

import biometric
from biometric.compare import comparator
from matcher.errors import CalibrationError

#: Fewest impostor scores at or above an empirical threshold.
MIN_TAIL_COUNT = 10
#: Number of top impostor scores the exponential tail is fitted to.
TAIL_FIT = 1000
#: Number of top scores kept in the distribution file.
TAIL_KEEP = 5000
FORMAT = "palmvein-impostor-scores/1"


@dataclass(frozen=True)
class Threshold:
    """A decision threshold: accept scores >= ``score``.

    ``fmr`` is the requested per-comparison false-match rate; ``extrapolated`` says the threshold
    comes from the fitted tail, beyond the measured scores.
    """

    score: float
    fmr: float
    extrapolated: bool


@dataclass(frozen=True)
class ImpostorDistribution:
    """Impostor scores of one algorithm, summarised: the top scores, a histogram, provenance.

    Attributes
    ----------
    algorithm : str
    count : int
        Number of impostor comparisons.
    tail : (T,) float64 ndarray
        The highest ``T`` scores, descending.
    hist_counts : (1000,) int64 ndarray
        Histogram of all scores over [0, 1] in bins of 0.001.
    provenance : dict
        How the scores were made (generator, seed, identities, code revision, date).
    comparator : str or None
        :attr:`biometric.compare.Comparator.id` of the comparator that made the scores (None:
        not recorded, as in files made before it was).
    """

    algorithm: str
    count: int
    tail: npt.NDArray[np.float64]
    hist_counts: npt.NDArray[np.int64]
    provenance: dict[str, Any] = field(default_factory=dict)
    comparator: str | None = None

    @classmethod
    def from_scores(
        cls,
        scores: npt.ArrayLike,
        algorithm: str,
        provenance: dict[str, Any] | None = None,
        comparator: str | None = None,
    ) -> ImpostorDistribution:
        s = np.asarray(scores, dtype=np.float64).ravel()
        if len(s) < TAIL_FIT:
            raise CalibrationError(f"{len(s)} impostor scores are too few (need {TAIL_FIT}+)")
        tail = -np.sort(-s)[:TAIL_KEEP]
        counts, _ = np.histogram(s, bins=1000, range=(0.0, 1.0))
        return cls(algorithm, len(s), tail, counts.astype(np.int64), dict(provenance or {}),
                   comparator)

    # -- rates and thresholds ------------------------------------------------------------------

    def _fit(self) -> tuple[float, float, float]:
        """Exponential tail: (u, p_u, rate) with P(S > u + x) = p_u * exp(-rate * x)."""
        m = min(TAIL_FIT, len(self.tail) - 1)
        u = float(self.tail[m])
        excess = self.tail[:m] - u
        mean_excess = float(excess.mean())
        rate = 1.0 / max(mean_excess, 1e-9)
        return u, m / self.count, rate

    def fmr_at(self, threshold: float) -> float:
        """Estimated false-match rate of ``threshold``: the fraction of impostor scores >= it
        (from the fitted tail where fewer than :data:`MIN_TAIL_COUNT` scores reach it)."""
        above = int(np.count_nonzero(self.tail >= threshold))
        if above == len(self.tail):
            # Below the kept tail: count whole histogram bins from the threshold's bin up.
            i = min(max(math.floor(threshold * len(self.hist_counts)), 0),
                    len(self.hist_counts) - 1)
            return float(self.hist_counts[i:].sum()) / self.count
        if above >= MIN_TAIL_COUNT:
            return above / self.count
        u, p_u, rate = self._fit()
        return float(p_u * math.exp(-rate * max(threshold - u, 0.0)))

    def threshold_for(self, fmr: float) -> Threshold:
        """The lowest score whose false-match rate is at most ``fmr``."""
        if not 0.0 < fmr < 1.0:
            raise CalibrationError(f"false-match rate must be in (0, 1), got {fmr}")
        needed = fmr * self.count
        if needed >= MIN_TAIL_COUNT and needed < len(self.tail):
            # Accepting the top floor(needed) scores keeps the empirical rate <= fmr.
            j = math.floor(needed)
            score = float(np.nextafter(self.tail[j], 1.0))
            return Threshold(min(score, 1.0), fmr, extrapolated=False)
        if needed >= len(self.tail):
            edges = np.linspace(0.0, 1.0, 1001)
            above = np.cumsum(self.hist_counts[::-1])[::-1]  # scores in bin i or higher
            ok = np.nonzero(above <= needed)[0]
            score = float(edges[ok[0]]) if len(ok) else 1.0
            return Threshold(score, fmr, extrapolated=False)
        u, p_u, rate = self._fit()
        score = u + math.log(p_u / fmr) / rate
        return Threshold(min(score, 1.0), fmr, extrapolated=True)

    # -- files -----------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "algorithm": self.algorithm,
                "comparator": self.comparator,
                "count": self.count,
                "provenance": self.provenance,
                "summary": self._summary(),
                "tail": [round(float(v), 6) for v in self.tail],
                "histogram": {"range": [0.0, 1.0], "bins": len(self.hist_counts),
                              "counts": self.hist_counts.tolist()},
            },
            indent=1,
        )

    def _summary(self) -> dict[str, float]:
        centres = (np.arange(len(self.hist_counts)) + 0.5) / len(self.hist_counts)
        mean = float((centres * self.hist_counts).sum() / self.count)
        var = float((((centres - mean) ** 2) * self.hist_counts).sum() / self.count)
        return {"mean": round(mean, 5), "std": round(math.sqrt(var), 5),
                "max": round(float(self.tail[0]), 5)}

    @classmethod
    def from_json(cls, text: str) -> ImpostorDistribution:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise CalibrationError(f"not an impostor score file ({data.get('format')!r})")
            return cls(
                algorithm=str(data["algorithm"]),
                count=int(data["count"]),
                tail=np.asarray(data["tail"], dtype=np.float64),
                hist_counts=np.asarray(data["histogram"]["counts"], dtype=np.int64),
                provenance=dict(data.get("provenance", {})),
                comparator=None if data.get("comparator") is None else str(data["comparator"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"unreadable impostor score file: {exc}") from exc


def _data_name(algorithm: str) -> str:
    return f"impostors-{algorithm}.json"


def shipped(algorithm: str | None = None) -> ImpostorDistribution:
    """The impostor distribution shipped with the package for ``algorithm`` (default: current),
    made with the comparator :func:`biometric.compare` uses now.

    Raises
    ------
    CalibrationError
        No distribution was generated for this algorithm version, or the shipped one holds the
        scores of another comparator (e.g. the rotation search turned on or off since): run
        ``python -m matcher.calibration`` after changing the extraction algorithm or
        :mod:`biometric.compare`'s settings.
    """
    algorithm = algorithm or biometric.ALGORITHM
    dist = _shipped_file(algorithm)
    current = comparator().id
    if dist.comparator != current:
        raise CalibrationError(
            f"{_data_name(algorithm)} holds scores of comparator {dist.comparator!r}, but "
            f"biometric.compare now compares as {current!r}; regenerate it with "
            "`python -m matcher.calibration`"
        )
    return dist


@lru_cache(maxsize=8)
def _shipped_file(algorithm: str) -> ImpostorDistribution:
    resource = resources.files("matcher") / "data" / _data_name(algorithm)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(
            f"no impostor score distribution for algorithm {algorithm!r}; generate one with "
            "`python -m matcher.calibration`"
        ) from None
    dist = ImpostorDistribution.from_json(text)
    if dist.algorithm != algorithm:
        raise CalibrationError(f"{_data_name(algorithm)} holds scores of {dist.algorithm!r}")
    return dist


# -- the site's own palms -------------------------------------------------------------------------

#: Fewest different owners a site calibration is made from: every pair of their templates is
#: an impostor pair, and :data:`TAIL_FIT` of them are needed for the tail model.
MIN_SITE_OWNERS = 50


class Thresholds(Protocol):
    """What a decision needs of a calibration: its algorithm and a threshold per target FMR."""

    @property
    def algorithm(self) -> str: ...

    def threshold_for(self, fmr: float) -> Threshold: ...


@dataclass(frozen=True)
class Calibration:
    """The shipped (simulated) impostor distribution, tightened by the site's own palms.

    The shipped distribution comes from simulated palms, whose impostor scores are narrower than
    real ones: on the PolyU NIR palms its threshold for FMR 1e-4 let through 0.45 % of impostor
    pairs, 45 times the target (``palmvein eval`` reports this check on any dataset). The palms enrolled at a site,
    captured by its own scanners, are real impostors of one another; a threshold is the higher of
    the two distributions' for the same FMR, so neither can loosen the other.

    Attributes
    ----------
    shipped : ImpostorDistribution
    site : ImpostorDistribution or None
        Impostor scores between the site's enrolled palms (:func:`all_pairs_scores` with owners);
        None until a site calibration has been made.
    """

    shipped: ImpostorDistribution
    site: ImpostorDistribution | None = None

    def __post_init__(self) -> None:
        if self.site is not None and (
            self.site.algorithm != self.shipped.algorithm
            or self.site.comparator != self.shipped.comparator
        ):
            raise CalibrationError(
                f"site calibration of {self.site.algorithm!r} / {self.site.comparator!r} does not "
                f"fit {self.shipped.algorithm!r} / {self.shipped.comparator!r}"
            )

    @property
    def algorithm(self) -> str:
        return self.shipped.algorithm

    def threshold_for(self, fmr: float) -> Threshold:
        """The stricter of the shipped and the site threshold for ``fmr``."""
        reference = self.shipped.threshold_for(fmr)
        if self.site is None:
            return reference
        site = self.site.threshold_for(fmr)
        return site if site.score > reference.score else reference


# -- generation ---------------------------------------------------------------------------------


def simulated_templates(
    seed: int, identities: Sequence[int], *, session: int = 0, sample: int = 0
) -> tuple[list[int], list[biometric.Template]]:
    """One template per simulated identity (captures that fail the quality gate are skipped)."""
    from capture.simulated import SimulatedSensor  # only the generator needs the simulator

    sensor = SimulatedSensor(seed=seed, cache_size=2)
    kept: list[int] = []
    templates: list[biometric.Template] = []
    for i in identities:
        image = sensor.capture(identity=i, session=session, sample=sample).image
        try:
            templates.append(biometric.extract(image))
        except biometric.BiometricError:
            continue
        kept.append(i)
    return kept, templates


def all_pairs_scores(
    templates: Sequence[biometric.Template],
    owners: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> npt.NDArray[np.float64]:
    """Scores of every unordered pair of ``templates`` whose owners differ (all impostor pairs).

    Parameters
    ----------
    templates : sequence of Template
        One palm each when ``owners`` is None; else typically one template per enrolled hand.
    owners : sequence of str, optional
        The person each template belongs to: a person's two hands are not compared (they are not
        an impostor attempt on a payroll). None: every template is a different palm.
    progress : callable, optional
        Called with the number of templates done after each one.
    """
    if owners is not None and len(owners) != len(templates):
        raise CalibrationError(f"{len(templates)} templates but {len(owners)} owners")
    who = np.asarray(owners) if owners is not None else None
    stack = biometric.TemplateStack(templates)
    out = []
    for i, t in enumerate(templates[:-1]):
        scores = biometric.compare_many(t, stack)[i + 1:]
        out.append(scores if who is None else scores[who[i + 1:] != who[i]])
        if progress is not None:
            progress(i + 1)
    return np.concatenate(out) if out else np.zeros(0)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped impostor distribution from simulated captures."""
    parser = argparse.ArgumentParser(prog="python -m matcher.calibration", description=main.__doc__)
    parser.add_argument("--seed", type=int, default=20261122, help="simulated sensor seed")
    parser.add_argument("--identities", type=int, default=1500,
                        help="simulated identities (one capture each; all pairs are impostors)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: package)")
    args = parser.parse_args(argv)
    # The code that extracts the templates is the code imported now, not at the end.
    revision = _git("rev-parse", "HEAD")
    # Pathspecs from the repository's top (git runs in matcher/, where "biometric" matched nothing).
    changes = _git("status", "--porcelain", "--", ":/biometric", ":/capture")
    _, templates = simulated_templates(args.seed, range(args.identities))
    scores = all_pairs_scores(templates)
    provenance = {
        "generator": "python -m matcher.calibration",
        "source": "capture.simulated.SimulatedSensor (contactless geometry, default config)",
        "seed": args.seed,
        "identities_requested": args.identities,
        "templates": len(templates),
        "capture": "session 0, sample 0, right hand; one capture per identity",
        "pairs": "every unordered pair of templates of different identities",
        "code_revision": revision,
        "uncommitted_changes": changes.split("\n") if changes else [],
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "caveat": "simulated palms, not a measured population; revalidate on real captures",
    }
    dist = ImpostorDistribution.from_scores(scores, biometric.ALGORITHM, provenance,
                                            comparator().id)
    out = args.out or Path(__file__).parent / "data" / _data_name(biometric.ALGORITHM)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dist.to_json() + "\n", encoding="utf-8")
    print(f"{len(scores)} impostor scores of {len(templates)} templates, comparator "
          f"{dist.comparator} -> {out}")
    print(json.dumps(dist._summary()))
    for fmr in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-9):
        t = dist.threshold_for(fmr)
        print(f"threshold at FMR {fmr:g}: {t.score:.4f}{' (extrapolated)' if t.extrapolated else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
