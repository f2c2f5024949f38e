"""bench/scale.png: req/s and CPU per request of each route against users."""
from __future__ import annotations

from pathlib import Path

from bench.output import BENCH
from bench.scale_report import by_route
from bench.scenarios import SCENARIOS

CHART = BENCH / "scale.png"


def draw_chart(data: dict, path: Path = CHART) -> None:
    """req/s and total CPU ms per request of each route against users (log x), one line per route."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    routes = by_route(data)
    fig, (ax_rps, ax_cpu) = plt.subplots(1, 2, figsize=(13, 5.5))
    for name, _, label, _ in SCENARIOS:
        cells = routes.get(name)
        if not cells:
            continue
        xs = sorted(cells)
        style = "--" if name.startswith("native") else "-"
        ax_rps.plot(xs, [cells[x]["rps"] for x in xs], style, marker="o", label=label)
        ax_cpu.plot(xs, [sum(cells[x]["cpu_ms"].values()) for x in xs], style, marker="o", label=label)
    for ax, title in ((ax_rps, f"req/s at c={data['conns']}"), (ax_cpu, "CPU ms per request (all processes)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax_rps.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"Cost curve ({data['generated']}, shared 2-core machine: compare within the run)")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
