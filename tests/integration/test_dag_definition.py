"""One DAG, two runners: dvc.yaml and the training flow describe the same graph."""

from pathlib import Path

import yaml

from tasks.stages import STAGES, TRAINING_ORDER, dvc_stages

ROOT = Path(__file__).resolve().parents[2]


def test_dvc_yaml_matches_the_stage_registry():
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert declared == dvc_stages(), "dvc.yaml is stale: run `make dvc.yaml`"
    assert list(declared) == list(TRAINING_ORDER)


def test_every_stage_runs_after_the_stages_that_write_its_inputs():
    produced_by: dict[str, str] = {}
    for name in TRAINING_ORDER:
        spec = STAGES[name]
        for dep in spec.deps:
            producer = produced_by.get(dep)
            assert producer is None or TRAINING_ORDER.index(producer) < TRAINING_ORDER.index(name)
        for out in (*spec.outs, *spec.metrics, *spec.plots):
            assert out not in produced_by, f"{out} is written by two stages"
            produced_by[out] = name


def test_every_stage_has_its_code_among_its_deps_and_a_function():
    for name, spec in STAGES.items():
        assert f"tasks/{name}.py" in spec.deps
        assert callable(spec.function())
        for dep in spec.deps:
            if dep.startswith(("tasks/", "segmint/", "expectations")):
                assert (ROOT / dep).exists(), f"{name} depends on missing {dep}"


def test_training_flow_runs_the_registry_order():
    import inspect

    from flows import training

    source = inspect.getsource(training.training_flow.fn)
    assert "TRAINING_ORDER" in source and "_run_in_turn(chosen" in source
    assert "PREFECT_TASKS[name]" in inspect.getsource(training._run_in_turn)
