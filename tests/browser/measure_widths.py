"""Print every page's width (document scrollWidth) at phone and tablet viewports, per user.

    .venv/bin/python -m tests.browser.measure_widths [WIDTH ...]   # default: 390

The same pages and seeded data as tests/browser/test_browser_mobile.py (a live stack of its
own); used for the before/after figures of issue 17 in docs/CONVENTIONS.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, login, new_context
from tests.browser.livestack import LiveStack
from tests.browser.site_pages import PAGES, SEED


def main(widths: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="measure-") as work:
        stack = LiveStack(Path(work) / "stack", seed=True).start()
        try:
            urls = stack.run_django(SEED)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = {}
                print("user\tpage\t" + "\t".join(f"{w} px" for w in widths))
                for username, name, path in PAGES:
                    if username not in pages:
                        pages[username] = login(new_context(browser, stack).new_page(), username)
                    page = pages[username]
                    page.goto(path.format(**urls))
                    row = []
                    for width in widths:
                        page.set_viewport_size({"width": width, "height": 780})
                        row.append(str(page.evaluate("document.documentElement.scrollWidth")))
                    print(f"{username}\t{name}\t" + "\t".join(row), flush=True)
                browser.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [390])
