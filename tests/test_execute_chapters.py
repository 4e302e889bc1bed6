"""scripts/execute_chapters.py: the progress line printed as each chapter finishes."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "execute_chapters", ROOT / "scripts" / "execute_chapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
