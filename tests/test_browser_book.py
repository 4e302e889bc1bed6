"""The built HTML book in a real browser, with every outside request blocked.

For every page: nothing is requested from another host, no JavaScript error,
math is typeset, every saved widget is rendered, solution dropdowns open, text
stays readable in dark mode, and a screenshot is saved under
``_build/screenshots/`` for a person to review (the whole page with
``SCREENSHOTS=full``).

How many widgets and solution dropdowns a page must show is counted in its
notebook's source (one widget per ``show(...)`` cell, one dropdown per
``{solution-start}`` block), so a build that stopped embedding widget state,
or lost its solutions, fails instead of having nothing to check.
"""

import json
import os
import re
from pathlib import Path

import pytest

from conftest import GuardedPage
from test_book import toc_files

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = ["index", *toc_files(), "genindex", "search"]

# Browser messages that are not the book's fault, each with why it is harmless.
HARMLESS = [
    # Chromium asks for /favicon.ico on every page; the book has no icon and the
    # local server answers 404, which Chromium reports as a console error.
    re.compile(r"Failed to load resource: the server responded with a status of 404"),
]


@pytest.fixture(scope="module")
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def open_page(context, origin, name):
    guarded = GuardedPage(context, origin)
    guarded.page.goto(f"{origin}/{name}.html", wait_until="load")
    guarded.page.wait_for_load_state("networkidle")
    # MathJax typesets asynchronously; wait for it when the page loads it.
    guarded.page.evaluate("""async () => {
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
            await MathJax.startup.promise;
        }
    }""")
    return guarded


SHOW_CALL = re.compile(r"^show\(", re.M)
SOLUTION_START = re.compile(r"\{solution-start\}")


def page_minimums(name):
    """(widget views, solution dropdowns) the page ``name`` must show at least.

    Counted in the notebook the page is built from: every code cell that
    calls ``show(...)`` displays one widget, every ``{solution-start}`` block
    becomes one dropdown. Pages built from Markdown, and generated pages,
    have no minimum.
    """
    path = ROOT / f"{name}.ipynb"
    if not path.exists():
        return 0, 0
    cells = json.loads(path.read_text())["cells"]
    widgets = sum(1 for c in cells if c["cell_type"] == "code"
                  and SHOW_CALL.search("".join(c["source"])))
    solutions = sum(len(SOLUTION_START.findall("".join(c["source"])))
                    for c in cells if c["cell_type"] == "markdown")
    return widgets, solutions


def test_page_minimums_follow_the_exercises():
    """Without a browser: the minimums are not vacuous.

    Every chapter has one dropdown per exercise; a chapter whose exercises
    use ``show(label)`` has one widget per exercise too.
    """
    chapters = [name for name in PAGES if (ROOT / f"{name}.ipynb").exists()]
    assert chapters, "no chapter notebooks among the pages"
    widgets_seen = 0
    for name in chapters:
        cells = json.loads((ROOT / f"{name}.ipynb").read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        exercises = len(re.findall(r"```\{exercise\}", text))
        shown = [re.search(r'^show\("([^"]+)"\)$', "".join(c["source"]).strip())
                 for c in cells if c["cell_type"] == "code" and "show(" in "".join(c["source"])]
        shown = [m for m in shown if m]
        widgets, solutions = page_minimums(name)
        assert solutions == exercises, name
        assert widgets >= len(shown), name
        if shown:
            assert widgets == exercises, f"{name}: {widgets} show() cells, {exercises} exercises"
        widgets_seen += widgets
    assert widgets_seen >= 3, "no chapter shows an exercise widget"


#: The text of MathJax's error marks and of "Math input error" messages.
MATH_ERRORS = """() => Array.from(document.querySelectorAll('mjx-merror, .MathJax_Error'))
    .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120))
    .concat(document.body.innerText.includes('Math input error')
            ? ['Math input error'] : [])"""

#: Text nodes of the article, outside code, outputs, widgets and typeset math,
#: that still contain a dollar sign.
DOLLARS_IN_TEXT = """() => {
    const root = document.querySelector('article') || document.body;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const skip = 'pre, code, script, style, mjx-container, .jupyter-widgets, '
                 + '.cell_output, .output, .highlight';
    const found = [];
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (node.textContent.includes('$') && !node.parentElement.closest(skip)) {
            found.push(node.textContent.trim().slice(0, 120));
        }
    }
    return found;
}"""


def test_the_math_checks_find_broken_formulas(browser):
    """Without the book: the two scripts flag a MathJax error and a stray '$'."""
    page = browser.new_page()
    try:
        page.set_content(
            "<article><p>Fine $$ in code: <code>cost = $5</code></p>"
            "<pre>echo $HOME</pre><mjx-container>x</mjx-container></article>")
        assert page.evaluate(MATH_ERRORS) == []
        assert page.evaluate(DOLLARS_IN_TEXT) == ["Fine $$ in code:"]
        page.set_content("<article><p>ok</p><mjx-merror data-mjx-error="
                         "'Missing close brace'>x</mjx-merror>"
                         "<ul><li>b_2\\big)$, with</li></ul></article>")
        assert page.evaluate(MATH_ERRORS) == ["Missing close brace"]
        assert page.evaluate(DOLLARS_IN_TEXT) == ["b_2\\big)$, with"]
    finally:
        page.close()


def real_errors(errors):
    return [e for e in errors if not any(p.search(e) for p in HARMLESS)]


def contrast(rgb_a, rgb_b):
    def luminance(rgb):
        channels = []
        for c in rgb:
            c = c / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb(css):
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


@pytest.mark.parametrize("name", PAGES)
def test_page_works_offline(served_book, context, name):
    origin, html = served_book
    guarded = open_page(context, origin, name)
    page = guarded.page
    if name == "index":   # a redirect to the first page
        page.wait_for_url(re.compile(r".*/book/intro\.html$"))

    # Math: every math element has been replaced by MathJax's output.
    untypeset = page.evaluate("""() => Array.from(document.querySelectorAll('.math'))
        .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))""")
    assert untypeset == [], f"math left untypeset: {untypeset}"
    assert page.query_selector("main") is not None, f"{name} has no <main> element"
    assert "\\(" not in page.inner_text("main")
    # Math that MathJax could not read, and math that never reached it: a formula
    # broken by Markdown (a line starting with "+" read as a list item) leaves its
    # dollar signs in the text.
    merrors = page.evaluate(MATH_ERRORS)
    assert merrors == [], f"{name}: MathJax errors: {merrors}"
    dollars = page.evaluate(DOLLARS_IN_TEXT)
    assert dollars == [], f"{name}: '$' left in the rendered text: {dollars}"

    # Widgets: the page has at least one saved view per show() cell of its
    # notebook, and each saved view is rendered by the HTML manager.
    min_widgets, min_solutions = page_minimums(name)
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    assert views >= min_widgets, (
        f"{name}: {views} saved widget views, but its notebook shows {min_widgets} "
        "exercise widgets: was the widget state embedded?")
    if views:
        page.wait_for_function(
            """(n) => document.querySelectorAll('.widget-subarea .jupyter-widgets').length >= n""",
            arg=views, timeout=20_000)
        empty = page.evaluate("""() => Array.from(document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"]'))
            .filter(s => { const a = s.previousElementSibling;
                           return !(a && a.classList.contains('widget-subarea')
                                    && a.querySelector('.jupyter-widgets')
                                    && a.getBoundingClientRect().height > 0); }).length""")
        assert empty == 0, f"{empty} of {views} widget views did not render"
        assert page.get_by_text("Loading widget").count() == 0
        # Saved widgets do not respond without a kernel: the page must say so,
        # or link to the page that explains it once for the whole book.
        says = re.search(r"running (Python )?kernel", page.inner_text("article"))
        links = page.locator('article a[href$="how_to_use.html"]').count()
        assert says or links, ("a page with widgets must tell HTML readers that they "
                               "need a running kernel, or link to How to use this book")

    # Solutions: one folded dropdown per {solution-start} block of the notebook;
    # each opens on click and shows its body.
    solutions = page.locator(".solution.dropdown")
    assert solutions.count() >= min_solutions, (
        f"{name}: {solutions.count()} solution dropdowns, but its notebook has "
        f"{min_solutions} solutions")
    for i in range(solutions.count()):
        dropdown = solutions.nth(i)
        body = dropdown.locator(":scope > :not(.admonition-title)").first
        assert not body.is_visible(), f"{name}: solution {i + 1} is not folded"
        # Its own title: an explanation inside it is a dropdown of its own.
        dropdown.locator(":scope > .admonition-title").click()
        body.wait_for(state="visible", timeout=5_000)

    # Figures: every image in the article has alt text or a caption. Images drawn
    # by an explorer widget are left out: they are controls' output, and the
    # chapter shows the same result as a captioned static figure next to them.
    unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('article img'))
        .filter(img => !img.closest('.jupyter-widgets'))
        .filter(img => { const alt = (img.getAttribute('alt') || '').trim();
                         const captioned = img.closest('figure') && img.closest('figure')
                               .querySelector('figcaption');
                         return !captioned && (!alt || /\\.(png|svg|jpe?g)$/i.test(alt)); })
        .map(img => img.getAttribute('src'))""")
    assert unlabelled == [], f"images without alt text or caption: {unlabelled}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The top of every page by default; whole pages (about 2 s each, a fifth
    # of this test's time) when SCREENSHOTS=full asks for them.
    page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '-')}.png"),
                    full_page=os.environ.get("SCREENSHOTS", "") == "full")

    # Dark mode: body text keeps a readable contrast with the background.
    page.emulate_media(color_scheme="dark")    # the theme's "auto" mode follows it
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    colours = page.evaluate("""() => { const p = document.querySelector('article p')
                                       || document.querySelector('main') || document.body;
        return [getComputedStyle(p).color, getComputedStyle(document.body).backgroundColor]; }""")
    ratio = contrast(rgb(colours[0]), rgb(colours[1]))
    assert ratio >= 4.5, f"dark-mode text contrast {ratio:.1f} on {name}: {colours}"
    page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '-')}-dark.png"), full_page=False)

    assert guarded.blocked == [], f"requests to other hosts: {guarded.blocked}"
    assert real_errors(guarded.errors) == [], real_errors(guarded.errors)
    page.close()


def test_search_finds_the_structure_chapter(served_book, context):
    origin, _ = served_book
    guarded = GuardedPage(context, origin)
    page = guarded.page
    page.goto(f"{origin}/search.html?q=pointwise", wait_until="load")
    link = page.locator('#search-results a[href*="structure"]').first
    link.wait_for(timeout=20_000)
    assert "1x1 convolution" in link.inner_text().lower()
    assert guarded.blocked == []
    page.close()
