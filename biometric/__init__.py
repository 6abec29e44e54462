"""Palm-vein recognition: NIR frame -> quality -> palm ROI -> template -> compare.

Public contract (see docs/ARCHITECTURE.md, section 3)::

    t = biometric.extract(image)        # (M, N) uint8 -> Template
    s = biometric.compare(t1, t2)       # float in [0, 1], symmetric
    b = t.to_bytes(); biometric.Template.from_bytes(b)
"""

from biometric.compare import TemplateStack, compare, compare_many
from biometric.errors import BiometricError, QualityError, RoiError, TemplateFormatError
from biometric.pipeline import extract, template_from_roi
from biometric.quality import QualityReport, assess
from biometric.roi import PalmRoi, palm_roi
from biometric.template import ALGORITHM, Template

__all__ = [
    "ALGORITHM",
    "BiometricError",
    "PalmRoi",
    "QualityError",
    "QualityReport",
    "RoiError",
    "Template",
    "TemplateFormatError",
    "TemplateStack",
    "assess",
    "compare",
    "compare_many",
    "extract",
    "palm_roi",
    "template_from_roi",
]
