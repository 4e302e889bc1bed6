"""Fetch the browser assets the offline book serves itself, and lay them out.

The HTML book must work with no network: MathJax (to typeset the equations),
the Jupyter widgets HTML manager (to render saved widget state without a
kernel) and thebe (to run a page's cells on the local kernel that
``make serve`` starts) are installed from the npm registry with ``npm``, at the exact
versions in ``package.json``, and copied into ``_build/offline-assets``.
Sphinx serves that folder as static files (see ``_config.yml``), so every page
loads them from the book itself.

Run by ``make book`` and ``make test``; needs Node.js and npm only when the
assets are not there yet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "offline-assets"
STAMP = OUT / ".package.json"

WIDGET_FILES = ("*.js", "*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg", "*.LICENSE.txt")


def main() -> int:
    package = (ROOT / "package.json").read_text()
    if STAMP.exists() and STAMP.read_text() == package:
        print(f"Offline assets are up to date in {OUT.relative_to(ROOT)}.")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print(
            "error: the book serves MathJax and the Jupyter widgets manager itself, so it\n"
            "works offline; installing them the first time needs Node.js and npm, which\n"
            "were not found. Install Node.js 18 or newer (it includes npm), for example\n"
            "`sudo apt-get install nodejs npm` on Debian or Ubuntu or `brew install node`\n"
            "on macOS, then run the command again.",
            file=sys.stderr,
        )
        return 1
    work = ROOT / "_build" / "npm"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "package.json", work / "package.json")
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock",
                    "--ignore-scripts", "--omit=dev", "--loglevel=error"],
                   cwd=work, check=True)
    modules = work / "node_modules"
    versions = json.loads(package)["dependencies"]

    if OUT.exists():
        shutil.rmtree(OUT)
    vendor = OUT / "_vendor"
    # MathJax loads its fonts and optional components relative to its own file.
    shutil.copytree(modules / "mathjax" / "es5", vendor / "mathjax",
                    ignore=shutil.ignore_patterns("*.map"))
    shutil.copy(modules / "mathjax" / "LICENSE", vendor / "mathjax" / "LICENSE")
    widgets = vendor / "jupyter-widgets"
    widgets.mkdir(parents=True)
    dist = modules / "@jupyter-widgets" / "html-manager" / "dist"
    for pattern in WIDGET_FILES:
        for path in dist.glob(pattern):
            if "amd" not in path.name:
                shutil.copy(path, widgets / path.name)
    # thebe's browser bundle already holds everything it needs, so only its
    # own package is fetched (``npm pack``), not its 700 build dependencies.
    # The bundle loads its chunks relative to its own file.
    bundles = json.loads(package).get("bundles", {})
    for name, version in bundles.items():
        packed = subprocess.run([npm, "pack", f"{name}@{version}", "--silent",
                                 "--loglevel=error"], cwd=work, check=True,
                                capture_output=True, text=True).stdout.split()[-1]
        unpacked = work / f"{name}-bundle"
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir()
        with tarfile.open(work / packed) as archive:
            archive.extractall(unpacked, filter="data")
        installed = json.loads((unpacked / "package" / "package.json").read_text())
        if installed["version"] != version:
            print(f"error: npm fetched {name} {installed['version']}, expected {version}",
                  file=sys.stderr)
            return 1
        target = vendor / name
        target.mkdir(parents=True)
        files = unpacked / "package" / "lib"   # thebe's bundle; require.js is at the top
        for path in (files if files.is_dir() else unpacked / "package").iterdir():
            if path.is_file() and path.suffix in (".js", ".css", ".txt"):
                shutil.copy(path, target / path.name)
    for name, version in versions.items():
        installed = json.loads((modules / name / "package.json").read_text())["version"]
        if installed != version:
            print(f"error: npm installed {name} {installed}, expected {version}",
                  file=sys.stderr)
            return 1
    STAMP.write_text(package)
    print(f"Offline assets installed in {OUT.relative_to(ROOT)}: "
          + ", ".join(f"{k} {v}" for k, v in {**versions, **bundles}.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
