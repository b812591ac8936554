"""Dutch and English: gettext catalogues (.po files in ``locale/``) read once at start-up.

English is the source language (the msgids); Dutch comes from ``locale/nl/LC_MESSAGES/
messages.po``. A person's choice lives in a cookie; without one the configured default applies.
Lookups that find no Dutch text are remembered in ``Catalogue.missing`` so a test can fail on them.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.messages.pofile import read_po

LANGUAGES = ("nl", "en")
SOURCE_LANGUAGE = "en"
LANGUAGE_COOKIE = "lessoncam_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@dataclass
class Catalogue:
    """One language's messages; English (the source) passes msgids through."""

    language: str
    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def gettext(self, message: str) -> str:
        if self.language == SOURCE_LANGUAGE or not message:
            return message
        text = self.messages.get(message)
        if not text:
            self.missing.add(message)
            return message
        return text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # Dutch and English share the rule "one" for 1 and "other" for everything else.
        index = 0 if n == 1 else 1
        if self.language == SOURCE_LANGUAGE:
            return (singular, plural)[index]
        forms = self.plurals.get(singular)
        if not forms or not all(forms):
            self.missing.add(singular)
            return (singular, plural)[index]
        return forms[min(index, len(forms) - 1)]


def load_catalogue(language: str, locale_dir: Path = LOCALE_DIR) -> Catalogue:
    """Read ``language``'s .po file; fuzzy entries count as untranslated."""
    catalogue = Catalogue(language)
    if language == SOURCE_LANGUAGE:
        return catalogue
    path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            strings = message.string if isinstance(message.string, tuple | list) else ()
            catalogue.plurals[str(message.id[0])] = tuple(str(s) for s in strings)
        elif isinstance(message.string, str) and message.string:
            catalogue.messages[str(message.id)] = message.string
    return catalogue


class Catalogues:
    """Every language's catalogue, loaded once per application."""

    def __init__(self, default_language: str) -> None:
        self.default = default_language
        self.by_language = {lang: load_catalogue(lang) for lang in LANGUAGES}

    def for_request(self, request: web.Request) -> Catalogue:
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        return self.by_language[chosen if chosen in LANGUAGES else self.default]

    def missing(self) -> set[str]:
        return {m for c in self.by_language.values() for m in c.missing}


CATALOGUES = web.AppKey("web_catalogues", Catalogues)
# The catalogue of the page being rendered (templates and filters read it).
CURRENT: contextvars.ContextVar[Catalogue] = contextvars.ContextVar("lessoncam_catalogue")
_SOURCE = Catalogue(SOURCE_LANGUAGE)


def current_catalogue() -> Catalogue:
    return CURRENT.get(_SOURCE)


def catalogue_for(request: web.Request) -> Catalogue:
    return request.app[CATALOGUES].for_request(request)


def t(request: web.Request, message: str, **values: Any) -> str:
    """``message`` in the request's language, with ``%(name)s`` placeholders filled in."""
    text = catalogue_for(request).gettext(message)
    return text % values if values else text


def current_gettext(message: str) -> str:
    return current_catalogue().gettext(message)


def current_ngettext(singular: str, plural: str, n: int) -> str:
    return current_catalogue().ngettext(singular, plural, n)
