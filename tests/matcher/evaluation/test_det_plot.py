"""DET plots are written as PNGs, including curves with zero error rates."""

from __future__ import annotations

import cv2
import numpy as np

from matcher.evaluation import det_curve, eer
from matcher.evaluation.det_plot import save_det_plot


def test_det_plot_is_a_png_of_the_stated_size(tmp_path):
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(0.8, 0.05, 2_000), rng.normal(0.5, 0.05, 200_000)
    separated = det_curve([0.9, 0.95], [0.1, 0.2])  # FMR and FNMR both reach 0
    result = eer(genuine, impostor)
    path = tmp_path / "det.png"
    save_det_plot(
        {"normal": det_curve(genuine, impostor), "separated": separated},
        path,
        marks={"EER": (result.eer, result.eer)},
    )
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (720, 768, 3)
    assert image.std() > 10  # something was drawn
