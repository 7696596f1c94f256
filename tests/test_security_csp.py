"""The Content-Security-Policy forbids inline scripts and styles: keep every template compatible.

Scans every template and static script of the project (not third-party packages): no inline
<script> with code, no event-handler attribute, no style= attribute, no `javascript:` URL;
HTML-producing APIs in JavaScript and mark_safe/|safe in Python only where the input is
sanitized.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from support_portal.middleware import CONTENT_SECURITY_POLICY, policy_for

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "staticfiles", "var", "node_modules", ".git", "tests", "benchmarks", "deploy"}

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^>]*?\s(on[a-z]+)\s*=", re.S)
STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*?\sstyle\s*=", re.S)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
JS_URL = re.compile(r"javascript:", re.I)
SAFE_FILTER = re.compile(r"\|\s*safe\b|{%\s*autoescape\s+off")
HTML_SINKS = re.compile(r"\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
MARK_SAFE = re.compile(r"\bmark_safe\(|SafeString\(|\|\s*safe\b")

# Python modules allowed to mark HTML safe: each one sanitizes it with nh3 first (checked below).
SANITIZING_MODULES = {"knowledge_base/rendering.py", "tickets/markdown.py"}
# Template expressions allowed to use |safe, with the reason (the value is built escaped in Python).
SAFE_FILTER_ALLOWED = {
    "knowledge_base/templates/knowledge_base/search.html": (
        "hit.snippet|safe",
        "knowledge_base.search.make_snippet html.escape()s the text and adds only <mark> tags",
    ),
}
# Static scripts allowed to use an HTML sink, with the reason (keep empty if you can).
HTML_SINK_ALLOWED: dict[str, str] = {}


def _project_files(*suffixes: str) -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (rel.parts and rel.parts[0] in SKIP_DIRS) or "node_modules" in rel.parts:
            continue  # installed tools (tools/a11y/node_modules: axe-core) are not our code
        if path.is_file() and path.suffix in suffixes:
            found.append(path)
    return sorted(found)


def _templates() -> list[Path]:
    return [p for p in _project_files(".html", ".txt") if "templates" in p.relative_to(ROOT).parts]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_scan_finds_the_templates_and_scripts():
    names = {_name(p) for p in _templates()}
    assert "templates/base.html" in names and "templates/500.html" in names
    assert any(name.endswith("bell.js") for name in map(_name, _project_files(".js")))


def test_policy_has_no_inline_or_eval_sources():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    for name in ("script-src", "style-src", "default-src"):
        assert directives[name] == "'self'", name
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'" and directives["form-action"] == "'self'"


@pytest.mark.django_db
def test_every_page_sends_the_policy(franchisee):
    client = Client()
    client.force_login(franchisee)
    for path in ("/", "/accounts/login/", "/notifications/"):
        response = client.get(path)
        assert response["Content-Security-Policy"] == policy_for(response.wsgi_request), path


@pytest.mark.django_db
def test_connect_src_names_only_the_sites_own_socket_origins(franchisee, settings):
    """No `ws:`/`wss:` wildcard: a script could not open a socket to any other host (issue 11)."""
    settings.SITE_URL = "https://soporte.example"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.franquicias.example"]
    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    client.force_login(franchisee)
    policy = client.get("/").headers["Content-Security-Policy"]
    connect = next(part.strip() for part in policy.split(";") if part.strip().startswith("connect-src"))
    assert connect.split() == [
        "connect-src",
        "'self'",
        "ws://testserver",
        "wss://soporte.example",
        "wss://*.franquicias.example",
    ]


@pytest.mark.parametrize("template", _templates(), ids=_name)
def test_template_has_no_inline_script_handler_or_style(template: Path):
    text = template.read_text()
    for attrs, body in SCRIPT_TAG.findall(text):
        is_data = re.search(r"type=[\"']application/(ld\+)?json", attrs)
        assert "src=" in attrs or is_data, f"inline <script> in {_name(template)}"
        assert not body.strip() or is_data, f"inline script code in {_name(template)}"
    handler = EVENT_HANDLER.search(text)
    assert not handler, f"event handler attribute {handler.group(1)} in {_name(template)}"
    assert not JS_URL.search(text), f"javascript: URL in {_name(template)}"
    if "email" in template.relative_to(ROOT).parts or template.name.endswith(("_email.txt", "_subject.txt")):
        # E-mails are not served under the CSP (mail clients need inline styles); a plain-text
        # e-mail is not HTML, so it may turn autoescaping off. (Django's password reset names its
        # e-mail templates registration/password_reset_email.txt and …_subject.txt.)
        if template.suffix == ".html":
            assert not re.search(r"\|\s*safe\b", text), f"|safe in {_name(template)}"
        return
    assert not STYLE_ATTRIBUTE.search(text), f"style= attribute in {_name(template)}"
    assert not STYLE_ELEMENT.search(text), f"<style> element in {_name(template)}"
    allowed = SAFE_FILTER_ALLOWED.get(_name(template))
    if allowed:
        text = text.replace(allowed[0], "")
    assert not SAFE_FILTER.search(text), f"|safe or autoescape off in {_name(template)}: sanitize in Python"


@pytest.mark.parametrize("script", _project_files(".js"), ids=_name)
def test_static_script_builds_no_html_from_strings(script: Path):
    if _name(script) in HTML_SINK_ALLOWED:
        return
    sink = HTML_SINKS.search(script.read_text())
    assert not sink, f"{sink.group(0)} in {_name(script)}: build nodes with textContent"


def test_html_is_marked_safe_only_after_sanitizing():
    marking = {_name(p) for p in _project_files(".py") if MARK_SAFE.search(p.read_text())}
    assert marking <= SANITIZING_MODULES, f"mark_safe outside the sanitizers: {marking - SANITIZING_MODULES}"
    for name in marking:
        assert "nh3.clean(" in (ROOT / name).read_text(), f"{name} marks HTML safe without nh3.clean"
