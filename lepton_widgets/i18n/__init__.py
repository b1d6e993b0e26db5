"""One message catalogue for every word a person reads: English source strings, Simplified Chinese from
``locale/zh_CN/LC_MESSAGES/lepton.po`` (gettext's PO format, read with Babel).

Write user-visible text as ``_("Train")``. Formatting happens after translation, with named fields, so a
translator can move them: ``_("Epoch {epoch} of {epochs}").format(epoch=3, epochs=8)``. Text defined at import
time (module constants) is marked with ``N_("...")``, which only marks it for extraction, and translated where
it is shown: ``_(CONSTANT)``. ``tests/test_i18n_catalogue.py`` extracts every ``_``/``N_`` string with Babel
and fails when one has no Chinese entry, and walks the built workbench in Chinese for English left in it.

The language comes from ``LEPTON_LANG`` (``en``, ``zh``; ``zh_CN``/``zh-CN`` accepted), else English, and
:func:`set_language` changes it for this process (the header's language control does, then rebuilds).

Example:
    >>> from lepton_widgets.i18n import _, set_language, language
    >>> chosen = set_language("zh"); _("Train")
    '训练'
    >>> chosen = set_language("en"); _("Train")
    'Train'
    >>> language()
    'en'
    >>> chosen = set_language(None)  # back to $LEPTON_LANG
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

#: Languages the interface speaks: code -> its own name (shown as such in the language control).
LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
#: The catalogue folder for each non-English language (gettext's locale names).
LOCALES: dict[str, str] = {"zh": "zh_CN"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "lepton"
ENV = "LEPTON_LANG"

_lock = threading.Lock()
_catalogues: dict[str, dict[str, str]] = {}
_chosen: Optional[str] = None


def normalise(code: Optional[str]) -> str:
    """``"zh_CN"``, ``"zh-cn"``, ``"ZH"`` -> ``"zh"``; anything unknown (or empty) -> ``"en"``."""
    base = (code or "").strip().lower().replace("-", "_").split("_")[0]
    return base if base in LANGUAGES else "en"


def language() -> str:
    """The language in use: the last :func:`set_language`, else ``$LEPTON_LANG``, else English."""
    return _chosen if _chosen is not None else normalise(os.environ.get(ENV))


def set_language(code: Optional[str]) -> str:
    """Speak ``code`` from now on in this process (``None``: back to ``$LEPTON_LANG``); returns the language."""
    global _chosen
    _chosen = None if code is None else normalise(code)
    return language()


def catalogue_files(lang: str) -> list[Path]:
    """The PO files of ``lang``'s catalogue (one ``lepton.po``; empty for English)."""
    folder = LOCALE_DIR / LOCALES.get(lang, lang) / "LC_MESSAGES"
    return sorted(folder.glob("*.po")) if lang in LOCALES else []


def catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation for ``lang`` (read once; fuzzy and empty entries left out, as gettext does)."""
    with _lock:
        if lang not in _catalogues:
            from babel.messages.pofile import read_po

            table: dict[str, str] = {}
            for path in catalogue_files(lang):
                with open(path, "rb") as handle:
                    for message in read_po(handle, locale=LOCALES.get(lang)):
                        if message.id and message.string and not message.fuzzy and isinstance(message.id, str):
                            table[message.id] = message.string
            _catalogues[lang] = table
        return _catalogues[lang]


def reload() -> None:
    """Forget the catalogues read so far (after editing a PO file in a running kernel)."""
    with _lock:
        _catalogues.clear()


def gettext(message: str, lang: Optional[str] = None) -> str:
    """``message`` in ``lang`` (default: :func:`language`); the English itself when there is no entry."""
    lang = lang or language()
    if lang == "en" or not message:
        return message
    return catalogue(lang).get(message, message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (module constants); ``_()`` it when shown."""
    return message


_ = gettext

__all__ = ["LANGUAGES", "N_", "_", "catalogue", "gettext", "language", "normalise", "reload", "set_language"]
