"""Jinja2 rendering of everything the bot says, in the application's language.

Templates live in ``templates/`` and are written in English with ``{% trans %}``;
the Chinese catalog is ``templates/locale/zh/LC_MESSAGES/messages.po``, read with
Babel when the process starts. Each environment is built once per process.
"""

from __future__ import annotations

import gettext
import io
import re
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path

from babel import localedata
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALES = TEMPLATES / "locale"
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}
ESCAPED_STYLES = ("slack", "html", "markdown")
# An http(s) address inside a text (the checklist's requirements hold some): it ends at
# a space, a quote or a bracket, Chinese ones included, and sentence punctuation after it
# is not part of it.
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'()（）“”，。、；]+(?<![.,;:!?])")


@cache
def translations(language: str) -> gettext.NullTranslations:
    po_file = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if not po_file.exists():
        return gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES.get(language, language))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def slack_escape(value: object) -> str:
    """Slack's own escaping: &, < and > are control characters in message text."""
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_text(rendered: str) -> str:
    # Slack templates autoescape (so user text can never become a mention, a broadcast
    # or a link); Slack decodes only &amp; &lt; &gt;, so quotes go back to plain text.
    # A user's literal "&#39;" was escaped to "&amp;#39;" and is left alone.
    return rendered.replace("&#39;", "'").replace("&#34;", '"')


def _localised_date(value: date | datetime | None, language: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return _format_day(value, language)


@lru_cache(maxsize=4096)
def _format_day(value: date, language: str) -> str:
    # Babel's formatting is slow and a digest shows the same few days many times.
    return format_date(value, format="medium", locale=BABEL_LOCALES.get(language, language))


def _duration(max_age: dict[str, int], language: str) -> str:
    """An evidence window ({"months": 18}) in words: "18 months", "18个月" (CLDR's units)."""
    locale = BABEL_LOCALES.get(language, language)
    return " ".join(format_unit(amount, f"duration-{unit[:-1]}", length="long", locale=locale)
                    for unit, amount in max_age.items())


@cache
def environment(style: str, language: str) -> Environment:
    """``style`` is ``text`` (terminal), ``slack`` (mrkdwn, escaped), ``html`` (the
    printable export: HTML-escaped, the output is a page, not mrkdwn) or ``markdown`` (the
    Markdown export: its values come escaped for Markdown, see :mod:`bot.exports`, and
    anything else is HTML-escaped)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        # Compiled once per process: no file-system check on every render.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=style in ESCAPED_STYLES,
    )
    env.install_gettext_translations(translations(language), newstyle=True)
    # ``_()`` and ``gettext()`` keep the i18n extension's new-style meaning (translate, then
    # format the keyword arguments in, escaped when autoescaping) without its three
    # context-aware calls per message: autoescaping is fixed per environment. A PDM
    # digest says tens of thousands of messages; this made each about five times cheaper.
    env.globals["_"] = env.globals["gettext"] = _translator(translations(language), style in ESCAPED_STYLES)
    env.globals.update(lang=language, style=style)
    env.filters["md_cell"] = _markdown_cell
    env.filters["linked"] = _linked
    env.filters["day"] = lambda value: _localised_date(value, language)
    env.filters["moment"] = lambda value: format_datetime(
        value, format="short", tzinfo=value.tzinfo, locale=BABEL_LOCALES.get(language, language))
    env.filters["duration"] = lambda max_age: _duration(max_age, language)
    env.filters["category_title"] = lambda category_id, checklist: (
        checklist.category(category_id).title(language) if checklist.category(category_id) else category_id)
    env.filters["strong"] = (
        (lambda value: Markup("*%s*") % value)
        if style == "slack"
        else (lambda value: value)
    )
    env.filters["mention"] = (
        (lambda user: Markup("<@%s>") % user if _is_user_id(user) else user)
        if style == "slack"
        else (lambda user: user)
    )
    env.filters["channel_link"] = (
        (lambda channel: Markup("<#%s>") % channel if _is_channel_id(channel) else channel)
        if style == "slack"
        else (lambda channel: "#" + str(channel))
    )
    return env


def _translator(catalog: gettext.NullTranslations, escaped: bool):
    lookup = catalog.gettext
    if escaped:
        # Each value escaped, then plain str formatting: what Markup's own % does for the
        # "%(name)s" placeholders every message uses, without its wrapper object and three
        # calls per value.
        return lambda message, **variables: Markup(
            lookup(message) % {name: escape(value) for name, value in variables.items()})
    return lambda message, **variables: lookup(message) % variables


def _markdown_cell(value: object) -> Markup:
    """A value of the Markdown export (escaped already, see :mod:`bot.exports`) inside one
    table cell: its line breaks as ``<br>``, so no line ends the row."""
    return Markup(str(escape("" if value is None else value)).replace("\n", "<br>"))


def _linked(value: object) -> Markup:
    """A text for the HTML export, escaped, with each http(s) address in it a link."""
    text = "" if value is None else str(value)
    parts, end = [], 0
    for found in URL_IN_TEXT.finditer(text):
        url = found.group()
        parts += [escape(text[end:found.start()]), Markup('<a href="%s">%s</a>') % (url, url)]
        end = found.end()
    parts.append(escape(text[end:]))
    return Markup("").join(parts)


def _is_user_id(value: object) -> bool:
    text = str(value)
    return text[:1] in ("U", "W") and text[1:].isalnum() and text.isupper() and len(text) <= 20


def _is_channel_id(value: object) -> bool:
    text = str(value)
    return text[:1] in ("C", "G") and text[1:].isalnum() and text.isupper() and len(text) <= 20


@cache
def _macros(template: str, language: str, style: str):
    return environment(style, language).get_template(template).module


def prepare(style: str) -> None:
    """Build ``style``'s environment in every language (its catalog read), compile every
    template and load the locale data Babel formats with. The web master calls this before
    it forks, so that its workers share one copy rather than each building its own on its
    first requests."""
    for language, locale in BABEL_LOCALES.items():
        env = environment(style, language)
        for name in env.list_templates(extensions="j2"):
            env.get_template(name)
        localedata.load(locale)


def render(template: str, macro: str, language: str, style: str = "text", **params) -> str:
    """Call one macro of a template file and return its text, trimmed."""
    text = str(getattr(_macros(template, language, style), macro)(**params)).strip()
    return _slack_text(text) if style == "slack" else text


def render_file(template: str, language: str, style: str = "text", **params) -> str:
    text = environment(style, language).get_template(template).render(**params)
    return _slack_text(text) if style == "slack" else text
