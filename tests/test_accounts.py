"""Roles, franchise scoping, login and landing pages."""

import pytest
from django.db import IntegrityError
from django.http import Http404
from django.test import Client

from accounts import access
from accounts.models import User
from accounts.services import save_user
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_role_helpers(franchisee, agent, supervisor):
    assert access.is_agent(agent) and access.is_agent(supervisor)
    assert not access.is_agent(franchisee)
    assert access.is_supervisor(supervisor) and not access.is_supervisor(agent)
    assert access.is_franchisee(franchisee) and not access.is_franchisee(agent)


def test_anonymous_and_inactive_have_no_role(franchisee, agent):
    from django.contrib.auth.models import AnonymousUser

    assert not access.is_agent(AnonymousUser())
    assert not access.is_agent(None)
    agent.is_active = False
    assert not access.is_agent(agent)
    assert not access.can_see_franchise(AnonymousUser(), franchisee.franchise_id)


def test_franchise_scoping(franchisee, other_franchisee, agent, centro, norte):
    assert access.can_see_franchise(franchisee, centro.pk)
    assert not access.can_see_franchise(franchisee, norte.pk)
    assert access.can_see_franchise(agent, norte.pk)
    assert access.visible_franchise_id(franchisee) == centro.pk
    members = User.objects.filter(role="franchisee")
    assert set(access.scope_to_user(members, franchisee, "franchise")) == {franchisee}
    assert set(access.scope_to_user(members, agent, "franchise")) == {franchisee, other_franchisee}


def test_get_visible_or_404(franchisee, other_franchisee, agent):
    members = User.objects.filter(role="franchisee")
    assert access.get_visible_or_404(members, franchisee, pk=franchisee.pk) == franchisee
    with pytest.raises(Http404):
        access.get_visible_or_404(members, franchisee, pk=other_franchisee.pk)
    assert access.get_visible_or_404(members, agent, pk=other_franchisee.pk) == other_franchisee


def test_franchisee_needs_a_franchise_and_staff_none(centro):
    with pytest.raises(IntegrityError):
        User.objects.create(username="orphan", role="franchisee")


def test_staff_cannot_belong_to_a_franchise(centro):
    with pytest.raises(IntegrityError):
        User.objects.create(username="agent_with_f", role="agent", franchise=centro)


def test_save_user_gives_agents_admin_access(agent, franchisee):
    assert agent.is_staff and agent.groups.filter(name="Soporte").exists()
    assert not franchisee.is_staff
    assert agent.has_perm("tickets.change_ticket") and agent.has_perm("accounts.view_user")
    assert not agent.has_perm("accounts.change_user") and not franchisee.has_perm("tickets.view_ticket")


def test_the_support_group_gets_new_permissions_at_migrate(agent):
    """A permission the group lacks (as after a migration adds a model) is given by `migrate`,
    not by every agent save."""
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    group = Group.objects.get(name="Soporte")
    added = Permission.objects.get(codename="view_ticket", content_type__app_label="tickets")
    group.permissions.remove(added)
    save_user(username="agent_new", role="agent")
    assert not group.permissions.filter(pk=added.pk).exists()
    call_command("migrate", verbosity=0)
    assert group.permissions.filter(pk=added.pk).exists()


@pytest.mark.parametrize(("username", "landing"), [("fran_centro", "/"), ("agent_a", "/agent/")])
def test_login_lands_by_role(franchisee, agent, username, landing):
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == landing
    assert client.get(landing).status_code == 200


def test_agent_visiting_home_goes_to_dashboard(agent_client):
    response = agent_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/agent/"


def test_franchisee_cannot_open_agent_dashboard(franchisee_client):
    assert franchisee_client.get("/agent/").status_code == 404


def test_logout_needs_post_and_ends_session(franchisee_client):
    response = franchisee_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert franchisee_client.get("/").status_code == 302


def test_login_is_locked_after_repeated_failures(franchisee):
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": franchisee.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": franchisee.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_page_is_spanish_by_default_and_english_on_request(db):
    assert "Iniciar sesión" in Client().get("/accounts/login/").content.decode()
    english = Client(headers={"accept-language": "en"}).get("/accounts/login/").content.decode()
    assert "Log in" in english


def test_language_switcher_sets_english(franchisee_client):
    response = franchisee_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Log out" in franchisee_client.get("/").content.decode()


def test_save_user_is_idempotent(centro):
    user, created = save_user(username="x1", role="franchisee", franchise=centro, password=PASSWORD)
    again, created_again = save_user(username="x1", role="franchisee", franchise=centro, password=PASSWORD)
    assert created and not created_again and user.pk == again.pk
