"""Sphinx extension of the book: serve plotly.js from the built book, and load each page's scripts once.

- plotly.js: the chapters' plotly figures are HTML ``<div>``s without plotly.js
  (``beatssl_lite.plots.use_plotly_html``); every page loads the ``plotly.min.js`` that the installed plotly package
  ships (the exact version its figures were written for), copied into ``_build/html/_static`` at build time, so no
  multi-MB file is committed and the book works offline. (MathJax comes the same way, from the
  ``sphinx-mathjax-offline`` package: see ``_config.yml``.)
- Plotly's JSON mime type: each plotly output also carries ``application/vnd.plotly.v1+json`` (what JupyterLab
  draws); myst-nb renders every mime type of an output under Sphinx before picking the HTML one, and warns that
  it cannot render this one. That exact warning is dropped (no other unknown mime type is hidden). A plotly output
  without an HTML form would then vanish from the page unannounced: the browser check (.ci/browser_check.py)
  catches it by counting the page's plots against the plotly outputs of the executed notebook.
- Badges: each chapter opens with the Colab and Binder badges, images on those sites (right for the notebook, which
  Colab and GitHub show); the book shows its own copies of the two badges (book/_static), with the same links.
- Duplicate scripts: under Jupyter Book 1.x every page gets sphinx-thebe's inline ``const THEBE_JS_URL ...`` (and
  sphinx-togglebutton's selector) twice, and the second copy stops with "Identifier 'THEBE_JS_URL' has already been
  declared". Each page keeps the first copy of any script.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sphinx.util.logging import NAMESPACE, WarningStreamHandler

PLOTLY_JS = "plotly.min.js"
STATIC = Path(__file__).resolve().parent.parent / "_static"
#: Remote badge image -> the book's copy in book/_static.
BADGES = {
    "https://colab.research.google.com/assets/colab-badge.svg": "colab-badge.svg",
    "https://mybinder.org/badge_logo.svg": "binder-badge.svg",
}


def _plotly_js_source() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


def _add_plotly_js(app) -> None:
    if app.builder.format == "html":
        app.add_js_file(PLOTLY_JS)


def _copy_assets(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_plotly_js_source(), static / PLOTLY_JS)
        for badge in BADGES.values():
            shutil.copyfile(STATIC / badge, static / badge)


def _local_badges(app, doctree, docname) -> None:
    from docutils import nodes

    to_root = "../" * docname.count("/")
    for image in doctree.findall(nodes.image):
        if image["uri"] in BADGES:
            image["uri"] = f"{to_root}_static/{BADGES[image['uri']]}"


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # An inline script has no file: its filename is None or "", depending on who added it.
        name = str(getattr(script, "filename", script) or "")
        key = (name, tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: this list is the builder's own, which later handlers append to.
    scripts[:] = unique


PLOTLY_JSON_WARNING = "skipping unknown output mime type: application/vnd.plotly.v1+json"


class _DropPlotlyJsonWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return PLOTLY_JSON_WARNING not in str(record.msg)


def setup(app):
    if not _plotly_js_source().is_file():
        raise RuntimeError(f"the installed plotly package ships no {PLOTLY_JS} (looked for {_plotly_js_source()})")
    # First among the warning filters, so that a dropped warning is neither counted nor turned into an error (-W).
    for handler in logging.getLogger(NAMESPACE).handlers:
        if isinstance(handler, WarningStreamHandler):
            handler.filters.insert(0, _DropPlotlyJsonWarning())
    app.connect("builder-inited", _add_plotly_js)
    app.connect("build-finished", _copy_assets)
    app.connect("doctree-resolved", _local_badges)
    # First: Sphinx stops calling the handlers of this event at the first that returns a template name. (The
    # duplicates are there before any handler runs; the page scripts that handlers add later, MathJax's among them,
    # are kept, as the list is changed in place.)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
