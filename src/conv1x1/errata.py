"""Printed figures that do not reproduce: one list, read by the chapters and the appendix.

Each :class:`Erratum` holds where a paper prints a figure, the figure as
printed, a function that recomputes it from the course's own code, a one-line
explanation and the chapter section that works it out. The appendix "Figures
that do not reproduce", ``book/errata.md``, is generated from :data:`ERRATA`
by :func:`page` (``python -m conv1x1.errata`` writes it; a test checks that
it is up to date), and each chapter asserts its own count against
:func:`get`, so the appendix and the chapters cannot disagree without a
failing check.

Every recomputation is a closed form over the course's stage tables (no model
is built): it takes microseconds. The chapters build the networks and check
that the closed forms give the built models' counts.

A figure is listed when the course's count, rounded to the precision the
paper prints, is not the printed figure.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

__all__ = ["Erratum", "ERRATA", "get", "keys", "table", "page", "PAGE"]


@dataclass(frozen=True)
class Erratum:
    """One printed figure that the course's count does not reproduce.

    Attributes:
        key: a short unique name, e.g. ``"googlenet-table1-conv1-ops"``.
        paper: the paper's short name, e.g. ``"GoogLeNet"``.
        cite: its key in the bibliography (``references.bib``).
        where: the table and row, or the section, that prints the figure.
        printed: the figure as printed, e.g. ``"34M"``.
        printed_value: the printed number, in units of ``scale``.
        digits: the decimals the paper prints (the recount is rounded to
            as many before it is compared).
        scale: how many counted units one printed unit is (1e6 for "M").
        suffix: what follows a number in the printed unit, e.g. ``"M"``.
        recompute: returns the course's count, in counted units (MACs,
            weights, a ratio, a percentage).
        explanation: why the two differ, in one line.
        doc: the chapter (notebook name in ``book/``) that works it out.
        label: the section label in that chapter.
        show_digits: decimals shown for the recomputed figure.
    """

    key: str
    paper: str
    cite: str
    where: str
    printed: str
    printed_value: float
    digits: int
    scale: float
    suffix: str
    recompute: Callable[[], float]
    explanation: str
    doc: str
    label: str
    show_digits: int

    @property
    def recomputed(self):
        """The course's count, in counted units (exact where it is a count)."""
        return _cached(self.key)

    @property
    def recomputed_in_units(self) -> float:
        """The course's count in the printed figure's units."""
        return self.recomputed / self.scale

    @property
    def reproduces(self) -> bool:
        """Whether the recount, rounded as the paper rounds, is the printed figure."""
        return round(self.recomputed_in_units, self.digits) == self.printed_value

    @property
    def shown(self) -> str:
        """The recomputed figure written as the paper writes the printed one."""
        return f"{self.recomputed_in_units:,.{self.show_digits}f}{self.suffix}"

    @property
    def exact(self) -> str:
        """The exact count when it is a whole number of units, else ``""``."""
        value = self.recomputed
        if isinstance(value, int) and self.scale != 1:
            return f"{value:,}"
        return ""


# --------------------------------------------------------------------------
# The recomputations: closed forms over the course's tables.

def _googlenet_rows() -> dict[str, tuple[int, int, int]]:
    """Table 1's rows of :func:`conv1x1.inception.googlenet`: (weights, biases, MACs)."""
    from conv1x1.inception import GOOGLENET_STAGES

    rows = {"conv1": (7 * 7 * 3 * 64, 64, 112 * 112 * 7 * 7 * 3 * 64)}
    conv2 = 64 * 64 + 3 * 3 * 64 * 192
    rows["conv2"] = (conv2, 64 + 192, 56 * 56 * conv2)
    names = ("3a", "3b"), ("4a", "4b", "4c", "4d", "4e"), ("5a", "5b")
    c_in = 192
    for size, stage, stage_names in zip((28, 14, 7), GOOGLENET_STAGES, names):
        for name, (n1, r3, n3, r5, n5, pool) in zip(stage_names, stage):
            weights = (c_in * (n1 + r3 + r5 + pool) + 3 * 3 * r3 * n3
                       + 5 * 5 * r5 * n5)
            biases = n1 + r3 + n3 + r5 + n5 + pool
            rows[name] = (weights, biases, size * size * weights)
            c_in = n1 + n3 + n5 + pool
    rows["linear"] = (c_in * 1000, 1000, c_in * 1000)
    return rows


def _googlenet(row: str, what: str) -> int:
    weights, _, macs = _googlenet_rows()[row]
    return weights if what == "weights" else macs


def _googlenet_params() -> int:
    """Keras's count_params of the course's GoogLeNet (weights and biases)."""
    return sum(w + b for w, b, _ in _googlenet_rows().values())


def _alexnet_params() -> int:
    """AlexNet as published, with two groups in conv2, conv4 and conv5."""
    from conv1x1.cost import conv_params

    return (conv_params(3, 96, 11) + conv_params(96, 256, 5, groups=2)
            + conv_params(256, 384, 3) + conv_params(384, 384, 3, groups=2)
            + conv_params(384, 256, 3, groups=2)
            + (6 * 6 * 256 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000)


def _resnet_macs(depth: int) -> int:
    from conv1x1.resnet import resnet_cost

    return resnet_cost(depth).macs


def _mobilenet(size: int = 224, separable: bool = True) -> dict[str, int]:
    """MACs by kind of MobileNet (or Conv MobileNet), width 1, by formula."""
    from conv1x1.mobilenet import MOBILENET_STAGES

    side = -(-size // 2)
    macs = {"conv": side * side * 3 * 3 * 3 * 32, "depthwise": 0, "pointwise": 0}
    channels = 32
    for filters, stride in MOBILENET_STAGES:
        side = -(-side // stride)
        if separable:
            macs["depthwise"] += side * side * 3 * 3 * channels
            macs["pointwise"] += side * side * channels * filters
        else:
            macs["conv"] += side * side * 3 * 3 * channels * filters
        channels = filters
    macs["dense"] = channels * 1000
    return macs


def _mobilenet_conv_share() -> float:
    macs = _mobilenet()
    return 100 * macs["conv"] / sum(macs.values())


#: MobileNetV2's bottleneck rows (t, c, n, s): the paper's Table 2.
_MOBILENET_V2_ROWS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                      (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _mobilenet_v2(what: str) -> int:
    """Kernel weights or MACs of MobileNetV2 (width 1, 224 pixels), by formula."""
    side = 112
    weights, macs = 3 * 3 * 3 * 32, side * side * 3 * 3 * 3 * 32
    c_in = 32
    for t, c_out, n, s in _MOBILENET_V2_ROWS:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = t * c_in
            if t != 1:
                weights += c_in * hidden
                macs += side * side * c_in * hidden
            side = -(-side // stride)
            weights += 3 * 3 * hidden + hidden * c_out
            macs += side * side * (3 * 3 * hidden + hidden * c_out)
            c_in = c_out
    weights += c_in * 1280 + 1280 * 1000
    macs += side * side * c_in * 1280 + 1280 * 1000
    return weights if what == "weights" else macs


def _squeezenet_macs(conv1_macs, c_first, sides, last_side):
    """MACs of SqueezeNet's eight fire modules at the given sides, and conv10."""
    from conv1x1.squeezenet import SQUEEZENET_V1_0_STAGES

    macs, c_in = conv1_macs, c_first
    fires = [f for stage in SQUEEZENET_V1_0_STAGES for f in stage]
    for side, (s, e1, e3) in zip(sides, fires):
        macs += side * side * (c_in * s + s * e1 + 3 * 3 * s * e3)
        c_in = e1 + e3
    return macs + last_side * last_side * c_in * 1000


def _squeezenet_v1_1_saving() -> float:
    """v1.0's MACs over those of v1.1 as released (Caffe pooling rounds up)."""
    v1_0 = _squeezenet_macs(111 * 111 * 7 * 7 * 3 * 96, 96,
                            [55, 55, 55, 27, 27, 27, 27, 13], 13)
    released = _squeezenet_macs(113 * 113 * 3 * 3 * 3 * 64, 64,
                                [56, 56, 28, 28, 14, 14, 14, 14], 14)
    return v1_0 / released


def _squeezenet_conv1_side() -> int:
    from conv1x1.cost import conv_output_size

    return conv_output_size(224, 7, 2, "valid")


def _se_resnet50_trainable(ratio: int) -> int:
    """Trainable parameters of SE-ResNet-50 with reduction ratio r (biases included)."""
    from conv1x1.resnet import resnet_cost
    from conv1x1.squeeze_excitation import se_added_params

    plain = resnet_cost(50)
    # One filter per batch-normalized channel: the difference a bias makes.
    filters = resnet_cost(50, use_bias=True).params - plain.params
    # Keras counts four numbers per channel; two are moving statistics.
    return plain.params - 2 * filters + se_added_params(ratio=ratio)


# --------------------------------------------------------------------------
# The list.

def _entry(key, paper, cite, where, printed, value, digits, scale, suffix,
           recompute, explanation, doc, label, show_digits=None):
    return Erratum(key, paper, cite, where, printed, value, digits, scale, suffix,
                   recompute, explanation, doc, label,
                   digits + 1 if show_digits is None else show_digits)


_K = 1024  # Table 1 of GoogLeNet counts in K = 1,024 weights.

_SLIP = ("The row's ops reproduce from the printed widths, its parameters "
         "do not, with or without biases, for K = 1,000 or 1,024.")
_GOOGLENET_PARAM_ROWS = {
    "4a": ("364K", 364, _SLIP),
    "4b": ("437K", 437, "Off by 1K whether biases are counted (438.6K) or "
                        "not; a slip in the last digit."),
    "4c": ("463K", 463, _SLIP), "4d": ("580K", 580, _SLIP),
    "4e": ("840K", 840, _SLIP), "5b": ("1388K", 1388, _SLIP),
}

ERRATA: tuple[Erratum, ...] = (
    _entry("googlenet-table1-conv1-params", "GoogLeNet", "szegedy2015going",
           "Table 1, conv1, params", "2.7K", 2.7, 1, _K, "K",
           lambda: _googlenet("conv1", "weights"),
           "A 7x7 convolution from 3 to 64 channels has 7·7·3·64 = 9,408 "
           "weights; no convention gives 2.7K.",
           "inception", "inception-table1"),
    _entry("googlenet-table1-conv1-ops", "GoogLeNet", "szegedy2015going",
           "Table 1, conv1, ops", "34M", 34, 0, 1e6, "M",
           lambda: _googlenet("conv1", "macs"),
           "112·112·9,408 MACs; the printed ops follow from the printed 2.7K "
           "(2,700·112·112 = 34M), not from the layer.",
           "inception", "inception-table1"),
    _entry("googlenet-table1-5a-params", "GoogLeNet", "szegedy2015going",
           "Table 1, inception (5a), params", "1072K", 1072, 0, _K, "K",
           lambda: _googlenet("5a", "weights"),
           "5a has 4e's widths on 832 input channels; the widths are right "
           "(5b reads 5a's 832 outputs).",
           "inception", "inception-table1"),
    _entry("googlenet-table1-5a-ops", "GoogLeNet", "szegedy2015going",
           "Table 1, inception (5a), ops", "54M", 54, 0, 1e6, "M",
           lambda: _googlenet("5a", "macs"),
           "The printed ops follow from the printed 1072K (1,072·1,024·7·7 = "
           "53.8M), not from the widths.",
           "inception", "inception-table1"),
    *(_entry(f"googlenet-table1-{row}-params", "GoogLeNet", "szegedy2015going",
             f"Table 1, inception ({row}), params", printed, value, 0, _K, "K",
             lambda row=row: _googlenet(row, "weights"), why,
             "inception", "inception-table1")
      for row, (printed, value, why) in _GOOGLENET_PARAM_ROWS.items()),
    _entry("googlenet-total-params", "GoogLeNet", "szegedy2015going",
           "Table 1's parameter column summed (the 6.8M usually quoted)",
           "6.8M", 6.8, 1, 1e6, "M",
           lambda: sum(w for w, _, _ in _googlenet_rows().values()),
           "6.8M is the printed column's K (1,024 weights) summed, 6,797.7K; "
           "GoogLeNet has 6.99 million weights, 7.0 million with biases.",
           "inception", "inception-table1", show_digits=2),
    _entry("googlenet-multiply-adds", "GoogLeNet", "szegedy2015going",
           "Section 1, the computational budget", "1.5 billion", 1.5, 1, 1e9,
           " billion", lambda: sum(m for _, _, m in _googlenet_rows().values()),
           "1.5 billion is the printed ops column summed (1,502M), with conv1's "
           "118M printed as 34M.",
           "inception", "inception-table1", show_digits=2),
    _entry("googlenet-12x", "GoogLeNet", "szegedy2015going",
           "Section 1, \"12× fewer parameters\" than AlexNet", "12×", 12, 0, 1,
           "×", lambda: _alexnet_params() / _googlenet_params(),
           "AlexNet's 60,965,224 parameters over GoogLeNet's 6,998,552; 12 is "
           "60 million over 5 million, two round figures.",
           "inception", "inception-table1", show_digits=1),
    _entry("resnet-table1-34", "ResNet", "he2016deep",
           "Table 1, 34-layer, FLOPs", "3.6×10⁹", 3.6, 1, 1e9, " billion",
           lambda: _resnet_macs(34),
           "3.6 is the plain 34-layer network (3.64 billion); option B's three "
           "projections add 19M.",
           "resnet", "resnet-table1", show_digits=2),
    _entry("resnet-table1-50", "ResNet", "he2016deep",
           "Table 1, 50-layer, FLOPs", "3.8×10⁹", 3.8, 1, 1e9, " billion",
           lambda: _resnet_macs(50),
           "No counting consistent with the other columns gives 3.8; most "
           "likely 3.86 cut short.",
           "resnet", "resnet-table1", show_digits=2),
    _entry("mobilenet-table2-conv3x3", "MobileNet", "howard2017mobilenets",
           "Table 2, Conv 3x3, mult-adds", "1.19%", 1.19, 2, 1, "%",
           _mobilenet_conv_share,
           "The first convolution's 10,838,016 MACs are 1.91% of 568,740,352: "
           "the same digits, swapped.",
           "mobilenet", "mobilenet-table2", show_digits=2),
    _entry("mobilenet-table4-conv-mobilenet", "MobileNet", "howard2017mobilenets",
           "Table 4, Conv MobileNet, mult-adds", "4866M", 4866, 0, 1e6, "M",
           lambda: sum(_mobilenet(separable=False).values()),
           "4,866M leaves out the classifier's 1.02M MACs, which the table's "
           "569M for MobileNet includes.",
           "mobilenet", "mobilenet-table4", show_digits=1),
    _entry("mobilenet-table7-160", "MobileNet", "howard2017mobilenets",
           "Table 7, 1.0 MobileNet-160, mult-adds", "290M", 290, 0, 1e6, "M",
           lambda: sum(_mobilenet(160).values()),
           "290,675,200 MACs truncated rather than rounded.",
           "mobilenet", "mobilenet-multipliers", show_digits=1),
    _entry("mobilenetv2-params", "MobileNetV2", "sandler2018mobilenetv2",
           "Table 4, MobileNetV2, parameters", "3.4M", 3.4, 1, 1e6, "M",
           lambda: _mobilenet_v2("weights"),
           "The kernel weights, 3.47M, truncated rather than rounded (Keras "
           "counts 3.54M with biases and batch normalization).",
           "mobilenet", "mobilenet-v2", show_digits=2),
    _entry("mobilenetv2-macs", "MobileNetV2", "sandler2018mobilenetv2",
           "Table 4, MobileNetV2, mult-adds", "300M", 300, 0, 1e6, "M",
           lambda: _mobilenet_v2("macs"),
           "300.8M truncated rather than rounded, as the 3.4M beside it.",
           "mobilenet", "mobilenet-v2", show_digits=1),
    _entry("squeezenet-table1-conv1-size", "SqueezeNet", "iandola2016squeezenet",
           "Table 1, conv1 output for the listed 224x224 input", "111x111", 111,
           0, 1, "",
           _squeezenet_conv1_side,
           "A 7x7/2 convolution on 224 pixels gives 109; the printed 111, 55, "
           "27 and 13 need a 227x227 input.",
           "squeezenet", "squeezenet-input-size", show_digits=0),
    _entry("squeezenet-v1.1-saving", "SqueezeNet", "iandola2016squeezenet",
           "v1.1 release notes, \"2.4x less computation\" than v1.0", "2.4×",
           2.4, 1, 1, "×", _squeezenet_v1_1_saving,
           "2.4 is the saving with 'valid' pooling (2.36); the released model's "
           "pooling rounds up, and it saves 2.15x.",
           "squeezenet", "squeezenet-late", show_digits=2),
    *(_entry(f"se-table10-r{ratio}", "Squeeze-and-Excitation", "hu2018squeeze",
             f"Table 10, SE-ResNet-50 with r = {ratio}, parameters",
             f"{printed}M", printed, 1, 1e6, "M",
             lambda ratio=ratio: _se_resnet50_trainable(ratio),
             "The count that gives the paper's 28.1M at r = 16 is 0.1M short; "
             "no single count of ResNet-50 reproduces the whole column.",
             "squeeze_excitation", "se-ratio", show_digits=2)
      for ratio, printed in ((4, 35.7), (8, 30.7), (32, 26.9))),
)


@lru_cache(maxsize=None)
def _cached(key: str):
    return _BY_KEY[key].recompute()


_BY_KEY = {erratum.key: erratum for erratum in ERRATA}


def keys() -> tuple[str, ...]:
    """Every erratum's key, in the appendix's order."""
    return tuple(_BY_KEY)


def get(key: str) -> Erratum:
    """The :class:`Erratum` called ``key``.

    Raises:
        TypeError: if ``key`` is not a string.
        ValueError: for an unknown key; the message suggests the closest.
    """
    if not isinstance(key, str):
        raise TypeError(f"Expected an erratum's key as a string, e.g. "
                        f"{ERRATA[0].key!r}; received {type(key).__name__}.")
    if key not in _BY_KEY:
        close = difflib.get_close_matches(key, _BY_KEY, n=3)
        hint = (f" Did you mean {', '.join(map(repr, close))}?" if close else
                " conv1x1.errata.keys() lists them all.")
        raise ValueError(f"No erratum is called {key!r}.{hint}")
    return _BY_KEY[key]


class ErrataTable:
    """The appendix's table: MyST Markdown in a notebook, text elsewhere."""

    def __init__(self, errata):
        self.errata = tuple(errata)

    def _rows(self, link, cite):
        header = ("Paper", "Where", "Printed", "Recomputed", "Why", "Chapter")
        rows = []
        for e in self.errata:
            recomputed = e.shown + (f" ({e.exact})" if e.exact else "")
            rows.append((cite(e), e.where, e.printed, recomputed, e.explanation,
                         link(e)))
        return header, rows

    def _repr_markdown_(self) -> str:
        header, rows = self._rows(
            lambda e: f"{{ref}}`{e.label}`",
            lambda e: f"{e.paper} {{cite}}`{e.cite}`")

        def line(cells):
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        return "\n".join([line(header), line(["---"] * len(header)),
                          *map(line, rows)])

    def __str__(self) -> str:
        _, rows = self._rows(lambda e: f"{e.doc}#{e.label}", lambda e: e.paper)
        return "\n".join(f"{paper}, {where}: printed {printed}, recomputed "
                         f"{recomputed}. {why} ({chapter})"
                         for paper, where, printed, recomputed, why, chapter in rows)

    def __len__(self) -> int:
        return len(self.errata)


def table(paper: str | None = None) -> ErrataTable:
    """The appendix's table of every erratum, or of one paper's.

    In a notebook it shows as a Markdown table whose last column links to
    the chapter section that works the figure out.

    Raises:
        ValueError: for a paper that has no erratum.
    """
    if paper is None:
        return ErrataTable(ERRATA)
    papers = sorted({e.paper for e in ERRATA})
    if paper not in papers:
        raise ValueError(f"Expected one of the papers {papers}; received {paper!r}.")
    return ErrataTable(e for e in ERRATA if e.paper == paper)



#: Where the appendix lives, relative to the repository's root.
PAGE = "book/errata.md"

_PAGE_HEAD = """\
(errata)=
# Figures that do not reproduce

The chapters recompute every figure they quote from the papers with the
course's own code, and most figures reproduce. This appendix lists every
printed figure that does not: the paper, the table and row or the section,
the figure as printed, the course's count and, in one line, why the two
differ, with a link to the chapter section that works it out.

A figure is listed when the course's count, rounded to the precision the
paper prints, is not the printed figure. Costs are multiply-accumulates
(MACs) for one image, which is what the papers' "FLOPs", "ops", "mult-adds"
and "multiply-adds" count. Parameters follow each table's own convention,
which the chapter establishes first: GoogLeNet's Table 1 counts kernel
weights in units of K = 1,024, the MobileNet papers count kernel weights,
and the squeeze-and-excitation paper's 25.6M and 28.1M are trainable
parameters, biases included. Where the exact count is a whole number, it
follows in brackets.

(errata-table)=
## The list

"""

_PAGE_TAIL = """

(errata-source)=
## Where the list comes from

This page is generated from one list in the course's package,
`conv1x1.errata`; `python -m conv1x1.errata` writes it again. Every entry
recomputes its figure from the course's stage tables, in closed form, and
the course's tests check that none of them reproduces the printed figure,
that every link leads to a section of a chapter, and that this page is the
list as it stands. Each chapter that finds one of these figures also
asserts its own count, computed from the networks it builds, against the
same entry, so the chapters and this page cannot disagree: a change that
moves a count fails the chapter.

In Python, `errata.get("resnet-table1-50")` returns an entry with its parts:
`printed`, `recomputed` (in counted units: MACs, weights, a ratio),
`explanation`, `doc` and `label`; `errata.table("ResNet")` gives one paper's
rows.
"""


def page() -> str:
    """The appendix page, MyST Markdown: an introduction, the table, its source."""
    return _PAGE_HEAD + table()._repr_markdown_() + _PAGE_TAIL


def _write_page(argv=None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m conv1x1.errata",
        description="Write the appendix of figures that do not reproduce.")
    parser.add_argument("path", nargs="?", default=PAGE,
                        help=f"where to write it (default: {PAGE})")
    path = Path(parser.parse_args(argv).path)
    path.write_text(page(), encoding="utf-8")
    print(f"wrote {path} ({len(ERRATA)} figures)")
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    raise SystemExit(_write_page())
