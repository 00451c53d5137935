"""Plots predict latency against kb size from the JSON lines of `cargo xtask bench`.

Usage (matplotlib is the only dependency):
    python3 -m venv /tmp/plotenv && /tmp/plotenv/bin/pip install matplotlib
    /tmp/plotenv/bin/python docs/bench/plot_predict_latency.py docs/bench/results.jsonl docs/bench/predict_latency.png

Each input line is one benchmark's JSON line (`bench predict` or `bench http`); lines of other
benches are skipped. One line per (bench, patterns) is expected; the last one wins.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    series = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line)
            if result.get("bench") == "predict":
                p50, p99 = result["p50_ms"], result["p99_ms"]
            elif result.get("bench") == "http":
                p50, p99 = result["predict_p50_ms"], result["predict_p99_ms"]
            else:
                continue
            series.setdefault(result["bench"], {})[result["patterns"]] = (p50, p99)
    return series


def main(source, target):
    series = load(source)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    labels = {"predict": "KnowledgeBase::predict", "http": "GET /predictions (HTTP)"}
    for bench, points in sorted(series.items()):
        sizes = sorted(points)
        axes.plot(sizes, [points[n][0] for n in sizes], marker="o", label=f"{labels[bench]} p50")
        axes.plot(sizes, [points[n][1] for n in sizes], marker="x", linestyle="--",
                  label=f"{labels[bench]} p99")
    axes.axhline(10, color="grey", linewidth=0.8, linestyle=":", label="issue 15 target p50 at 1M (10 ms)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("patterns in the kb")
    axes.set_ylabel("latency (ms)")
    axes.set_title("Prediction latency against kb size (2 cores, Zipf vocabulary 50,000)")
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(target, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
