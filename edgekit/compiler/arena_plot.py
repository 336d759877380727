"""The arena plan as a picture: each buffer a rectangle, its bytes (offset .. offset + size) over
the steps it is live (start .. end), like TFLite Micro's PrintMemoryPlan, drawn.

    plot_arena(compile_json["arena_plan"], compile_json["arena_bytes"], "arena.png")

Reads only compile.json's ``arena_plan`` rows (name, offset, size, start, end, scratch), so the
compiler itself never imports matplotlib.
"""
from __future__ import annotations

from pathlib import Path


def plot_arena(plan: list[dict], arena_bytes: int, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    steps = max((b["end"] for b in plan), default=0) + 1
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * steps + 2.5), 4.5))
    cmap = plt.get_cmap("tab20")
    for i, b in enumerate(sorted(plan, key=lambda b: (b["start"], b["offset"]))):
        color = "0.75" if b.get("scratch") else cmap(i % 20)
        ax.add_patch(Rectangle((b["start"], b["offset"]), b["end"] - b["start"] + 1, b["size"],
                               facecolor=color, edgecolor="k", linewidth=0.5))
        if b["size"] >= 0.04 * arena_bytes:
            ax.text(b["start"] + (b["end"] - b["start"] + 1) / 2, b["offset"] + b["size"] / 2,
                    f"{b['name'][:14]}\n{b['size']:,} B", ha="center", va="center", fontsize=6)
    ax.axhline(arena_bytes, color="tab:red", lw=1)
    ax.text(0, arena_bytes, f" arena {arena_bytes:,} B", color="tab:red", va="bottom", fontsize=8)
    ax.set_xlim(0, steps)
    ax.set_ylim(0, arena_bytes * 1.08 or 1)
    ax.set_xlabel("execution step")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(f"Arena plan{', ' + title if title else ''}: {len(plan)} buffers over {steps} steps "
                 "(grey: kernel scratch)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
