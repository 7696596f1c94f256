"""XSS corpus put through every user-writable field (tests/test_security_xss*.py, tests/browser/).

Each vector tries to run `window.__xss(N)` (a function the browser test installs) or to leave
an element carrying the marker attribute `data-xss` / id `xss-N` in the page. Inert means: the
function was never called and no element with that marker exists. The server-side check looks
for the same markers as live markup (a tag, an event handler, a `javascript:` URL) in the HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Vector:
    number: int
    family: str
    payload: str


_RAW: list[tuple[str, str]] = [
    # script tags
    ("script", "<script>window.__xss(N)</script>"),
    ("script", "<SCRIPT SRC=data:text/javascript,window.__xss(N)></SCRIPT>"),
    ("script", "<scr<script>ipt>window.__xss(N)</scr</script>ipt>"),
    ("script", "</textarea></title><script>window.__xss(N)</script>"),
    ("script", "<<script>window.__xss(N);//<</script>"),
    # event handlers
    ("event", '<img src=x id="xss-N" data-xss onerror="window.__xss(N)">'),
    ("event", '<body onload="window.__xss(N)">'),
    ("event", '<div id="xss-N" data-xss onmouseover="window.__xss(N)">hover</div>'),
    ("event", "<details open ontoggle=window.__xss(N) id=xss-N data-xss>"),
    ("event", "<input autofocus onfocus=window.__xss(N) id=xss-N data-xss>"),
    ("event", '<video><source onerror="window.__xss(N)"></video>'),
    ("event", "<marquee onstart=window.__xss(N)>x</marquee>"),
    # javascript: URLs
    ("js-url", '<a href="javascript:window.__xss(N)" id="xss-N" data-xss>click</a>'),
    ("js-url", '<a href="JaVaScRiPt:window.__xss(N)" id="xss-N" data-xss>click</a>'),
    ("js-url", '<a href="&#106;avascript:window.__xss(N)" id="xss-N" data-xss>click</a>'),
    ("js-url", '<iframe src="javascript:window.__xss(N)" id="xss-N" data-xss></iframe>'),
    ("js-url", '<form action="javascript:window.__xss(N)"><button id="xss-N" data-xss>go</button></form>'),
    ("js-url", "<object data=\"javascript:window.__xss(N)\" id='xss-N' data-xss></object>"),
    # SVG and MathML
    ("svg", '<svg onload="window.__xss(N)" id="xss-N" data-xss></svg>'),
    ("svg", "<svg><script>window.__xss(N)</script></svg>"),
    ("svg", '<svg><a xlink:href="javascript:window.__xss(N)"><text x="9" y="9">x</text></a></svg>'),
    ("svg", "<svg><animate onbegin=window.__xss(N) attributeName=x dur=1s>"),
    ("svg", '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss(N)">'),
    # Markdown link and image tricks
    ("markdown", "[click me](javascript:window.__xss(N))"),
    ("markdown", '[click me](JAVASCRIPT:window.__xss(N) "title")'),
    ("markdown", '![img](x" onerror="window.__xss(N))'),
    ("markdown", "[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3MoMSk8L3NjcmlwdD4=)"),
    ("markdown", '<a href="javascript&colon;window.__xss(N)" id="xss-N" data-xss>md</a>'),
    ("markdown", "[a](<javascript:window.__xss(N)>)"),
    ("markdown", "```\n</code><script>window.__xss(N)</script>\n```"),
    # attribute and context breakouts
    ("breakout", '"><script>window.__xss(N)</script>'),
    ("breakout", "'><img src=x onerror=window.__xss(N) id=xss-N data-xss>"),
    ("breakout", '" onmouseover="window.__xss(N)" data-xss="'),
    ("breakout", "' autofocus onfocus='window.__xss(N)' data-xss='"),
    ("breakout", "</script><script>window.__xss(N)</script>"),
    ("breakout", "{{ 7|add:7 }}{% now 'Y' %}<b id=xss-N data-xss>tpl</b>"),
    ("breakout", '<style>*{background:url("javascript:window.__xss(N)")}</style>'),
    ("breakout", '<meta http-equiv="refresh" content="0;url=javascript:window.__xss(N)">'),
    ("breakout", '<base href="javascript:window.__xss(N)//"><a href=x id=xss-N data-xss>b</a>'),
    ("breakout", '<noscript><p title="</noscript><img src=x onerror=window.__xss(N)>">'),
]

VECTORS: list[Vector] = [
    Vector(number=i, family=family, payload=raw.replace("(N)", f"({i})").replace("xss-N", f"xss-{i}"))
    for i, (family, raw) in enumerate(_RAW, start=1)
]

FAMILIES = sorted({v.family for v in VECTORS})


def short(vector: Vector, limit: int) -> str:
    """The payload cut to a field's max length, keeping the vector's number visible."""
    return vector.payload[:limit]


# --- server-side check: does rendered HTML hold live markup a vector injected? -------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "background", "poster", "content"}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
DATA_SCRIPT_TYPES = ("application/json", "application/ld+json")


def _squash(value: str) -> str:
    """Lower-case and drop whitespace/control characters, as browsers do before the scheme."""
    return "".join(ch for ch in value.lower() if ch > " ")


class _InjectionFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script_or_style: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler")
            if name == "data-xss" or (name == "id" and value.startswith("xss-")):
                self.problems.append(f"<{tag}> injected element ({name}={value!r})")
            scripted = any(scheme in _squash(value) for scheme in DANGEROUS_SCHEMES)
            if name in URL_ATTRIBUTES and scripted and (name != "content" or "url=" in _squash(value)):
                self.problems.append(f"<{tag} {name}={value[:40]!r}> script URL")
            if name == "srcdoc":
                self.problems.append(f"<{tag} srcdoc> inline document")
        if tag in ("script", "style"):
            self._in_script_or_style = tag
            named = dict(attrs)
            if tag == "style":
                self.problems.append("<style> element (inline styles are forbidden by the CSP)")
            elif "__xss" in (named.get("src") or ""):
                self.problems.append("<script src> injected")
            elif not named.get("src") and named.get("type") not in DATA_SCRIPT_TYPES:
                self.problems.append("inline <script> (forbidden by the CSP)")
        if tag in ("base", "iframe", "object", "embed") and not any(k == "data-portal" for k, _ in attrs):
            self.problems.append(f"<{tag}> element")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_script_or_style = None

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in_script_or_style:
            self._in_script_or_style = None

    def handle_data(self, data: str) -> None:
        if self._in_script_or_style and "__xss" in data:
            self.problems.append(f"<{self._in_script_or_style}> holding an injected payload")


def find_injections(html: str) -> list[str]:
    """Live markup an XSS vector could have produced in `html` (empty list: the page is inert)."""
    finder = _InjectionFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


# --- the corpus: every vector through every user-writable field ------------------------------------

FIELDS = (
    "franchise name",
    "user first name (franchisee)",
    "user first name (agent)",
    "ticket subject",
    "ticket description",
    "ticket comment",
    "ticket rating comment",
    "attachment file name",
    "chat topic",
    "chat message (franchisee)",
    "chat message (agent)",
    "chat rating comment",
    "article title",
    "article summary",
    "article body",
    "article tags",
    "article feedback comment",
    "search query (reflected)",
)


def file_name(vector: Vector) -> str:
    """The payload as an upload's file name (a browser strips directories, so no '/')."""
    return vector.payload.replace("/", "∕").replace("\\", "∖").replace("\n", " ")[:140] + ".png"


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def build_corpus(vectors: list[Vector] | None = None) -> dict:
    """Store every vector in every user-writable field, through the apps' own services.

    Returns {"viewer": agent username, "items": [{number, owner, agent, ticket, chat_ticket,
    conversation, article}, ...]}. Run where on-commit callbacks execute (notifications and
    search indexing happen there).
    """
    from accounts.services import save_user
    from knowledge_base.services import deferred_indexing

    viewer = save_user(username="xss_viewer", role="agent", first_name="Vera")[0]
    with deferred_indexing():  # one search-index batch for all the articles
        items = [store_vector(vector) for vector in vectors or VECTORS]
    return {"viewer": viewer.username, "items": items}


def store_vector(vector: Vector) -> dict:
    """One vector in every field (its own franchise, franchisee and agent); the ids holding it."""
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services import save_franchise, save_user
    from chat import services as chat
    from knowledge_base import services as kb
    from knowledge_base.models import Article
    from tickets import services as tickets

    n, payload = vector.number, vector.payload
    franchise = save_franchise(code=f"xss-{n}", name=payload[:120])[0]
    owner = save_user(username=f"xss_fran_{n}", role="franchisee", franchise=franchise, first_name=payload[:150])[0]
    agent = save_user(username=f"xss_agent_{n}", role="agent", first_name=payload[:150])[0]

    upload = SimpleUploadedFile(file_name(vector), PNG, content_type="image/png")
    ticket = tickets.create_ticket(actor=owner, subject=payload[:200], description=payload, attachments=[upload])
    tickets.add_comment(ticket=ticket, actor=agent, body=payload)
    tickets.resolve(ticket=ticket, actor=agent)
    tickets.rate(ticket=ticket, actor=owner, rating=1, comment=payload)

    conversation = chat.start_conversation(franchisee=owner, topic=payload[:200])
    chat.accept_conversation(conversation_id=conversation.pk, agent=agent)
    for author in (owner, agent):
        chat.post_message(conversation_id=conversation.pk, author=author, body=payload, client_id=str(uuid.uuid4()))
    chat_ticket = chat.conversation_to_ticket(conversation_id=conversation.pk, actor=owner)
    chat.close_conversation(conversation_id=conversation.pk, actor=owner)
    chat.rate_conversation(conversation_id=conversation.pk, user=owner, rating=1, comment=payload)

    article = kb.create_article(
        actor=agent,
        title=f"{payload[:180]} {n}",
        body=payload,
        summary=payload,
        tags=payload,
        status=Article.Status.PUBLISHED,
    )
    kb.submit_feedback(article=article, user=owner, helpful=False, comment=payload[:500])
    return {
        "number": n,
        "owner": owner.username,
        "agent": agent.username,
        "ticket": ticket.pk,
        "chat_ticket": chat_ticket.pk,
        "conversation": conversation.pk,
        "article": article.slug,
    }
