"""Every config mistake reaches a CLI user as one ``lepton: error:`` line (exit 2) naming field, value and
what is expected: never a traceback. Each case runs the real ``lepton`` command in a subprocess; every case
fails before anything trains, so the whole file takes seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lepton_widgets.config import ConfigError, RunConfig

LEPTON = str(Path(sys.executable).with_name("lepton"))


def lepton(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LEPTON, "--runs-dir", str(tmp_path / "runs"), *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def one_error_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    """The single error line; fails if there is a traceback, another exit code or a missing needle."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("lepton: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def config_file(tmp_path, text: str, name: str = "bad.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


CASES = {
    "epochs_word": ('train:\n  epochs: "three"\n', ("train.epochs", "'three'", "whole number")),
    "epochs_fraction": ("train:\n  epochs: 1.5\n", ("train.epochs", "1.5", "whole number")),
    "epochs_bool": ("train:\n  epochs: yes\n", ("train.epochs", "True", "whole number")),
    "name_number": ("name: 123\n", ("name", "123", "text")),
    "seed_word": ("seed: lucky\n", ("seed", "'lucky'", "whole number")),
    "rate_word": ("train:\n  learning_rate: fast\n", ("train.learning_rate", "'fast'", "number")),
    "image_size_word": ("backbone:\n  image_size: big\n", ("backbone.image_size", "'big'", "whole number")),
    "dataset_list": ("data:\n  dataset: [a, b]\n", ("data.dataset", "['a', 'b']", "text")),
    "unknown_field": ("train:\n  epoch: 3\n", ("train.epoch", "3", "epochs")),
    "unknown_section": ("trian:\n  epochs: 3\n", ("trian", "train")),
    "section_scalar": ("train: 5\n", ("train", "5", "mapping")),
    "config_list": ("- data\n- train\n", ("list", "mapping")),
    "config_scalar": ("just some words\n", ("'just some words'", "mapping")),
    "python_tag": ('name: !!python/object/apply:os.system ["touch pwned"]\n',
                   ("line 1", "column 7", "!!python/object/apply:os.system", "not allowed")),
    "syntax_error": ("train:\n  epochs: [1, 2\nseed: 3\n", ("line 3", "column", "YAML")),
    "tab_indent": ("train:\n\tepochs: 3\n", ("line 2", "column 1", "YAML")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_mistake_is_one_line_through_lepton_train(tmp_path, case):
    text, needles = CASES[case]
    result = lepton(tmp_path, "train", config_file(tmp_path, text))
    one_error_line(result, "bad.yaml", *needles)
    assert not (tmp_path / "pwned").exists()  # the tag was refused, not run
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing trained


@pytest.mark.parametrize("setting, needles", [
    ("train.epochs=abc", ("train.epochs", "'abc'", "whole number")),
    ("train.epochs=[1", ("--set train.epochs=[1", "YAML")),
    ("train.epochz=3", ("train.epochz", "epochs")),
    ("epochs=3", ("--set", "'epochs=3'", "section.field=value")),
    ("name.x=1", ("--set name.x=1", "name", "section")),
    ("train.epochs=*a", ("--set", "alias")),
])
def test_bad_set_value_is_one_line(tmp_path, setting, needles):
    good = config_file(tmp_path, "train:\n  epochs: 2\n", "good.yaml")
    one_error_line(lepton(tmp_path, "train", good, "--set", setting), *needles)


def test_runs_dir_naming_a_file_is_one_line(tmp_path):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine\n")
    good = config_file(tmp_path, "train:\n  epochs: 1\n", "good.yaml")
    for args in (["train", good], ["runs"]):
        result = subprocess.run([LEPTON, "--runs-dir", str(not_a_folder), *args], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        one_error_line(result, "--runs-dir", "notes.txt", "folder")
    assert not_a_folder.read_text() == "mine\n"


def test_missing_or_folder_config_is_one_line(tmp_path):
    one_error_line(lepton(tmp_path, "train", str(tmp_path / "nope.yaml")), "nope.yaml", "not found")
    (tmp_path / "dir.yaml").mkdir()
    one_error_line(lepton(tmp_path, "train", str(tmp_path / "dir.yaml")), "dir.yaml", "folder")
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    one_error_line(lepton(tmp_path, "train", str(tmp_path / "latin.yaml")), "latin.yaml", "UTF-8")


@pytest.mark.parametrize("command", ["tune", "rank"])
def test_tune_and_rank_read_configs_the_same_way(tmp_path, command):
    one_error_line(lepton(tmp_path, command, config_file(tmp_path, 'train:\n  epochs: "three"\n')),
                   "train.epochs", "'three'")
    one_error_line(lepton(tmp_path, command, config_file(tmp_path, "- a\n- b\n")), "list", "mapping")


def test_python_api_raises_config_error_not_type_error():
    for raw in ({"train": {"epochs": "three"}}, ["data", "train"], {"name": 5}, {"train": {"batch_size": 2.5}}):
        with pytest.raises(ConfigError):
            RunConfig.from_dict(raw)
    with pytest.raises(ConfigError, match="line 1, column 7"):
        RunConfig.from_yaml("name: !!python/name:os.system\n")
    # A whole float is the whole number it means; a good config still round-trips.
    assert RunConfig.from_dict({"train": {"epochs": 2.0}}).train.epochs == 2
    cfg = RunConfig.from_dict({"name": "a", "train": {"epochs": 2}})
    assert RunConfig.from_yaml(cfg.to_yaml()) == cfg
    from lepton_widgets.config import load_yaml

    assert load_yaml("a: 1\n") == {"a": 1}


def test_config_error_messages_are_single_lines():
    for text in ("train:\n  epochs: [1, 2\n", "a: &x 1\nb: *x\n", "x: !!binary AAAA\n: :\n"):
        with pytest.raises(ConfigError) as caught:
            RunConfig.from_yaml(text)
        assert "\n" not in str(caught.value)
