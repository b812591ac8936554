"""Error pages in the reader's language: never a stack trace, never JSON for a page."""

from __future__ import annotations

import logging

from aiohttp import web

from ..infra.errors import DomainError
from ..middleware import ApiError, Handler
from .i18n import N_
from .render import PageError, render

log = logging.getLogger(__name__)

TITLES = {
    400: N_("The request could not be understood"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Not allowed"),
    413: N_("Too large"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
}
DEFAULT_MESSAGES = {
    400: N_("Please check what you entered and try again."),
    403: N_("You may not do this."),
    404: N_("This page does not exist. Check the address, or go back to your lessons."),
    405: N_("You may not do this."),
    413: N_("What you sent is too large."),
    429: N_("Too many requests. Wait a moment and try again."),
    500: N_("Something went wrong on the server. It was logged; please try again later."),
}
API_MESSAGES = {
    "csrf": N_("This form has expired. Reload the page and try again."),
    "cross_origin": N_("Requests from other sites are not accepted."),
    "invalid_text": N_(
        "What you sent contains characters that cannot be stored. "
        "Type it again (or paste it as plain text) and send it once more."
    ),
}


def _is_page(request: web.Request) -> bool:
    return not request.path.startswith(("/api/", "/static/", "/healthz"))


def error_page(request: web.Request, status: int, message: str | None = None) -> web.Response:
    shown = status if status in TITLES else (500 if status >= 500 else 400)
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES[shown],
            "message": message or DEFAULT_MESSAGES[shown],
        },
        status=status,
    )


@web.middleware
async def web_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn failures on page URLs into an error page; the JSON API keeps its own errors."""
    if not _is_page(request):
        return await handler(request)
    try:
        return await handler(request)
    except PageError as exc:
        return error_page(request, exc.status, exc.message)
    except ApiError as exc:
        return error_page(request, exc.status, API_MESSAGES.get(exc.code))
    except DomainError as exc:  # a page that did not say it better itself
        return error_page(request, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_page(request, exc.status)
    except Exception:
        log.exception("unhandled error on page %s %s", request.method, request.path)
        return error_page(request, 500)
