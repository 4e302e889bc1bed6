"""Data the chapters use, all of it available offline.

* :func:`sample_photo`: a real photograph (Grace Hopper) that ships with
  matplotlib, as a float array in [0, 1].
* :func:`synthetic_shapes`: a seeded generator of a small image
  classification set (discs, squares, horizontal and vertical bars in random
  colours on noisy backgrounds), small enough to train on in seconds.

Nothing here downloads anything.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import numbers

import numpy as np

from conv1x1._checks import integer_at_least, non_negative_number, positive_int

__all__ = ["sample_photo", "synthetic_shapes", "SHAPE_CLASSES"]

#: Class names of :func:`synthetic_shapes`, indexed by label.
SHAPE_CLASSES = ("disc", "square", "horizontal bars", "vertical bars")


def sample_photo(size: int | tuple[int, int] | None = None) -> np.ndarray:
    """The photograph of Grace Hopper that ships with matplotlib.

    Args:
        size: ``None`` for the full 600x512 image, an int for a square image
            or ``(height, width)``; resizing uses Pillow's bilinear filter.

    Returns:
        float32 array of shape (H, W, 3) with values in [0, 1].

    Raises:
        ValueError: for a size that is not None, a positive int or a pair of
            positive ints (True and False are not sizes).
    """
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        image = Image.open(handle).convert("RGB")
        image.load()
    if size is not None:
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            size = (size, size)
        if not isinstance(size, (tuple, list)) or len(size) != 2:
            raise ValueError(
                "Expected size to be None, a positive int or a pair (height, width) "
                f"of positive ints; received {size!r}."
            )
        height = positive_int(size[0], "size's height")
        width = positive_int(size[1], "size's width")
        image = image.resize((int(width), int(height)), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def _draw(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    if label == 0:  # disc
        radius = rng.uniform(0.2, 0.35) * size
        cy, cx = rng.uniform(radius, size - radius, 2)
        mask = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius ** 2
    elif label == 1:  # square
        half = rng.uniform(0.18, 0.3) * size
        cy, cx = rng.uniform(half, size - half, 2)
        mask = (np.abs(rows - cy) <= half) & (np.abs(cols - cx) <= half)
    else:  # bars: stripes along one axis
        period = rng.integers(4, 7)
        phase = rng.integers(0, period)
        axis = rows if label == 2 else cols
        mask = ((axis.astype(int) + phase) % period) < period // 2
    return mask


def synthetic_shapes(n: int, size: int = 32, seed: int = 0,
                     noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, balanced image-classification set of four shape classes.

    Each image is a shape (see :data:`SHAPE_CLASSES`) in a random bright
    colour on a random dark background, plus Gaussian noise. The classes
    differ in spatial pattern, not in colour, so a model must look at
    neighbouring pixels to tell them apart.

    Args:
        n: number of images (classes are balanced, n // 4 each, the first
            n % 4 classes get one more).
        size: height and width in pixels (at least 8).
        seed: seed of the random generator, an integer >= 0; the same seed
            gives the same set.
        noise: standard deviation of the added Gaussian noise, a finite
            number >= 0.

    Returns:
        ``(images, labels)``: float32 (n, size, size, 3) in [0, 1] and int64
        (n,) labels in 0..3, shuffled.

    Raises:
        ValueError: for ``n`` < 1, ``size`` < 8, a seed that is not an
            integer >= 0, or a noise level that is not a finite number >= 0.
    """
    n = integer_at_least(n, "n", 1)
    size = integer_at_least(size, "size", 8)
    seed = integer_at_least(seed, "seed", 0, "Pass a whole number such as 0 or 42.")
    noise = non_negative_number(noise, "noise",
                                "It is the standard deviation of the noise, e.g. 0.1.")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SHAPE_CLASSES))
    images = np.empty((n, size, size, 3), dtype=np.float32)
    for i, label in enumerate(labels):
        mask = _draw(int(label), size, rng)
        background = rng.uniform(0.0, 0.35, 3)
        foreground = rng.uniform(0.55, 1.0, 3)
        image = np.where(mask[..., None], foreground, background)
        image = image + rng.normal(0.0, noise, image.shape)
        images[i] = np.clip(image, 0.0, 1.0)
    return images, labels.astype(np.int64)
