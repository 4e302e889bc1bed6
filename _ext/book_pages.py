"""Small fixes to the pages Sphinx writes for this book.

sphinx-thebe registers its inline configuration script each time the
environment is read, and Jupyter Book reads it twice, so every page declared
``const THEBE_JS_URL`` twice and the browser reported a SyntaxError. This
extension drops repeated script entries from each page before it is written.

The widgets HTML manager typesets widget labels through MathJax 2's API while
the book loads MathJax 3; ``static/widgets-mathjax.js`` translates the calls,
and this extension adds it, after MathJax, to every page.

It also sets the theme's default colour mode to "auto" (follow the reader's
system setting); left unset, the theme logs a console error on a first visit.

Exercises are numbered within their chapter ("Exercise 1" again in each),
as lecture series such as QuantEcon's and d2l number them. sphinx-exercise
takes its numbers from Sphinx's figure numbers, which run across the whole
book unless the table of contents is numbered (then they would read
"Exercise 3.1"). After Sphinx assigns them, each chapter's exercises are
numbered again from 1 in the order Sphinx numbered them; before Sphinx
assigns them on the next build, the book-wide numbers are put back, so that
an unchanged chapter is not rewritten because its numbers differ.
"""

from pathlib import Path


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        # Inline scripts come with a filename of None or "", depending on who added them.
        filename = str(getattr(script, "filename", script) or "")
        attributes = getattr(script, "attributes", {})
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _static_files(app, config):
    config.html_static_path = [*config.html_static_path,
                               str(Path(__file__).parent / "static")]


def _default_mode(app, config):
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")   # read by the theme's layout.html
    config.html_context = context


#: Figure types numbered within each document rather than across the book.
PER_DOCUMENT = ("exercise",)


def _restore_book_wide_numbers(app, env):
    """Put back Sphinx's own numbers, so that it compares like with like."""
    saved = getattr(env, "conv1x1_book_wide_fignumbers", None)
    if saved is not None:
        env.toc_fignumbers = saved
    return []


def _number_within_documents(app, env):
    env.conv1x1_book_wide_fignumbers = {
        docname: {figtype: dict(numbers) for figtype, numbers in types.items()}
        for docname, types in env.toc_fignumbers.items()}
    for types in env.toc_fignumbers.values():
        for figtype in PER_DOCUMENT:
            numbers = types.get(figtype)
            if numbers:
                in_order = sorted(numbers, key=numbers.get)
                types[figtype] = {ids: (i,) for i, ids in enumerate(in_order, 1)}
    return []


def setup(app):
    # Sphinx's toctree collector assigns figure numbers at the default priority (500).
    app.connect("env-get-updated", _restore_book_wide_numbers, priority=400)
    app.connect("env-get-updated", _number_within_documents, priority=600)
    app.connect("config-inited", _default_mode)
    app.connect("config-inited", _static_files)
    # MathJax itself is added with the default priority (500) and defer.
    app.add_js_file("widgets-mathjax.js", priority=600, defer="defer")
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
