"""Who may do what: the expected outcome of every endpoint for every kind of visitor.

Checked by tests/test_security_access_matrix.py, which walks the URL resolver and the WebSocket
routes and fails when an endpoint has no entry here. Columns, in order:

    anonymous · franchisee of the owning franchise · franchisee of another franchise · agent

The owning franchise is Centro: the ticket (with an attachment), the conversation and the
notification belong to its franchisee. Outcomes:

    login  302 to /accounts/login/            200/204/302/400/404/405/409  that exact status
    ran    the request reached its action: 2xx, a redirect that is not to the login page, or a
           business refusal (400 form errors, 409 conflict) — never 401/403/404/500
    (WebSocket) 4401 / 4404 / 4403 close codes, `open` = accepted and kept open

A row of another franchise is always 404 (never 403: its existence is not confirmed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("anonymous", "owner", "other", "agent")


@dataclass(frozen=True)
class Rule:
    """`url` may hold {ticket} {attachment} {conversation} {article} {draft} {revision} {notification}."""

    url: str
    get: str | None = None
    post: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def expected(self, method: str) -> dict[str, str]:
        spec = self.get if method == "GET" else self.post
        assert spec is not None
        values = spec.split()
        assert len(values) == len(ROLES), f"{self.url} {method}: {spec!r} needs {len(ROLES)} outcomes"
        return dict(zip(ROLES, values, strict=True))

    @property
    def methods(self) -> list[str]:
        return [m for m, spec in (("GET", self.get), ("POST", self.post)) if spec is not None]


AGENT_ONLY_GET = "login 404 404 200"
AGENT_ONLY_POST = "login 404 404 ran"
OWNER_GET = "login 200 404 200"
OWNER_POST = "login ran 404 ran"
EVERYONE_GET = "login 200 200 200"

# Keyed by the sample path tests/urlwalk.py produces for each route (its resolver walk).
MATRIX: dict[str, list[Rule]] = {
    "/": [Rule("/", get="login 200 200 302", note="agents are sent to /agent/")],
    "/accounts/login/": [
        Rule("/accounts/login/", get="200 302 302 302", note="a signed-in user is sent on"),
    ],
    "/accounts/logout/": [
        Rule("/accounts/logout/", get="login 405 405 405", post="login login login login", note="back to login")
    ],
    "/accounts/profile/": [
        Rule(
            "/accounts/profile/",
            get=EVERYONE_GET,
            post="login 400 400 400",
            data={"email": ""},
            note="each sees and edits only their own data and sessions; an empty e-mail is a form error",
        )
    ],
    "/accounts/profile/sessions/end-all/": [
        Rule(
            "/accounts/profile/sessions/end-all/",
            get="login 405 405 405",
            post="login login login login",
            note="every session ends, this one too: back to the login page",
        )
    ],
    # Password reset by e-mail: open to everyone (login_not_required), the same answer for any address.
    "/accounts/password/reset/": [
        Rule(
            "/accounts/password/reset/",
            get="200 200 200 200",
            post="ran ran ran ran",
            data={"email": "nadie@example.com"},
            note="always the 'check your e-mail' page",
        )
    ],
    "/accounts/password/reset/done/": [Rule("/accounts/password/reset/done/", get="200 200 200 200")],
    "/accounts/password/reset/something/something/": [
        Rule(
            "/accounts/password/reset/MQ/not-a-token/",
            get="200 200 200 200",
            post="200 200 200 200",
            note="a bad or expired link: the 'invalid link' page, nothing changes",
        )
    ],
    "/accounts/password/reset/complete/": [Rule("/accounts/password/reset/complete/", get="200 200 200 200")],
    "/accounts/password/": [
        Rule("/accounts/password/", get=EVERYONE_GET, post="login 200 200 200", note="empty form: errors, no change")
    ],
    "/accounts/profile/sessions/end-others/": [
        Rule("/accounts/profile/sessions/end-others/", get="login 405 405 405", post="login ran ran ran")
    ],
    "/accounts/profile/locale/": [
        Rule(
            "/accounts/profile/locale/",
            get="login 405 405 405",
            post="login ran ran ran",
            data={"language": "es", "time_zone": "Atlantic/Canary"},
            note="one's own language and time zone",
        )
    ],
    "/accounts/profile/time-zone-guess/": [
        Rule(
            "/accounts/profile/time-zone-guess/",
            get="login 405 405 405",
            post="login 204 204 204",
            data={"time_zone": "Atlantic/Canary"},
            note="kept only once after login, for a user without a zone",
        )
    ],
    "/agent/": [Rule("/agent/", get=AGENT_ONLY_GET)],
    # supervisors' reports: figures by date range, CSV exports, audit log (agents too get a 404)
    "/agent/reports/figures/": [Rule("/agent/reports/figures/", get="login 404 404 404", note="supervisors only")],
    "/agent/reports/figures.csv": [Rule("/agent/reports/figures.csv", get="login 404 404 404", note="supervisors")],
    "/agent/reports/tickets.csv": [Rule("/agent/reports/tickets.csv", get="login 404 404 404", note="supervisors")],
    "/agent/reports/audit/": [Rule("/agent/reports/audit/", get="login 404 404 404", note="supervisors only")],
    # macros: agents only; another agent's personal macro does not exist for them
    "/agent/macros/": [Rule("/agent/macros/", get=AGENT_ONLY_GET)],
    "/agent/macros/new/": [
        Rule("/agent/macros/new/", get=AGENT_ONLY_GET, post=AGENT_ONLY_POST, data={"name": "", "body": ""})
    ],
    "/agent/macros/search/": [Rule("/agent/macros/search/?q=&ticket={ticket}", get=AGENT_ONLY_GET)],
    "/agent/macros/1/edit/": [
        Rule("/agent/macros/{macro}/edit/", get=AGENT_ONLY_GET, post=AGENT_ONLY_POST, data={"name": "", "body": ""}),
        Rule("/agent/macros/{foreign_macro}/edit/", get="login 404 404 404", post="login 404 404 404"),
    ],
    "/agent/macros/1/delete/": [
        Rule("/agent/macros/{macro}/delete/", post=AGENT_ONLY_POST),
        Rule("/agent/macros/{foreign_macro}/delete/", post="login 404 404 404"),
    ],
    "/agent/availability/": [
        Rule("/agent/availability/", post=AGENT_ONLY_POST, data={"status": "available"}),
    ],
    "/agent/macros/1/used/": [
        Rule("/agent/macros/{macro}/used/", post=AGENT_ONLY_POST, data={"message": ""}),
        Rule("/agent/macros/{foreign_macro}/used/", post="login 404 404 404", data={"message": ""}),
    ],
    # saved views: agents only; another agent's view (even shared) is not theirs to change
    "/agent/views/": [Rule("/agent/views/", get=AGENT_ONLY_GET)],
    "/agent/views/new/": [Rule("/agent/views/new/", post=AGENT_ONLY_POST, data={"name": "Mía", "query": ""})],
    "/agent/views/1/": [
        Rule("/agent/views/{saved_view}/", post=AGENT_ONLY_POST, data={"name": "Otra"}),
        Rule("/agent/views/{foreign_view}/", post="login 404 404 404", data={"name": "Otra"}),
    ],
    "/agent/views/1/delete/": [
        Rule("/agent/views/{saved_view}/delete/", post=AGENT_ONLY_POST),
        Rule("/agent/views/{foreign_view}/delete/", post="login 404 404 404"),
    ],
    "/agent/views/1/move/": [
        Rule("/agent/views/{saved_view}/move/", post=AGENT_ONLY_POST, data={"direction": "up"}),
        Rule("/agent/views/{foreign_view}/move/", post="login 404 404 404", data={"direction": "up"}),
    ],
    # tickets
    "/tickets/": [Rule("/tickets/", get=EVERYONE_GET, note="each sees their own franchise's tickets")],
    "/tickets/new/": [
        Rule(
            "/tickets/new/",
            get=EVERYONE_GET,
            post="login 302 302 400",
            data={"subject": "No imprime", "description": "Desde hoy", "priority": "normal"},
            note="an agent must name the franchise: form error",
        )
    ],
    "/tickets/bulk/": [Rule("/tickets/bulk/", post=AGENT_ONLY_POST, data={"action": "claim"})],
    "/tickets/1/": [Rule("/tickets/{ticket}/", get=OWNER_GET, post="login 405 405 405")],
    "/tickets/1/comments/": [
        Rule("/tickets/{ticket}/comments/", get="login 405 405 405", post=OWNER_POST, data={"body": "Hola"}),
    ],
    "/tickets/1/reopen/": [Rule("/tickets/{ticket}/reopen/", post=OWNER_POST, data={"reason": "sigue"})],
    "/tickets/1/rate/": [Rule("/tickets/{ticket}/rate/", post=OWNER_POST, data={"rating": "5"})],
    "/tickets/1/claim/": [Rule("/tickets/{ticket}/claim/", post=AGENT_ONLY_POST)],
    "/tickets/1/assign/": [Rule("/tickets/{ticket}/assign/", post=AGENT_ONLY_POST, data={"assignee": "{agent_id}"})],
    "/tickets/1/unassign/": [Rule("/tickets/{ticket}/unassign/", post=AGENT_ONLY_POST)],
    "/tickets/1/status/": [Rule("/tickets/{ticket}/status/", post=AGENT_ONLY_POST, data={"status": "in_progress"})],
    "/tickets/1/priority/": [Rule("/tickets/{ticket}/priority/", post=AGENT_ONLY_POST, data={"priority": "high"})],
    "/tickets/1/category/": [Rule("/tickets/{ticket}/category/", post=AGENT_ONLY_POST, data={"category": ""})],
    "/tickets/1/resolve/": [Rule("/tickets/{ticket}/resolve/", post=AGENT_ONLY_POST)],
    "/tickets/1/close/": [Rule("/tickets/{ticket}/close/", post=AGENT_ONLY_POST)],
    "/tickets/1/merge/": [Rule("/tickets/{ticket}/merge/", post=AGENT_ONLY_POST, data={"target": "{other_ticket}"})],
    "/tickets/1/fields/": [Rule("/tickets/{ticket}/fields/", post=AGENT_ONLY_POST)],
    "/tickets/1/tags/": [Rule("/tickets/{ticket}/tags/", post=AGENT_ONLY_POST, data={"add": "tpv"})],
    # followers: the requester adds a colleague / leaves; agents add and remove anyone (idempotent)
    "/tickets/1/followers/": [
        Rule("/tickets/{ticket}/followers/", post=OWNER_POST, data={"follower": "{colleague_id}"}),
        Rule(
            "/tickets/{ticket}/followers/",
            post="login 404 404 404",
            data={"follower": "{other_id}"},
            note="another franchise's user can never follow",
        ),
    ],
    "/tickets/1/followers/1/remove/": [Rule("/tickets/{ticket}/followers/{owner_id}/remove/", post=OWNER_POST)],
    "/tickets/1/links/": [
        Rule("/tickets/{ticket}/links/", post=AGENT_ONLY_POST, data={"kind": "related", "other": "{other_ticket}"})
    ],
    "/tickets/1/links/1/remove/": [Rule("/tickets/{ticket}/links/{link}/remove/", post=AGENT_ONLY_POST)],
    "/tickets/1/draft-article/": [Rule("/tickets/{ticket}/draft-article/", post=AGENT_ONLY_POST)],
    "/tickets/1/attachments/1/": [
        Rule("/tickets/{ticket}/attachments/{attachment}/", get=OWNER_GET, note="always a download"),
    ],
    # knowledge base (articles belong to no franchise: every signed-in user reads published ones)
    "/kb/": [Rule("/kb/", get=EVERYONE_GET)],
    "/kb/search/": [Rule("/kb/search/?q=datafono", get=EVERYONE_GET)],
    "/kb/suggest/": [Rule("/kb/suggest/?q=datafono", get=EVERYONE_GET)],
    "/kb/new/": [Rule("/kb/new/", get=AGENT_ONLY_GET, post=AGENT_ONLY_POST, data={"title": "", "body": ""})],
    "/kb/preview/": [Rule("/kb/preview/", post=AGENT_ONLY_POST, data={"body": "# Hola"})],
    "/kb/review/": [Rule("/kb/review/", get=AGENT_ONLY_GET)],
    "/kb/gaps/": [Rule("/kb/gaps/", get=AGENT_ONLY_GET)],
    "/kb/gaps/draft/": [Rule("/kb/gaps/draft/", post=AGENT_ONLY_POST, data={"query": "rider no viene"})],
    "/kb/some-slug/": [
        Rule("/kb/{article}/", get=EVERYONE_GET, note="published article"),
        Rule("/kb/{draft}/", get=AGENT_ONLY_GET, note="a draft does not exist for franchisees"),
    ],
    "/kb/some-slug/edit/": [Rule("/kb/{article}/edit/", get=AGENT_ONLY_GET, post=AGENT_ONLY_POST)],
    "/kb/some-slug/status/": [Rule("/kb/{article}/status/", post=AGENT_ONLY_POST, data={"status": "published"})],
    "/kb/some-slug/reviewed/": [Rule("/kb/{article}/reviewed/", post=AGENT_ONLY_POST)],
    "/kb/some-slug/history/": [Rule("/kb/{article}/history/", get=AGENT_ONLY_GET)],
    "/kb/some-slug/history/1/": [Rule("/kb/{article}/history/{revision}/", get=AGENT_ONLY_GET)],
    "/kb/some-slug/history/1/restore/": [Rule("/kb/{article}/history/{revision}/restore/", post=AGENT_ONLY_POST)],
    "/kb/some-slug/feedback/": [
        Rule("/kb/{article}/feedback/", post="login ran ran ran", data={"helpful": "1"}),
        Rule("/kb/{draft}/feedback/", post="login 404 404 ran", data={"helpful": "1"}),
    ],
    "/kb/some-slug/deflection/": [
        Rule("/kb/{article}/deflection/", post="login ran ran ran"),
        Rule("/kb/{draft}/deflection/", post="login 404 404 ran"),
    ],
    # desk panels (assist): JSON loaded after the page; a conversation/ticket of another franchise is a 404
    "/assist/articles/": [
        Rule("/assist/articles/?q=dat%C3%A1fono", get=EVERYONE_GET),
        Rule("/assist/articles/?conversation={conversation}", get=OWNER_GET),
        Rule("/assist/articles/?ticket={ticket}", get=OWNER_GET),
    ],
    "/assist/tickets/1/similar/": [Rule("/assist/tickets/{ticket}/similar/", get=AGENT_ONLY_GET)],
    "/assist/same-problem/": [
        Rule("/assist/same-problem/?subject=dat%C3%A1fono", get=EVERYONE_GET, note="only the user's own franchise")
    ],
    # chat
    "/chat/": [
        Rule("/chat/", get=EVERYONE_GET, post="login 302 302 302", data={"topic": "No conecta"}),
    ],
    "/chat/1/": [Rule("/chat/{conversation}/", get=OWNER_GET)],
    "/chat/1/accept/": [Rule("/chat/{conversation}/accept/", post=AGENT_ONLY_POST)],
    "/chat/1/transfer/": [Rule("/chat/{conversation}/transfer/", post=AGENT_ONLY_POST, data={"agent": "{agent_id}"})],
    "/chat/1/close/": [Rule("/chat/{conversation}/close/", post=OWNER_POST)],
    "/chat/1/resolve/": [Rule("/chat/{conversation}/resolve/", post=AGENT_ONLY_POST)],
    "/chat/1/rate/": [Rule("/chat/{conversation}/rate/", post=OWNER_POST, data={"rating": "5"})],
    "/chat/1/ticket/": [Rule("/chat/{conversation}/ticket/", post=OWNER_POST)],
    "/chat/1/draft-article/": [Rule("/chat/{conversation}/draft-article/", post=AGENT_ONLY_POST)],
    # chat files: the conversation's franchisee and agents (uploading needs a `file`: 400 without)
    "/chat/1/attachments/": [Rule("/chat/{conversation}/attachments/", get="login 405 405 405", post=OWNER_POST)],
    "/chat/1/attachments/1/": [
        Rule("/chat/{conversation}/attachments/{chat_attachment}/", get=OWNER_GET, note="always a download")
    ],
    "/chat/1/attachments/1/thumbnail/": [
        Rule("/chat/{conversation}/attachments/{chat_attachment}/thumbnail/", get=OWNER_GET)
    ],
    # notifications (each user's own)
    "/notifications/": [Rule("/notifications/", get=EVERYONE_GET)],
    "/notifications/latest/": [Rule("/notifications/latest/", get=EVERYONE_GET)],
    "/notifications/read-all/": [Rule("/notifications/read-all/", post="login 302 302 302")],
    "/notifications/1/read/": [
        Rule("/notifications/{notification}/read/", post="login 302 404 404", note="only the recipient's own"),
    ],
    "/notifications/preferences/": [Rule("/notifications/preferences/", get=EVERYONE_GET, post="login ran ran ran")],
    # JSON API (api/, docs/API.md): anonymous calls get 401 (token or session), never a login redirect.
    # Bodies are JSON only: the form-encoded posts of this matrix get 415 once access is granted.
    "/api/v1/tickets/": [Rule("/api/v1/tickets/", get="401 200 200 200", post="401 415 415 415")],
    "/api/v1/tickets/1/": [Rule("/api/v1/tickets/{ticket}/", get="401 200 404 200", post="401 405 405 405")],
    "/api/v1/tickets/1/comments/": [
        Rule("/api/v1/tickets/{ticket}/comments/", get="401 200 404 200", post="401 415 404 415"),
    ],
    "/api/v1/tickets/1/followers/": [
        Rule(
            "/api/v1/tickets/{ticket}/followers/",
            get="401 200 404 200",
            post="401 415 404 415",
            note="the requester and agents add followers",
        ),
    ],
    "/api/v1/tickets/1/followers/1/": [
        Rule("/api/v1/tickets/{ticket}/followers/1/", get="401 405 405 405", post="401 405 405 405", note="DELETE"),
    ],
    "/api/v1/tickets/1/links/": [
        Rule("/api/v1/tickets/{ticket}/links/", get="401 200 404 200", post="401 403 404 415", note="agents link"),
    ],
    "/api/v1/tickets/1/links/1/": [
        Rule("/api/v1/tickets/{ticket}/links/1/", get="401 405 405 405", post="401 405 405 405", note="DELETE"),
    ],
    "/api/v1/kb/articles/": [Rule("/api/v1/kb/articles/", get="401 200 200 200")],
    "/api/v1/kb/articles/some-slug/": [
        Rule("/api/v1/kb/articles/{article}/", get="401 200 200 200"),
        Rule("/api/v1/kb/articles/{draft}/", get="401 404 404 200", note="a draft does not exist for franchisees"),
    ],
    "/api/v1/kb/search/": [Rule("/api/v1/kb/search/?q=datafono", get="401 200 200 200")],
    "/api/v1/chats/": [Rule("/api/v1/chats/", get="401 200 200 200", note="each sees their franchise's chats")],
    "/api/v1/": [Rule("/api/v1/no-such-endpoint/", get="401 404 404 404", note="a JSON 404")],
    "/api/schema/": [Rule("/api/schema/", get="401 200 200 200")],
    "/api/docs/": [Rule("/api/docs/", get=EVERYONE_GET)],
    "/api/tokens/": [Rule("/api/tokens/", get=EVERYONE_GET)],
    "/api/tokens/new/": [Rule("/api/tokens/new/", post="login ran ran ran", data={"name": "ERP"})],
    "/api/tokens/something/revoke/": [
        Rule("/api/tokens/something/revoke/", post="login 302 302 302", note="only the user's own tokens"),
    ],
    "/api/webhooks/": [Rule("/api/webhooks/", get=AGENT_ONLY_GET.replace("200", "404"), post="login 404 404 404")],
    "/api/webhooks/1/": [Rule("/api/webhooks/1/", get="login 404 404 404", note="supervisors only")],
    "/api/webhooks/1/test/": [Rule("/api/webhooks/1/test/", post="login 404 404 404")],
    "/api/webhooks/1/toggle/": [Rule("/api/webhooks/1/toggle/", post="login 404 404 404")],
    "/api/webhooks/1/delete/": [Rule("/api/webhooks/1/delete/", post="login 404 404 404")],
    # public
    "/i18n/setlang/": [Rule("/i18n/setlang/", post="302 302 302 302", data={"language": "en", "next": "/"})],
    "/healthz": [Rule("/healthz", get="200 200 200 200", note="no data, just up/down per part")],
}

# Every Django admin route: staff only. Anonymous visitors and franchisees are sent to a login
# page (never a 200); agents reach the index. The admin's own login/logout pages show no data.
ADMIN_PREFIX = "/admin/"
ADMIN_OPEN = {"/admin/login/", "/admin/logout/"}
ADMIN_INDEX = Rule("/admin/", get="login login login 200")

# WebSocket routes (support_portal.routing), keyed by their route pattern.
WS_MATRIX: dict[str, Rule] = {
    "ws/notifications/": Rule("/ws/notifications/", get="4401 open open open"),
    "ws/chat/<id:conversation_id>/": Rule("/ws/chat/{conversation}/", get="4401 open 4404 open"),
    "ws/tickets/<id:ticket_id>/presence/": Rule(
        "/ws/tickets/{ticket}/presence/", get="4401 4404 4404 open", note="collision detection: agents only"
    ),
    "": Rule("/ws/other/", get="4404 4404 4404 4404", note="any path no app serves (support_portal.routing)"),
}
FOREIGN_ORIGIN_CLOSE = "4403"


def checks_count() -> int:
    """Endpoint × method × role combinations the matrix states (HTTP and WebSocket)."""
    http = sum(len(rule.methods) * len(ROLES) for rules in MATRIX.values() for rule in rules)
    ws = len(WS_MATRIX) * (len(ROLES) + 1)  # + a foreign Origin
    return http + ws
