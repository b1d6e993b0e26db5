"""The one message catalogue: every string marked for translation has a Chinese entry, and the catalogue
itself is sound (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lepton_widgets import i18n
from lepton_widgets.i18n import _, N_, set_language

REPO = Path(__file__).resolve().parents[1]
#: Where translatable strings live: the package, and the sources the lessons are written from.
SOURCES = [REPO / "lepton_widgets", REPO / "notebooks" / "lessons"]
KEYWORDS = {"_": None, "N_": None}
FIELD = re.compile(r"\{[^{}]*\}")


def extracted() -> dict[str, str]:
    """msgid -> 'file:line' of its first use, from Babel's own extractor (the same one `pybabel extract` runs)."""
    found: dict[str, str] = {}
    for folder in SOURCES:
        if not folder.exists():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(folder), method_map=[("**.py", "python")], keywords=KEYWORDS):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, f"{folder.name}/{filename}:{lineno}")
    return found


def test_every_marked_string_has_a_chinese_entry():
    table = i18n.catalogue("zh")
    missing = {msgid: where for msgid, where in extracted().items() if not table.get(msgid)}
    assert not missing, (f"{len(missing)} strings have no Chinese entry in "
                         f"lepton_widgets/i18n/locale/zh_CN/LC_MESSAGES/*.po, e.g.: "
                         + "; ".join(f"{where}: {msgid!r}" for msgid, where in list(missing.items())[:25]))


def test_translations_keep_every_format_field():
    table = i18n.catalogue("zh")
    broken = {msgid: text for msgid, text in table.items()
              if sorted(FIELD.findall(msgid)) != sorted(FIELD.findall(text))}
    assert not broken, f"fields differ between English and Chinese: {list(broken.items())[:10]}"


def test_the_catalogue_has_no_duplicate_entries():
    seen: dict[str, Path] = {}
    twice = []
    for path in i18n.catalogue_files("zh"):
        with open(path, "rb") as handle:
            for message in read_po(handle):
                if message.id:
                    if message.id in seen:
                        twice.append((message.id, seen[message.id].name, path.name))
                    seen[message.id] = path
    assert not twice, f"entries defined twice: {twice[:10]}"


def test_the_checks_can_fail(tmp_path):
    """The extractor sees a new string, and the lookup falls back to English when an entry is missing."""
    sample = tmp_path / "sample.py"
    sample.write_text("from lepton_widgets.i18n import _, N_\nA = N_('Only in this sample')\n_('And this one')\n")
    ids = [m for _f, _l, m, _c, _x in extract_from_dir(str(tmp_path), method_map=[("**.py", "python")],
                                                        keywords=KEYWORDS)]
    assert ids == ["Only in this sample", "And this one"]
    set_language("zh")
    try:
        assert _("Only in this sample") == "Only in this sample"
        assert _("Train") != "Train"
    finally:
        set_language(None)


@pytest.mark.parametrize("code, expected", [("zh", "zh"), ("zh_CN", "zh"), ("zh-CN", "zh"), ("ZH", "zh"),
                                            ("en", "en"), ("fr", "en"), ("", "en"), (None, "en")])
def test_language_codes(code, expected):
    assert i18n.normalise(code) == expected


def test_lepton_lang_chooses_the_language(monkeypatch):
    set_language(None)
    monkeypatch.setenv("LEPTON_LANG", "zh_CN")
    assert i18n.language() == "zh" and _(N_("Train")) == "训练"
    monkeypatch.setenv("LEPTON_LANG", "en")
    assert i18n.language() == "en" and _("Train") == "Train"


def test_the_glossary_page_is_current_and_every_term_reads_in_chinese():
    from lepton_widgets.i18n.glossary import TERMS, markdown

    page = markdown()
    assert (REPO / "docs" / "glossary.md").read_text(encoding="utf-8") == page, \
        "docs/glossary.md is stale: python -m lepton_widgets.i18n.glossary > docs/glossary.md"
    table = i18n.catalogue("zh")
    untranslated = [key for key, (term, meaning) in TERMS.items() if not table.get(meaning)]
    assert not untranslated, untranslated
