"""The two layouts a camera's picture comes in, and the views the unit needs of them.

A webcam (through OpenCV) and the simulator give BGR, shape (h, w, 3); a Pi camera gives
I420 planes, shape (h * 3 / 2, w): the luma rows, then the two quarter-size chroma planes.
The tracker needs luma only, which an I420 picture already holds: taking those rows costs
nothing, where converting to BGR and back to grey costs two passes over the picture on a
Pi's CPU, 15 times a second. The aiming snapshot needs BGR. Pure.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def as_bgr(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A BGR picture from either layout."""
    if image.ndim == 3:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420), dtype=np.uint8)


def as_luma(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The picture's luma (h, w) from either layout: an I420 picture's own Y plane (no
    conversion), or BGR converted to grey."""
    if image.ndim == 3:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if image.ndim != 2 or image.shape[0] % 3:
        raise ValueError(f"pictures are BGR (h, w, 3) or I420 (h * 3 / 2, w), not {image.shape}")
    return image[: image.shape[0] * 2 // 3]
