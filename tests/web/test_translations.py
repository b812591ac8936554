"""Every word a page shows is translatable and translated into Dutch.

Three checks: no literal text in templates outside translation calls; every message in the
templates and the web code has a Dutch translation in the catalogue; and (in test_pages) no
page rendered in Dutch asked for a message the catalogue lacks.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from babel.messages.extract import extract_from_dir

from lessoncam_server.web import TEMPLATES
from lessoncam_server.web.i18n import LOCALE_DIR, load_catalogue

WEB = TEMPLATES.parent
# Names and symbols that are the same in every language.
SAME_IN_EVERY_LANGUAGE = {"lessoncam", "°C"}
VISIBLE_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|alt|aria-label)="([^"{]*)"')
TAG = re.compile(r"<[^>]*>")
VERBATIM = re.compile(r"<(pre|code)\b.*?</\1>", re.S)


def _literal_text(source: str) -> list[str]:
    """Text outside Jinja tags and HTML tags that contains letters."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    data = "".join(value for _, kind, value in env.lex(source) if kind == "data")
    found = [m for m in VISIBLE_ATTRIBUTES.findall(data) if re.search(r"[A-Za-z]", m)]
    text = TAG.sub(" ", VERBATIM.sub(" ", data))
    for word in text.replace("\u2013", " ").split():
        if re.search(r"[A-Za-z]", word) and word not in SAME_IN_EVERY_LANGUAGE:
            found.append(word)
    return found


def test_templates_have_no_untranslatable_text() -> None:
    problems = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        literal = _literal_text(path.read_text(encoding="utf-8"))
        if literal:
            problems[str(path.relative_to(TEMPLATES))] = literal
    assert not problems, f"wrap these in _(...): {problems}"


def test_the_lint_catches_literal_text() -> None:
    assert _literal_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert _literal_text('<input placeholder="Search">') == ["Search"]
    assert _literal_text("<p>{{ _('Hello') }} 0:42 \u2013</p>") == []


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": (2,)}
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options, keywords=keywords
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def test_every_message_has_a_dutch_translation() -> None:
    messages = _extracted()
    assert len(messages) > 150  # the extraction found the pages' text
    dutch = load_catalogue("nl")
    untranslated = sorted(
        m for m in messages if m not in dutch.messages and not all(dutch.plurals.get(m, ("",)))
    )
    assert not untranslated, f"add Dutch for these to {LOCALE_DIR}: {untranslated}"


def test_a_fuzzy_or_empty_entry_counts_as_missing(tmp_path: Path) -> None:
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(
        'msgid ""\nmsgstr "Language: nl\\n"\n\n'
        'msgid "Save"\nmsgstr "Opslaan"\n\n'
        '#, fuzzy\nmsgid "Cancel"\nmsgstr "Annuleren"\n\n'
        'msgid "Delete"\nmsgstr ""\n',
        encoding="utf-8",
    )
    catalogue = load_catalogue("nl", tmp_path)
    assert catalogue.gettext("Save") == "Opslaan"
    assert catalogue.gettext("Cancel") == "Cancel" and catalogue.gettext("Delete") == "Delete"
    assert catalogue.missing == {"Cancel", "Delete"}
