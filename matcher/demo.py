"""Demo step: enrol simulated staff and catch a planted duplicate (for ``palmvein demo``).

Uses the same service as the API. The planted duplicate is a simulated palm enrolled once under
its own name and presented again, from new captures, under another name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import biometric
from matcher.repository import IndexFollower
from matcher.service import EnrolmentOutcome, EnrolmentPolicy, MatcherService

DEMO_STAFF = ("Leila Haddad", "Samir Benali", "Fatou Diallo", "Yusuf Okafor", "Mei Lin Tan")
SAMPLES = 3


@dataclass
class DemoReport:
    enrolled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    duplicate_caught: bool = False
    duplicate_case_id: int | None = None
    identified: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)


def capture_templates(seed: int, identity: int, session: int, n: int) -> list[biometric.Template]:
    """Templates of ``n`` good captures of one simulated palm, taken the way a desk takes them:
    the pyusb driver on the emulated USB scanner, a capture session that waits for the hand,
    pairs LED-off and LED-on frames, checks liveness and keeps the best frame by quality."""
    from capture.session import CaptureSession, SessionSettings
    from capture.uri import scanner_from_uri

    scanner = scanner_from_uri(
        f"usb-emulated://?seed={seed}&identity={identity}&session={session}&hand_at=80"
    )
    settings = SessionSettings(frames=2, presence_timeout_s=5.0, poll_interval_s=0.0)
    out: list[biometric.Template] = []
    scanner.open()
    try:
        for _ in range(3 * n):
            if len(out) == n:
                break
            result = CaptureSession(
                scanner, lambda image: biometric.assess(image).score, settings
            ).run()
            try:
                out.append(biometric.extract(result.image))
            except biometric.BiometricError:
                continue
    finally:
        scanner.close()
    return out


def demo_palm(external_ref: str | None) -> tuple[int, int] | None:
    """(sensor seed, identity) of a person this demo enrolled, from its external reference."""
    parts = (external_ref or "").split("-")
    if len(parts) != 3 or parts[0] != "demo" or not (parts[1] + parts[2]).isdigit():
        return None
    return int(parts[1]), int(parts[2])


def run_demo(service: MatcherService, follower: IndexFollower, seed: int = 2026) -> DemoReport:
    """Enrol :data:`DEMO_STAFF` from simulated captures, then plant and catch a duplicate.

    The caller commits (the duplicate case is part of the unit of work); the follower is caught
    up here so the demo can identify at once.
    """
    report = DemoReport()
    policy = EnrolmentPolicy(min_samples=SAMPLES)
    service.policy = policy
    people: dict[str, tuple[str, int]] = {}
    for identity, name in enumerate(DEMO_STAFF):
        person = service.create_person(name, external_ref=f"demo-{seed}-{identity}")
        templates = capture_templates(seed, identity, 0, SAMPLES)
        if len(templates) < SAMPLES:
            report.skipped.append(name)
            continue
        result = service.enrol(person.id, {"right": templates})
        if result.outcome is EnrolmentOutcome.ENROLLED:
            report.enrolled.append(name)
            people[name] = (person.id, identity)
            service.session.flush()
            follower.catch_up(service.session)
        else:
            report.skipped.append(name)
    report.facts.append(("enrolled", (f"{len(report.enrolled)} simulated staff, {SAMPLES} "
                                     "captures of the right hand each")))
    report.facts.append(("captured through", ("the pyusb driver on the emulated USB scanner "
                         "(usb-emulated://), LED-off/LED-on pairs, liveness checked")))
    if not people:
        return report
    name, (person_id, identity) = next(iter(people.items()))
    fresh = capture_templates(seed, identity, 1, SAMPLES)
    if len(fresh) == SAMPLES:
        twin = service.create_person(f"{name} (under a new name)")
        result = service.enrol(twin.id, {"right": fresh})
        report.duplicate_caught = result.outcome is EnrolmentOutcome.DUPLICATE
        if result.duplicates:
            hit = result.duplicates[0]
            report.duplicate_case_id = hit.case_id
            report.facts.append((
                "planted duplicate",
                (f"'{twin.display_name}' stopped: matches {name} (score {hit.score:.3f} >= "
                f"threshold {hit.threshold:.3f}); duplicate case #{hit.case_id} opened")))
        else:
            report.facts.append(("planted duplicate", "NOT caught"))
        decision = service.identify(fresh[0], purpose="demo")
        report.identified = decision.subject_id if decision.matched else None
        report.facts.append((
            "identify", (f"{decision.outcome.value}: "
            f"{name if decision.subject_id == person_id else decision.subject_id} "
            f"(score {decision.score:.3f}, threshold {decision.threshold:.3f}, gallery "
            f"{decision.gallery_size} templates)")))
    return report
