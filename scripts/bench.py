"""Print the course's speed budget, measured on this machine.

    .venv/bin/python scripts/bench.py            # everything (about 10 minutes)
    .venv/bin/python scripts/bench.py --only micro chapters

Figures printed, each against its budget:

* micro:    the package's own microbenchmarks (ops.pointwise_conv against
            np.matmul on the same product, as a ratio; cost.layer_costs on
            MobileNet);
* chapters: each chapter's execution time, as nbval runs it (one kernel per
            chapter, every cell in order); budget 30 s each;
* build:    the first build into an empty folder, as `make book` runs it
            (scripts/execute_chapters.py, then `jupyter-book build`; budget
            180 s), and a rebuild with nothing changed (budget 10 s);
* test:     the whole test suite as `make test` runs it (budget 300 s);
* live:     `make serve` from start to the printed URL, and on the structure
            chapter, from the click on "Make this page live" to the first
            live widget and to the whole page live (aim: 15 s once a kernel
            has started before). Needs the built book (`make book`) and
            Chromium.

Times depend on the machine and on what else it is doing: run it on an idle
machine, and read the figures as orientation, not as a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUDGET = {"chapter": 30.0, "build": 180.0, "rebuild": 10.0, "test": 300.0}


def line(name: str, seconds: float, budget: float | None = None) -> None:
    verdict = ""
    if budget is not None:
        verdict = "  within budget" if seconds <= budget else f"  OVER the {budget:.0f} s budget"
        verdict = f"  (budget {budget:.0f} s){verdict}"
    print(f"  {name:<32} {seconds:8.1f} s{verdict}", flush=True)


def chapters_in_toc() -> list[Path]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", [])
             for entry in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def bench_micro() -> None:
    import numpy as np

    from conv1x1 import ops

    print("Package microbenchmarks (median of repeats):")
    from conv1x1.benchmark import time_callable

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 56, 56, 64)).astype(np.float32)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    rows = x.reshape(-1, 64)
    ours = time_callable(lambda: ops.pointwise_conv(x, w), label="ops.pointwise_conv")
    plain = time_callable(lambda: np.matmul(rows, w), label="np.matmul")
    print(f"  {ours}\n  {plain}")
    print(f"  ratio pointwise_conv / matmul: {ours.median / plain.median:.2f} "
          "(the price of its argument checks and reshapes)")


def bench_chapters() -> float:
    import nbformat
    from nbclient import NotebookClient

    print("Chapter execution (one kernel each, as nbval runs them):")
    total = 0.0
    for path in chapters_in_toc():
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
        total += elapsed
        line(path.stem, elapsed, BUDGET["chapter"])
    line("all chapters", total)
    return total


def bench_build() -> None:
    print("Book build (chapters two at a time, then the strict build, as `make book` "
          "runs it, into an empty folder):")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        assets = ROOT / "_build" / "offline-assets"
        if assets.exists():
            shutil.copytree(assets, out / "_build" / "offline-assets")
        command = [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output",
                   str(out), "-W", "-n", "--keep-going"]
        prepare = [str(BIN / "python"), str(ROOT / "scripts" / "execute_chapters.py"),
                   "--cache", str(out / "_build" / ".jupyter_cache")]
        for name, budget in (("first build", BUDGET["build"]),
                             ("rebuild, nothing changed", BUDGET["rebuild"])):
            start = time.perf_counter()
            done = subprocess.run(prepare, capture_output=True, text=True)
            if not done.returncode:
                done = subprocess.run(command, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            line(name, elapsed, budget)
            if done.returncode:
                print(done.stdout[-2000:], done.stderr[-2000:])
                raise SystemExit(f"the build failed (exit {done.returncode})")


def bench_test() -> None:
    print("Test suite (the command `make test` runs):")
    start = time.perf_counter()
    done = subprocess.run(["make", "test"], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    summary = [text for text in done.stdout.splitlines() if " passed" in text or " failed" in text]
    line("make test", elapsed, BUDGET["test"])
    print("  " + (summary[-1] if summary else f"exit {done.returncode}"))


def bench_live() -> None:
    import re
    import signal

    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        print("Live pages: skipped, the book is not built (run `make book`).")
        return
    print("Live pages (make serve, then the structure chapter made live):")
    start = time.perf_counter()
    serve = subprocess.Popen([str(BIN / "python"), str(ROOT / "scripts" / "serve.py"),
                              "--port", "0"], stdout=subprocess.PIPE, text=True)
    url = None
    try:
        for text in serve.stdout:
            found = re.search(r"http://127\.0\.0\.1:\S+", text)
            if found:
                url = found.group(0)
                break
        line("make serve to the printed URL", time.perf_counter() - start)
        if url is None:
            raise SystemExit("serve.py printed no URL")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
                args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url)
            chapter = url.split("#")[0].replace("intro.html", "structure.html")
            for attempt in ("1st kernel", "2nd kernel"):
                page.goto(chapter, wait_until="load")
                clicked = time.perf_counter()
                page.get_by_role("button", name="Make this page live").click()
                page.wait_for_selector('.live-output .jupyter-widgets, '
                                       '.live-bar[data-state="error"]', timeout=300_000)
                if page.get_attribute(".live-bar", "data-state") == "error":
                    raise SystemExit("the page did not go live: "
                                     + page.inner_text(".live-status"))
                line(f"click to 1st live widget, {attempt}", time.perf_counter() - clicked)
                page.wait_for_selector('.live-bar[data-state="live"]', timeout=300_000)
                line(f"click to page live, {attempt}", time.perf_counter() - clicked,
                     15.0 if attempt == "2nd kernel" else None)
            browser.close()
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=60)


def main() -> None:
    parts = {"micro": bench_micro, "chapters": bench_chapters, "build": bench_build,
             "test": bench_test, "live": bench_live}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(parts), default=list(parts),
                        help="which figures to measure (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    for name in args.only:
        parts[name]()


if __name__ == "__main__":
    main()
