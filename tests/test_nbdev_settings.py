"""settings.ini (read by nbdev 2) mirrors pyproject.toml's [tool.nbdev] (read by nbdev 3, the project's toolchain)."""
import configparser
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _as_text(value) -> str:
    "A [tool.nbdev] value written the way settings.ini writes it: True/False, space-separated lists, plain text."
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def test_settings_ini_mirrors_tool_nbdev():
    nbdev3 = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]
    ini = configparser.ConfigParser()
    ini.read(ROOT / "settings.ini")
    nbdev2 = ini["DEFAULT"]
    missing = sorted(set(nbdev3) - set(nbdev2))
    assert not missing, f"settings.ini lacks {missing} of pyproject.toml [tool.nbdev]"
    differ = {k: (_as_text(v), nbdev2[k]) for k, v in nbdev3.items() if _as_text(v) != nbdev2[k].replace(",", " ")}
    assert not differ, f"settings.ini and [tool.nbdev] disagree (pyproject, settings.ini): {differ}"


def test_settings_ini_names_this_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ini = configparser.ConfigParser()
    ini.read(ROOT / "settings.ini")
    import neuronb
    assert ini["DEFAULT"]["lib_name"] == project["name"] and ini["DEFAULT"]["version"] == neuronb.__version__
    assert ini["DEFAULT"]["description"] == project["description"]
    assert ini["DEFAULT"]["min_python"] == project["requires-python"].lstrip(">=")
