"""OpenAPI post-processing: document the error answers every operation can give.

drf-spectacular documents the success responses; the API also answers 400 (bad input or a
refusal of the services), 401 (no or bad token), 403 (role), 404 (not visible) and 429
(throttled), always as JSON. Documented here once so that schemathesis checks them too.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
    "description": "`detail` for refusals; field name → list of messages for invalid input.",
}

DESCRIPTIONS = {
    "400": "Invalid input, or the change is not allowed in the ticket's state (nothing is stored).",
    "401": "No token or an invalid, revoked token.",
    "403": "Not allowed for this role (e.g. a franchisee changing a ticket's status).",
    "404": "Not found, not visible to this user (another franchise's object), or a page past the end.",
    "429": "Throttled: too many requests with this token. See the Retry-After header.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = ["401", "403", "429"]
            names = {p.get("name") for p in operation.get("parameters", [])}
            if "{" in path or "page" in names:  # not visible, or a page past the end
                codes.append("404")
            if method in ("post", "put", "patch") or operation.get("parameters"):
                codes.append("400")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
    return result


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # pragma: no cover - drf-spectacular is a runtime dependency
    OpenApiAuthenticationExtension = object


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <key>` in the schema (and the docs page's "Authorize" button)."""

    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Personal token: `Token <key>` (create one on /api/tokens/ or with create_api_token).",
        }
