"""Render the portal's PNG/ICO icons from its own SVGs (static/icons/*.svg) with Chromium.

    .venv/bin/python tools/render_icons.py

Writes static/icons/icon-192.png, icon-512.png, maskable-512.png, apple-touch-icon.png (180 px,
opaque) and favicon.ico (16/32/48 px, through Pillow). Run it again after changing an SVG.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"
CHROMIUM = "/usr/bin/chromium"
# (source SVG, output PNG, size in px)
OUTPUTS = [
    ("icon.svg", "icon-192.png", 192),
    ("icon.svg", "icon-512.png", 512),
    ("maskable.svg", "maskable-512.png", 512),
    ("maskable.svg", "apple-touch-icon.png", 180),  # iOS rounds the corners itself
    ("icon.svg", "favicon-48.png", 48),
]


def render(page, svg: Path, size: int) -> bytes:
    page.set_viewport_size({"width": size, "height": size})
    page.set_content(
        "<html><body style='margin:0;background:transparent'>"
        f"<img src='data:image/svg+xml;base64,{__import__('base64').b64encode(svg.read_bytes()).decode()}'"
        f" width='{size}' height='{size}' style='display:block'></body></html>"
    )
    page.wait_for_function("document.images[0].complete")
    return page.screenshot(omit_background=True, clip={"x": 0, "y": 0, "width": size, "height": size})


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        page = browser.new_page()
        for source, output, size in OUTPUTS:
            png = render(page, ICONS / source, size)
            image = Image.open(io.BytesIO(png))
            image.save(ICONS / output, optimize=True)
            print(f"{output}: {image.size[0]}×{image.size[1]}")
        browser.close()
    favicon = Image.open(ICONS / "favicon-48.png")
    favicon.save(ICONS / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
    (ICONS / "favicon-48.png").unlink()
    print("favicon.ico: 16, 32, 48")


if __name__ == "__main__":
    main()
