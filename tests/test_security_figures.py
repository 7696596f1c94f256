"""docs/SECURITY.md states the suites' figures: keep them equal to what the tests really check."""

from pathlib import Path

from tests.access_matrix import ADMIN_PREFIX, MATRIX, WS_MATRIX, checks_count
from tests.test_security_csrf import POSTS
from tests.urlwalk import iter_routes
from tests.xss_vectors import FAMILIES, FIELDS, VECTORS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "SECURITY.md").read_text()


def test_xss_figures():
    assert f"**{len(VECTORS)} vectors** in {len(FAMILIES)} families" in DOC
    assert f"**{len(FIELDS)} fields**" in DOC


def test_access_matrix_figures():
    rules = sum(len(rules) for rules in MATRIX.values())
    admin = len([path for path, _ in iter_routes() if path.startswith(ADMIN_PREFIX)])
    assert f"**{checks_count()} endpoint × role checks**" in DOC
    assert f"{len(MATRIX)} URL routes ({rules} rules" in DOC
    assert f"{len(WS_MATRIX)} WebSocket routes" in DOC
    assert f"{admin} admin routes" in DOC


def test_csrf_figures():
    assert f"**{len(POSTS)} POST endpoints**" in DOC
