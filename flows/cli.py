"""The ``segmint`` command: init, generate, ingest, train, campaign, profile, stage, report, forget, monitor,
measure, demo.

Exit codes: 0 success, 2 bad input (the message names table, column, rule and count), 1 internal error.
The command sets its own environment (Prefect home inside the project, telemetry off) before any
orchestration library is imported, so ``.venv/bin/segmint …`` behaves exactly like the Makefile.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Annotated, Any, ParamSpec, get_args

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tasks.env import apply_project_environment

# Before anything imports Prefect or MLflow: they read their settings at import time.
apply_project_environment(Path.cwd().resolve())
# Library warnings (convergence hints, deprecations) are for developers, not for this command's users.
warnings.simplefilter("ignore")

# Lazy imports, each marked "lazy" below: Prefect, MLflow and Evidently are most of the command's
# start-up time, and `--help`, `generate` and `ingest` need none of them. `segmint --help` took 3.5 s of
# CPU with them lazy and 17 s with them at the top (`/usr/bin/time`, `python -X importtime`). So
# flows.*, tasks.stages, tasks.measure and tasks.tracking, which import them, are imported inside the
# commands that run them.
import pandas as pd  # noqa: E402

from segmint.contracts import BadInputError  # noqa: E402
from segmint.settings import Settings, SettingsError, StageName, load_settings  # noqa: E402
from tasks.generate import SOURCES, ingest_tables, write_generated_shop, write_outcomes  # noqa: E402
from tasks.io import read_json  # noqa: E402
from tasks.locking import ProjectBusyError, project_lock  # noqa: E402
from tasks.masking import masked_uri  # noqa: E402
from tasks.paths import ProjectPaths  # noqa: E402

STAGE_NAMES: tuple[str, ...] = get_args(StageName)  # the stage registry's names (tasks.stages.STAGES)
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__.splitlines()[0],
    epilog=f"Sources: {', '.join(SOURCES)}. Stages: {', '.join(STAGE_NAMES)}.",
)
console = Console(stderr=False)
err = Console(stderr=True)

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

Args = ParamSpec("Args")


def _paths() -> ProjectPaths:
    return ProjectPaths.from_cwd()


def _settings(paths: ProjectPaths) -> Settings:
    return load_settings(paths.params)


def _print_error(message: str, label: str = "error") -> None:
    """One unwrapped error line on stderr: paths, tables and rule names stay greppable."""
    err.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn the failures of a command into their exit codes, each with a one-line message."""
    try:
        yield
    except typer.BadParameter as exc:
        _print_error(str(exc.message))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (BadInputError, SettingsError) as exc:
        _print_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except typer.Exit:
        raise
    except ProjectBusyError as exc:
        _print_error(str(exc))
        raise typer.Exit(EXIT_INTERNAL) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: message + exit code 1
        cause = _bad_input_cause(exc)
        if cause is not None:
            _print_error(str(cause))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        _print_error(f"{type(exc).__name__}: {masked_uri(str(exc))}", label="internal error")
        if os.environ.get("SEGMINT_DEBUG"):
            raise
        raise typer.Exit(EXIT_INTERNAL) from None


def _bad_input_cause(exc: BaseException) -> BadInputError | None:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, BadInputError):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _command(
    *, locked: bool = False, check: Callable[..., None] | None = None, flows: tuple[str, ...] = ()
) -> Callable[[Callable[Args, None]], Callable[Args, None]]:
    """Register a function as a command of ``app``, its failures turned into exit codes.

    Args:
        locked: run the command while holding the project lock (one run per project at a time).
        check: called first with the command's arguments, before the lock is taken: a bad argument or a
            bad ``params.yaml`` is reported (exit code 2) even while another run holds the project.
        flows: the modules of the flows the command runs: it gets a Prefect API first (a temporary
            server, started while these modules are imported, when none is configured).
    """

    def register(command: Callable[Args, None]) -> Callable[Args, None]:
        @functools.wraps(command)
        def guarded(*args: Args.args, **kwargs: Args.kwargs) -> None:
            with _exit_codes():
                if check is not None:
                    check(*args, **kwargs)
                with project_lock(_paths()) if locked else nullcontext(), _flow_api(flows):
                    command(*args, **kwargs)

        app.command()(guarded)
        return guarded

    return register


def _flow_api(flows: tuple[str, ...]) -> AbstractContextManager[object]:
    if not flows:
        return nullcontext()
    from tasks.prefect_api import prefect_api

    return prefect_api(_paths(), warm=flows, while_starting=_local_tracking_store)


def _local_tracking_store() -> None:
    """The project's MLflow store opened while Prefect's server starts (see
    :func:`tasks.tracking.open_local_store`); a bad ``params.yaml`` is left for the command to report."""
    from tasks.tracking import open_local_store  # lazy: MLflow

    paths = _paths()
    with suppress(BadInputError, SettingsError):
        open_local_store(_settings(paths), paths)


def _known_source(source: str, **_: object) -> None:
    if source not in SOURCES:
        raise typer.BadParameter(f"unknown source {source!r}; valid sources: {', '.join(SOURCES)}")


def _known_stage(name: str) -> None:
    from tasks.stages import STAGES  # lazy: Prefect and MLflow

    if name not in STAGES:
        raise typer.BadParameter(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")


def _settings_load(**_: object) -> None:
    _settings(_paths())


def _ready_to_train(paths: ProjectPaths, hint: str) -> None:
    """Fail with exit code 2 before any orchestration starts: no ``data/raw``, or a bad params.yaml."""
    if not paths.raw.exists():
        raise BadInputError("customers", "table_required", f"data/raw is empty: {hint}")
    _settings(paths)


def _fresh_data_ready() -> None:
    _ready_to_train(_paths(), "ingest fresh data first (`segmint ingest`)")


def _stage_progress(total: int) -> tuple[Progress, Callable[[str, str, dict | None], None]]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} stages"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    bar = progress.add_task("training", total=total)

    def listener(stage: str, event: str, result: dict | None) -> None:
        if event == "start":
            progress.update(bar, description=f"stage: {stage}")
        else:
            note = " (skipped)" if result and result.get("skipped") else ""
            seconds = (result or {}).get("stage_seconds", 0)
            progress.console.print(f"  [green]✓[/] {stage}{note}  {seconds:.1f}s")
            progress.advance(bar)

    return progress, listener


@_command()
def generate(
    out: Annotated[Path, typer.Option(help="folder for the canonical tables (truth goes to OUT/truth)")],
    customers: Annotated[int | None, typer.Option(help="number of customers")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    drift: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="shift for a next-period shop")
    ] = None,
    outcomes_for: Annotated[
        Path | None, typer.Option("--outcomes-for", help="simulate the outcomes of this campaign plan")
    ] = None,
) -> None:
    """Write a generated shop with planted truth (or the simulated outcomes of a plan)."""
    settings = _settings(_paths())
    if outcomes_for is not None:
        target = write_outcomes(outcomes_for, out, settings)
        console.print(f"outcomes of {outcomes_for} written to {target}")
        return
    given = {"customers": customers, "seed": seed, "drift": drift}
    overrides = {key: value for key, value in given.items() if value is not None}
    started = time.perf_counter()
    with console.status("generating shop…"):
        counts = write_generated_shop(out, settings.generate.model_copy(update=overrides))
    console.print(
        f"generated shop in {out} ({time.perf_counter() - started:.1f}s): "
        + ", ".join(f"{table}={rows:,}" for table, rows in counts.items())
    )


@_command()
def init(
    directory: Annotated[Path, typer.Argument(help="folder of the new project (created when missing)")],
) -> None:
    """Write a new project from the package (params.yaml, dvc.yaml, suites, templates); git and dvc init."""
    from tasks.scaffold import ProjectExistsError, init_repositories, write_project  # lazy

    try:
        written = write_project(directory)
    except ProjectExistsError as exc:
        raise typer.BadParameter(str(exc)) from None
    init_repositories(directory)
    names = sorted({str(path.relative_to(directory)).split("/")[0] for path in written})
    console.print(f"new project in {directory}: {', '.join(names)}; git and dvc initialised", highlight=False)
    console.print(f"next: cd {directory} && segmint demo", highlight=False, markup=False, soft_wrap=True)


@_command(locked=True, check=_known_source)
def ingest(
    source: Annotated[str, typer.Option(help=f"one of: {', '.join(SOURCES)}")],
    path: Annotated[Path | None, typer.Option(help="where the source data lies")] = None,
) -> None:
    """Replace data/raw/ with the canonical tables of SOURCE and record where they came from."""
    paths = _paths()
    with console.status(f"ingesting {source}…"):
        record = ingest_tables(source, path, _settings(paths), paths)
    counts = ", ".join(f"{table}={rows:,}" for table, rows in record["tables"].items())
    console.print(f"ingested [bold]{source}[/] into data/raw: {counts}")
    for note in record.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
    console.print(f"  {record['dvc']}")


def _run_training(paths: ProjectPaths, stages: list[str] | None = None) -> dict[str, Any]:
    from flows.training import add_listener, training_flow  # lazy: Prefect and MLflow
    from tasks.stages import TRAINING_ORDER  # lazy: Prefect and MLflow

    _ready_to_train(paths, "run `segmint ingest` first")
    progress, listener = _stage_progress(len(stages or TRAINING_ORDER))
    add_listener(listener)
    with progress:
        return training_flow(str(paths.root), stages)


# No check before the lock: another run holding the project may be ingesting into data/raw right now.
@_command(locked=True, flows=("flows.training",))
def train() -> None:
    """Run the training flow (validate → features → models → evaluate → gate → campaign → report)."""
    paths = _paths()
    _run_training(paths)
    _print_gate(_gate_decisions(paths))


@_command(locked=True, flows=("flows.campaign",))
def campaign() -> None:
    """Score every customer with the champion models and write the campaign plan."""
    from flows.campaign import campaign_flow  # lazy: Prefect and MLflow

    with console.status("scoring customers with the champions…"):
        result = campaign_flow(str(_paths().root))
    if result["refreshed"]:
        console.print(f"data/raw is newer than the scoring inputs; ran {', '.join(result['refreshed'])}")
    summary = result["campaign"]
    console.print(
        f"scored {summary['customers']:,} customers; contacted {summary['contacted']:,}, "
        f"hold-out {summary['holdout']:,}, "
        f"expected incremental profit {summary['expected_incremental_profit']:,.0f}"
    )
    console.print(
        "outputs: outputs/customer_scores.parquet, outputs/uplift_scores.parquet, "
        "outputs/campaign_plan.parquet; report: reports/report.html"
    )


@_command(check=_settings_load)
def profile(
    ids: Annotated[list[str], typer.Argument(help="customer ids (see outputs/customer_scores.parquet)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the profiles as JSON")] = False,
) -> None:
    """One customer's 360: segment and why, value, anomaly flag, recommendations, offer, eligibility."""
    from segmint.profile import profile_lines
    from tasks.profile import customer_profiles

    paths = _paths()
    profiles = customer_profiles(_settings(paths), paths, ids)
    if as_json:
        sys.stdout.write(json.dumps(profiles, indent=2, default=str) + "\n")  # never wrapped or styled
        return
    for one in profiles:
        for line in profile_lines(one):
            console.print(line, soft_wrap=True, highlight=False, markup=False)


@_command(locked=True, check=_known_stage)
def stage(
    name: Annotated[str, typer.Argument(help=f"a stage of the training DAG: {', '.join(STAGE_NAMES)}")],
) -> None:
    """Run one stage of the DAG (what `dvc repro` calls)."""
    from tasks.stages import run_stage  # lazy: Prefect and MLflow

    paths = _paths()
    started = time.perf_counter()
    result = run_stage(name, _settings(paths), paths)
    note = f" (skipped: {result['skipped']})" if result.get("skipped") else ""
    console.print(f"stage {name} done in {time.perf_counter() - started:.1f}s{note}", highlight=False)


@_command(locked=True)
def report() -> None:
    """Rebuild the reviewer report (reports/report.html)."""
    from tasks.stages import run_stage  # lazy: Prefect and MLflow

    paths = _paths()
    result = run_stage("report", _settings(paths), paths)
    console.print(f"report written to {result['report']}")


@_command(locked=True)
def forget(
    ids: Annotated[list[str], typer.Argument(help="customer ids as the shop knows them (not pseudonyms)")],
) -> None:
    """Erase customers from every file of the project (data, outputs, reports, models, MLflow, DVC)."""
    from tasks.privacy import forget_customers  # lazy: MLflow, only where a model version must go

    paths = _paths()
    record = forget_customers(ids, _settings(paths), paths)
    console.print(
        f"forgot {record['customers']} customer(s): {record['rows_removed']:,} rows removed from "
        f"{len(record['rewritten'])} file(s), {len(record['deleted'])} file(s) deleted"
    )
    for line in (*record["model_versions_dropped"], record["data_version"]):
        console.print(f"  {line}", highlight=False)
    console.print("  run `segmint train` to rebuild what was deleted (details: metrics/forget.json)")


@_command(locked=True, check=_fresh_data_ready, flows=("flows.monitoring",))
def monitor() -> None:
    """Check fresh data/raw for drift against the champion's reference; retrain when past the thresholds."""
    from flows.monitoring import monitoring_flow  # lazy: Prefect, MLflow and Evidently

    paths = _paths()
    with console.status("validating fresh data and checking drift…"):
        result = monitoring_flow(str(paths.root))
    _print_drift(result["drift"])
    retraining = result["retraining"]
    if retraining["triggered"]:
        console.print(f"retraining triggered ({retraining['how']})", highlight=False)
        if retraining.get("gate") is not None:
            _print_gate(_gate_decisions(paths))
    console.print("findings: metrics/drift.json, metrics/monitoring.json, reports/drift/")


def _print_drift(drift: Mapping[str, Any]) -> None:
    columns = ", ".join(drift["drifted_columns"][:15]) or "none"
    console.print(
        f"drift {'[bold red]detected[/]' if drift['drift_detected'] else 'not detected'}: "
        f"{drift['drifted_share']:.0%} of feature columns drifted ({columns})",
        highlight=False,
    )
    for reason in drift["reasons"]:
        console.print(f"  {reason}", highlight=False, markup=False)


@_command(locked=True, check=_settings_load)
def measure(
    outcomes: Annotated[Path, typer.Option(help="outcomes of the executed plan (canonical campaigns table)")],
) -> None:
    """Measure the realised uplift of the executed campaign plan per segment and offer."""
    from tasks.measure import run_measure  # lazy: MLflow
    from tasks.stages import run_stage  # lazy: Prefect and MLflow

    paths = _paths()
    settings = _settings(paths)
    result = run_measure(settings, paths, outcomes.resolve())
    run_stage("report", settings, paths)
    overall = result["overall"]
    console.print(
        f"realised uplift (sent vs hold-out, all offers): {overall.get('uplift', float('nan')):+.4f} "
        f"[95% {overall.get('uplift_low', float('nan')):+.4f}, "
        f"{overall.get('uplift_high', float('nan')):+.4f}] "
        f"on {int(overall.get('n_treated', 0)):,} sent / {int(overall.get('n_holdout', 0)):,} held out",
        highlight=False,
    )
    console.print(_uplift_per_offer_table(result["per_offer"]))
    console.print("written: metrics/measure.json, outputs/measurement.parquet; report: reports/report.html")


def _uplift_per_offer_table(per_offer: list[Mapping[str, Any]]) -> Table:
    table = Table(title="realised uplift per offer")
    for column in ("offer", "sent", "hold-out", "uplift", "95% interval"):
        table.add_column(column)
    for row in per_offer:
        table.add_row(
            str(row["offer"]),
            f"{row['n_treated']:,}",
            f"{row['n_holdout']:,}",
            f"{row['uplift']:+.4f}",
            f"[{row['uplift_low']:+.4f}, {row['uplift_high']:+.4f}]",
        )
    return table


@_command(locked=True, check=_settings_load, flows=("flows.training",))
def demo(
    customers: Annotated[int, typer.Option(help="customers in the generated shop")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed of the generated shop")] = 7,
) -> None:
    """Generate a shop, ingest it, train, plan a campaign and write the report; print a summary."""
    # The whole demo holds the lock: its ingest replaces data/raw, which a concurrent run reads.
    paths = _paths()
    settings = _settings(paths)
    started = time.perf_counter()
    shop_dir = paths.root / "shop"
    with console.status(f"generating a shop with {customers:,} customers…"):
        overrides = {"customers": customers, "seed": seed}
        write_generated_shop(shop_dir, settings.generate.model_copy(update=overrides))
    console.print(f"[green]✓[/] generated shop in {shop_dir.relative_to(paths.root)}/ (truth in shop/truth/)")
    with console.status("ingesting…"):
        ingest_tables("canonical", shop_dir, settings, paths)
    console.print("[green]✓[/] ingested into data/raw/")
    _run_training(paths)
    _print_summary(paths, settings, time.perf_counter() - started)


def _gate_decisions(paths: ProjectPaths) -> dict[str, Any]:
    """The promotion decision and its reasons per model kind, as the gate stage recorded them."""
    return dict(read_json(paths.metric("gate"), {}))


def _print_gate(decisions: Mapping[str, Mapping[str, Any]]) -> None:
    table = Table(title="promotion decisions")
    for column in ("model", "decision", "reasons"):
        table.add_column(column)
    for kind, decision in decisions.items():
        table.add_row(kind, decision["decision"], "; ".join(decision["reasons"]))
    console.print(table)


def _segments_table(scores: pd.DataFrame) -> Table:
    table = Table(title="segments")
    for column in ("segment", "value tier mix", "customers", "anomalous"):
        table.add_column(column)
    for name, group in scores.groupby("segment_name"):
        tiers = group["value_tier"].value_counts(normalize=True)
        mix = ", ".join(f"{tier} {share:.0%}" for tier, share in tiers.items())
        table.add_row(str(name), mix, f"{len(group):,}", f"{int(group['is_anomalous'].sum()):,}")
    return table


def _print_champion_lines(paths: ProjectPaths) -> None:
    """One line each for the recommender, the uplift model and the campaign, from their metrics."""
    recommend = read_json(paths.metric("recommend"), {})
    if recommend.get("metrics"):
        metrics = recommend["metrics"]
        console.print(
            f"recommender: [bold]{recommend['winner']}[/] NDCG@10 {metrics['ndcg']:.4f}, "
            f"Recall@10 {metrics['recall']:.4f}, MAP@10 {metrics['map']:.4f}, "
            f"coverage {metrics['coverage']:.2%}"
        )
    uplift = read_json(paths.metric("uplift"), {})
    if uplift.get("metrics"):
        overall = uplift["metrics"].get("overall", uplift["metrics"])
        console.print(
            f"uplift: [bold]{uplift['winner']}[/] Qini AUC {overall.get('qini_auc', float('nan')):.4f}, "
            f"uplift@30% {overall.get('uplift_at_30', float('nan')):.4f}"
        )
    campaign_metrics = read_json(paths.metric("campaign"), {})
    if campaign_metrics:
        console.print(
            f"campaign: {campaign_metrics.get('contacted', 0):,} customers contacted, "
            f"{campaign_metrics.get('holdout', 0):,} in the hold-out, "
            f"expected incremental profit {campaign_metrics.get('expected_incremental_profit', 0):,.0f}"
        )


def _print_summary(paths: ProjectPaths, settings: Settings, seconds: float) -> None:
    from tasks.tracking import tracking_uri  # lazy: MLflow

    console.print(_segments_table(pd.read_parquet(paths.outputs / "customer_scores.parquet")))
    _print_champion_lines(paths)
    _print_gate(_gate_decisions(paths))
    uri = masked_uri(tracking_uri(settings, paths))
    console.print(f"\nfinished in {seconds:.0f}s. Where to look:")
    where = (
        f"  report:     {paths.reports / 'report.html'}",
        f"  MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {uri} --host 127.0.0.1",
        "  outputs:    outputs/customer_scores.parquet, outputs/campaign_plan.parquet",
    )
    for line in where:  # commands to copy: never wrapped, never styled
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def main() -> None:
    """Entry point of the ``segmint`` command."""
    try:
        code = app(standalone_mode=False)
    except click.exceptions.ClickException as exc:  # usage errors: unknown option, bad value
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
