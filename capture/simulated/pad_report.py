"""APCER / BPCER of the presentation-attack check on simulated live captures and attacks.

Rates follow ISO/IEC 30107-3 [1]_: the APCER of an attack type (presentation attack instrument
species) is the share of its presentations classified as bona fide; the BPCER is the share of
bona fide presentations classified as attacks; both at one operating threshold. The attacks are
the models of :mod:`capture.simulated.attacks`: the rates say how the detector treats those
models, and nothing about real prints, screens or injection tools.

References
----------
.. [1] ISO/IEC 30107-3:2017, Biometric presentation attack detection - Part 3: Testing and
       reporting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import beta

from biometric.pad import THRESHOLD, score_frames
from capture.simulated.attacks import ATTACK_KINDS, AttackSimulator
from capture.simulated.config import Geometry
from capture.simulated.sensor import SimulatedSensor

BONA_FIDE = "bona_fide"


@dataclass(frozen=True)
class Presentation:
    """One scored presentation: its class, variant, liveness score and failed checks."""

    kind: str
    variant: str
    score: float
    reasons: tuple[str, ...]


@dataclass
class PadReport:
    """Scores of every presentation and the error rates at ``threshold``."""

    threshold: float
    seed: int
    geometry: str
    presentations: list[Presentation] = field(default_factory=list)

    def scores(self, kind: str) -> list[float]:
        return [p.score for p in self.presentations if p.kind == kind]

    def bpcer(self) -> float:
        """Share of bona fide presentations refused (score below the threshold)."""
        s = np.array(self.scores(BONA_FIDE))
        return float(np.mean(s < self.threshold)) if s.size else float("nan")

    def apcer(self, kind: str) -> float:
        """Share of ``kind`` attack presentations accepted (score at or above the threshold)."""
        s = np.array(self.scores(kind))
        return float(np.mean(s >= self.threshold)) if s.size else float("nan")

    def summary(self) -> dict[str, object]:
        """JSON-ready figures: counts, APCER per attack type and its maximum, BPCER, reasons."""
        kinds = [k for k in ATTACK_KINDS if self.scores(k)]
        apcer = {k: self.apcer(k) for k in kinds}
        n_bona = len(self.scores(BONA_FIDE))
        refused = sum(s < self.threshold for s in self.scores(BONA_FIDE))
        apcer_ci = {
            k: interval95(sum(s >= self.threshold for s in self.scores(k)), len(self.scores(k)))
            for k in kinds
        }
        per_kind: dict[str, object] = {}
        for kind in [BONA_FIDE, *kinds]:
            items = [p for p in self.presentations if p.kind == kind]
            variants = Counter(p.variant for p in items)
            per_kind[kind] = {
                "presentations": len(items),
                "accepted": sum(p.score >= self.threshold for p in items),
                "variants": {
                    v: {
                        "presentations": n,
                        "accepted": sum(p.score >= self.threshold for p in items if p.variant == v),
                    }
                    for v, n in sorted(variants.items())
                },
                "reasons": dict(Counter(r for p in items for r in p.reasons).most_common()),
            }
        return {
            "simulated": True,
            "statement": (
                "Simulated attacks on a simulated sensor: these rates describe how the check "
                "treats the attack models in capture.simulated.attacks, and say nothing about "
                "real prints, screens or injection tools."
            ),
            "seed": self.seed,
            "geometry": self.geometry,
            "threshold": self.threshold,
            "bpcer": self.bpcer(),
            "bpcer_ci95": interval95(refused, n_bona),
            "apcer": apcer,
            "apcer_ci95": apcer_ci,
            "apcer_max": max(apcer.values()) if apcer else float("nan"),
            "per_kind": per_kind,
        }


def interval95(errors: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson (exact binomial) 95 % confidence interval of the rate ``errors / n``."""
    if n <= 0:
        return (float("nan"), float("nan"))
    low = 0.0 if errors == 0 else float(beta.ppf(0.025, errors, n - errors + 1))
    high = 1.0 if errors == n else float(beta.ppf(0.975, errors + 1, n - errors))
    return (low, high)


def _bona_fide_indices(i: int) -> tuple[int, int, int]:
    # A new identity each time, later sessions (session 0 is the enrolment the attacker stole
    # from), every sample index in turn.
    return i, 1 + i % 2, i % 5


def presentations(
    n_bona_fide: int,
    n_attack: int,
    *,
    seed: int = 0,
    geometry: Geometry = "contactless",
    kinds: tuple[str, ...] = ATTACK_KINDS,
) -> Iterator[Presentation]:
    """Generate and score presentations one at a time (bona fide first, then each attack type).

    Parameters
    ----------
    n_bona_fide, n_attack : int
        Bona fide presentations, and presentations per attack type.
    seed : int
        Seed of the simulated population and (``seed + 1``) of the attacks.
    geometry : {"contactless", "pegged"}
    kinds : tuple of str
        Attack types to include (see :data:`capture.simulated.attacks.ATTACK_KINDS`).
    """
    if n_bona_fide < 0 or n_attack < 0:
        raise ValueError("counts must be non-negative")
    unknown = set(kinds) - set(ATTACK_KINDS)
    if unknown:
        raise ValueError(f"unknown attack types {sorted(unknown)}; expected {ATTACK_KINDS}")
    sensor = SimulatedSensor(seed=seed, geometry=geometry)
    attacks = AttackSimulator(sensor, seed=seed + 1)
    # A pegged device's plate, pegs and casing lie at the hand's distance: no surround cue.
    free_space = geometry == "contactless"
    for i in range(n_bona_fide):
        identity, session, sample = _bona_fide_indices(i)
        lit = sensor.capture(identity, session, sample).image
        ambient = sensor.capture(identity, session, sample, led=False).image
        result = score_frames(ambient, lit, free_space=free_space)
        yield Presentation(BONA_FIDE, "live", result.score, result.reasons)
    for kind in ATTACK_KINDS:
        if kind not in kinds:
            continue
        for i in range(n_attack):
            identity, session, sample = _bona_fide_indices(i)
            a = attacks.attack(kind, identity, session, sample)
            result = score_frames(a.ambient, a.lit, free_space=free_space)
            yield Presentation(kind, a.variant, result.score, result.reasons)


def run(
    n_bona_fide: int,
    n_attack: int,
    *,
    seed: int = 0,
    geometry: Geometry = "contactless",
    threshold: float = THRESHOLD,
    kinds: tuple[str, ...] = ATTACK_KINDS,
    progress: Callable[[Presentation], None] | None = None,
) -> PadReport:
    """Score ``n_bona_fide`` live captures and ``n_attack`` of each attack type."""
    report = PadReport(threshold=threshold, seed=seed, geometry=geometry)
    for p in presentations(n_bona_fide, n_attack, seed=seed, geometry=geometry, kinds=kinds):
        report.presentations.append(p)
        if progress is not None:
            progress(p)
    return report


__all__ = ["BONA_FIDE", "PadReport", "Presentation", "interval95", "presentations", "run"]
