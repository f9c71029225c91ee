"""Command line: a thin Click layer over ``skelbench.api`` (torch is imported lazily)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click


def _split_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _load_plugins(plugins) -> None:
    from .registry import load_entry_point_plugins, load_plugin
    load_entry_point_plugins()
    for spec in plugins:
        load_plugin(spec)


def _load_all(plugins=()) -> None:
    from . import backbones, data, methods, protocols  # noqa: F401  (fill the registries)
    _load_plugins(plugins)


plugin_option = click.option(
    "--plugin", "plugins", multiple=True, metavar="MODULE_OR_FILE",
    help="Import a module or .py file that registers methods/backbones/datasets (repeatable).")


class FriendlyErrors(click.Group):
    """Known user errors print one line, not a traceback."""

    def invoke(self, ctx):
        from .config import ConfigError
        from .registry import RegistryError
        from .errors import CheckpointError, NonFiniteLoss
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("\ninterrupted: the record says so and a pretraining keeps its last epoch's "
                       "checkpoint; the same command resumes it (--no-resume starts over)", err=True)
            sys.exit(130)
        except (ConfigError, RegistryError, FileNotFoundError) as e:
            raise click.ClickException(str(e)) from None
        except Exception as e:
            if isinstance(e, (NonFiniteLoss, CheckpointError, ValueError)):
                raise click.ClickException(f"{type(e).__name__}: {e}") from None
            raise


@click.group(cls=FriendlyErrors)
@click.version_option(package_name="skelbench")
def main():
    """skelbench: self-supervised skeleton action recognition, benchmarked one way."""


@main.command("list")
@click.argument("kind", type=click.Choice(["methods", "backbones", "datasets", "protocols"]))
@click.argument("pattern", default="*")
@plugin_option
def list_cmd(kind, pattern, plugins):
    """List registered methods (recipes), backbones, datasets (splits) or protocols."""
    import fnmatch
    from . import config as C
    from .registry import REGISTRIES
    if kind != "methods" or plugins:     # recipes are files: listing them needs no torch
        _load_all(plugins)
    if kind == "methods":
        for name in C.recipe_names():
            if fnmatch.fnmatch(name, pattern):
                recipe = C.load_recipe(name)
                click.echo(f"{name:<22} class={recipe['class']:<14} {recipe.get('description', '')}")
        plugin_only = [n for n in REGISTRIES["methods"].names(pattern) if n not in C.recipe_names()]
        for name in plugin_only:
            click.echo(f"{name:<22} (registered class without a recipe in methods/)")
    elif kind == "datasets":
        from .data.prepared import data_state
        for name, card_path in C.card_paths().items():
            card = C.load_yaml(card_path)
            matching = [s for s in card.get("splits", {})
                        if fnmatch.fnmatch(s, pattern) or fnmatch.fnmatch(name, pattern)]
            state = data_state(name) if matching else ""
            for split in matching:
                click.echo(f"{split:<18} dataset={name:<10} layout={card.get('skeleton', 'ntu25'):<12} "
                           f"frames={card.get('frames', 50):<3} {state.split(':')[0]:<23} "
                           f"{card.get('description', '')}")
    else:
        for name in REGISTRIES[kind].names(pattern):
            doc = (REGISTRIES[kind].get(name).__doc__ or "").strip().splitlines()
            click.echo(f"{name:<22} {doc[0] if doc else ''}")


@main.command()
@click.option("--method", "methods", default="tranclr", show_default=True,
              help="Recipe name(s) from methods/, comma-separated.")
@click.option("--protocol", "protocols", default="linear", show_default=True,
              help="Protocol(s), comma-separated.")
@click.option("--dataset", "datasets", default="quick-xsub", show_default=True,
              help="Split(s) or dataset(s), comma-separated (default: the quick start's).")
@click.option("--backbone", "backbones", default=None,
              help="Backbone(s), comma-separated (default: the recipe's).")
@click.option("--stream", "streams", default="joint", show_default=True,
              help="joint, motion or bone; comma-separated.")
@click.option("--seeds", default="0", show_default=True, help="Seeds, comma-separated.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a resolved config value, e.g. --set pretrain.epochs=10 (repeatable).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None,
              help="Where records go (default: results/ in the project).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an interrupted pretraining of the same config and seed.")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (every run, done or to do) and exit.")
@click.option("--show-config", is_flag=True, help="With --dry-run: print each resolved config.")
@click.option("--sync-bn", is_flag=True,
              help="Under torchrun on GPUs: batch-norm statistics over the global batch.")
@click.option("--suite", default=None, metavar="NAME",
              help="Run a reference suite (results/NAME/suite.yaml, e.g. embedded) instead of "
                   "--dataset/--seeds/--protocol (--method: only those rows); its records go to "
                   "results/NAME/.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: OMP_NUM_THREADS, else torch's own). On a CPU "
                   "the count changes the numbers; it is recorded with the run.")
@click.option("--full", is_flag=True,
              help="With --suite: the recipes' own schedules and the suite's full backbone (the "
                   "papers' regime; hours on a GPU); records go to results/NAME-full/.")
@click.option("--weights", "weights_path", type=click.Path(path_type=Path, exists=True,
              dir_okay=False), default=None,
              help="Evaluate this checkpoint (released official weights, or one of skelbench's) "
                   "instead of pretraining: the recipe names the row and its backbone; add "
                   "released-head to --protocol for the checkpoint's own classifier.")
@click.option("--monitor", type=click.IntRange(min=1), default=None, metavar="EVERY",
              help="Learning curve: kNN-1 of the encoder on the test clips every EVERY epochs "
                   "of pretraining, in the record's history (skelbench show RUN --plot). It "
                   "changes no loss; a pretraining already done is reused as it is.")
@click.option("--monitor-linear", type=click.IntRange(min=1), default=None, metavar="EVERY",
              help="With --monitor: also the linear protocol's top-1 every EVERY epochs.")
@plugin_option
@click.pass_context
def run(ctx, methods, protocols, datasets, backbones, streams, seeds, overrides, device,
        results_dir, resume, dry_run, show_config, sync_bn, suite, threads, full, weights_path,
        monitor, monitor_linear, plugins):
    """Pretrain (or reuse a pretraining) and run protocols; print the results.

    Under torchrun (WORLD_SIZE set) the same command runs data-parallel over the ranks."""
    _load_all(plugins)
    import itertools

    import yaml

    from . import config as C
    from .registry import PROTOCOLS
    if suite:
        from click.core import ParameterSource

        from .suite import cells as suite_cells
        from .suite import load_suite
        given = [f"--{p.replace('_', '-')}" for p in ("protocols", "datasets", "backbones",
                                                        "streams", "seeds", "overrides")
                 if ctx.get_parameter_source(p) != ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--suite runs the grid of its file; leave out {', '.join(given)}")
        spec = load_suite(suite)
        jobs = suite_cells(spec, full)
        if ctx.get_parameter_source("methods") != ParameterSource.DEFAULT:
            wanted, rows = _split_list(methods), list(dict.fromkeys(cfg["method"] for cfg, _, _ in jobs))
            unknown = [m for m in wanted if m not in rows]
            if unknown:
                raise click.UsageError(f"--method {', '.join(unknown)}: not a row of suite {suite} "
                                       f"(rows: {', '.join(rows)})")
            jobs = [job for job in jobs if job[0]["method"] in wanted]
        results_dir = results_dir or spec.results_dir(full)
    elif full:
        raise click.UsageError("--full goes with --suite NAME")
    else:
        try:
            seed_list = [int(s) for s in _split_list(seeds)]
        except ValueError:
            raise click.BadParameter(f"{seeds!r}: expected integers such as 0,1,2",
                                     param_hint="--seeds")
        plist = _split_list(protocols)
        jobs = [(C.resolve(method, dataset, backbone=backbone, stream=stream, overrides=overrides),
                 seed_list, plist)
                for method, dataset, backbone, stream in itertools.product(
                    _split_list(methods), _split_list(datasets),
                    _split_list(backbones) if backbones else [None], _split_list(streams))]
    for _, _, plist in jobs:
        for name in plist:
            PROTOCOLS.get(name)
    if weights_path:
        if suite:
            raise click.UsageError("--weights evaluates one checkpoint; a suite names its own")
        from .weights import sha256_file
        digest = sha256_file(weights_path)
        jobs = [(C.with_weights(cfg, digest, weights_path.name, weights_path.resolve()), seeds, plist)
                for cfg, seeds, plist in jobs]
    if monitor_linear and not monitor:
        raise click.UsageError("--monitor-linear goes with --monitor EVERY")
    if monitor:
        for cfg, _, _ in jobs:      # outside the hash: it changes what is recorded, not trained
            cfg["run"]["monitor"] = {"every": monitor, "linear_every": monitor_linear or 0}
    cells = [cfg for cfg, _, _ in jobs]
    if dry_run:
        from .api import plan
        from .config import default_results_dir
        from .data.prepared import data_state
        rows = plan(jobs, results_dir or default_results_dir())
        for cfg, seed, kind, state in rows:
            click.echo(f"{state:<7} {kind:<18} {cfg['method']:<20} {cfg['data']['split']:<14} "
                       f"{cfg['data']['stream']:<7} {cfg['backbone']['name']:<12} seed {seed}")
        runs = [state for _, _, kind, state in rows if kind != "pretrain"]
        pre = [state for _, _, kind, state in rows if kind == "pretrain"]
        click.echo(f"# {len(runs)} runs, {sum(s != 'done' for s in runs)} to do; "
                   f"{len(pre)} pretrainings: {pre.count('done')} done, {pre.count('to do')} to do, "
                   f"{pre.count('record')} recorded without a checkpoint here (trained again "
                   "if a protocol to do needs it); configs: --show-config")
        for dataset in dict.fromkeys(cfg["data"]["dataset"] for cfg, *_ in rows):
            state = data_state(dataset)
            if state != "prepared":
                click.echo(f"# {dataset}: {state}")
        if show_config:
            from .api import init_plan
            for cfg in cells:
                click.echo(f"# {cfg['method']} on {cfg['data']['split']} ({cfg['data']['stream']}), "
                           f"pretrain hash {C.config_hash(C.pretrain_section(cfg))[:12]}")
                init = init_plan(cfg)
                if init:
                    click.echo(f"# starts from {init['parent']} (pretrain hash "
                               f"{init['parent_pretrain_hash']}): carries "
                               f"{', '.join(init['carried'])}; fresh: {', '.join(init['fresh'])}")
                click.echo(yaml.safe_dump(cfg, sort_keys=False))
        return

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    import os

    import torch

    from . import dist
    from .api import Runner, resolve_device
    from .config import default_results_dir
    from .leaderboard import summary
    _interruptible()
    dev = dist.init(device) or resolve_device(device)
    console = Console(stderr=True, quiet=not dist.is_main())
    console.soft_wrap = not console.is_terminal        # a log file gets whole lines
    if threads:
        torch.set_num_threads(threads)
    from .api import hardware
    line = f"device: {hardware(dev)['device']}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if dev.type == "cpu" and load > (os.cpu_count() or 1):
        line += (f"; load average {load:.1f} on {os.cpu_count()} cores: other jobs share them and "
                 "every step slows (--threads 1 helps; the thread count is in the record)")
    console.print(line, highlight=False)
    progress = LineProgress(console) if not console.is_terminal else Progress(
                        TextColumn("[bold]{task.description}"), TextColumn("{task.fields[epoch]}"),
                        BarColumn(), TextColumn("loss {task.fields[loss]:.4f}"),
                        TextColumn("{task.fields[rate]:.0f} samples/s"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                        transient=False)
    progress.add_task = _with_defaults(progress.add_task)
    shown = set()

    def show_result(record):            # each protocol's result as soon as it is there
        if record["run_id"] not in shown:
            shown.add(record["run_id"])
            progress.console.print(f"{summary(record)}  -> {record['run_id']}", highlight=False)
    runner = Runner(results_dir or default_results_dir(), dev, resume=resume,
                    log=lambda m: console.print(f"[dim]{m}[/dim]"),
                    progress=progress if dist.is_main() else None, sync_bn=sync_bn,
                    on_result=show_result)
    floors = []
    with progress:
        for cfg, seed_list, plist in jobs:
            for seed in seed_list:
                records = runner.run(cfg, seed, plist)
                if cfg["data"]["dataset"] == "quick" and "linear" in plist \
                        and cfg["class"] != "random-init":
                    # The quick start prints the untrained encoder's top-1 on the same seed
                    # beside the method's: it costs a BN pass and a linear head.
                    floor = C.resolve("random-init", cfg["data"]["split"], stream=cfg["data"]["stream"],
                                      backbone=cfg["backbone"]["name"])
                    own = records[plist.index("linear")]["metrics"]["top1"]
                    floors.append((cfg, seed, own, runner.run(floor, seed, ["linear"])[0]))
    for cfg, seed, own, record in floors:
        click.echo(f"{cfg['method']} seed {seed}: linear top-1 {own:.2f}; the untrained encoder "
                   f"(random-init, same seed and backbone): {record['metrics']['top1']:.2f}")
    if any(cfg["data"]["dataset"] == "quick" for cfg in cells):
        click.echo("The quick start ranks nothing. Methods are compared on the reference benchmark: "
                   "results/LEADERBOARD.md, or run it with `skelbench run --suite embedded` "
                   f"(about {SUITE_HOURS} h on two CPU cores; docs/results.md).")
    if suite:
        from .leaderboard import time_shares
        shares = time_shares(runner.results_dir)
        total = sum(shares.values())
        click.echo(f"suite {suite}: {total / 3600:.2f} h of recorded run time for one run of it; "
                   + ", ".join(f"{m} {s / 3600:.2f} h ({100 * s / max(total, 1):.0f} %)"
                               for m, s in sorted(shares.items(), key=lambda kv: -kv[1])))
    dist.close()


def _interruptible() -> None:
    """SIGTERM (a cluster's preemption, `kill`) ends a run as Ctrl-C does: the record says
    interrupted and the same command resumes it on any host. A run started in the background
    (`nohup ... &`) has SIGINT ignored by the shell; `kill -INT` works again."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)


class LineProgress:
    """Progress where the output is not a terminal (nohup, a cluster job, ``| tee``): one plain
    line per finished epoch, instead of a bar drawn only at the end."""

    def __init__(self, console):
        self.console, self.tasks = console, {}

    def add_task(self, description, total=None, **fields):
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "done": 0,
                                       "start": time.monotonic(), "fields": dict(fields)}
        return len(self.tasks) - 1

    def update(self, task, advance=0, **fields):
        t = self.tasks[task]
        if t["done"] and fields.get("epoch", t["fields"].get("epoch")) != t["fields"].get("epoch"):
            self._line(t)                               # the previous epoch has ended
        t["done"] += advance
        t["fields"].update(fields)
        if t["total"] and t["done"] >= t["total"]:
            self._line(t)

    def _line(self, t):
        elapsed = time.monotonic() - t["start"]
        left = elapsed * (t["total"] - t["done"]) / t["done"] if t["total"] else 0
        f = t["fields"]
        self.console.print(f"{t['description']} epoch {f.get('epoch', '')}: loss {f.get('loss', 0):.4f}, "
                           f"{f.get('rate', 0):.0f} samples/s, {elapsed:.0f} s elapsed, "
                           f"{left:.0f} s left", highlight=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


SUITE_HOURS = "8 (AVX512) to 15 (AVX2)"  # the embedded suite on two CPU cores, by its records (docs/results.md)


def _with_defaults(add_task):
    def wrapped(description, **kwargs):
        fields = {"loss": float("nan"), "rate": 0.0, "epoch": ""}
        fields.update(kwargs)
        return add_task(description, **fields)
    return wrapped


@main.command()
@click.option("--metric", "metrics", default=None,
              help="Metric(s), comma-separated (default: each protocol's headline: linear top1, "
                   "retrieval knn1, calibration ece,aece, ...). † marks values selected on the test split.")
@click.option("--format", "fmt", type=click.Choice(["terminal", "md", "csv", "latex", "json", "html"]),
              default="terminal", show_default=True)
@click.option("--method", "methods", default=None, help="Only these methods (comma-separated).")
@click.option("--dataset", "datasets", default=None, help="Only these splits (comma-separated).")
@click.option("--protocol", "protocols", default=None, help="Only these protocols (comma-separated).")
@click.option("--ensemble", type=click.Choice(["equal", "aimclr", "none"]), default="equal",
              show_default=True, help="J+M+B rows from the three streams' linear logits: equal "
                                      "softmax average, or AimCLR's 0.6/0.4/0.6 on logits.")
@click.option("--paper", is_flag=True, help="Add the papers' reported numbers (results/reference.yaml).")
@click.option("--all", "show_all", is_flag=True,
              help="Also show the variants (runs with --set), in a section of their own.")
@click.option("--write", "write", is_flag=True,
              help="Also write results/LEADERBOARD.md and results/leaderboard.html.")
@click.option("--table", "table", default=None, metavar="NAME",
              help="A paper's ablation table (methods/tables/NAME.yaml, e.g. tranclr-anchors, "
                   "tranclr-levels) in its layout, measured rows beside the paper's.")
@click.option("--paired", multiple=True, metavar="A,B",
              help="Only the top-1 difference of rows A and B (labels as compare shows them; "
                   "LABEL@BACKBONE where a label has several) on each split's test clips, with a "
                   "95 % paired bootstrap interval; repeatable.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None)
def compare(metrics, fmt, methods, datasets, protocols, ensemble, paper, show_all, write, table,
            paired, results_dir):
    """Aggregate finished records over seeds: mean ± std (n).

    One row per method, backbone and stream at the recipe's and card's settings; --all adds the
    runs made with --set."""
    import pandas as pd

    from .config import default_results_dir, project_root
    from . import leaderboard as L
    roots = None
    if write and results_dir is None:
        # The committed files come from the committed reference records, not from local runs.
        roots = L.suite_roots(project_root() / "results")
        click.echo("writing from the reference suites' records ("
                   + ", ".join(str(r.relative_to(project_root())) for r in roots)
                   + "); --results-dir DIR writes from DIR instead", err=True)
    frame, notices = L.load_records(results_dir or default_results_dir(), roots)
    if table:
        _ablation_table(table, frame, fmt, _split_list(datasets) if datasets else None)
        return
    if paired:
        splits = _split_list(datasets) if datasets else None
        for given in paired:
            pair = _split_list(given)
            if len(pair) != 2:
                raise click.BadParameter(f"{given!r}: two rows, A,B", param_hint="--paired")
            for line in L.paired_lines(frame, *pair, splits):
                click.echo(line)
        return
    if not frame.empty and ensemble != "none":
        frame = pd.concat([frame, L.ensembles(frame, ensemble)], ignore_index=True)
    for column, wanted, option in (("method", methods, "--method"), ("split", datasets, "--dataset"),
                                   ("kind", protocols, "--protocol")):
        if not frame.empty and wanted:
            kept = frame[frame[column].isin(_split_list(wanted))]
            if kept.empty:
                have = ", ".join(sorted(set(frame[column])))
                raise click.ClickException(f"no finished results for {option} {wanted}; there are "
                                           f"results for: {have}")
            frame = kept
    metric_list = _split_list(metrics) if metrics else None
    if metric_list and not frame.empty:
        recorded = {c.removeprefix("metrics.") for c in frame.columns if c.startswith("metrics.")
                    and frame[c].notna().any()}
        unknown = [m for m in metric_list if m not in recorded]
        if unknown:
            raise click.ClickException(f"no results have metric {unknown[0]!r}; recorded metrics: "
                                       f"{', '.join(sorted(recorded))}")
    shown = frame["canonical"] != False if not frame.empty else []   # noqa: E712 (None: shown)
    canonical, variants = (frame[shown], frame[~shown]) if not frame.empty else (frame, frame)
    if not frame.empty and not show_all and not variants.empty:
        notices.append(f"{len(variants)} record(s) of runs with --set are not shown: --all "
                       "shows them")
    agg = L.aggregate(canonical, metric_list)
    sources = []
    if paper:
        ref, sources = L.paper_rows(project_root() / "results" / "reference.yaml",
                                    _split_list(datasets) if datasets else None,
                                    _split_list(protocols) if protocols else None)
        if metric_list:
            ref = ref[ref["metric"].isin(metric_list)] if not ref.empty else ref
        elif not canonical.empty:
            # The papers' linear numbers are best-on-test: set ours of that kind beside them.
            agg = pd.concat([agg, L.aggregate(canonical, ["top1_best"], ["linear"])], ignore_index=True)
        agg = pd.concat([agg, ref], ignore_index=True)
    parts = [(title, *L.pivot(part)) for title, part in L.split_sections(agg)]
    if show_all:
        parts += [(f"variants: {title}", *L.pivot(part))
                  for title, part in L.split_sections(L.aggregate(variants, metric_list))]
    for notice in notices:
        click.echo(notice, err=True)
    if not parts:
        click.echo("no finished results yet: run `skelbench run` first", err=True)
        sys.exit(1)
    if fmt in ("csv", "json"):
        out = pd.concat([agg.assign(section="canonical")]
                        + ([L.aggregate(variants, metric_list).assign(section="variant")]
                           if show_all else []), ignore_index=True)
        click.echo(out.to_csv(index=False) if fmt == "csv"
                   else out.to_json(orient="records", indent=2) + "\n", nl=False)
        return
    command = _command_line(click.get_current_context())
    if write:
        root = project_root() / "results"
        L.write_leaderboard(root / "LEADERBOARD.md", parts, sources, notices, command)
        from .report import write_html
        write_html(root / "leaderboard.html", parts, sources, notices, command, root)
        click.echo(f"wrote {root / 'LEADERBOARD.md'} and {root / 'leaderboard.html'}", err=True)
    if fmt == "html":
        from .report import render_html
        click.echo(render_html(parts, sources, notices, command, project_root() / "results"), nl=False)
        return
    if fmt in ("md", "latex"):
        for title, header, body, best in parts:
            if fmt == "md":
                click.echo(f"**{title[0].upper() + title[1:]}**\n\n{L.render_markdown(header, body, best)}\n")
            else:
                click.echo(f"% {title}\n{L.render_latex(header, body, best)}\n")
        for s in sources:
            click.echo(f"% {s}" if fmt == "latex" else f"- {s}")
        return
    _print_tables(parts, sources)


def _command_line(ctx: click.Context) -> str:
    """The command as typed, up to the order of its options (what a generated file says made it)."""
    words = ["skelbench", ctx.info_name]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value in (None, False, ()) or value == param.default:
            continue
        words.append(param.opts[0] if value is True else f"{param.opts[0]} {value}")
    return " ".join(words)


def _print_tables(parts, sources) -> None:
    """Rich tables; a table wider than the terminal is printed per split (a paper's layout with
    every split side by side does not fit an 80-column terminal)."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .leaderboard import LEGEND, name_columns, split_columns
    console = Console()
    console.print(f"[dim]{LEGEND}[/dim]")
    for title, header, body, best in parts:
        for sub_title, sub_header, sub_body, sub_best in split_columns(
                title, header, body, best, console.width):
            table = Table(title=sub_title[0].upper() + sub_title[1:], box=box.SIMPLE_HEAD,
                          pad_edge=False)
            n_text = name_columns(sub_header)
            for i, h in enumerate(sub_header):
                # names whole (a long variant wraps), numbers at least as wide as a header word
                longest = max(len(w) for w in h.split())
                widest = max([len(h)] + [len(row[i]) for row in sub_body])
                table.add_column(h.replace(" ", "\n"), justify="left" if i < n_text else "right",
                                 min_width=min(widest, 24) if i < n_text else longest)
            for i, row in enumerate(sub_body):
                table.add_row(*[f"[bold green]{escape(v)}[/]" if (i, j) in sub_best else escape(v)
                                for j, v in enumerate(row)])
            console.print(table)
    for s in sources:
        click.echo(s)


def _ablation_table(name: str, frame, fmt: str, splits) -> None:
    from .config import project_root
    from .leaderboard import ablation_table, load_table, render_latex, render_markdown
    spec = load_table(name, project_root())
    header, body = ablation_table(spec, frame, splits=splits)
    align = "l" + "c" * len(spec["columns"]) + "r" * (len(header) - 1 - len(spec["columns"]))
    note = (f"measured: linear {spec['metric']}, mean ± std (n seeds), each recipe's newest "
            f"configuration; paper: {spec['paper']}")
    if fmt == "md":
        click.echo(f"**{spec['title']}**\n\n{render_markdown(header, body, align=align)}\n\n{note}")
    elif fmt == "latex":
        click.echo(f"% {spec['title']}; {note}\n{render_latex(header, body, align=align)}")
    elif fmt in ("csv", "json"):
        import pandas as pd
        rows = pd.DataFrame(body, columns=header)
        click.echo(rows.to_csv(index=False) if fmt == "csv"
                   else rows.to_json(orient="records", indent=2, force_ascii=False) + "\n", nl=False)
    else:
        from rich.console import Console
        from rich.table import Table
        t = Table(title=spec["title"], caption=note)
        for i, h in enumerate(header):
            t.add_column(h, no_wrap=i == 0,
                         justify="left" if i == 0 else ("center" if h in spec["columns"] else "right"))
        for row in body:
            t.add_row(*row)
        Console().print(t)


@main.command("bench")
@click.option("--method", "methods", default="tranclr", show_default=True,
              help="Recipe name(s), comma-separated.")
@click.option("--backbone", "backbones", default=None, help="Backbone(s), comma-separated.")
@click.option("--dataset", default="synth-xsub", show_default=True, help="Split whose data is used (default: the reference set).")
@click.option("--stream", default="joint", show_default=True)
@click.option("--steps", type=int, default=20, show_default=True, help="Timed steps (after warm-up).")
@click.option("--warmup", type=int, default=3, show_default=True)
@click.option("--batch", type=int, default=None, help="Batch size (default: the recipe's).")
@click.option("--frames", type=int, default=None,
              help="Resample the clips to this many frames first (e.g. 50, as NTU's recipes).")
@click.option("--pipeline-only", is_flag=True,
              help="Time index sampling + the method's views alone, no model.")
@click.option("--train-size", type=int, default=None,
              help="Training-set size for the projected schedule (default: the split's; NTU-60 xsub: 40091).")
@click.option("--epochs", type=int, default=300, show_default=True, help="Epochs of the projected schedule.")
@click.option("--bodies", type=click.IntRange(min=1), default=None,
              help="Body slots per clip (default: the data's); more pads with absent bodies.")
@click.option("--amp-check", is_flag=True,
              help="Instead of timing: train --steps steps in fp32 and in bf16 autocast from the "
                   "same seed and compare the loss curves.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@plugin_option
def bench_cmd(methods, backbones, dataset, stream, steps, warmup, batch, frames, pipeline_only,
              train_size, epochs, bodies, amp_check, overrides, device, as_json, plugins):
    """Time pretraining steps: median step, samples/s, input-pipeline share, peak memory,
    projected schedule time; or check bf16 against fp32 (--amp-check)."""
    _load_all(plugins)
    import json

    from . import config as C
    from .api import resolve_device
    from .bench import amp_agreement, bench
    dev = resolve_device(device)
    for method in _split_list(methods):
        for backbone in (_split_list(backbones) if backbones else [None]):
            cfg = C.resolve(method, dataset, backbone=backbone, stream=stream, overrides=overrides)
            if amp_check:
                r = amp_agreement(cfg, dev, steps=steps, batch_size=batch)
                if as_json:
                    click.echo(json.dumps(r))
                else:
                    click.echo(f"{r['method']:<14} {r['backbone']:<18} {r['steps']} steps, batch "
                               f"{r['batch_size']}: {r['window']}-step mean loss fp32 "
                               f"{r['final_fp32']:.4f} / bf16 {r['final_bf16']:.4f} at the end; "
                               f"relative gap max {100 * r['max_rel_gap']:.2f} %, mean "
                               f"{100 * r['mean_rel_gap']:.2f} %  [{r['device']}]")
                continue
            r = bench(cfg, dev, steps=steps, warmup=warmup, batch_size=batch, frames=frames,
                      pipeline_only=pipeline_only, train_size=train_size, epochs=epochs,
                      bodies=bodies)
            if as_json:
                click.echo(json.dumps(r))
                continue
            what = "pipeline" if pipeline_only else "step"
            share = "" if pipeline_only else f"  pipeline {100 * r['pipeline_share']:.1f} % (augment {r['augment_ms']:.2f} ms)"
            click.echo(f"{r['method']:<14} {r['backbone']:<18} batch {r['batch_size']:>4} x "
                       f"{r['frames']} frames x {r['bodies']} bodies  {what} {r['step_ms']:>9.2f} ms  "
                       f"{r['samples_per_s']:>8.1f} samples/s{share}  first step "
                       f"{r['first_step_s']} s  {r['projected_for']['epochs']} epochs of "
                       f"{r['projected_for']['train_size']}: {r['projected_h']:.2f} h  peak "
                       f"{r['peak_memory_mb'] if r['peak_memory_mb'] is not None else '-'} MB  "
                       f"[{r['device']}, torch {r['torch']}, {r['settings']}]")


@main.command()
@click.argument("run_id")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Also write the run's per-epoch curves (loss first) to this PNG.")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None)
def show(run_id, plot_path, as_json, results_dir):
    """One run: its resolved config, metrics and per-epoch history.

    RUN_ID: a run id or its unique beginning (as `run` and `compare` print them)."""
    import json

    import yaml

    from .config import default_results_dir
    from .results import find_record
    path, rec = find_record(results_dir or default_results_dir(), run_id)
    if as_json:
        click.echo(json.dumps(rec, indent=2))
        return
    click.echo(f"{rec['run_id']}  ({path})")
    click.echo(f"{rec['kind']} of {rec['method']} on {rec['split']} ({rec['stream']}, "
               f"{rec['backbone']}), seed {rec['seed']}: {rec['status']}"
               + (f" in {rec['duration_s']:.0f} s" if rec.get("duration_s") else "")
               + (f"; error: {rec['error']}" if rec.get("error") else ""))
    click.echo(f"config hash {rec['config_hash'][:12]}, parent {rec.get('parent_run_id') or '-'}, "
               f"git {((rec.get('git') or {}).get('sha') or '?')[:10]}")
    click.echo("\nconfig:\n" + yaml.safe_dump(rec.get("config") or {}, sort_keys=False).rstrip())
    metrics = rec.get("metrics") or {}
    if metrics:
        click.echo("\nmetrics: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    history = {k: v for k, v in (rec.get("history") or {}).items() if isinstance(v, list) and v}
    if history:
        keys = list(history)
        click.echo("\nepoch  " + "  ".join(f"{k:>12}" for k in keys))
        for i in range(max(len(v) for v in history.values())):
            click.echo(f"{i + 1:>5}  " + "  ".join(
                f"{history[k][i]:>12.4f}" if i < len(history[k]) and history[k][i] is not None
                else " " * 12 for k in keys))
    if plot_path is not None:
        from .plots import history_png
        out = plot_path / f"{rec['run_id']}.png" if plot_path.is_dir() else plot_path
        history_png(history, out, title=f"{rec['method']} {rec['kind']} seed {rec['seed']}")
        click.echo(f"wrote {out}")


@main.group()
def plot():
    """Figures from finished records."""


def _plot_options(fn):
    for option in reversed([
            click.argument("runs", nargs=-1),
            click.option("--dataset", "datasets", default=None,
                         help="Splits (comma-separated; default: all)."),
            click.option("--method", "methods", default=None,
                         help="Methods (comma-separated; default: all)."),
            click.option("--stream", default="joint", show_default=True),
            click.option("--out", type=click.Path(path_type=Path), default=None,
                         help="PNG path (default: results/<plot>-<split>.png, one per split)."),
            click.option("--results-dir", type=click.Path(path_type=Path), default=None)]):
        fn = option(fn)
    return fn


def _plot_records(kind, runs, datasets, methods, stream, out, results_dir, name):
    """{split: {row label: [records]}} for the rows of `compare` (or the given run ids), and
    the PNG path per split; from the reference suites' records unless a folder or --out is
    given (the committed figures come from the committed records)."""
    import json

    from .config import default_results_dir, project_root
    from .leaderboard import _order_rows, entry, load_records
    roots = None
    if out is None and results_dir is None:
        from .results import suite_roots
        roots = suite_roots(project_root() / "results")
    frame, _ = load_records(results_dir or default_results_dir(), roots)
    if not frame.empty:
        frame = frame[frame["kind"] == kind]
        if runs:
            frame = frame[frame["run_id"].isin(runs)]
        else:
            frame = frame[(frame["stream"] == stream) & (frame["canonical"] != False)]  # noqa: E712
            if methods:
                frame = frame[frame["method"].isin(_split_list(methods))]
            if datasets:
                frame = frame[frame["split"].isin(_split_list(datasets))]
    if frame.empty:
        raise click.ClickException(f"no finished {kind} records match: run "
                                   f"`skelbench run --protocol {kind}` first")
    splits = sorted(frame["split"].unique())
    if out is not None and len(splits) > 1:
        raise click.ClickException(f"--out names one file but the records span {len(splits)} "
                                   f"splits ({', '.join(splits)}): pass --dataset")
    if out is not None and out.is_dir():
        out.mkdir(parents=True, exist_ok=True)      # a folder: the usual file name inside it
        out = out / f"{name}-{splits[0]}.png"
    result = {}
    for split in splits:
        part = frame[frame["split"] == split]
        names = [entry(m, v) for m, v in zip(part["method"], part["variant"])]
        rows = {}
        for key in _order_rows(sorted(set(zip(names, part["backbone"])))):
            chosen = part[[n == key[0] and b == key[1] for n, b in zip(names, part["backbone"])]]
            label = key[0] if part["backbone"].nunique() == 1 else f"{key[0]} ({key[1]})"
            rows[label] = [json.loads((Path(d) / "record.json").read_text())
                           for d in chosen["run_dir"]]
        result[split] = (rows, out or project_root() / "results" / f"{name}-{split}.png")
    return result


@plot.command("reliability")
@_plot_options
def plot_reliability(runs, datasets, methods, stream, out, results_dir):
    """Reliability diagrams, one panel per method, bins pooled over seeds.

    RUNS: calibration run ids to plot (default: every row of `compare`: each method and
    backbone at the recipe's and card's settings, newest config)."""
    from .plots import merge_bins, reliability_png
    for split, (rows, path) in _plot_records("calibration", runs, datasets, methods, stream, out,
                                             results_dir, "reliability").items():
        panels = {f"{label}, {len(recs)} seed(s)": merge_bins(recs) for label, recs in rows.items()}
        reliability_png(panels, path, title=f"{split} ({stream}): linear head, test set")
        click.echo(f"wrote {path}")


@plot.command("continuity")
@_plot_options
def plot_continuity(runs, datasets, methods, stream, out, results_dir):
    """Mean cos(f(A), f(X_i)) against lambda along the continuity protocol's transitions, one
    line per method (mean over seeds); panels: global / local x same / different class.

    RUNS: continuity run ids to plot (default: every row of `compare`)."""
    from .plots import continuity_png
    for split, (rows, path) in _plot_records("continuity", runs, datasets, methods, stream, out,
                                             results_dir, "continuity").items():
        curves = {f"{label} ({len(recs)})": [r["curves"] for r in recs] for label, recs in rows.items()}
        continuity_png(curves, path, title=f"{split} ({stream}): frozen encoder, test pairs")
        click.echo(f"wrote {path}")


@plot.command("curve")
@click.argument("runs", nargs=-1, required=True)
@click.option("--baseline", "baselines", multiple=True, metavar="RUN",
              help="A linear or retrieval record drawn across both panels as a reference line "
                   "(e.g. random-init's, supervised's); repeatable.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG path.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None)
def plot_curve(runs, baselines, out, results_dir):
    """Learning curves: kNN-1 and linear top-1 against pretraining steps, from pretraining
    records made with `run --monitor` (RUNS: their ids), beside reference lines.

    A curve is labelled by its method and the settings in which its config differs from the
    other curves' (and its seed where only that differs)."""
    from .config import default_results_dir
    from .plots import curve_png
    from .results import find_record
    import pandas as pd
    root = results_dir or default_results_dir()
    curves, lines, records = {}, {}, []
    for run_id in runs:
        _, rec = find_record(root, run_id)
        history = rec.get("history") or {}
        if rec["kind"] != "pretrain" or "monitor_knn1" not in history:
            raise click.ClickException(f"{rec['run_id']} is not a pretraining run with --monitor")
        if not (rec.get("throughput") or {}).get("steps_per_epoch"):
            raise click.ClickException(f"{rec['run_id']} does not record its steps per epoch")
        records.append(rec)
    flat = pd.json_normalize([{k: v for k, v in (r.get("config") or {}).items()
                               if k not in ("method", "class", "init")} for r in records])
    differs = [c for c in flat.columns if flat[c].astype(str).nunique() > 1]
    for i, rec in enumerate(records):
        history, per_epoch = rec["history"], rec["throughput"]["steps_per_epoch"]
        apart = [f"{c.split('.', 1)[-1] if c.startswith(('pretrain.', 'args.')) else c}="
                 f"{flat.loc[i, c]}" for c in differs]
        label = rec["method"] + (f" ({', '.join(apart)})" if apart else "")
        if label in curves:
            label += f" seed {rec['seed']}"
        curves[label] = {"steps": [per_epoch * (e + 1) for e in range(len(history["monitor_knn1"]))],
                         "knn1": history["monitor_knn1"],
                         "linear_top1": history.get("monitor_linear_top1")}
    for run_id in baselines:
        _, rec = find_record(root, run_id)
        key = {"retrieval": "knn1", "linear": "linear_top1"}.get(rec["kind"])
        if key is None:
            raise click.ClickException(f"--baseline {run_id}: a linear or retrieval record")
        metric = rec["metrics"]["knn1" if key == "knn1" else "top1"]
        lines.setdefault(rec["method"], {})[key] = metric
    split = rec["split"]
    curve_png(curves, lines, out, title=f"{split}: pretraining learning curves (monitor: frozen "
                                        "encoder, running BN)")
    from .stats import crossing
    for label, curve in curves.items():
        for name, values in lines.items():
            for key, what in (("knn1", "kNN-1"), ("linear_top1", "linear top-1")):
                if values.get(key) is None or not curve.get(key):
                    continue
                window = 10 if key == "knn1" else 1
                first, stays = crossing(curve["steps"], curve[key], values[key], window)
                mean = f"{window}-measurement mean " if window > 1 else ""
                head = f"{label}: {mean}{what} vs {name}'s {values[key]:.2f}: "
                if first is None:
                    click.echo(head + f"never above within {curve['steps'][-1]} steps")
                else:
                    click.echo(head + f"above first at step {first}, " + (
                        f"and from step {stays} on" if stays is not None else "not at the end"))
    click.echo(f"wrote {out}")


@main.group()
def data():
    """Prepare real datasets from your files and inspect prepared splits."""


@data.command("prepare")
@click.argument("dataset")
@click.option("--raw", type=click.Path(exists=True, path_type=Path), required=True,
              help="Your files: a folder of .skeleton files, a PKU-MMD folder, an ST-GCN "
                   "benchmark folder (xsub/) or a CTR-GCN .npz.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Prepared-data root (default: datasets/prepared; set SKELBENCH_PREPARED to "
                   "use another root afterwards).")
@click.option("--format", "fmt", type=click.Choice(["auto", "raw", "stgcn", "npz"]), default="auto",
              show_default=True)
@click.option("--missing", type=click.Path(path_type=Path), default=None,
              help="NTU's missing-skeleton list (default: found in --raw or a folder above it).")
@click.option("--workers", type=int, default=None, help="Parallel readers (default: up to 8).")
@click.option("--cut", type=click.Choice(["papers", "mamp"]), default=None,
              help="PKU-MMD: how clips are cut from the label rows (default: the card's, papers).")
def data_prepare(dataset, raw, out, fmt, missing, workers, cut):
    """Turn DATASET (ntu60, ntu120, pkummd1, pkummd2) into prepared splits."""
    _load_all()
    import warnings

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .data.real import prepare
    console = Console(stderr=True)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("files"), TimeElapsedColumn(), console=console)
    with warnings.catch_warnings(record=True) as caught, progress:
        warnings.simplefilter("always")
        path, info, verified = prepare(dataset, raw, out_root=out, fmt=fmt, missing=missing,
                                       workers=workers, progress=progress, cut=cut,
                                       log=lambda m: console.print(f"[dim]{m}[/dim]"))
    for w in caught:
        console.print(f"[yellow]warning:[/yellow] {w.message}")
    state = "already prepared; checksum verified" if verified else "prepared"
    click.echo(f"{dataset}: {state}: {info['num_samples']} samples, {info['frames']} frames -> {path}")
    if out is not None:
        click.echo(f"use it with: export SKELBENCH_PREPARED={Path(out).resolve()}")
        return
    from .config import ConfigError, load_card
    from .data.prepared import empty_side
    from .data.real import split_info
    for split in load_card(dataset).get("splits", {}):
        try:
            sizes = split_info(split)
        except ConfigError as e:        # e.g. a file that holds one split only
            click.echo(f"  {split}: not available ({e})")
            continue
        problem = empty_side(split, dataset, sizes["train"], sizes["test"])
        click.echo(f"  {split}: {sizes['train']} train / {sizes['test']} test"
                   + (f"; warning: {problem}" if problem else ""))


@data.command("info")
@click.argument("split")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def data_info(split, as_json):
    """Sizes, classes, frames, per-class counts, source and preprocessing of SPLIT."""
    _load_all()
    import json

    from .data.real import split_info
    info = split_info(split)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['split']} ({info['dataset']}): {info['train']} train / {info['test']} test, "
               f"{info['num_classes']} classes, {info['frames']} frames")
    from .data.prepared import empty_side
    problem = empty_side(info["split"], info["dataset"], info["train"], info["test"])
    if problem:
        click.echo(f"warning: {problem}")
    from .skeleton import get_layout
    layout = get_layout(info["layout"])
    click.echo(f"layout: {layout.name} ({layout.description})")
    if info.get("mapping"):
        click.echo(f"joint mapping: {info['mapping']}")
    click.echo(f"source: {info['source']}")
    click.echo(f"preprocessing: {info['preprocessing']}")
    for note in info.get("notes", []):
        click.echo(f"note: {note}")
    click.echo(f"  {'id':>3} {'class':<45} {'train':>6} {'test':>6}")
    for k, name in enumerate(info["classes"]):
        tr, te = info["per_class"]["train"].get(name, 0), info["per_class"]["test"].get(name, 0)
        click.echo(f"  {k:>3} {name:<45} {tr:>6} {te:>6}")


if __name__ == "__main__":
    main()
