"""baselines' `common.tile_images`: N images on one near-square grid (NumPy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tile_images(img_nhwc: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """N images [N, h, w, c] -> one image [rows * h, cols * w, c], filled row by row, padded with black.

    rows = ceil(sqrt(N)) and cols = ceil(N / rows), as in baselines (5 images: 3 rows of 2).
    """
    images = np.asarray(img_nhwc)
    if images.ndim != 4:
        raise ValueError(f"tile_images needs images of shape [N, h, w, c], got shape {images.shape}")
    count, height, width, channels = images.shape
    rows = int(np.ceil(np.sqrt(count)))
    cols = int(np.ceil(count / rows))
    padded = np.concatenate([images, np.zeros((rows * cols - count, height, width, channels), images.dtype)])
    grid = padded.reshape(rows, cols, height, width, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, cols * width, channels)
