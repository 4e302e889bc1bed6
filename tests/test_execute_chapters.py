"""scripts/execute_chapters.py: the progress line printed as each chapter finishes."""

from pathlib import Path

from conftest import load_file

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    return load_file("execute_chapters", ROOT / "scripts" / "execute_chapters.py")


def test_each_finished_chapter_prints_its_name_seconds_and_count(capsys):
    script = load_script()
    script.report(3, 14, 0, "/x/book/inception.ipynb", 12.34)
    script.report(14, 14, 1, "/x/book/benchmarking.ipynb", 7.0)
    first, second = capsys.readouterr().out.splitlines()
    assert first.split() == ["[", "3/14]", "inception", "12.3", "s"]
    assert second.startswith("[14/14] benchmarking") and "7.0 s" in second
    assert "FAILED" in second and "FAILED" not in first


def test_the_timed_chapter_is_run_alone():
    assert load_script().TIMED == {"benchmarking"}
    assert (ROOT / "book" / "benchmarking.ipynb").exists()
