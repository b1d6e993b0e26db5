"""One frozen-depth rule (issue 14, part 4): ``frozen_depth: None`` (and the tuner's stored -1) means every
block is frozen, a whole number is clipped to the block count, and only core/frozen_depth.py decodes it."""

import ast
from pathlib import Path

import pytest

import lepton_widgets
from lepton_widgets.core.frozen_depth import (TUNER_ALL_FROZEN, frozen_block_count, frozen_depth_setting,
                                              tuner_choice)

PACKAGE = Path(lepton_widgets.__file__).parent
#: The owner of the rule, and config.py, which defines and validates the setting (it knows no block count).
ALLOWED = {"core/frozen_depth.py", "config.py"}


@pytest.mark.parametrize("frozen_depth, n_blocks, frozen", [
    (None, 5, 5), (None, 0, 0), (TUNER_ALL_FROZEN, 5, 5), (0, 5, 0), (2, 5, 2), (5, 5, 5), (9, 5, 5),
    (6, 6, 6), (3, 19, 3), (None, 19, 19),
])
def test_frozen_block_count_table(frozen_depth, n_blocks, frozen):
    assert frozen_block_count(frozen_depth, n_blocks) == frozen


def test_tuner_spelling_round_trips_to_the_config_setting():
    assert [tuner_choice(d) for d in (None, 0, 3)] == [-1, 0, 3]
    assert [frozen_depth_setting(v) for v in (-1, 0, 3, None)] == [None, 0, 3, None]
    assert all(isinstance(tuner_choice(d), int) for d in (None, 0, 3))  # KerasTuner Choice: one type


def _all_frozen_tests(path: Path) -> list[str]:
    """``frozen_depth is None`` / ``== None`` / ``== -1`` / ``== ALL_FROZEN`` comparisons in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        for left, op, right in zip([node.left, *node.comparators], node.ops, node.comparators):
            names = {ast.unparse(left), ast.unparse(right)}
            if not any("frozen_depth" in n or n.split(".")[-1] == "depth" for n in names):
                continue
            if isinstance(op, (ast.Is, ast.Eq)) and names & {"None", "-1", "ALL_FROZEN", "TUNER_ALL_FROZEN"}:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_decodes_all_frozen_itself():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel not in ALLOWED and (hits := _all_frozen_tests(path)):
            offenders[rel] = hits
    assert not offenders, f"decode frozen_depth with core.frozen_depth.frozen_block_count instead: {offenders}"


def test_the_scan_finds_a_decoding(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("depth = n if cfg.backbone.frozen_depth is None else cfg.backbone.frozen_depth\n"
                   "all_frozen = values['frozen_depth'] == -1\n")
    assert len(_all_frozen_tests(bad)) == 2
