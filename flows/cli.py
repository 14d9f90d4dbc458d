"""The ``segmint`` command: generate, ingest, train, campaign, stage, report, monitor, measure, demo.

Exit codes: 0 success, 2 bad input (the message names table, column, rule and count), 1 internal error.
The command sets its own environment (Prefect home inside the project, telemetry off) before any
orchestration library is imported, so ``.venv/bin/segmint …`` behaves exactly like the Makefile.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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

from segmint.contracts import BadInputError  # noqa: E402
from segmint.settings import SettingsError  # noqa: E402
from tasks.paths import ProjectPaths  # noqa: E402
from tasks.tracking import masked_uri  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])
console = Console(stderr=False)
err = Console(stderr=True)

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _paths() -> ProjectPaths:
    return ProjectPaths.from_cwd()


def _settings(paths: ProjectPaths):  # noqa: ANN202 - Settings, imported lazily with the rest
    from segmint.settings import load_settings

    return load_settings(paths.params)


def _print_error(message: str, label: str = "error") -> None:
    """One unwrapped error line on stderr: paths, tables and rule names stay greppable."""
    err.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body, turning known failures into their exit codes with a clear message."""
    try:
        return fn()
    except typer.BadParameter as exc:
        _print_error(str(exc.message))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (BadInputError, SettingsError) as exc:
        _print_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: message + exit code 1
        from tasks.locking import ProjectBusyError

        if isinstance(exc, ProjectBusyError):
            _print_error(str(exc))
            raise typer.Exit(EXIT_INTERNAL) from None
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
            progress.console.print(f"  [green]✓[/] {stage}{note}  {result.get('stage_seconds', 0):.1f}s")
            progress.advance(bar)

    return progress, listener


@app.command()
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
    paths = _paths()

    def body() -> None:
        from tasks.generate import write_generated_shop, write_outcomes

        settings = _settings(paths)
        if outcomes_for is not None:
            target = write_outcomes(outcomes_for, out, settings)
            console.print(f"outcomes of {outcomes_for} written to {target}")
            return
        overrides = {
            k: v for k, v in {"customers": customers, "seed": seed, "drift": drift}.items() if v is not None
        }
        started = time.perf_counter()
        with console.status("generating shop…"):
            counts = write_generated_shop(out, settings.generate.model_copy(update=overrides))
        console.print(
            f"generated shop in {out} ({time.perf_counter() - started:.1f}s): "
            + ", ".join(f"{k}={v:,}" for k, v in counts.items())
        )

    _guarded(body)


@app.command()
def ingest(
    source: Annotated[
        str, typer.Option(help="generator, canonical, online_retail, cdnow, hillstrom, amazon_reviews")
    ],
    path: Annotated[Path | None, typer.Option(help="where the source data lies")] = None,
) -> None:
    """Replace data/raw/ with the canonical tables of SOURCE and record where they came from."""
    paths = _paths()

    def body() -> None:
        from tasks.generate import SOURCES, ingest_tables

        if source not in SOURCES:
            raise typer.BadParameter(f"unknown source {source!r}; valid sources: {', '.join(SOURCES)}")
        from tasks.locking import project_lock

        with project_lock(paths), console.status(f"ingesting {source}…"):
            record = ingest_tables(source, path, _settings(paths), paths)
        counts = ", ".join(f"{k}={v:,}" for k, v in record["tables"].items())
        console.print(f"ingested [bold]{source}[/] into data/raw: {counts}")
        for note in record.get("notes", []):
            console.print(f"  note: {note}", highlight=False)
        console.print(f"  {record['dvc']}")

    _guarded(body)


def _run_training(paths: ProjectPaths, stages: list[str] | None = None) -> dict[str, Any]:
    from flows.training import add_listener, training_flow
    from tasks.stages import TRAINING_ORDER

    if not paths.raw.exists():
        raise BadInputError("customers", "table_required", "data/raw is empty: run `segmint ingest` first")
    _settings(paths)  # a bad params.yaml fails here, before any orchestration starts
    progress, listener = _stage_progress(len(stages or TRAINING_ORDER))
    add_listener(listener)
    with progress:
        return training_flow(str(paths.root), stages)


@app.command()
def train() -> None:
    """Run the training flow (validate → features → models → evaluate → gate → campaign → report)."""
    paths = _paths()

    def body() -> None:
        from tasks.locking import project_lock

        with project_lock(paths):
            results = _run_training(paths)
        _print_gate(results.get("gate"), paths)

    _guarded(body)


@app.command()
def campaign() -> None:
    """Score every customer with the champion models and write the campaign plan."""
    paths = _paths()

    def body() -> None:
        from flows.campaign import campaign_flow
        from tasks.locking import project_lock

        with project_lock(paths), console.status("scoring customers with the champions…"):
            result = campaign_flow(str(paths.root))
        c = result["campaign"]
        console.print(
            f"scored {c['customers']:,} customers; contacted {c['contacted']:,}, hold-out {c['holdout']:,}, "
            f"expected incremental profit {c['expected_incremental_profit']:,.0f}"
        )
        console.print(
            "outputs: outputs/customer_scores.parquet, outputs/uplift_scores.parquet, "
            "outputs/campaign_plan.parquet; report: reports/report.html"
        )

    _guarded(body)


@app.command()
def stage(name: Annotated[str, typer.Argument(help="a stage of the training DAG (see dvc.yaml)")]) -> None:
    """Run one stage of the DAG (what `dvc repro` calls)."""
    paths = _paths()

    def body() -> None:
        from tasks.stages import STAGES, run_stage

        if name not in STAGES:
            raise typer.BadParameter(f"unknown stage {name!r}; valid stages: {', '.join(STAGES)}")
        from tasks.locking import project_lock

        started = time.perf_counter()
        with project_lock(paths):
            result = run_stage(name, _settings(paths), paths)
        note = f" (skipped: {result['skipped']})" if result.get("skipped") else ""
        console.print(f"stage {name} done in {time.perf_counter() - started:.1f}s{note}", highlight=False)

    _guarded(body)


@app.command()
def report() -> None:
    """Rebuild the reviewer report (reports/report.html)."""
    paths = _paths()

    def body() -> None:
        from tasks.locking import project_lock
        from tasks.stages import run_stage

        with project_lock(paths):
            result = run_stage("report", _settings(paths), paths)
        console.print(f"report written to {result['report']}")

    _guarded(body)


@app.command()
def monitor() -> None:
    """Check fresh data/raw for drift against the champion's reference; retrain when past the thresholds."""
    paths = _paths()

    def body() -> None:
        from flows.monitoring import monitoring_flow
        from tasks.locking import project_lock

        if not paths.raw.exists():
            raise BadInputError(
                "customers", "table_required", "data/raw is empty: ingest fresh data first (`segmint ingest`)"
            )
        _settings(paths)  # a bad params.yaml fails here, before any orchestration starts
        with project_lock(paths), console.status("validating fresh data and checking drift…"):
            result = monitoring_flow(str(paths.root))
        drift = result["drift"]
        columns = ", ".join(drift["drifted_columns"][:15]) or "none"
        console.print(
            f"drift {'[bold red]detected[/]' if drift['drift_detected'] else 'not detected'}: "
            f"{drift['drifted_share']:.0%} of feature columns drifted ({columns})",
            highlight=False,
        )
        for reason in drift["reasons"]:
            console.print(f"  {reason}", highlight=False, markup=False)
        retraining = result["retraining"]
        if retraining["triggered"]:
            console.print(f"retraining triggered ({retraining['how']})", highlight=False)
            if retraining.get("gate") is not None:
                _print_gate(retraining["gate"], paths)
        console.print("findings: metrics/drift.json, metrics/monitoring.json, reports/drift/")

    _guarded(body)


@app.command()
def measure(
    outcomes: Annotated[Path, typer.Option(help="outcomes of the executed plan (canonical campaigns table)")],
) -> None:
    """Measure the realised uplift of the executed campaign plan per segment and offer."""
    paths = _paths()

    def body() -> None:
        from tasks.locking import project_lock
        from tasks.measure import run_measure
        from tasks.stages import run_stage

        settings = _settings(paths)
        with project_lock(paths):
            result = run_measure(settings, paths, outcomes.resolve())
            run_stage("report", settings, paths)
        o = result["overall"]
        console.print(
            f"realised uplift (sent vs hold-out, all offers): {o.get('uplift', float('nan')):+.4f} "
            f"[95% {o.get('uplift_low', float('nan')):+.4f}, {o.get('uplift_high', float('nan')):+.4f}] "
            f"on {int(o.get('n_treated', 0)):,} sent / {int(o.get('n_holdout', 0)):,} held out",
            highlight=False,
        )
        table = Table(title="realised uplift per offer")
        for col in ("offer", "sent", "hold-out", "uplift", "95% interval"):
            table.add_column(col)
        for row in result["per_offer"]:
            table.add_row(
                str(row["offer"]),
                f"{row['n_treated']:,}",
                f"{row['n_holdout']:,}",
                f"{row['uplift']:+.4f}",
                f"[{row['uplift_low']:+.4f}, {row['uplift_high']:+.4f}]",
            )
        console.print(table)
        console.print(
            "written: metrics/measure.json, outputs/measurement.parquet; report: reports/report.html"
        )

    _guarded(body)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="customers in the generated shop")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed of the generated shop")] = 7,
) -> None:
    """Generate a shop, ingest it, train, plan a campaign and write the report; print a summary."""
    paths = _paths()

    def body() -> None:
        from tasks.generate import ingest_tables, write_generated_shop
        from tasks.locking import project_lock

        settings = _settings(paths)
        started = time.perf_counter()
        shop_dir = paths.root / "shop"
        # The whole demo holds the lock: its ingest replaces data/raw, which a concurrent run reads.
        with project_lock(paths):
            with console.status(f"generating a shop with {customers:,} customers…"):
                overrides = {"customers": customers, "seed": seed}
                write_generated_shop(shop_dir, settings.generate.model_copy(update=overrides))
            shown = shop_dir.relative_to(paths.root)
            console.print(f"[green]✓[/] generated shop in {shown}/ (truth in shop/truth/)")
            with console.status("ingesting…"):
                ingest_tables("canonical", shop_dir, settings, paths)
            console.print("[green]✓[/] ingested into data/raw/")
            results = _run_training(paths)
        _print_summary(paths, results, time.perf_counter() - started)

    _guarded(body)


def _print_gate(gate: dict | None, paths: ProjectPaths) -> None:
    from tasks.io import read_json

    decisions = read_json(paths.metric("gate"), {})
    table = Table(title="promotion decisions")
    for col in ("model", "decision", "reasons"):
        table.add_column(col)
    for kind, d in decisions.items():
        table.add_row(kind, d["decision"], "; ".join(d["reasons"]))
    console.print(table)


def _print_summary(paths: ProjectPaths, results: dict[str, Any], seconds: float) -> None:
    import pandas as pd

    from tasks.io import read_json
    from tasks.tracking import tracking_uri

    scores = pd.read_parquet(paths.outputs / "customer_scores.parquet")
    seg = Table(title="segments")
    for col in ("segment", "value tier mix", "customers", "anomalous"):
        seg.add_column(col)
    for name, group in scores.groupby("segment_name"):
        tiers = group["value_tier"].value_counts(normalize=True)
        mix = ", ".join(f"{t} {s:.0%}" for t, s in tiers.items())
        seg.add_row(str(name), mix, f"{len(group):,}", f"{int(group['is_anomalous'].sum()):,}")
    console.print(seg)
    rec = read_json(paths.metric("recommend"), {})
    if rec.get("metrics"):
        m = rec["metrics"]
        console.print(
            f"recommender: [bold]{rec['winner']}[/] NDCG@10 {m['ndcg']:.4f}, Recall@10 {m['recall']:.4f}, "
            f"MAP@10 {m['map']:.4f}, coverage {m['coverage']:.2%}"
        )
    upl = read_json(paths.metric("uplift"), {})
    if upl.get("metrics"):
        overall = upl["metrics"].get("overall", upl["metrics"])
        console.print(
            f"uplift: [bold]{upl['winner']}[/] Qini AUC {overall.get('qini_auc', float('nan')):.4f}, "
            f"uplift@30% {overall.get('uplift_at_30', float('nan')):.4f}"
        )
    camp = read_json(paths.metric("campaign"), {})
    if camp:
        console.print(
            f"campaign: {camp.get('contacted', 0):,} customers contacted, "
            f"{camp.get('holdout', 0):,} in the hold-out, "
            f"expected incremental profit {camp.get('expected_incremental_profit', 0):,.0f}"
        )
    _print_gate(results.get("gate"), paths)
    from segmint.settings import load_settings

    uri = masked_uri(tracking_uri(load_settings(paths.params), paths))
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
    import click

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
