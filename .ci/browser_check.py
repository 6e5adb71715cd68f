"""Open every page of the built book in headless Chromium and check what a reader would see.

Usage: python .ci/browser_check.py [HTML_DIR]   (default _build/html; run after `jupyter-book build .`)

Serves HTML_DIR on 127.0.0.1 and opens each page in the system's Chromium (Debian's `chromium`, driven by
Playwright through `executable_path`; no browser is ever downloaded). A page passes when:
- it loads with no console error, no uncaught exception, no failed request of its own files, and no request
  leaving localhost (the book is self-contained: plotly.js and MathJax come from its _static folder);
- every figure is drawn: every <img> decoded with a nonzero natural width, as many images in the cell outputs as
  the executed notebook (_build/jupyter_execute/...) holds image outputs, and as many plotly plots as it holds
  plotly outputs, each with a drawn SVG (.main-svg);
- no cell output is a traceback (and the build left no failed-execution report in HTML_DIR/reports);
- its maths is typeset: every math element holds MathJax output, no MathJax error, no raw `$$` left in the text;
- its internal links resolve: every link to a local page names an existing file (and an existing anchor).
A full-page screenshot of each page goes to _build/screenshots/. Exits 1 naming every failure.

This is a script that CI runs after the strict book build (.ci/run, `make browser-check`), not a test in tests/:
it needs the built book and a system browser, neither of which the README's test command has.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Seconds a page may take to load, typeset its maths and draw its plots.
PAGE_TIMEOUT_S = 60
REDIRECT = re.compile(r"""<meta http-equiv=["']refresh["'] content=["']0; ?url=([^"']+)["']""", re.IGNORECASE)
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "reports"}
# Outputs that the book hides entirely (myst-nb cell tags).
HIDDEN_TAGS = {"remove-output", "remove-cell"}

# Text of the article outside code, preformatted text and MathJax output: where raw TeX must not be left.
_VISIBLE_TEXT_JS = """() => {
  const root = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) {
      parts.push(node.textContent);
    }
  }
  return parts.join(' ');
}"""

_FIGURES_JS = """() => ({
  images: [...document.images].map(img => ({src: img.getAttribute('src'), complete: img.complete,
                                           width: img.naturalWidth, in_output: !!img.closest('.cell_output')})),
  plots: [...document.querySelectorAll('.plotly-graph-div')].map(div => !!div.querySelector('.main-svg')),
  maths: [...document.querySelectorAll('.math')].map(el => !!el.querySelector('mjx-container')),
  math_errors: document.querySelectorAll('mjx-merror').length,
  tracebacks: document.querySelectorAll('.output.traceback').length,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
})"""


def expected_outputs(notebook: Path) -> tuple[int, int]:
    """(images, plotly plots) among the outputs the executed notebook shows, as the book renders them.

    The book shows an output's HTML form when it has one (plotly figures: a plotly-graph-div), else its image.
    An output holding plotly's JSON mime type is one plot, with or without an HTML form.
    """
    images = plots = 0
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code" or HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = "".join(data.get("text/html", ""))
            plotly = html.count('class="plotly-graph-div"')
            if "application/vnd.plotly.v1+json" in data:
                plotly = max(plotly, 1)  # one figure, which the page must draw even if it has no HTML form
            plots += plotly
            if html or plotly:
                continue
            if any(kind in data for kind in ("image/png", "image/jpeg", "image/svg+xml")):
                images += 1
    return images, plots


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def local_target(root: Path, base: str, href: str) -> tuple[Path, str] | None:
    """(file, anchor) that a same-site link points to, or None for an outside link."""
    parts = urlsplit(href)
    if parts.scheme not in ("http", "https") or not href.startswith(base):
        return None
    path = root / unquote(parts.path[len(urlsplit(base).path):])
    if parts.path.endswith("/") or path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


def check_page(page, root: Path, base: str, html: Path, executed: Path, shots: Path) -> list[str]:
    name = html.relative_to(root).as_posix()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} ({req.failure})")
            if req.url.startswith(base) else None)
    page.on("response", lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)

    page.goto(urljoin(base, name), wait_until="load", timeout=PAGE_TIMEOUT_S * 1000)
    # MathJax typesets after the load event; its startup promise resolves once the page is done.
    page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
                  " { await MathJax.startup.promise; } }")
    try:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
            timeout=PAGE_TIMEOUT_S * 1000,
        )
    except Exception:  # noqa: BLE001 -- reported below as the plots left undrawn
        pass
    found = page.evaluate(_FIGURES_JS)

    for image in found["images"]:
        if not image["complete"] or image["width"] == 0:
            problems.append(f"image not drawn: {image['src']}")
    undrawn = found["plots"].count(False)
    if undrawn:
        problems.append(f"{undrawn} of {len(found['plots'])} plotly plots have no drawn SVG (.main-svg)")
    notebook = executed / html.relative_to(root).with_suffix(".ipynb")
    if notebook.is_file():
        want_images, want_plots = expected_outputs(notebook)
        got_images = sum(image["in_output"] for image in found["images"])
        if got_images != want_images:
            problems.append(f"{got_images} images in the cell outputs, the executed notebook shows {want_images}")
        if len(found["plots"]) != want_plots:
            problems.append(f"{len(found['plots'])} plotly plots, the executed notebook holds {want_plots}")
    if found["tracebacks"]:
        problems.append(f"{found['tracebacks']} cell outputs are tracebacks: a cell raised")
    untypeset = found["maths"].count(False)
    if untypeset:
        problems.append(f"{untypeset} of {len(found['maths'])} math elements not typeset by MathJax")
    if found["math_errors"]:
        problems.append(f"{found['math_errors']} MathJax errors (mjx-merror)")
    text = page.evaluate(_VISIBLE_TEXT_JS)
    for raw in ("$$", "\\begin{"):
        if raw in text:
            at = text.index(raw)
            problems.append(f"raw TeX left in the text: ...{text[max(0, at - 40):at + 40]!r}...")
    for href in sorted(set(found["links"])):
        target = local_target(root, base, href)
        if target is None:
            continue
        path, anchor = target
        if not path.is_file():
            problems.append(f"broken link: {href} (no {path.relative_to(root)})")
        elif anchor and path.suffix == ".html" and not re.search(
            rf"""\bid=["']{re.escape(anchor)}["']""", path.read_text(errors="replace")
        ):
            problems.append(f"broken anchor: {href} (no id {anchor!r} in {path.relative_to(root)})")

    shot = shots / (html.relative_to(root).with_suffix("").as_posix().replace("/", "__") + ".png")
    page.screenshot(path=str(shot), full_page=True)
    print(f"{name}: {len(found['images'])} images, {len(found['plots'])} plotly plots, {len(found['maths'])} maths, "
          f"{len(set(found['links']))} links; screenshot {shot}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default="_build/html", type=Path, help="the built book (_build/html)")
    parser.add_argument("--executed", type=Path, default=None,
                        help="executed notebooks (default: jupyter_execute beside HTML_DIR)")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="where the screenshots go (default: screenshots beside HTML_DIR)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser binary (default {CHROMIUM})")
    args = parser.parse_args(argv)
    root = args.html.resolve()
    if not (root / "index.html").is_file():
        sys.exit(f"{root} holds no index.html: build the book first (make book)")
    if not Path(args.chromium).is_file():
        sys.exit(f"no browser at {args.chromium}: install Debian's chromium (apt-get install -y chromium)")
    executed = args.executed or root.parent / "jupyter_execute"
    shots = args.screenshots or root.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = sorted(
        path for path in root.rglob("*.html")
        if not SKIP_DIRS & set(path.relative_to(root).parts[:-1])
    )

    from playwright.sync_api import sync_playwright

    server, base = serve(root)
    failures: dict[str, list[str]] = {}
    outside: list[str] = []
    t0 = time.perf_counter()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            # Nothing may leave localhost: a request elsewhere (a CDN) is refused and reported.
            context.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith(base)
                else (outside.append(route.request.url), route.abort()),
            )
            for html in pages:
                redirect = REDIRECT.search(html.read_text(errors="replace"))
                if redirect:  # Jupyter Book's index.html: only its target is checked, as a page of its own
                    target = (html.parent / redirect.group(1)).resolve()
                    print(f"{html.relative_to(root)}: redirects to {redirect.group(1)}")
                    if not target.is_file():
                        failures[html.relative_to(root).as_posix()] = [f"redirects to a missing page: {target}"]
                    continue
                page = context.new_page()
                before = len(outside)
                try:
                    problems = check_page(page, root, base, html, executed, shots)
                except Exception as exc:  # noqa: BLE001 -- a page that cannot be checked fails, named
                    problems = [f"could not check the page: {exc}"]
                problems += [f"request leaving localhost: {url}" for url in outside[before:]]
                if problems:
                    failures[html.relative_to(root).as_posix()] = problems
                page.close()
            browser.close()
    finally:
        server.shutdown()
    # myst-nb writes a report for each chapter whose execution failed.
    for report in sorted((root / "reports").glob("**/*.log")):
        failures.setdefault(report.relative_to(root).as_posix(), []).append("a chapter's execution failed (see it)")
    print(f"{len(pages)} pages checked in {time.perf_counter() - t0:.1f} s; screenshots in {shots}")
    for name, problems in failures.items():
        print(f"FAIL {name}:")
        for problem in problems:
            print(f"  - {problem}")
    if failures:
        print(f"browser check failed on {len(failures)} of {len(pages)} pages")
        return 1
    print("browser check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
