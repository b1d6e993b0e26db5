"""Issue 16 leftovers: Auto's recipe sentences and the user-file datasets' descriptions read in Chinese, and
stay the same English sentences in English."""

import re

from lepton_widgets.core.data.registry import get_dataset
from lepton_widgets.core.tasks.autokit import recipe_for
from lepton_widgets.core.tasks import task_named
from lepton_widgets.i18n import _, set_language

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_recipe_says_why_in_the_readers_language():
    assert recipe_for({"a": 5, "b": 40}).why.startswith("the smallest class has 5 examples (under 20)")
    assert recipe_for({"a": 30}).why.startswith("every class has at least 30 examples")
    table = task_named("tabular").auto_kit()
    assert table.recipe({"a": 3}).why.startswith("the smallest class has 3 rows to learn from (under 20)")
    set_language("zh")
    for recipe in (recipe_for({"a": 5}), recipe_for({"a": 30}), table.recipe({"a": 3}), table.recipe({"a": 30})):
        assert HAN.search(recipe.why) and str(recipe.smallest) in recipe.why, recipe.why


def test_the_user_file_datasets_are_described_in_chinese():
    import lepton_widgets.core.data.user_files  # noqa: F401  (registers folder, zip, csv)

    english = {name: get_dataset(name).description for name in ("folder", "zip", "csv")}
    assert english["csv"].startswith("A CSV with columns path,label")
    set_language("zh")
    for name in english:
        assert HAN.search(_(get_dataset(name).description)), name
        assert HAN.search(_(get_dataset(name).licence)), name
