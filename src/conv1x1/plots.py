"""Plotting helpers shared by the chapters.

Every helper takes ``ax=None`` (a new figure when omitted) and returns the
axes it drew on. Importing this module changes nothing: the course's look is
applied by calling :func:`use_course_style` explicitly.

Introduced in the chapter "The structure of a 1x1 convolution".
"""

from __future__ import annotations

import numpy as np

__all__ = ["use_course_style", "show_image", "show_matrix", "show_channels",
           "draw_pointwise", "figure_png", "image_png", "show_source"]

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.titlesize": "medium",
    "font.size": 10,
    "image.cmap": "viridis",
    "figure.facecolor": "white",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (explicitly; never on import).

    Figures get a white background so they stay readable in the book's dark
    mode as well as its light mode.
    """
    import matplotlib as mpl

    mpl.rcParams.update(_STYLE)


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def show_image(image, ax=None, title: str | None = None, cmap: str | None = None):
    """Show an (H, W), (H, W, 1) or (H, W, 3) image without ticks."""
    ax = _axes(ax)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap or "gray")
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def show_matrix(matrix, ax=None, title: str | None = None, row_label: str = "input channel",
                col_label: str = "output channel", annotate: bool | None = None,
                cmap: str = "RdBu_r"):
    """Heatmap of a matrix (a 1x1 kernel, C_in x C_out) centred on zero."""
    ax = _axes(ax)
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim == 4:
        matrix = matrix[0, 0]
    limit = float(np.max(np.abs(matrix))) or 1.0
    image = ax.imshow(matrix, cmap=cmap, vmin=-limit, vmax=limit)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    if annotate is None:
        annotate = matrix.size <= 64
    if annotate:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def show_channels(feature_map, axes=None, titles=None, cmap: str = "viridis"):
    """Show every channel of an (H, W, C) map as its own image; returns the axes."""
    feature_map = np.asarray(feature_map)
    channels = feature_map.shape[-1]
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, channels, figsize=(2.2 * channels, 2.4))
    axes = np.atleast_1d(axes)
    for c, ax in enumerate(axes[:channels]):
        ax.imshow(feature_map[..., c], cmap=cmap)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[c] if titles else f"channel {c}")
    return axes


def draw_pointwise(c_in: int = 3, c_out: int = 2, ax=None, size: int = 4):
    """Diagram of a 1x1 convolution: a pixel's channel vector times a matrix.

    Draws an input feature map as a stack of ``c_in`` channel planes, one
    highlighted pixel column through them, the C_in x C_out kernel, and the
    output stack of ``c_out`` planes with the matching pixel.
    """
    from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

    ax = _axes(ax)
    colours_in = ["#d62728", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2"]
    colours_out = ["#ff7f0e", "#17becf", "#bcbd22", "#7f7f7f"]

    def stack(x0, channels, colours, label):
        shift = 0.35
        for c in reversed(range(channels)):
            ox, oy = x0 + c * shift, c * shift
            plane = Polygon([(ox, oy), (ox + size, oy), (ox + size, oy + size),
                             (ox, oy + size)], closed=True, facecolor=colours[c % len(colours)],
                            alpha=0.25, edgecolor="black", linewidth=0.8)
            ax.add_patch(plane)
            ax.add_patch(Rectangle((ox + 1, oy + 2), 1, 1, facecolor=colours[c % len(colours)],
                                   edgecolor="black", linewidth=1.2))
        ax.text(x0 + size / 2 + channels * shift / 2, -0.8, label, ha="center", va="top")

    stack(0, c_in, colours_in, f"input  H x W x {c_in}")
    # The kernel matrix.
    kx = size + c_in * 0.35 + 1.6
    cell = 0.6
    for i in range(c_in):
        for j in range(c_out):
            ax.add_patch(Rectangle((kx + j * cell, 1 + (c_in - 1 - i) * cell), cell, cell,
                                   facecolor=colours_in[i % len(colours_in)], alpha=0.5,
                                   edgecolor="black"))
    ax.text(kx + c_out * cell / 2, 0.6, f"kernel\n{c_in} x {c_out}", ha="center", va="top")
    ox = kx + c_out * cell + 1.6
    stack(ox, c_out, colours_out, f"output  H x W x {c_out}")
    for start, end in (((size + c_in * 0.35, 2.5), (kx - 0.2, 2.0)),
                       ((kx + c_out * cell + 0.2, 2.0), (ox + 1, 2.5))):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     color="black"))
    ax.set_xlim(-0.5, ox + size + c_out * 0.35 + 0.5)
    ax.set_ylim(-2.0, size + max(c_in, c_out) * 0.35 + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes, for an ``ipywidgets.Image``.

    Explorers redraw by replacing an image widget's bytes instead of calling
    ``plt.show()`` inside ``widgets.interactive``: the picture updates in
    place, and executing the notebook without a browser never waits on an
    output capture.
    """
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def image_png(image, cmap: str = "gray", vmin: float = 0.0, vmax: float = 1.0) -> bytes:
    """An (H, W) or (H, W, 3) array as PNG bytes, for an ``ipywidgets.Image``.

    Values are clipped to [vmin, vmax]; a 2-D array is drawn with ``cmap``.
    """
    import io

    import matplotlib.pyplot as plt

    image = np.clip(np.asarray(image, dtype=float), vmin, vmax)
    if image.ndim == 3:
        image = (image - vmin) / (vmax - vmin)
    buffer = io.BytesIO()
    plt.imsave(buffer, image, cmap=cmap, vmin=vmin, vmax=vmax, format="png")
    return buffer.getvalue()


def show_source(obj):
    """The source code of a function or class of the package, for display.

    A chapter shows the block it teaches with ``show_source(bottleneck_block)``
    as the last line of a cell: the code comes from the package itself, so
    the page and the code the chapter runs cannot drift apart.

    Raises:
        TypeError: when ``obj`` is not a function or class defined in Python.
    """
    import inspect

    from IPython.display import Code

    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        raise TypeError(
            "show_source: expected a function or class defined in Python, such "
            f"as conv1x1.resnet.bottleneck_block; received {type(obj).__name__}. "
            "Pass the function itself, without calling it.")
    return Code(inspect.getsource(obj), language="python")
