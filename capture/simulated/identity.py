"""Per-identity anatomy of a simulated palm, in palm coordinates (millimetres).

Palm coordinates: ``u`` runs along the palm axis towards the wrist, ``v`` across the palm towards
the thumb; the origin is the centre of the palm body. A right hand is generated; a left hand is the
mirror image (``v -> -v``) of a *different* right-hand identity, see :func:`make_identity`.

Everything here is geometry (polylines, widths, depths); nothing is rendered. Rendering at a given
pixel pitch is in :mod:`capture.simulated.texture`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FINGER_NAMES: tuple[str, ...] = ("little", "ring", "middle", "index")
Hand = Literal["right", "left"]

# Stream tags keep the random streams of identity, session and capture independent.
IDENTITY_STREAM = 1


@dataclass(frozen=True)
class Finger:
    """One finger (or the thumb) as a tapered capsule hinged at its base.

    Attributes
    ----------
    base : tuple of float
        Pivot point ``(u, v)`` in palm coordinates, mm.
    neutral_angle_deg : float
        Angle of the finger axis from the palm axis (``-u``), positive towards the thumb.
    length, width : float
        Visible length from the pivot to the tip and width at the base, mm.
    crease_positions : tuple of float
        Fractions of the length where flexion creases cross the finger.
    """

    name: str
    base: tuple[float, float]
    neutral_angle_deg: float
    length: float
    width: float
    crease_positions: tuple[float, ...]


@dataclass(frozen=True)
class Vessel:
    """A vein segment chain: polyline ``points`` (K, 2) in (u, v) mm with per-point widths (mm).

    ``depth`` in [0, 1]: 0 lies just under the skin (sharp, high contrast), 1 deep (faint, diffuse).
    """

    points: FloatArray
    widths: FloatArray
    depth: float


@dataclass(frozen=True)
class Crease:
    """A skin crease (palm line) as a polyline with a peak darkening ``strength`` and ``width`` mm."""

    points: FloatArray
    strength: float
    width: float


@dataclass(frozen=True)
class PalmIdentity:
    """The fixed anatomy of one simulated palm.

    Attributes
    ----------
    key : tuple of int
        ``(seed, identity index, hand code)``: where this identity came from.
    palm_width, palm_length : float
        Palm body width at the knuckles and length from the finger bases to the wrist, mm.
    outline : ndarray, shape (K, 2)
        Closed polygon of the palm body (without fingers) in (u, v) mm, wrist stub included.
    fingers : tuple of Finger
        Little, ring, middle, index (in that order), then the thumb.
    vessels : tuple of Vessel
        The vein network.
    creases : tuple of Crease
        Principal palm lines (heart, head, life), minor creases and wrist creases.
    texture_seed : int
        Seed of the identity's skin-texture noise fields.
    mirrored : bool
        True for a left hand (mirror image of the generated right-hand anatomy).
    """

    key: tuple[int, int, int]
    palm_width: float
    palm_length: float
    wrist_length: float
    outline: FloatArray
    fingers: tuple[Finger, ...]
    vessels: tuple[Vessel, ...]
    creases: tuple[Crease, ...]
    texture_seed: int
    mirrored: bool


def _catmull_rom(
    control: FloatArray, samples_per_span: int = 12, closed: bool = False
) -> FloatArray:
    """Sample a Catmull-Rom spline through ``control`` points (K, 2)."""
    pts = np.asarray(control, dtype=np.float64)
    if closed:
        ext = np.vstack([pts[-1:], pts, pts[:2]])
    else:
        ext = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    t = np.linspace(0.0, 1.0, samples_per_span, endpoint=False)[:, None]
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        seg = 0.5 * (
            2 * p1
            + (-p0 + p2) * t
            + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
            + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
        )
        out.append(seg)
    if not closed:
        out.append(pts[-1:])
    return np.vstack(out)


def _bezier(p0: FloatArray, p1: FloatArray, p2: FloatArray, p3: FloatArray, n: int) -> FloatArray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _point_in_polygon(p: FloatArray, poly: FloatArray) -> bool:
    """Even-odd rule test of point ``p`` (2,) against polygon ``poly`` (K, 2)."""
    x, y = p
    xs, ys = poly[:, 0], poly[:, 1]
    xs2, ys2 = np.roll(xs, -1), np.roll(ys, -1)
    cond = (ys > y) != (ys2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = xs + (y - ys) * (xs2 - xs) / (ys2 - ys)
    return bool(np.count_nonzero(cond & (x < xint)) % 2)


def _hand_shape(rng: np.random.Generator) -> tuple[float, float, float, FloatArray, list[Finger]]:
    w = float(np.clip(rng.normal(84.0, 6.0), 70.0, 100.0))
    length = w * float(rng.uniform(1.05, 1.2))
    top = -length / 2
    wrist_len = 0.45 * w

    def j(sigma: float) -> float:
        return float(rng.normal(0.0, sigma))

    # Palm body outline (u, v), clockwise from the little-finger corner; bulges for the hypothenar
    # and thenar eminences, narrowing into a wrist stub.
    # The outline runs 30 mm past the end of the rendered wrist stub so the forearm edges stay
    # straight where the renderer extends it beyond the canvas.
    fore = length / 2 + wrist_len + 30.0
    control = np.array(
        [
            (top + 0.13 * w + j(1.5), -0.47 * w),
            (top + 0.30 * w + j(2.0), -0.50 * w + j(1.0)),
            (0.05 * length + j(3.0), -0.505 * w + j(1.5)),
            (0.30 * length + j(2.0), -0.47 * w + j(1.0)),
            (length / 2 + 0.05 * w, -0.42 * w + j(1.0)),
            (length / 2 + wrist_len, -0.41 * w),
            (fore, -0.42 * w),
            (fore, 0.42 * w),
            (length / 2 + wrist_len, 0.41 * w),
            (length / 2 + 0.05 * w, 0.42 * w + j(1.0)),
            (0.30 * length + j(2.0), 0.49 * w + j(1.5)),
            (0.0 + j(2.0), 0.51 * w + j(1.5)),
            (top + 0.18 * w + j(1.5), 0.50 * w),
            (top + 0.02 * w, 0.44 * w),
            (top - 0.015 * w, 0.22 * w),
            (top - 0.02 * w, 0.0),
            (top + 0.01 * w, -0.22 * w),
            (top + 0.07 * w, -0.40 * w),
        ]
    )
    outline = _catmull_rom(control, samples_per_span=10, closed=True)

    middle_len = w * float(rng.uniform(0.88, 1.0))
    spec = {
        # name: (v position as fraction of w, base u offset (fraction of w), length ratio,
        #        width fraction, neutral angle deg)
        "little": (-0.39, 0.085, 0.75, 0.18, -15.0),
        "ring": (-0.14, 0.015, 0.93, 0.205, -6.0),
        "middle": (0.105, -0.01, 1.0, 0.22, 1.0),
        "index": (0.365, 0.02, 0.90, 0.215, 8.0),
    }
    fingers = []
    for name in FINGER_NAMES:
        pos, du, lr, wf, ang = spec[name]
        fingers.append(
            Finger(
                name=name,
                base=(top + du * w + 0.03 * w, (pos + j(0.008)) * w),
                neutral_angle_deg=ang + j(2.0),
                length=middle_len * lr * float(rng.uniform(0.95, 1.05)) + 0.03 * w,
                width=w * wf * float(rng.uniform(0.94, 1.06)),
                crease_positions=(
                    0.05 + j(0.01),
                    0.10 + j(0.01),
                    0.47 + j(0.02),
                    0.74 + j(0.02),
                ),
            )
        )
    # Adjacent fingers leave at least 3 % of the palm width between them (90 % of the nominal
    # width is the visible finger), so the webs between them exist.
    for k in range(len(fingers) - 1):
        f, g = fingers[k], fingers[k + 1]
        spacing = g.base[1] - f.base[1]
        room = (spacing - 0.03 * w) / (0.45 * (f.width + g.width))
        if room < 1.0:
            fingers[k] = dataclasses.replace(f, width=f.width * room)
            fingers[k + 1] = dataclasses.replace(g, width=g.width * room)
    fingers.append(
        Finger(
            name="thumb",
            base=(0.14 * length + j(2.0), 0.30 * w + j(1.0)),
            neutral_angle_deg=45.0 + j(5.0),
            length=0.72 * middle_len * float(rng.uniform(0.94, 1.06)) + 0.32 * w,
            width=0.30 * w * float(rng.uniform(0.94, 1.06)),
            crease_positions=(0.42 + j(0.02), 0.66 + j(0.02)),
        )
    )
    return w, length, wrist_len, outline, fingers


def _grow_veins(
    rng: np.random.Generator, w: float, length: float, wrist_len: float, region: FloatArray
) -> list[Vessel]:
    """Grow a vein network over the palm.

    A random-walk growth model: trunks enter from the wrist and fan out distally, side vessels
    enter obliquely from the thenar and ulnar edges, digital veins descend from the finger webs,
    and a few interior vessels start inside the palm; every tip diffuses its heading, tapers,
    bifurcates stochastically (daughters narrower, Murray-like) and stops when it leaves the palm,
    gets too thin, or meets another vessel (anastomosis), which closes the network into a mesh as
    in palm-vein images.
    """
    step = 1.5
    cell = 1.5
    top = -length / 2
    occupancy: dict[tuple[int, int], int] = {}
    vessels: list[Vessel] = []
    # (u, v, heading from -u towards +v, width, depth, parent id)
    seeds: list[tuple[float, float, float, float, float, int]] = []
    n_trunks = int(rng.integers(4, 8))
    for v0 in np.sort(rng.uniform(-0.36 * w, 0.36 * w, n_trunks)):
        seeds.append(
            (
                length / 2 + wrist_len * 0.95,
                float(v0),
                float(np.deg2rad(rng.normal(45.0 * v0 / w, 10.0))),
                float(rng.uniform(2.8, 4.8)),
                float(rng.uniform(0.1, 0.9)),
                -1,
            )
        )
    for _ in range(int(rng.integers(2, 5))):
        side = float(rng.choice([-1.0, 1.0]))
        seeds.append(
            (
                float(rng.uniform(-0.1 * length, 0.4 * length)),
                side * 0.5 * w,
                float(np.deg2rad(-side * rng.uniform(50.0, 110.0))),
                float(rng.uniform(2.0, 3.4)),
                float(rng.uniform(0.2, 0.9)),
                -1,
            )
        )
    # Digital veins leave the finger webs towards the wrist.
    for v0 in (-0.26 * w, -0.01 * w, 0.23 * w):
        if rng.random() < 0.7:
            seeds.append(
                (
                    top - 2.0,
                    float(v0 + rng.normal(0.0, 3.0)),
                    float(np.pi + rng.normal(0.0, 0.4)),
                    float(rng.uniform(1.6, 2.6)),
                    float(rng.uniform(0.1, 0.7)),
                    -1,
                )
            )
    for _ in range(int(rng.integers(3, 7))):
        seeds.append(
            (
                float(rng.uniform(top + 0.2 * w, 0.35 * length)),
                float(rng.uniform(-0.35 * w, 0.35 * w)),
                float(rng.uniform(-np.pi, np.pi)),
                float(rng.uniform(1.6, 3.0)),
                float(rng.uniform(0.1, 0.9)),
                -1,
            )
        )
    max_vessels = 90
    while seeds and len(vessels) < max_vessels:
        u, v, heading, width, depth, parent = seeds.pop(0)
        vid = len(vessels)
        pts = [(u, v)]
        wids = [width]
        drift = float(rng.normal(0.0, 0.02))
        for k in range(400):
            heading += drift + float(rng.normal(0.0, 0.10))
            drift = 0.9 * drift + float(rng.normal(0.0, 0.01))
            u -= step * np.cos(heading)
            v += step * np.sin(heading)
            width *= float(rng.uniform(0.988, 0.999))
            pts.append((u, v))
            wids.append(width)
            if width < 1.1 or not _point_in_polygon(np.array([u, v]), region):
                break
            key = (int(np.floor(u / cell)), int(np.floor(v / cell)))
            hit = occupancy.get(key)
            if hit is not None and hit != vid and k > 4 and (hit != parent or k > 15):
                break  # anastomosis: the tip joined another vessel
            if k > 3 and rng.random() < 0.07:
                side = float(rng.choice([-1.0, 1.0]))
                child_w = width * float(rng.uniform(0.55, 0.85))
                width *= float(rng.uniform(0.85, 0.95))
                seeds.append(
                    (
                        u,
                        v,
                        heading + side * float(np.deg2rad(rng.uniform(25.0, 70.0))),
                        child_w,
                        float(np.clip(depth + rng.normal(0.0, 0.2), 0.0, 1.0)),
                        vid,
                    )
                )
        for p in pts[2:]:
            occupancy.setdefault((int(np.floor(p[0] / cell)), int(np.floor(p[1] / cell))), vid)
        # Keep list position == vessel id so occupancy ids stay meaningful; stubs draw nothing.
        vessels.append(Vessel(points=np.array(pts), widths=np.array(wids), depth=float(depth)))
    return [ves for ves in vessels if len(ves.points) >= 3]


def _palm_lines(rng: np.random.Generator, w: float, length: float) -> list[Crease]:
    top = -length / 2

    def j(sigma: float) -> float:
        return float(rng.normal(0.0, sigma))

    a = np.array
    creases: list[Crease] = []
    # Heart line (distal transverse crease): ulnar edge below the little finger, arching up to
    # end between the index and middle fingers.
    heart = _bezier(
        a([top + 0.25 * w + j(2), -0.52 * w]),
        a([top + 0.22 * w + j(3), -0.15 * w + j(3)]),
        a([top + 0.20 * w + j(4), 0.08 * w + j(3)]),
        a([top + 0.06 * w + j(3), 0.22 * w + j(3)]),
        40,
    )
    creases.append(Crease(heart, float(rng.uniform(0.14, 0.26)), float(rng.uniform(0.5, 0.8))))
    # Head line (proximal transverse crease): from the radial edge between thumb and index,
    # across the palm, sloping towards the wrist.
    head_start = a([top + 0.36 * w + j(2), 0.53 * w])
    head = _bezier(
        head_start,
        a([top + 0.40 * w + j(3), 0.25 * w + j(3)]),
        a([top + 0.45 * w + j(4), 0.0 + j(3)]),
        a([top + 0.55 * w + j(6), -0.30 * w + j(6)]),
        40,
    )
    creases.append(Crease(head, float(rng.uniform(0.14, 0.26)), float(rng.uniform(0.5, 0.8))))
    # Life line (thenar crease): starts with the head line, curves round the thenar eminence.
    life = _bezier(
        head_start + a([1.5, -1.0]),
        a([top + 0.50 * w + j(3), 0.22 * w + j(3)]),
        a([0.22 * length + j(4), 0.12 * w + j(4)]),
        a([0.48 * length + j(3), 0.22 * w + j(4)]),
        40,
    )
    creases.append(Crease(life, float(rng.uniform(0.14, 0.26)), float(rng.uniform(0.5, 0.8))))
    # Fate line (longitudinal), present in most palms.
    if rng.random() < 0.7:
        fate = _bezier(
            a([0.45 * length + j(3), 0.0 + j(4)]),
            a([0.2 * length + j(3), 0.0 + j(4)]),
            a([0.0 + j(3), -0.04 * w + j(4)]),
            a([top + 0.35 * w + j(5), -0.05 * w + j(5)]),
            30,
        )
        creases.append(Crease(fate, float(rng.uniform(0.04, 0.10)), float(rng.uniform(0.4, 0.6))))
    # Minor creases, mostly near the principal lines and the hypothenar area.
    for _ in range(int(rng.integers(5, 12))):
        c = a([rng.uniform(top + 0.15 * w, 0.45 * length), rng.uniform(-0.45 * w, 0.42 * w)])
        ang = rng.uniform(0, np.pi)
        ln = rng.uniform(8.0, 28.0)
        d = a([np.cos(ang), np.sin(ang)]) * ln / 2
        bend = a([-d[1], d[0]]) * rng.normal(0.0, 0.25)
        pts = _bezier(c - d, c - d / 3 + bend, c + d / 3 + bend, c + d, 16)
        creases.append(Crease(pts, float(rng.uniform(0.05, 0.12)), float(rng.uniform(0.3, 0.5))))
    # Wrist (rascette) creases.
    for k in range(int(rng.integers(1, 3))):
        uu = length / 2 + 2.5 + 6.0 * k + j(1.0)
        pts = _bezier(
            a([uu + j(1), -0.36 * w]),
            a([uu + 2 + j(1), -0.1 * w]),
            a([uu + 2 + j(1), 0.1 * w]),
            a([uu + j(1), 0.36 * w]),
            20,
        )
        creases.append(Crease(pts, float(rng.uniform(0.05, 0.12)), float(rng.uniform(0.4, 0.7))))
    return creases


def make_identity(seed: int, index: int, hand: Hand = "right") -> PalmIdentity:
    """Generate the anatomy of identity ``index`` under ``seed``.

    Parameters
    ----------
    seed, index : int
        Non-negative integers; the same pair always gives the same anatomy.
    hand : {"right", "left"}
        A left hand is the mirror image of an independent anatomy (a different person's right
        hand), which is as good as a real left hand for recognition purposes.

    Returns
    -------
    PalmIdentity
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and identity index must be non-negative, got {seed}, {index}")
    code = 0 if hand == "right" else 1
    rng = np.random.default_rng([seed, index, code, IDENTITY_STREAM])
    w, length, wrist_len, outline, fingers = _hand_shape(rng)
    # Veins may run a little into the finger bases and the wrist.
    region = _convexish(outline, -length / 2 - 0.12 * w)
    vessels = _grow_veins(rng, w, length, wrist_len, region)
    creases = _palm_lines(rng, w, length)
    identity = PalmIdentity(
        key=(seed, index, code),
        palm_width=w,
        palm_length=length,
        wrist_length=wrist_len,
        outline=outline,
        fingers=tuple(fingers),
        vessels=tuple(vessels),
        creases=tuple(creases),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
        mirrored=hand == "left",
    )
    return identity


def _convexish(outline: FloatArray, top_u: float) -> FloatArray:
    """The outline with its distal edge pushed up to ``top_u`` (so veins reach the finger bases)."""
    pts = outline.copy()
    distal = pts[:, 0] < top_u + 15.0
    pts[distal, 0] = np.minimum(pts[distal, 0], top_u)
    return pts
