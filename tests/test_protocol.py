"""The protocol layer as a whole: every system's protocols registered with the three presets, configs that round-trip,
a sweep spec example per system, typed command-line values, and imports that only point down the layers."""
import ast
import json
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from neuronb.experiments.protocol import (PRESETS, REHEARSAL, get_protocol, list_presets, list_protocols,
                                          preset_config)
from neuronb.experiments.runs import expand_spec

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "classification": ["classification"],
    "critical": ["critical.train", "critical.removal", "critical.windows", "critical.variance", "critical.recovery"],
    "v1": ["v1.train", "v1.robustness", "v1.properties"],
    "wiring": ["wiring.train", "wiring.grid", "wiring.score"],
    "bilateral": ["bilateral.hemisphere", "bilateral.train", "bilateral.pipeline"],
    "babyvision": ["babyvision.temporal", "babyvision.moco", "babyvision.probe", "babyvision.maps",
                   "babyvision.selectivity"],
    "scoring": ["score"],
}


def test_every_system_registers_its_protocols():
    registered = set(list_protocols())
    for system, names in EXPECTED.items():
        assert set(names) <= registered, f"{system}: missing {sorted(set(names) - registered)}"
        assert set(names) <= set(list_protocols(system)), system


def _without(values: dict, dotted: str) -> dict:
    *parents, last = dotted.split(".")
    target = values
    for key in parents:
        target = target.get(key, {})
    target.pop(last, None)
    return values


@pytest.mark.parametrize("protocol", sorted(n for names in EXPECTED.values() for n in names))
def test_presets_exist_and_round_trip(protocol):
    assert list_presets(protocol) == [*PRESETS, REHEARSAL]
    config_cls = get_protocol(protocol).config_cls
    for preset in [*PRESETS, REHEARSAL]:
        config = preset_config(protocol, preset)
        assert isinstance(config, config_cls)
        values = json.loads(json.dumps(config.to_dict()))
        assert config_cls.from_dict(values) == config, (protocol, preset)
    assert preset_config(protocol, "tiny") != preset_config(protocol, "paper")
    # the rehearsal is the paper recipe: apart from its size fields, the paper config exactly
    rehearsed, paper = preset_config(protocol, REHEARSAL).to_dict(), preset_config(protocol, "paper").to_dict()
    for dotted in config_cls.size_fields:
        rehearsed, paper = _without(rehearsed, dotted), _without(paper, dotted)
    assert rehearsed == paper


def test_one_example_spec_per_system():
    examples = {p.stem: p for p in (ROOT / "examples").glob("*.yaml")}
    for system in EXPECTED:
        assert system in examples, f"no examples/{system}.yaml"
        spec = yaml.safe_load(examples[system].read_text())
        assert get_protocol(spec["protocol"]).system == system
        runs = expand_spec(examples[system])
        assert runs and len({r.run_id for r in runs}) == len(runs)


def test_a_value_of_the_wrong_type_is_one_line_and_exit_2(isolated):
    out = run_cli("train", "--dataset", "digits", "--set", "train.lr=abc")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "train.lr='abc'" in out.stderr and "number" in out.stderr
    assert "Traceback" not in out.stderr


LAYERS = [("neuronb.core", 1), ("neuronb.store", 2), ("neuronb.data", 3), ("neuronb.nn", 4), ("neuronb.models", 5),
          ("neuronb.train", 6), ("neuronb.analysis", 7), ("neuronb.experiments", 8)]
FACES = ("neuronb.bench", "neuronb.sweep", "neuronb.cli", "neuronb.report", "neuronb.widgets", "neuronb.commands")


def _layer(module: str) -> int:
    for prefix, n in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return n
    return 9 if module.startswith(FACES) else 0


def _imports(path: Path, package: str):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                yield ".".join(parts + ([node.module] if node.module else []))
            else:
                yield node.module


def test_imports_only_point_down_the_layers():
    source = ROOT / "neuronb"
    upward = []
    for path in source.rglob("*.py"):
        module = ("neuronb." + ".".join(path.relative_to(source).with_suffix("").parts)).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for name in _imports(path, package):
            if name and name.startswith("neuronb.") and _layer(module) and _layer(name) > _layer(module):
                upward.append(f"{module} imports {name}")
    assert not upward, upward
