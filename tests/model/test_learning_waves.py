"""Waves that learn, against a planted trap: window shoppers gained from free shipping in the shop's
history (so the uplift model rates the pair positive) and lose from it in every new wave. Three waves of
campaign → simulated outcomes → measure, once learning from the measurements and once ignoring them,
on one trained project: the learning loop stops sending the trap and earns more true incremental profit.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from segmint.generate import generate_shop, simulate_outcomes
from segmint.generate.outcomes import trapped_truth
from segmint.settings import GenerateSettings, Settings, TrapSettings, load_settings
from tasks.campaign import HISTORY_FILE, PLAN_FILE, run_campaign
from tasks.io import read_parquet, write_parquet
from tasks.measure import run_measure
from tasks.paths import ProjectPaths

pytestmark = pytest.mark.slow

TRAP = TrapSettings(archetype="window_shopper", offer="free_shipping", uplift=-0.1)
WAVES = 3


@dataclass
class Loop:
    """Per wave: the trap pair's sends, the true incremental profit and the pairs stopped."""

    trap_sends: list[int] = field(default_factory=list)
    profit: list[float] = field(default_factory=list)
    stopped: list[list[dict]] = field(default_factory=list)


@pytest.fixture(scope="module")
def trapped_shop(shop_dir: Path) -> dict[str, pd.DataFrame]:
    """The truth of the trained project's shop generated again with the trap: same history, new effects."""
    shop = generate_shop(GenerateSettings(customers=2_000, seed=5, waves=3, trap=TRAP))
    campaigns = shop.tables.campaigns
    assert campaigns is not None
    history = pd.read_parquet(shop_dir / "campaigns.parquet")
    pd.testing.assert_frame_equal(campaigns.reset_index(drop=True), history, check_dtype=False)
    untrapped = pd.read_parquet(shop_dir / "truth" / "effects.parquet")
    trapped = trapped_truth({**shop.truth, "effects": untrapped}, TRAP)["effects"]
    pd.testing.assert_frame_equal(trapped, shop.truth["effects"], check_dtype=False)
    assert (trapped["true_uplift"] < untrapped["true_uplift"]).sum() > 100
    return shop.truth


def _trap_rows(plan: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> pd.Series:
    archetype = plan["customer_id"].map(truth["customers_truth"].set_index("customer_id")["archetype"])
    treated = (plan["group"] == "treatment") & (plan["offer"] == TRAP.offer)
    return treated & (archetype == TRAP.archetype)


def _true_profit(plan: pd.DataFrame, truth: dict[str, pd.DataFrame], settings: Settings) -> float:
    """Sum over the treated contacts of the truth's incremental revenue less the offer's cost."""
    sent = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    effects = sent.merge(truth["effects"], on=["customer_id", "offer"], how="left")
    assert effects["true_incremental_revenue"].notna().all()
    cost = effects["offer"].map(lambda offer: settings.campaign.offer(offer).cost)
    return float((effects["true_incremental_revenue"] - cost).sum())


def _run_waves(project: Path, truth: dict[str, pd.DataFrame], learn: bool) -> Loop:
    settings = load_settings(project / "params.yaml")
    learning = settings.campaign.learning.model_copy(update={"enabled": learn})
    settings = settings.model_copy(
        update={"campaign": settings.campaign.model_copy(update={"learning": learning})}
    )
    paths = ProjectPaths(project)
    loop = Loop()
    for wave in range(1, WAVES + 1):
        result = run_campaign(settings, paths)
        plan = read_parquet(paths.outputs / PLAN_FILE)
        loop.trap_sends.append(int(_trap_rows(plan, truth).sum()))
        loop.profit.append(_true_profit(plan, truth, settings))
        loop.stopped.append(result["learning"].get("stopped", []))
        # the same outcome seeds in both loops: differences come from the plans alone
        outcomes = simulate_outcomes(plan, truth, seed=100 + wave, campaign_id=f"new-wave-{wave}")
        outcomes_file = project / "outcomes" / f"wave-{wave}.parquet"
        write_parquet(outcomes_file, outcomes)
        measured = run_measure(settings, paths, outcomes_file)
        assert measured["history"]["waves"] == wave
    return loop


def _rounded(loop: Loop) -> list[int]:
    return [round(profit) for profit in loop.profit]


def _project(trained_project: Path, target: Path) -> Path:
    return Path(shutil.copytree(trained_project, target, ignore=shutil.ignore_patterns(".prefect")))


def test_measuring_the_same_outcomes_twice_keeps_one_wave_in_the_history(
    trained_project: Path, trapped_shop: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    project = _project(trained_project, tmp_path / "once")
    settings = load_settings(project / "params.yaml")
    paths = ProjectPaths(project)
    run_campaign(settings, paths)
    plan = read_parquet(paths.outputs / PLAN_FILE)
    outcomes_file = project / "outcomes.parquet"
    write_parquet(outcomes_file, simulate_outcomes(plan, trapped_shop, seed=1))
    first = run_measure(settings, paths, outcomes_file)
    history = read_parquet(paths.outputs / HISTORY_FILE)
    again = run_measure(settings, paths, outcomes_file)
    pd.testing.assert_frame_equal(read_parquet(paths.outputs / HISTORY_FILE), history)
    assert first["history"] == again["history"] and again["history"]["waves"] == 1
    treated = plan[(plan["group"] == "treatment") & plan["offer"].notna()]
    assert history["n_treated"].sum() == len(treated)
    assert history["n_holdout"].sum() == int((plan["group"] == "holdout").sum())


def test_learning_waves_stop_the_trap_and_beat_ignoring_the_measurements(
    trained_project: Path, trapped_shop: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    learning = _run_waves(_project(trained_project, tmp_path / "learn"), trapped_shop, learn=True)
    ignoring = _run_waves(_project(trained_project, tmp_path / "ignore"), trapped_shop, learn=False)
    pair = f"{TRAP.archetype} x {TRAP.offer}"
    print(f"trap {pair} sends per wave: learning {learning.trap_sends}, ignoring {ignoring.trap_sends}")
    print(f"true incremental profit per wave: learning {_rounded(learning)}, ignoring {_rounded(ignoring)}")
    print(f"cumulative: learning {sum(learning.profit):.0f}, ignoring {sum(ignoring.profit):.0f}")
    print("stopped pairs per wave (learning):", json.dumps(learning.stopped))

    first = learning.trap_sends[0]
    assert first == ignoring.trap_sends[0] >= 50, "the model must rate the trap positive in wave 1"
    assert learning.trap_sends[-1] <= 0.05 * first
    assert min(ignoring.trap_sends) >= 0.5 * first
    assert any(pair["offer"] == TRAP.offer for pair in learning.stopped[-1])
    assert sum(learning.profit) > sum(ignoring.profit)
