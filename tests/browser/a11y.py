"""The two accessibility checkers of the browser suite, from tools/a11y/ (npm, pinned by its lock).

- axe-core (`tools/a11y/node_modules/axe-core/axe.min.js`) is evaluated in the page from that file
  (no CDN; Playwright's evaluate is not subject to the page's CSP) and run on the rendered DOM.
- The Nu HTML checker (`vnu-jar`, needs Java) runs once per test module (per xdist worker) as a
  local HTTP service (`nu.validator.servlet.Main`, one JVM) and validates the HTML the server
  sent, one POST per page; it starts alongside the live stack and is waited for on first use.

`make a11y-tools` (part of `make install`) installs both. Missing tools skip the tests with the
command to run, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.livestack import wait_for_port
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
MODULES = ROOT / "tools" / "a11y" / "node_modules"
AXE_JS = MODULES / "axe-core" / "axe.min.js"
VNU_JAR = MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
INSTALL_HINT = "make a11y-tools (npm ci in tools/a11y; the Nu checker needs Java: apt-get install default-jre-headless)"

# Every axe rule but the experimental ones: WCAG 2.0/2.1/2.2 A and AA plus best practices.
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\\s+/g, ' ')),
  }));
}"""


# References to ids that are not in the page (axe only marks a missing aria-describedby target
# "needs review"; a screen reader then reads nothing): every idref attribute and label[for].
MISSING_IDREFS = """() => {
  const missing = [];
  for (const attr of ['aria-describedby', 'aria-labelledby', 'aria-controls', 'aria-owns', 'aria-errormessage']) {
    for (const el of document.querySelectorAll(`[${attr}]`)) {
      for (const id of el.getAttribute(attr).split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) missing.push(`${el.tagName.toLowerCase()}#${el.id} ${attr}=${id}`);
      }
    }
  }
  for (const label of document.querySelectorAll('label[for]')) {
    if (!document.getElementById(label.htmlFor)) missing.push(`label for=${label.htmlFor}`);
  }
  return missing;
}"""


def missing_idrefs(page: Page) -> list[str]:
    return page.evaluate(MISSING_IDREFS)


def require_tools(*paths: Path) -> None:
    missing = [str(path.relative_to(ROOT)) for path in paths if not path.exists()]
    if missing:
        message = f"missing {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now (injected from the local file)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(AXE_RUN)


@dataclass
class NuChecker:
    url: str
    process: subprocess.Popen | None = None  # the service; waited for on first use
    ready: bool = False

    def wait_ready(self) -> None:
        """The JVM starts while the live stack does (seconds of CPU each): wait for its port once."""
        if not self.ready:
            wait_for_port(int(self.url.rsplit(":", 1)[1]), timeout=120, process=self.process)
            self.ready = True

    def messages(self, html: str) -> list[str]:
        """Errors and warnings of the Nu checker on `html` (a whole document)."""
        self.wait_ready()
        request = urllib.request.Request(
            f"{self.url}/?out=json",
            data=html.encode("utf-8"),
            headers={"Content-Type": "text/html; charset=utf-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            report = json.loads(response.read())
        lines = html.splitlines()
        found = []
        for message in report.get("messages", []):
            kind = message.get("type")
            if kind == "error" or (kind == "info" and message.get("subType") == "warning"):
                line = message.get("lastLine", 0)
                source = lines[line - 1].strip()[:160] if 0 < line <= len(lines) else ""
                found.append(f"{kind} line {line}: {message.get('message')} | {source}")
        return found


def nu_checker(work: Path) -> Iterator[NuChecker]:
    """The Nu HTML checker as a local service for a module-scoped fixture; stopped at the end.

    Started without waiting: the first `messages()` waits for it, so a fixture that starts the live
    stack after this one overlaps the two start-ups."""
    require_tools(VNU_JAR)
    port = free_port()
    log = (work / "vnu.log").open("wb")
    process = subprocess.Popen(
        [
            "java",
            "-Xss1m",
            "-Dnu.validator.servlet.bind-address=127.0.0.1",
            "-cp",
            str(VNU_JAR),
            "nu.validator.servlet.Main",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield NuChecker(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
