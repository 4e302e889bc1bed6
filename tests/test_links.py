"""Every link in the built book resolves; external links are listed in one place.

Internal links (pages, anchors, images, scripts, stylesheets) are checked
against the files and element ids of the built HTML. External links are never
fetched: they must all appear in ``tests/external_links.txt``, so a new one is
a deliberate change.
"""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_EXTERNAL = {line.strip() for line in
                    (ROOT / "tests" / "external_links.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")}


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "a" and attrs.get("role") == "button"
                                       and attrs[key] == "#"):
                self.links.append((tag, attrs[key]))


def parse(path):
    collector = Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def pages(html):
    return [p for p in html.rglob("*.html")
            if not any(part.startswith("_") for part in p.relative_to(html).parts[:-1])]


def test_internal_links_resolve_and_external_links_are_listed(built_book):
    html, _ = built_book
    parsed = {page: parse(page) for page in pages(html)}
    assert len(parsed) >= 5
    broken, unlisted = [], set()
    for page, collector in parsed.items():
        for tag, link in collector.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                if tag == "a" and link not in ALLOWED_EXTERNAL:
                    unlisted.add(link)
                elif tag != "a":
                    broken.append(f"{page.name}: loads {link} from another host")
                continue
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            path, fragment = urldefrag(link)
            path = unquote(urlsplit(path).path)
            target = page if not path else (page.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html)}: {link} (no such file)")
                continue
            if fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if unquote(fragment) not in ids:
                    broken.append(f"{page.relative_to(html)}: {link} (no such anchor)")
    assert broken == [], "\n".join(broken)
    assert not unlisted, ("external links missing from tests/external_links.txt:\n"
                          + "\n".join(sorted(unlisted)))
