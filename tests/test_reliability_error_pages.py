"""The project's error pages: they render while services are down and show no internals."""

import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error


@pytest.mark.django_db
def test_server_error_page_needs_no_database_and_no_static_manifest(django_assert_num_queries, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "missing.module.Storage"}}
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/tickets/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Algo ha fallado" in html and "No se ha perdido nada" in html
    assert "/tickets/" not in html and "Traceback" not in html and "{%" not in html


def test_server_error_page_follows_the_language():
    with translation.override("en"):
        html = server_error(RequestFactory().get("/")).content.decode()
    assert 'lang="en"' in html


@pytest.mark.django_db
def test_not_found_page_is_the_portals_own(franchisee_client, settings):
    settings.DEBUG = False
    response = franchisee_client.get("/tickets/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Página no encontrada" in html and 'href="/"' in html
    assert "999999" not in html.split("<main", 1)[-1]  # the missing id is not echoed


@pytest.mark.django_db
def test_not_found_for_anonymous_goes_to_login_first():
    response = Client().get("/tickets/999999/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
