"""``voxformer create-data --help`` lists every registered converter with its description and options."""

import subprocess
import sys

import pytest

from voxformer.cli import main
from voxformer.commands.create_data import dataset_parser
from voxformer.datasets.create_data import converters


def test_create_data_help_lists_every_converter_and_its_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per description
    with pytest.raises(SystemExit) as exit_:
        main(["create-data", "--help"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    available = converters()
    assert {"synthetic", "kitti", "nuscenes", "waymo"} <= set(available)
    for name, module in available.items():
        assert f"{name}: {module.CONVERTER_HELP}" in printed
        for action in dataset_parser(name, module)._actions:
            for option in action.option_strings:
                assert option in printed, (name, option)


def test_building_the_parser_imports_no_converter():
    """The converters are imported only when the help is shown (``voxformer --help`` stays fast)."""
    code = (
        "import sys; from voxformer.cli import build_parser; build_parser(); print('voxformer.datasets' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
