"""What every page of lvzhi's own shares: the templates (``bot/web/templates``, each extending ``base.html``),
the headers of a private page, and a Content-Security-Policy that lets only the page's own inline style (and
script, where it has one) run, by a nonce fresh for every answer.

Pages reached through a personal or signed link carry a token in their address: ``Referrer-Policy`` keeps it
out of other sites' logs, ``Cache-Control`` out of shared caches, ``X-Robots-Tag`` out of search engines.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from aiohttp import web

from bot.infra.i18n import Catalogue

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                               autoescape=jinja2.select_autoescape(["html"]))
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_POLICY = ("default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action {forms}; "
           "frame-ancestors 'none'")


def lang_of(locale: str) -> str:
    """The page's ``lang`` attribute for the configured locale."""
    return "en" if locale == "en" else "zh-CN"


def html_page(template: str, *, status: int = 200, script: bool = False, forms: bool = False,
              policy_extra: str = "", **values: object) -> web.Response:
    """Render ``template`` (autoescaped: what it shows is a secretary's or a member's text, never trusted as
    HTML). ``script``: the page's own inline script may run too; ``forms``: its forms may post to this server
    (a directive cannot be relaxed by ``policy_extra``: browsers obey its first occurrence); ``policy_extra``
    adds directives."""
    nonce = secrets.token_urlsafe(12)
    policy = _POLICY.format(nonce=nonce, forms="'self'" if forms else "'none'")
    if script:
        policy += f"; script-src 'nonce-{nonce}'"
    if policy_extra:
        policy += f"; {policy_extra}"
    html = TEMPLATES.get_template(template).render(nonce=nonce, **values)
    return web.Response(status=status, text=html, content_type="text/html",
                        headers={**PRIVATE_HEADERS, "Content-Security-Policy": policy})


def refused_page(texts: Catalogue, locale: str, status: int, *, title_key: str, message_key: str) -> web.Response:
    """A link that cannot be followed (tampered, expired, unknown): one sentence in large type."""
    return html_page("refused.html", status=status, lang=lang_of(locale), title=texts(title_key),
                     message=texts(message_key))
