"""What the pages keep for the life of the service, built once beside the app."""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from fabqueue.services.accounts import AttemptLimiter
from fabqueue.services.counter import PriceCache
from fabqueue.web.assets import Assets
from fabqueue.web.guards import Idempotency
from fabqueue.web.i18n import LOCALES, load_translations

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def make_env(folder: Path, translations: gettext.NullTranslations, assets: Assets) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals["static"] = assets.url
    return env


@dataclass
class WebState:
    root: Path
    assets: Assets
    envs: dict[str, Environment]
    translations: dict[str, gettext.NullTranslations]
    idempotency: Idempotency = field(default_factory=Idempotency)
    name_attempts: AttemptLimiter = field(
        default_factory=lambda: AttemptLimiter(limit=5, window_s=15 * 60)
    )
    address_attempts: AttemptLimiter = field(
        default_factory=lambda: AttemptLimiter(limit=20, window_s=15 * 60)
    )
    pin_attempts: AttemptLimiter = field(
        default_factory=lambda: AttemptLimiter(limit=5, window_s=5 * 60)
    )
    prices: PriceCache = field(default_factory=PriceCache)
    extra: dict[str, Any] = field(default_factory=dict)


def build_web_state(root: Path = WEB_DIR) -> WebState:
    assets = Assets(root / "static")
    translations = load_translations(root / "translations")
    envs = {lang: make_env(root / "templates", translations[lang], assets) for lang in LOCALES}
    return WebState(root=root, assets=assets, envs=envs, translations=translations)
