#!/usr/bin/env python3
"""Medians of bench/tls.sh's runs, as the Markdown rows of BENCHMARKS.md's TLS section.

Usage: bench/tls_report.py target/bench/tls/results.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict

LABELS = ["router", "router-tls", "nats", "nats-tls", "router-base"]


def shape(run):
    p = run["params"]
    if run["workload"] == "idle":
        return f"connection setup, C={p['connections']} (connections/s)"
    if run["workload"] == "pingpong":
        return f"pingpong P={p['pairs']} S={p['size']} (msg/s)"
    return f"pairs P={p['pairs']} S={p['size']} (msg/s)"


def rate(run):
    if run["workload"] == "idle":
        idle = run["idle"]
        return idle["opened"] / idle["open_s"] if idle["failed"] == 0 else None
    return run["throughput"]["msgs_per_s"]


def main(path):
    # shape -> label -> rep -> rate
    table = defaultdict(lambda: defaultdict(dict))
    for line in open(path):
        run = json.loads(line)
        if not run.get("ok") or run.get("failed"):
            continue
        value = rate(run)
        if value is not None:
            table[shape(run)][run["label"]][run["rep"]] = value
    labels = [l for l in LABELS if any(l in row for row in table.values())]
    print("| workload | " + " | ".join(labels) + " | TLS ÷ plain | router-tls ÷ nats-tls |")
    print("|---|" + "---|" * (len(labels) + 2))
    for name, row in table.items():
        medians = {l: statistics.median(row[l].values()) for l in labels if row.get(l)}

        def ratio(a, b):
            reps = [row[a][r] / row[b][r] for r in row.get(a, {}) if r in row.get(b, {})]
            return f"{statistics.median(reps):.2f}×" if reps else "–"

        cells = [f"{medians[l]:,.0f}" if l in medians else "–" for l in labels]
        print(f"| {name} | " + " | ".join(cells)
              + f" | {ratio('router-tls', 'router')} | {ratio('router-tls', 'nats-tls')} |")
    if any("router-base" in row for row in table.values()):
        print()
        for name, row in table.items():
            reps = [row["router"][r] / row["router-base"][r]
                    for r in row.get("router", {}) if r in row.get("router-base", {})]
            if reps:
                print(f"- plain router ÷ its base, {name}: {statistics.median(reps):.2f}× "
                      f"(per repetition: {', '.join(f'{x:.2f}' for x in reps)})")


if __name__ == "__main__":
    main(sys.argv[1])
