"""The message catalogue: every user-facing text, by locale: ``bot/locales/<locale>.yaml`` plus one file
per capability in ``bot/locales/<locale>/`` (``activities.yaml`` …). A key defined twice is an error.

Keys are dotted (``help.member``); values are ``str.format`` templates. A key missing from a locale
falls back to zh_CN, and a key missing there too is a bug that shows as the key itself (and is logged).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_LOCALE = "zh_CN"


@cache
def _load(locale: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in [LOCALES_DIR / f"{locale}.yaml", *sorted((LOCALES_DIR / locale).glob("*.yaml"))]:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in _flatten(raw):
            if key in texts:
                raise ValueError(f"text {key} is defined twice in locale {locale} (again in {path.name})")
            texts[key] = value
    return texts


def _flatten(tree: dict[str, Any], prefix: str = "") -> Any:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, path + ".")
        else:
            yield path, str(value).rstrip("\n")


class Catalogue:
    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = locale
        self._texts = _load(locale)
        self._fallback = _load(DEFAULT_LOCALE)

    def __call__(self, key: str, **values: Any) -> str:
        template = self._texts.get(key) or self._fallback.get(key)
        if template is None:
            log.error("missing text %s in locale %s", key, self.locale)
            return key
        return template.format(**values) if values else template

    def has(self, key: str) -> bool:
        return key in self._texts or key in self._fallback

    def keys(self) -> set[str]:
        return set(self._texts)
