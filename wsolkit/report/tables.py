"""rich tables for plugin listings and dataset summaries."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from wsolkit.data.spec import PrepareSummary
from wsolkit.registry import PluginInfo


def plugin_table(kind: str, infos: list[PluginInfo]) -> Table:
    """One row per registered name: name, package, description, status."""
    table = Table(title=f"{kind} ({len(infos)})", title_justify="left", expand=False)
    table.add_column("name", style="bold")
    table.add_column("package")
    table.add_column("description", overflow="fold")
    table.add_column("status", overflow="fold")
    for info in infos:
        if info.status == "ok":
            status = Text("ok", style="green")
        else:
            status = Text(f"failed: {info.error}", style="red")
        description = info.description
        if info.alias_of:
            description = f"alias of {info.alias_of}"
        table.add_row(info.name, info.package, description, status)
    return table


def prepare_table(summary: PrepareSummary) -> Table:
    """Images, classes and boxes (or masks) per split of a prepared dataset."""
    unit = "masks" if summary.annotation == "masks" else "boxes"
    table = Table(title=f"{summary.dataset} → {summary.out_dir}", title_justify="left")
    table.add_column("split", style="bold")
    table.add_column("images", justify="right")
    table.add_column("classes", justify="right")
    table.add_column(unit, justify="right")
    for name, split in summary.splits.items():
        table.add_row(name, f"{split.images:,}", f"{split.classes:,}", f"{split.boxes:,}")
    return table


def compare_tables(rows: list) -> list[Table]:
    """One table per dataset/split; the best value of each metric column in bold green.

    Run names are shortened to fit a terminal (their shared prefix dropped, long ones cut in
    the middle), with the full names in a key below the table.
    """
    from wsolkit.report.compare import (
        best_values,
        groups,
        label_columns,
        legend_of,
        name_key,
        short_names,
        visible_metrics,
    )

    tables = []
    for (dataset, split), members in groups(rows).items():
        metrics = visible_metrics(members)
        best = best_values(members)
        names = short_names([r.name for r in members])
        labels = label_columns(members)
        # A label every row shares goes to the title, leaving room for the numbers.
        shared = [k for k, _ in labels if len({str(r.value(k)) for r in members}) == 1]
        if len(members) > 1:
            labels = [(k, lbl) for k, lbl in labels if k not in shared or k == "name"]
        # A label that every run name already spells out (…-cam-…) needs no column of its own.
        labels = [(k, lbl) for k, lbl in labels if k == "name" or not _in_names(members, k)]
        extra = [str(members[0].value(k)) for k in shared if k != "name" and len(members) > 1]
        title = " · ".join([f"{dataset} / {split}", *extra])
        key = name_key(names)
        table = Table(
            title=title,
            title_justify="left",
            caption=legend_of(members) + (f"\n{key}" if key else ""),
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            padding=(0, 0),  # the box's blank separator is the one space between columns
            show_edge=False,
        )

        for key_, label in labels:
            longest = max(len(_cell(r, key_, names)) for r in members)
            table.add_column(
                label,
                style="bold" if label == "run" else None,
                overflow="fold",
                min_width=min(max(longest, len(label)), 16),
            )
        for _, label in metrics:  # numbers never wrap: the label columns fold instead
            table.add_column(label, justify="right", no_wrap=True, min_width=max(len(label), 5))
        for row in members:
            cells: list[str | Text] = [_cell(row, k, names) for k, _ in labels]
            for metric, _ in metrics:
                value = row.metrics.get(metric)
                if value is None:
                    cells.append("—")
                else:
                    style = "bold green" if value == best.get(metric) else ""
                    cells.append(Text(f"{value:.2f}", style=style))
            table.add_row(*cells)
        tables.append(table)
    return tables


def _cell(row: object, key: str, names: dict[str, str]) -> str:
    """A label cell of a compare row; run names in their short form."""
    value = str(row.value(key))  # type: ignore[attr-defined]
    return names[value] if key == "name" else value


def _in_names(rows: list, key: str) -> bool:
    """Whether every row's ``key`` (method, backbone) appears in its run name."""
    if key not in ("method", "backbone"):
        return False
    return all(str(r.value(key)) in str(r.name) for r in rows)
