"""Refusals of the services become 400 answers (429 over a creation limit) with the page's message."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from chat.services import ChatError
from support_portal.throttle import RateLimited
from tickets.services import TicketError


def exception_handler(exc, context):
    if isinstance(exc, RateLimited):  # the services' creation limits, as for the pages: 429 + Retry-After
        exc = exceptions.Throttled(wait=exc.retry_after, detail=exc.detail)
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, TicketError | ChatError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    return drf_exception_handler(exc, context)
