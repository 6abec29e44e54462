"""Simulated NIR (850 nm) palm-vein sensor with exact ground truth, deterministic from a seed.

Used to test the recognition pipeline end to end and to report accuracy on synthetic populations.
Everything is a pure function of ``(seed, identity, hand, session, sample)``.

Quick use
---------
>>> from capture.simulated import SimulatedSensor
>>> sensor = SimulatedSensor(seed=0, geometry="contactless")      # 480 x 640 frames
>>> cap = sensor.capture(identity=3, session=1, sample=2)
>>> cap.image.dtype, cap.image.shape
(dtype('uint8'), (480, 640))
>>> off = sensor.capture(3, 1, 2, led=False)        # ambient (LED-off) frame of the same pose

``write_dataset(root, n_identities, sessions, samples_per_session, geometry, seed)``
(:mod:`capture.simulated.dataset`) writes ``<root>/<identity:04d>/s<session+1>_<sample+1:02d>.png``
plus ``truth.json``; ``palmvein sim dataset`` and ``palmvein sim show`` are the CLI.

What is simulated
-----------------
Per identity (:mod:`~capture.simulated.identity`, :mod:`~capture.simulated.texture`): hand shape
(palm width 70-100 mm, palm length, finger lengths and widths, thumb), a vein network (4-7 trunks
from the wrist, 2-4 oblique side vessels, digital veins from the finger webs and a few interior
vessels; random-walk curvature, branching, anastomoses, tapering widths about 1.1-4.8 mm, i.e.
2-8 px at the contactless pitch; depth sets contrast and blur), palm lines
(heart, head, life, usually a fate line, 5-11 minor creases, wrist creases), finger flexion
creases, skin relief and multi-scale albedo texture, fine wrinkles. A left hand is the mirror image
of an independent anatomy.

Per capture (:mod:`~capture.simulated.sensor`, :mod:`~capture.simulated.optics`): in-plane
rotation, scale, translation, finger spread and thumb angle, out-of-plane tilt (a true plane
homography), a smooth elastic skin deformation; LED falloff and tilt gradient, exposure
(session-level and sample-level log-normal gains), per-session vein visibility, defocus and
occasional motion blur, shot and read noise, 8-bit clipping; palm-line depth changes with the
finger spread and the skin's albedo changes a little between sessions. The knobs and their default ranges are in :class:`SensorConfig`
(:func:`default_config`, with "easy", "default" and "hard" presets).

Geometries
----------
``contactless``
    480 x 640 (configurable), 1.7 px/mm at scale 1; the whole hand, fingers spread, dark
    background, the forearm leaving the frame; palm and fingers wholly in frame (``margin_px``)
    unless ``out_of_frame=True``, which lets one frame edge cut the palm or fingers.
``pegged``
    288 x 352, 2.9 px/mm; the palm fills most of the frame with the finger roots and finger gaps
    (dark) along the top edge, a 16 mm peg between the middle and ring fingers (device-fixed,
    top centre, occluding the hand), the device casing along the bottom edge; rotation within
    +/-4 degrees, scale within +/-3 %. With ``finger_edge="left"`` the same scene is rendered
    in a transposed frame and turned a quarter counter-clockwise: fingers at the left edge, peg
    at the left, a broad casing band at the right, as in the PolyU multispectral NIR images; all
    truth (points, angles, ``pose.rotation_deg``, mask) is given in the output frame, so an upright
    hand there has an angle of -90 degrees.

Ground-truth conventions (all in image pixels, (row, col), rows down)
----------------------------------------------------------------------
Finger valleys
    ``valleys.index_middle``, ``valleys.middle_ring``, ``valleys.ring_little``: for each pair of
    adjacent fingers, the deepest background point of the gap between them, depth measured along
    the bisector of the two finger axes (pointing into the palm), moved along the bisector onto
    the rendered silhouette's boundary (alpha = 0.5, sub-pixel; webs are rounded U shapes), then
    mapped into the image through the capture's exact geometric transform (perspective and
    elastic deformation included). In pegged frames the middle-ring valley sits just below the
    peg.
Palm axis / ROI angle
    ``e`` = unit vector from ``ring_little`` to ``index_middle``; the palm axis ``up`` (from the
    palm towards the fingers) is ``e`` turned 90 degrees: ``up = (-e_col, e_row)`` for a right
    hand, ``(e_col, -e_row)`` for a left hand. ``roi_angle_deg`` = ``a`` with
    ``up = (-cos a, sin a)``, i.e. ``a = degrees(atan2(up_col, -up_row))``: 0 means fingers up
    (towards row 0), positive means the fingers turn towards increasing columns (clockwise on
    screen; the convention of ``biometric.PalmRoi.angle``, and the opposite sign of
    ``cv2.getRotationMatrix2D``'s angle). It differs from the applied ``pose.rotation_deg``
    (same sign convention) by the valley line's own tilt in the hand (typically 2-10 degrees,
    because the little finger sits lower).
Palm radius
    ``palm_radius``: radius of the largest circle inscribed in the whole hand silhouette (palm
    rows only, forearm excluded), measured on the upright hand and multiplied by ``pose.scale``
    (the image pitch is ``px_per_mm``). In pegged frames the frame edge and casing clip the hand,
    so a distance transform of the *image* mask gives less there.
ROI
    A square of side ``roi_side = ROI_SIDE_FACTOR * palm_radius`` (1.2), whose distal edge is
    parallel to the valley line at ``ROI_OFFSET_FACTOR * palm_radius`` (0.2) below the valleys'
    midpoint ``m = (index_middle + ring_little) / 2``, so its centre is
    ``roi_center = m - up * (ROI_OFFSET_FACTOR + ROI_SIDE_FACTOR / 2) * palm_radius``.
    ``SimulatedCapture.roi_corners()`` gives the corners and ``roi_image(size)`` the crop (palm
    axis up, the thumb side on the right for a right hand).
Mask
    ``mask``: visible hand pixels (silhouette alpha > 0.5, minus the peg and casing in pegged
    frames), forearm included. ``hand_in_frame`` tells whether palm and fingers (not the
    forearm) lie wholly inside the frame.
Pose and conditions
    ``pose`` (:class:`CapturePose`): ``rotation_deg`` (same sign convention as the ROI angle),
    ``scale``, ``centre_rc`` (image position of the palm-body centre), ``tilt_deg``, finger
    angles, spread, elastic RMS, mirrored, ``cut_edge`` for out-of-frame captures.
    ``conditions`` (:class:`CaptureConditions`): exposure, vein contrast, LED, blur, noise.

References
----------
Image formation follows the near-field LED / CMOS models in :mod:`capture.simulated.optics`; the
vessel model is a random-walk growth with bifurcations (as in synthetic vein generators such as
Hillerström et al., "Generating and analyzing synthetic finger vein images", BIOSIG 2014).
"""

from capture.simulated.config import (
    Difficulty,
    FingerEdge,
    Geometry,
    SensorConfig,
    default_config,
)
from capture.simulated.dataset import write_dataset
from capture.simulated.identity import PalmIdentity, make_identity
from capture.simulated.sensor import (
    ROI_OFFSET_FACTOR,
    ROI_SIDE_FACTOR,
    CaptureConditions,
    CapturePose,
    FingerValleys,
    SimulatedCapture,
    SimulatedSensor,
    SimulationError,
)

__all__ = [
    "ROI_OFFSET_FACTOR",
    "ROI_SIDE_FACTOR",
    "CaptureConditions",
    "CapturePose",
    "Difficulty",
    "FingerEdge",
    "FingerValleys",
    "Geometry",
    "PalmIdentity",
    "SensorConfig",
    "SimulatedCapture",
    "SimulatedSensor",
    "SimulationError",
    "default_config",
    "make_identity",
    "write_dataset",
]
