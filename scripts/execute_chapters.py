"""Execute the book's chapters into its execution cache, two at a time.

``jupyter-book build`` runs the chapters one after another when their
outputs are not in ``_build/.jupyter_cache`` yet. This script fills that
cache first, with jupyter-cache's parallel executor (one chapter per core),
so that the build finds every chapter executed. The benchmarking chapter
times layers, so it runs on its own, after the others. A chapter that is
already cached with the same code is not run again; one that fails is left
for the build, which reports its error.

Each chapter is reported as it finishes (its name, seconds, and how many of
the chapters to run are done), so a first build that takes minutes shows
where it is.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.cache.db import NbProjectRecord
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMED = {"benchmarking"}
TIMEOUT_S = 120          # as execute.timeout in _config.yml
JOBS = 2


def run_one(data: ProcessData) -> tuple[int, str, float]:
    """Execute one chapter into the cache: (status, uri, seconds).

    The status is jupyter-cache's: 0 executed and cached, 1 the chapter
    raised, 2 it could not be run or cached.
    """
    start = time.monotonic()
    status, uri = ExecutionWorkerLocalMProc()(data)
    return status, uri, time.monotonic() - start


def report(done: int, total: int, status: int, uri: str, seconds: float) -> None:
    verdict = "" if status == 0 else "  FAILED (the build reports why)"
    print(f"[{done:>2}/{total}] {Path(uri).stem:<26} {seconds:5.1f} s{verdict}",
          flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE,
                        help="the build's execution cache (default: %(default)s)")
    folder = parser.parse_args(argv).cache
    chapters = sorted((ROOT / "book").glob("*.ipynb"))
    cache = get_cache(folder)
    records = {path.stem: cache.add_nb_to_project(str(path)) for path in chapters}
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    stale = {record.pk for record in cache.list_unexecuted()}
    to_run = {name: record for name, record in records.items() if record.pk in stale}
    # As jupyter-cache's own executors do: forget the last run's errors.
    NbProjectRecord.remove_tracebacks([r.pk for r in to_run.values()], cache.db)
    total = len(to_run)
    if total:
        print(f"Executing {total} of {len(records)} chapters "
              f"({JOBS} at a time, {', '.join(sorted(TIMED & set(to_run)))} "
              "alone at the end):" if TIMED & set(to_run) else
              f"Executing {total} of {len(records)} chapters ({JOBS} at a time):",
              flush=True)
    start = time.monotonic()
    failed = []
    done = 0

    def data(record):
        return ProcessData(record.pk, record.uri, cache, TIMEOUT_S, False)

    parallel = [to_run[name] for name in sorted(set(to_run) - TIMED)]
    with ProcessPoolExecutor(max_workers=JOBS) as pool:
        futures = [pool.submit(run_one, data(record)) for record in parallel]
        for future in as_completed(futures):
            status, uri, seconds = future.result()
            done += 1
            report(done, total, status, uri, seconds)
            failed += [uri] if status else []
    for name in sorted(TIMED & set(to_run)):
        status, uri, seconds = run_one(data(to_run[name]))
        done += 1
        report(done, total, status, uri, seconds)
        failed += [uri] if status else []
    print(f"Chapters executed into {folder} in "
          f"{time.monotonic() - start:.0f} s"
          + (f"; {len(failed)} failed, the build will report them" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
