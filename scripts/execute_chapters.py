"""Execute the book's chapters into its execution cache, two at a time.

``jupyter-book build`` runs the chapters one after another when their
outputs are not in ``_build/.jupyter_cache`` yet. This script fills that
cache first, with jupyter-cache's parallel executor (one chapter per core),
so that the build finds every chapter executed. The benchmarking chapter
times layers, so it runs on its own, after the others. A chapter that is
already cached with the same code is not run again; one that fails is left
for the build, which reports its error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMED = {"benchmarking"}
TIMEOUT_S = 120          # as execute.timeout in _config.yml


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help="the build's execution cache (default: %(default)s)")
    folder = parser.parse_args(argv).cache
    chapters = sorted((ROOT / "book").glob("*.ipynb"))
    cache = get_cache(folder)
    records = {path.stem: cache.add_nb_to_project(str(path)) for path in chapters}
    logger = logging.getLogger("execute_chapters")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    start = time.monotonic()
    failed = []
    for executor, names in (("local-parallel", set(records) - TIMED),
                            ("local-serial", TIMED & set(records))):
        pks = [records[name].pk for name in sorted(names)]
        result = load_executor(executor, cache, logger=logger).run_and_cache(
            filter_pks=pks, timeout=TIMEOUT_S)
        failed += result.excepted + result.errored
    print(f"Chapters executed into {folder} in "
          f"{time.monotonic() - start:.0f} s"
          + (f"; {len(failed)} failed, the build will report them" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
