"""conv1x1.data and conv1x1.plots."""

import matplotlib

matplotlib.use("Agg")  # no display in tests; set here, not in the environment the book inherits

import numpy as np
import pytest

import matplotlib.pyplot as plt  # noqa: E402

from conv1x1 import data, plots  # noqa: E402


def test_sample_photo():
    full = data.sample_photo()
    assert full.shape == (600, 512, 3) and full.dtype == np.float32
    assert 0.0 <= full.min() and full.max() <= 1.0 and full.std() > 0.1
    small = data.sample_photo(size=(60, 40))
    assert small.shape == (60, 40, 3)
    # Resizing keeps the picture: the mean colour barely moves.
    np.testing.assert_allclose(small.mean(axis=(0, 1)), full.mean(axis=(0, 1)), atol=0.02)
    assert data.sample_photo(32).shape == (32, 32, 3)


@pytest.mark.parametrize("size", [0, (3,), (2, -1), "big", True])
def test_sample_photo_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="Expected size"):
        data.sample_photo(size)


def test_synthetic_shapes_is_seeded_balanced_and_bounded():
    x, y = data.synthetic_shapes(101, size=16, seed=3)
    assert x.shape == (101, 16, 16, 3) and x.dtype == np.float32 and y.shape == (101,)
    assert x.min() >= 0 and x.max() <= 1
    counts = np.bincount(y, minlength=4)
    assert counts.tolist() == [26, 25, 25, 25]
    x2, y2 = data.synthetic_shapes(101, size=16, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = data.synthetic_shapes(101, size=16, seed=4)
    assert not np.allclose(x, x3)


def test_synthetic_classes_differ_in_space_not_colour():
    x, y = data.synthetic_shapes(400, size=16, seed=0, noise=0.0)
    # Horizontal bars vary along rows, vertical bars along columns.
    grey = x.mean(axis=-1)
    row_var = grey.mean(axis=2).var(axis=1)    # variance of row means
    col_var = grey.mean(axis=1).var(axis=1)
    assert np.all(row_var[y == 2] > col_var[y == 2])
    assert np.all(col_var[y == 3] > row_var[y == 3])


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=4, size=4), dict(n=4, noise=-1)])
def test_synthetic_shapes_rejects(kwargs):
    with pytest.raises(ValueError, match="Expected"):
        data.synthetic_shapes(**kwargs)


def test_import_changes_no_style():
    import importlib

    before = dict(matplotlib.rcParams)
    importlib.reload(plots)
    assert dict(matplotlib.rcParams) == before
    plots.use_course_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
    matplotlib.rcdefaults()


def test_helpers_return_axes():
    fig, axes = plt.subplots(1, 4)
    assert plots.show_image(np.zeros((4, 4, 3)), axes[0], "t") is axes[0]
    assert plots.show_image(np.zeros((4, 4, 1)), axes[1]) is axes[1]
    assert plots.show_matrix(np.ones((1, 1, 3, 2)), axes[2]) is axes[2]
    assert len(axes[2].texts) == 6
    assert plots.draw_pointwise(4, 3, ax=axes[3]) is axes[3]
    assert len(plots.show_channels(np.zeros((4, 4, 3)))) == 3
    assert plots.show_image(np.zeros((4, 4))) is not None
    plt.close("all")


def test_png_helpers_encode_what_they_are_given():
    import io

    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [0, 1])
    decoded = Image.open(io.BytesIO(plots.figure_png(fig)))
    assert decoded.format == "PNG" and decoded.size == (100, 50)
    plt.close(fig)

    ramp = np.linspace(-0.5, 1.5, 12).reshape(3, 4)
    grey = np.asarray(Image.open(io.BytesIO(plots.image_png(ramp))).convert("L"))
    assert grey.shape == (3, 4)
    assert grey[0, 0] == 0 and grey[-1, -1] == 255        # clipped to [0, 1]
    assert np.all(np.diff(grey.ravel().astype(int)) >= 0)  # order kept
    colour = np.zeros((2, 2, 3))
    colour[0, 0] = (1.0, 0.0, 0.0)
    rgb = np.asarray(Image.open(io.BytesIO(plots.image_png(colour))).convert("RGB"))
    assert rgb[0, 0].tolist() == [255, 0, 0] and rgb[1, 1].tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed, shown", [("abc", "'abc'"), (1.5, "1.5"), (-1, "-1"),
                                         (True, "True"), (None, "None")])
def test_synthetic_shapes_refuses_seeds_that_are_not_whole_numbers(seed, shown):
    with pytest.raises(ValueError) as info:
        data.synthetic_shapes(4, size=8, seed=seed)
    assert str(info.value).startswith(
        f"Expected seed to be an integer >= 0; received {shown}.")


@pytest.mark.parametrize("noise", [True, float("inf"), float("nan"), "0.1", -0.5])
def test_synthetic_shapes_refuses_noise_that_is_not_a_finite_number(noise):
    with pytest.raises(ValueError, match="Expected noise to be a finite number >= 0"):
        data.synthetic_shapes(4, size=8, noise=noise)


def test_synthetic_shapes_accepts_numpy_integers_and_no_noise():
    x, _ = data.synthetic_shapes(4, size=8, seed=np.int64(2), noise=0)
    np.testing.assert_array_equal(x, data.synthetic_shapes(4, size=8, seed=2, noise=0.0)[0])


@pytest.mark.parametrize("size, words", [((True, 5), "size's height"), ((5, False), "size's width"),
                                         ((4.0, 5), "size's height"), ((5, "5"), "size's width")])
def test_sample_photo_refuses_booleans_and_floats_in_a_size_pair(size, words):
    with pytest.raises(ValueError, match=f"Expected {words} to be a positive integer"):
        data.sample_photo(size)


def test_sample_photo_accepts_numpy_integers():
    assert data.sample_photo((np.int64(6), 5)).shape == (6, 5, 3)


def test_show_source_shows_the_package_code_and_refuses_other_objects():
    from conv1x1.ops import pointwise_conv

    code = plots.show_source(pointwise_conv)
    assert code.data.startswith("def pointwise_conv(")
    assert "return" in code.data and code.language == "python"
    with pytest.raises(TypeError, match="without calling it"):
        plots.show_source(pointwise_conv(np.ones((1, 1, 2)), np.ones((2, 3))))
