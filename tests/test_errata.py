"""conv1x1.errata: every listed figure fails to reproduce, links to a chapter
section, cites a paper of the bibliography, and the appendix is the list.

The recomputations are closed forms; besides the chapters' assertions, which
compare them with the networks the chapters build, they are checked here
against the papers' figures that do reproduce: the same formulas must give
those, or a formula is wrong rather than the paper.
"""

import json
import re
from pathlib import Path

import pytest

from conv1x1 import errata

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TARGET = re.compile(r"^\(([\w-]+)\)=\s*$", re.M)


def section_labels(doc):
    """The MyST targets ``(label)=`` of a chapter, notebook or Markdown."""
    notebook = BOOK / f"{doc}.ipynb"
    if notebook.exists():
        cells = json.loads(notebook.read_text())["cells"]
        text = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
        )
    else:
        text = (BOOK / f"{doc}.md").read_text()
    return set(TARGET.findall(text))


def bibliography_keys():
    return set(
        re.findall(
            r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M
        )
    )


@pytest.mark.parametrize("entry", errata.ERRATA, ids=lambda e: e.key)
def test_every_entry_is_a_figure_that_does_not_reproduce(entry):
    # The number is the one printed, and the recount, rounded as the paper
    # rounds, is another.
    assert format(entry.printed_value, "g") in entry.printed
    assert (
        round(entry.recomputed / entry.scale, entry.digits)
        != entry.printed_value
    )
    assert not entry.reproduces
    assert entry.shown != entry.printed
    assert entry.explanation.endswith(".") and "\n" not in entry.explanation


@pytest.mark.parametrize("entry", errata.ERRATA, ids=lambda e: e.key)
def test_every_entry_links_to_a_chapter_section_and_a_paper(entry):
    assert entry.label in section_labels(entry.doc), (
        f"{entry.key}: book/{entry.doc} has no section ({entry.label})="
    )
    assert entry.cite in bibliography_keys()


def test_keys_are_unique_and_found():
    assert len(set(errata.keys())) == len(errata.ERRATA) >= 20
    assert all(errata.get(e.key) is e for e in errata.ERRATA)
    # The list: GoogLeNet's conv1 and 5a rows, its 6.8M and 12x,
    # ResNet-34 and -50, MobileNet, SqueezeNet, and SqueezeNet v1.1's 2.4x.
    papers = {e.paper for e in errata.ERRATA}
    assert {"GoogLeNet", "ResNet", "MobileNet", "SqueezeNet"} <= papers
    printed = {(e.paper, e.printed) for e in errata.ERRATA}
    assert {
        ("GoogLeNet", "2.7K"),
        ("GoogLeNet", "34M"),
        ("GoogLeNet", "1072K"),
        ("GoogLeNet", "54M"),
        ("GoogLeNet", "6.8M"),
        ("GoogLeNet", "12×"),
        ("ResNet", "3.6×10⁹"),
        ("ResNet", "3.8×10⁹"),
        ("SqueezeNet", "2.4×"),
    } <= printed


@pytest.mark.parametrize(
    "key, error, words",
    [
        ("resnet-table1-5", ValueError, "Did you mean 'resnet-table1-50'"),
        ("alexnet", ValueError, "conv1x1.errata.keys() lists them all"),
        (50, TypeError, "received int"),
    ],
)
def test_get_explains_a_key_it_does_not_know(key, error, words):
    with pytest.raises(error, match=re.escape(words)):
        errata.get(key)


def test_table_of_one_paper():
    assert [e.key for e in errata.table("ResNet").errata] == [
        "resnet-table1-34",
        "resnet-table1-50",
    ]
    with pytest.raises(ValueError, match=r"Expected one of the papers \["):
        errata.table("AlexNet")
    text = str(errata.table("ResNet"))
    assert "printed 3.8×10⁹, recomputed 3.86 billion (3,857,973,248)" in text


def test_the_appendix_page_is_the_list_as_it_stands():
    page = (BOOK / "errata.md").read_text(encoding="utf-8")
    assert page == errata.page(), (
        "book/errata.md is out of date: run python -m conv1x1.errata"
    )
    rows = [line for line in page.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == len(errata.ERRATA)
    for row, entry in zip(rows, errata.ERRATA):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1:4] == [
            entry.where,
            entry.printed,
            entry.shown + (f" ({entry.exact})" if entry.exact else ""),
        ]
        assert cells[0] == f"{entry.paper} {{cite}}`{entry.cite}`"
        assert cells[5] == f"{{ref}}`{entry.label}`"


def test_the_page_is_written_where_the_book_reads_it(tmp_path, capsys):
    target = tmp_path / "errata.md"
    assert errata._write_page([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == errata.page()
    assert f"({len(errata.ERRATA)} figures)" in capsys.readouterr().out


# The same closed forms must reproduce the printed figures that do reproduce.


def test_googlenet_rows_reproduce_the_ops_the_chapter_says_reproduce():
    rows = errata._googlenet_rows()
    printed_ops = {
        "conv2": 360,
        "3a": 128,
        "3b": 304,
        "4a": 73,
        "4b": 88,
        "4c": 100,
        "4d": 119,
        "4e": 170,
        "5b": 71,
        "linear": 1,
    }
    for row, ops in printed_ops.items():
        assert abs(rows[row][2] / 1e6 - ops) < 1, row
    # conv2's and 3a's parameters reproduce to within 1K (K = 1,024).
    assert abs(rows["conv2"][0] / 1024 - 112) < 1
    assert abs(rows["3a"][0] / 1024 - 159) < 1
    assert rows["conv1"][0] == 7 * 7 * 3 * 64
    assert errata._alexnet_params() == 60_965_224  # AlexNet as published


def test_mobilenet_closed_forms_reproduce_the_papers_other_points():
    assert round(sum(errata._mobilenet().values()) / 1e6) == 569  # Table 1
    assert round(sum(errata._mobilenet(192).values()) / 1e6) == 418  # Table 7
    assert round(sum(errata._mobilenet(128).values()) / 1e6) == 186
    shares = errata._mobilenet()
    total = sum(shares.values())
    assert round(100 * shares["pointwise"] / total, 2) == 94.86  # Table 2
    assert round(100 * shares["depthwise"] / total, 2) == 3.06
    assert round(100 * shares["dense"] / total, 2) == 0.18


def test_se_and_squeezenet_closed_forms_reproduce_what_does_reproduce():
    # Table 10's rows at r = 2 and 16, and the release notes' 2.4x with the
    # 'valid' pooling the course builds.
    assert round(errata._se_resnet50_trainable(16) / 1e6, 1) == 28.1
    assert round(errata._se_resnet50_trainable(2) / 1e6, 1) == 45.7
    v1_0 = errata._squeezenet_macs(
        111 * 111 * 7 * 7 * 3 * 96, 96, [55, 55, 55, 27, 27, 27, 27, 13], 13
    )
    valid = errata._squeezenet_macs(
        113 * 113 * 3 * 3 * 3 * 64, 64, [56, 56, 27, 27, 13, 13, 13, 13], 13
    )
    assert round(v1_0 / valid, 1) == 2.4
