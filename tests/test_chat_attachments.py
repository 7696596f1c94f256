"""Chat attachments: images and PDFs with the ticket attachment rules (sniffed types, sizes),
thumbnails, safe serving, scoping (the conversation's franchisee and agents only), live delivery
as a `message` frame field, and carried into the ticket made from the chat."""

from __future__ import annotations

import io
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.services import save_user
from chat import selectors, services
from chat.frames import message_frame
from chat.models import Attachment, Message
from support_portal.asgi import application
from tests.servers import session_cookie, ws_headers
from tests.tickets_factories import PNG

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png_file(name="tpv.png", size=(640, 400)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def pdf_file(name="factura.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def conversation(franchisee):
    return services.start_conversation(franchisee=franchisee, topic="El TPV muestra un error")


def upload(client, conversation, file, client_id="f-1", body=""):
    return client.post(f"/chat/{conversation.pk}/attachments/", {"file": file, "client_id": client_id, "body": body})


@pytest.mark.django_db
class TestUpload:
    def test_image_becomes_a_message_with_a_thumbnail(self, franchisee_client, conversation):
        response = upload(franchisee_client, conversation, png_file())
        assert response.status_code == 201
        frame = response.json()["message"]
        assert frame["type"] == "message" and frame["body"] == "📎 tpv.png"
        attachment = frame["attachment"]
        assert attachment["name"] == "tpv.png" and attachment["content_type"] == "image/png"
        assert attachment["url"] == f"/chat/{conversation.pk}/attachments/{attachment['id']}/"
        assert attachment["thumbnail"] == attachment["url"] + "thumbnail/"
        stored = Attachment.objects.get()
        with Image.open(stored.thumbnail.open("rb")) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) == 480
        assert "tpv" not in stored.file.name  # stored under a random name

    def test_pdf_has_no_thumbnail_and_a_caption_is_the_body(self, franchisee_client, conversation):
        frame = upload(franchisee_client, conversation, pdf_file(), body="La factura").json()["message"]
        assert frame["body"] == "La factura"
        assert frame["attachment"]["thumbnail"] is None

    @pytest.mark.parametrize(
        "file",
        [
            SimpleUploadedFile("virus.png", b"MZ\x90\x00" + b"\x00" * 100),  # not a PNG inside
            SimpleUploadedFile("notas.txt", b"hola"),  # a ticket type, not a chat one
            SimpleUploadedFile("page.html", b"<script>alert(1)</script>"),
            SimpleUploadedFile("roto.png", PNG[:40]),  # a PNG header, no image
            SimpleUploadedFile("vacio.pdf", b""),
        ],
        ids=["exe-as-png", "text", "html", "truncated-png", "empty"],
    )
    def test_refused_files_store_nothing(self, franchisee_client, conversation, file):
        response = upload(franchisee_client, conversation, file)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid" and response.json()["detail"]
        assert not Attachment.objects.exists() and not Message.objects.filter(kind="user").exists()

    def test_size_limit(self, franchisee_client, conversation, settings):
        settings.ATTACHMENT_MAX_BYTES = 1000
        response = upload(franchisee_client, conversation, png_file(size=(800, 800)))
        assert response.status_code == 400 and "ocupa más de" in response.json()["detail"]

    def test_decompression_bomb_is_refused(self, franchisee_client, conversation, monkeypatch):
        monkeypatch.setattr("chat.attachments.MAX_PIXELS", 100)
        response = upload(franchisee_client, conversation, png_file(size=(20, 20)))
        assert response.status_code == 400 and not Attachment.objects.exists()

    def test_retry_with_the_same_client_id_stores_one(self, franchisee_client, conversation):
        first = upload(franchisee_client, conversation, png_file(), client_id="same")
        again = upload(franchisee_client, conversation, png_file(), client_id="same")
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["message"]["id"] == again.json()["message"]["id"]
        assert Attachment.objects.count() == 1

    def test_who_may_send(self, conversation, agent, agent_client, other_franchisee_client, centro):
        assert upload(other_franchisee_client, conversation, png_file()).status_code == 404
        refused = upload(agent_client, conversation, png_file())  # waiting: not the agent's yet
        assert refused.status_code == 400 and refused.json()["error"] == "forbidden"
        colleague = save_user(username="colega", role="franchisee", franchise=centro)[0]
        client = Client()
        client.force_login(colleague)
        assert upload(client, conversation, png_file()).json()["error"] == "forbidden"
        services.accept_conversation(conversation_id=conversation.pk, agent=agent)
        assert upload(agent_client, conversation, pdf_file()).status_code == 201
        assert not Attachment.objects.filter(uploaded_by=colleague).exists()

    def test_flood_limit_applies(self, franchisee_client, conversation, monkeypatch):
        monkeypatch.setattr("chat.limits.hit", lambda user_id: False)
        response = upload(franchisee_client, conversation, png_file())
        assert response.status_code == 429 and response.json()["error"] == "rate_limited"
        assert not Attachment.objects.exists()


@pytest.mark.django_db
class TestServing:
    @pytest.fixture
    def sent(self, franchisee_client, conversation):
        return upload(franchisee_client, conversation, png_file()).json()["message"]["attachment"]

    def test_download_is_an_attachment_never_sniffed(self, franchisee_client, agent_client, sent):
        for client in (franchisee_client, agent_client):
            response = client.get(sent["url"])
            assert response.status_code == 200
            assert (
                response["Content-Disposition"].startswith("attachment;")
                and "tpv.png" in response["Content-Disposition"]
            )
            assert response["Content-Type"] == "image/png"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
            assert response["Cache-Control"] == "private, no-store"

    def test_thumbnail_is_inline_jpeg(self, franchisee_client, sent):
        response = franchisee_client.get(sent["thumbnail"])
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"].startswith("inline;")
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_only_participants_and_agents(self, sent, other_franchisee_client, centro, franchisee):
        colleague = save_user(username="colega", role="franchisee", franchise=centro)[0]
        client = Client()
        client.force_login(colleague)
        for url in (sent["url"], sent["thumbnail"]):
            assert other_franchisee_client.get(url).status_code == 404
            assert client.get(url).status_code == 404  # same franchise, not in the conversation

    def test_an_attachment_only_under_its_conversation(self, sent, franchisee, franchisee_client):
        elsewhere = services.start_conversation(franchisee=franchisee, topic="Otra cosa")
        assert franchisee_client.get(f"/chat/{elsewhere.pk}/attachments/{sent['id']}/").status_code == 404

    def test_page_shows_thumbnail_and_link(self, franchisee_client, conversation, sent):
        page = franchisee_client.get(f"/chat/{conversation.pk}/").content.decode()
        assert f'src="{sent["thumbnail"]}"' in page and f'href="{sent["url"]}"' in page
        assert '<p class="body" hidden>📎 tpv.png</p>' in page  # no caption: the file says it all


@pytest.mark.django_db
def test_history_frames_read_a_constant_number_of_queries(franchisee_client, conversation, django_assert_num_queries):
    def frames():
        return [message_frame(m) for m in selectors.history(conversation.pk)]

    upload(franchisee_client, conversation, png_file(), client_id="a")
    with django_assert_num_queries(1):
        one = frames()
    for n in range(4):
        upload(franchisee_client, conversation, pdf_file(), client_id=f"b{n}")
    with django_assert_num_queries(1):
        five = frames()
    assert len([f for f in one if f["attachment"]]) == 1 and len([f for f in five if f["attachment"]]) == 5


@pytest.mark.django_db
def test_ticket_from_the_chat_carries_the_files(franchisee, franchisee_client, conversation):
    upload(franchisee_client, conversation, png_file(), client_id="a")
    upload(franchisee_client, conversation, pdf_file(), client_id="b")
    ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=franchisee)
    names = sorted(ticket.attachments.values_list("original_name", flat=True))
    assert names == ["factura.pdf", "tpv.png"]
    assert "tpv.png" in ticket.description  # the transcript names the file
    assert franchisee_client.get(ticket.attachments.get(original_name="tpv.png").get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_more_files_than_a_ticket_form_takes_are_all_carried(franchisee, franchisee_client, conversation):
    for n in range(7):
        upload(franchisee_client, conversation, pdf_file(f"f{n}.pdf"), client_id=f"c{n}")
    ticket = services.conversation_to_ticket(conversation_id=conversation.pk, actor=franchisee)
    assert ticket.attachments.count() == 7


@pytest.mark.django_db(transaction=True)
async def test_the_other_side_gets_the_file_live(franchisee, agent, conversation):
    await database_sync_to_async(services.accept_conversation)(conversation_id=conversation.pk, agent=agent)
    cookie = await database_sync_to_async(session_cookie)(agent)
    comm = WebsocketCommunicator(
        application, f"/ws/chat/{conversation.pk}/", headers=ws_headers(cookie, "http://127.0.0.1")
    )
    assert (await comm.connect())[0]
    while json.loads(await comm.receive_from(timeout=3))["type"] != "conversation":
        pass
    while not await comm.receive_nothing(timeout=0.2):
        await comm.receive_from()

    def send():
        client = Client()
        client.force_login(franchisee)
        return upload(client, conversation, png_file()).json()["message"]

    sent = await database_sync_to_async(send)()
    frame = json.loads(await comm.receive_from(timeout=5))
    while frame["type"] != "message":
        frame = json.loads(await comm.receive_from(timeout=5))
    assert frame["id"] == sent["id"]
    assert frame["attachment"]["thumbnail"] == sent["attachment"]["thumbnail"]
    await comm.disconnect()
