#!/usr/bin/env python3
"""Turns loadgen's JSON lines (one per run) into BENCHMARKS.md on stdout.

Figures are medians over the repetitions of each case, from fault-free runs only;
the `runs` column says how many runs a median rests on and how many were flagged.
Every router figure is also given as a ratio to Redis and to NATS from the same
comparison run.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
from collections import defaultdict

SHAPE_KEYS = ("pairs", "senders", "size", "window", "connections", "flood_size",
              "flood_rate_mib_s")


def load(path):
    runs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                runs.append(json.loads(line))
    return runs


def shape(run):
    params = run.get("params", {})
    return tuple((k, params[k]) for k in SHAPE_KEYS if k in params)


class Cases:
    """Runs grouped by workload, shape and label."""

    def __init__(self, runs):
        self.groups = defaultdict(list)
        self.failed = defaultdict(int)
        self.labels = []
        for run in runs:
            label = run["label"]
            if label not in self.labels:
                self.labels.append(label)
            if run.get("failed"):
                self.failed[(run["workload"], label)] += 1
                continue
            self.groups[(run["workload"], shape(run), label)].append(run)
        order = {"redis": 1, "nats": 2, "direct": 3}
        self.labels.sort(key=lambda l: (order.get(l, 0), l))

    def shapes(self, workload):
        seen = []
        for (w, s, _), _runs in self.groups.items():
            if w == workload and s not in seen:
                seen.append(s)
        return sorted(seen)

    def runs(self, workload, shp, label):
        return self.groups.get((workload, shp, label), [])

    def median(self, workload, shp, label, getter):
        values = []
        for run in self.runs(workload, shp, label):
            if not run.get("ok", False):
                continue
            try:
                value = getter(run)
            except (KeyError, TypeError):
                continue
            if value is not None:
                values.append(value)
        return statistics.median(values) if values else None

    def paired_ratio(self, a, b, getter):
        """Median over repetitions of getter(a) / getter(b), where a and b are
        (workload, shape, label) cases run in the same repetition: a ratio of runs
        that were neighbours in time, so the machine's drift over a long run
        cancels, unlike a ratio of two medians."""
        def by_rep(case):
            return {run["rep"]: getter(run) for run in self.runs(*case)
                    if run.get("ok", False) and "rep" in run}
        numerators, denominators = by_rep(a), by_rep(b)
        ratios = [numerators[rep] / denominators[rep] for rep in numerators
                  if denominators.get(rep)]
        return statistics.median(ratios) if ratios else None

    def routers(self):
        return [l for l in self.labels if l.startswith("router")]


def throughput(key):
    return lambda run: run["throughput"][key]


def latency(key):
    return lambda run: run["throughput"]["latency_us"][key]


def per_cpu(run):
    return run["server"]["msgs_per_cpu_s"]


def fmt(value, digits=0):
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def runs_cell(cases, workload, shp, label):
    runs = cases.runs(workload, shp, label)
    bad = sum(1 for r in runs if not r.get("ok", False))
    failed = cases.failed.get((workload, label), 0)
    cell = str(len(runs))
    if bad:
        cell += f" ({bad} FLAGGED)"
    if failed:
        cell += f" (+{failed} failed in {workload})"
    return cell


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def shape_text(shp):
    names = {"pairs": "P", "senders": "N", "size": "S", "window": "W", "connections": "C"}
    parts = [f"{names[k]}={v}" for k, v in shp if k in names]
    parts += [f"flood ≤ {v:g} MiB/s" for k, v in shp if k == "flood_rate_mib_s"]
    return " ".join(parts)


METRICS = [
    ("msg/s", throughput("msgs_per_s"), 0),
    ("MB/s", throughput("mb_per_s"), 1),
    ("p50 µs", latency("p50"), 0),
    ("p99 µs", latency("p99"), 0),
    ("p999 µs", latency("p999"), 0),
    ("msg per server CPU-s", per_cpu, 0),
]


def message_section(cases, workload, title, note):
    shapes = cases.shapes(workload)
    if not shapes:
        return ""
    out = [f"## {title}\n\n{note}\n"]
    rows = []
    for shp in shapes:
        for label in cases.labels:
            if not cases.runs(workload, shp, label):
                continue
            cells = [shape_text(shp), label]
            cells += [fmt(cases.median(workload, shp, label, g), d) for _, g, d in METRICS]
            cells.append(runs_cell(cases, workload, shp, label))
            rows.append(cells)
    out.append(table(["case", "backend"] + [m for m, _, _ in METRICS] + ["runs"], rows))
    routers = cases.routers()
    if routers:
        out.append("\nRouter as a ratio to Redis / to NATS (throughput: higher is better; "
                   "latency: lower is better):\n")
        rows = []
        for shp in shapes:
            for label in routers:
                if not cases.runs(workload, shp, label):
                    continue
                cells = [shape_text(shp), label]
                for _, getter, _ in METRICS:
                    mine = cases.median(workload, shp, label, getter)
                    redis = cases.median(workload, shp, "redis", getter)
                    nats = cases.median(workload, shp, "nats", getter)
                    cells.append(f"{ratio(mine, redis)} / {ratio(mine, nats)}")
                rows.append(cells)
        out.append(table(["case", "router"] + [m for m, _, _ in METRICS], rows))
    return "\n".join(out) + "\n"


def idle_section(cases):
    shapes = cases.shapes("idle")
    if not shapes:
        return ""
    per_conn = lambda run: run["idle"]["bytes_per_connection"]
    out = ["## Idle connections\n\nServer RSS growth (VmRSS from /proc) divided by the "
           "connections opened, measured 1 s after the last one was registered (router: "
           "ID received; Redis: SUBSCRIBE confirmed; NATS: SUB + PING/PONG). Each "
           "repetition starts fresh server processes and runs this first.\n"]
    rows = []
    for shp in shapes:
        for label in cases.labels:
            if not cases.runs("idle", shp, label):
                continue
            mine = cases.median("idle", shp, label, per_conn)
            cells = [shape_text(shp), label, fmt(mine),
                     fmt(cases.median("idle", shp, label, lambda r: r["idle"]["rss_after_bytes"] / 2**20), 1),
                     fmt(cases.median("idle", shp, label, lambda r: r["idle"]["open_s"]), 2)]
            if label.startswith("router"):
                cells.append(f"{ratio(mine, cases.median('idle', shp, 'redis', per_conn))} / "
                             f"{ratio(mine, cases.median('idle', shp, 'nats', per_conn))}")
            else:
                cells.append("")
            cells.append(runs_cell(cases, "idle", shp, label))
            rows.append(cells)
    out.append(table(["case", "backend", "bytes per connection", "server RSS after (MiB)",
                      "open time (s)", "router vs Redis / NATS", "runs"], rows))
    return "\n".join(out) + "\n"


def slow_section(cases):
    shapes = cases.shapes("slow")
    if not shapes:
        return ""
    out = ["## Slow consumer\n\n`slow` runs the same pairs as `pairs` plus one client "
           "that subscribes and never reads, flooded by one more sender with 16 KiB "
           "messages. *Retained* is the pairs' msg/s with the stalled client divided by "
           "msg/s without it (the `pairs` case of the same shape, run just before in "
           "the same repetition), the median of those per-repetition ratios; peak RSS is the "
           "server's highest VmRSS sampled every 50 ms during the slow run.\n"]
    rows = []
    tput = throughput("msgs_per_s")
    for shp in shapes:
        base_shape = tuple((k, v) for k, v in shp if k != "flood_size")
        for label in cases.labels:
            if not cases.runs("slow", shp, label):
                continue
            with_slow = cases.median("slow", shp, label, tput)
            without = cases.median("pairs", base_shape, label, tput)
            peak = cases.median("slow", shp, label, lambda r: r["server"]["rss_peak_bytes"] / 2**20)
            flood = cases.median("slow", shp, label, lambda r: r["flood_bytes"] / 1e6)
            retained = cases.paired_ratio(("slow", shp, label), ("pairs", base_shape, label),
                                          tput)
            cells = [shape_text(shp), label, fmt(without), fmt(with_slow),
                     fmt(None if retained is None else 100 * retained, 1),
                     fmt(peak, 1), fmt(flood, 1)]
            if label.startswith("router"):
                ref = lambda other, g: cases.median("slow", shp, other, g)
                peak_of = lambda r: r["server"]["rss_peak_bytes"]
                cells.append(f"{ratio(with_slow, ref('redis', tput))} / {ratio(with_slow, ref('nats', tput))}")
                mine_peak = cases.median("slow", shp, label, peak_of)
                cells.append(f"{ratio(mine_peak, ref('redis', peak_of))} / {ratio(mine_peak, ref('nats', peak_of))}")
            else:
                cells += ["", ""]
            cells.append(runs_cell(cases, "slow", shp, label))
            rows.append(cells)
    out.append(table(["case", "backend", "msg/s without", "msg/s with stalled client",
                      "retained %", "peak RSS (MiB)", "flood accepted (MB)",
                      "router msg/s vs Redis / NATS", "router peak RSS vs Redis / NATS",
                      "runs"], rows))
    return "\n".join(out) + "\n"


def fairness(side, key):
    return lambda run: run["fairness"][side]["latency_us"][key]


def p99_ratio(run):
    return run["fairness"]["p99_ratio"]


FAIRNESS_INTRO = (
    "`fairness` runs one ping-pong pair throughout, beside a pair streaming 64 KiB "
    "messages (at most W in flight) to a partner that reads them all. The measurement "
    "window alternates quiet and flood phases of 0.25 s (the flood sends only in flood "
    "phases; the first 0.05 s of each phase is not measured), so both sides see the same "
    "machine. *p99 flood ÷ quiet* is taken within each run, then the median over "
    "repetitions. `direct` is the control: the same clients and flood without a server.")


def fairness_section(cases, title="Fairness", notes=""):
    shapes = cases.shapes("fairness")
    if not shapes:
        return ""
    out = [f"## {title}\n\n{FAIRNESS_INTRO}{notes}\n"]
    rows = []
    for shp in shapes:
        for label in cases.labels:
            if not cases.runs("fairness", shp, label):
                continue
            median = lambda getter: cases.median("fairness", shp, label, getter)
            cells = [shape_text(shp), label]
            cells += [fmt(median(fairness(side, key)))
                      for side in ("quiet", "flood") for key in ("p50", "p99", "p999")]
            mine = median(p99_ratio)
            cells.append("—" if mine is None else f"{mine:.2f}×")
            cells.append(fmt(median(lambda r: r["fairness"]["flood_mb_per_s"]), 0))
            cells.append(runs_cell(cases, "fairness", shp, label))
            rows.append(cells)
    out.append(table(["case", "backend", "quiet p50 µs", "quiet p99 µs", "quiet p999 µs",
                      "flood p50 µs", "flood p99 µs", "flood p999 µs",
                      "p99 flood ÷ quiet", "flood MB/s", "runs"], rows))
    return "\n".join(out) + "\n"


COMPARE_FAIRNESS_NOTES = (
    " The load generator's own flood work shares the cores; it costs more with the Redis "
    "and NATS clients than on a raw socket, so their rows are context, not a like-for-like "
    "comparison.\n\nA faster server moves more of an uncapped flood (here the router moves "
    "about twice what Redis does), and on two cores the load generator's own flood work "
    "then takes the pair's CPU: `direct`, with no server at all, misses 2× too. The capped "
    "case (*flood ≤ R MiB/s*) gives every backend the same flood, so its rows compare "
    "servers at equal load; its *flood p99* is the figure to compare across backends.")


def fairness_targets(cases):
    """Issue 13's fairness target for every router row: the pair's p99 with the
    flood at most twice its p99 without, as [target, bound, value, verdict] rows."""
    rows = []
    for shp in find(cases, "fairness"):
        for label in cases.routers():
            value = cases.median("fairness", shp, label, p99_ratio)
            rows.append([f"fairness {shape_text(shp)}: {label} ping-pong p99 with flood "
                         "÷ without", "≤ 2×", "—" if value is None else f"{value:.2f}×",
                         verdict(value, 2, at_least=False)])
    return rows


def find(cases, workload, **want):
    """The shapes of `workload` whose parameters include `want`."""
    return [s for s in cases.shapes(workload)
            if all(dict(s).get(k) == v for k, v in want.items())]


def verdict(value, bound, at_least=True):
    if value is None:
        return "not measured"
    met = value >= bound if at_least else value <= bound
    return "met" if met else "**missed**"


# What a stalled client may cost the router, from README's memory bound with the
# default limits: per connection at most 2 × max_frame_bytes + outbound_high_water.
DEFAULT_BYTES_PER_CONNECTION = 3 * 2**20


def targets_section(cases):
    """Each target of the benchmark issue, checked against this run's medians."""
    mio = "router-mio"
    if mio not in cases.labels:
        return ""
    tput = throughput("msgs_per_s")
    rows = []

    def add(what, bound_text, bound, value, at_least=True, shown=None):
        text = shown if shown is not None else ("—" if value is None else f"{value:.2f}×")
        rows.append([what, bound_text, text, verdict(value, bound, at_least)])

    def pairs_ratio(shp, label, other, getter=tput):
        return cases.paired_ratio(("pairs", shp, label), ("pairs", shp, other), getter)

    for shp in find(cases, "pairs", size=64):
        if dict(shp)["pairs"] not in (16, 256):
            continue
        for other, bound in (("redis", 3), ("nats", 2), ("direct", 0.35)):
            add(f"pairs {shape_text(shp)}: mio msg/s ÷ {other}", f"≥ {bound}×", bound,
                pairs_ratio(shp, mio, other))
    for shp in find(cases, "pairs", size=1024):
        for other in ("redis", "nats"):
            add(f"pairs {shape_text(shp)}: mio msg/s ÷ {other}", "≥ 1.5×", 1.5,
                pairs_ratio(shp, mio, other))
    for shp in find(cases, "pairs"):
        add(f"pairs {shape_text(shp)}: mio msg per server CPU-s ÷ redis", "≥ 4×", 4,
            pairs_ratio(shp, mio, "redis", per_cpu))
    for shp in find(cases, "pingpong", pairs=64):
        add(f"pingpong {shape_text(shp)}: mio round trips/s ÷ nats", "≥ 2×", 2,
            cases.paired_ratio(("pingpong", shp, mio), ("pingpong", shp, "nats"), tput))
        add(f"pingpong {shape_text(shp)}: mio p99 ÷ redis p99", "≤ 0.5×", 0.5,
            cases.paired_ratio(("pingpong", shp, mio), ("pingpong", shp, "redis"),
                               latency("p99")),
            at_least=False)
    per_conn = lambda run: run["idle"]["bytes_per_connection"]
    for shp in find(cases, "idle"):
        for label in cases.routers():
            bound = 1024 if label == mio else 2048
            value = cases.median("idle", shp, label, per_conn)
            add(f"idle {shape_text(shp)}: {label} bytes per connection", f"≤ {bound}", bound,
                value, at_least=False, shown=fmt(value))
    for shp in find(cases, "slow"):
        base = tuple((k, v) for k, v in shp if k != "flood_size")
        connections = 2 * dict(shp)["pairs"] + 2
        bound_mib = connections * DEFAULT_BYTES_PER_CONNECTION / 2**20
        for label in cases.routers():
            retained = cases.paired_ratio(("slow", shp, label), ("pairs", base, label), tput)
            add(f"slow {shape_text(shp)}: {label} other pairs' msg/s retained", "≥ 95%", 0.95,
                retained, shown=None if retained is None else f"{100 * retained:.1f}%")
            peak = cases.median("slow", shp, label,
                                lambda r: r["server"]["rss_peak_bytes"] / 2**20)
            add(f"slow {shape_text(shp)}: {label} peak RSS (MiB)",
                f"≤ {bound_mib:.0f}", bound_mib, peak, at_least=False, shown=fmt(peak, 1))
    rows += fairness_targets(cases)
    for label in cases.routers():
        if label == mio:
            continue
        for shp in find(cases, "pairs"):
            add(f"pairs {shape_text(shp)}: {label} msg/s ÷ mio", "≥ 0.8×", 0.8,
                pairs_ratio(shp, label, mio))
    out = ["## Targets\n\nThe benchmark issue's targets, checked against this run. "
           "Each ratio is the median over repetitions of the ratio within a repetition "
           "(runs of the two backends were neighbours in time), so it can differ "
           "slightly from the ratio of the medians above. The slow consumer's memory bound is the README's per-connection "
           "bound (2 × `max_frame_bytes` + `outbound_high_water`, 3 MiB with the "
           "defaults) times the connections of the run. Where the time goes in the "
           "targets this machine misses: [bench/README.md](bench/README.md#where-the-time-goes).\n"]
    out.append(table(["target", "bound", "this run", "verdict"], rows))
    return "\n".join(out) + "\n"


# Share of the machine's CPU time taken by other work above which the figures
# come with a warning.
BUSY = 0.10


def other_work(before, after):
    """Shares of the machine's CPU time, between two of compare.sh's cpu_samples
    (busy ticks, children's ticks, stolen ticks, ns), that went to processes other
    than the ones compare.sh waited for, and to other virtual machines."""
    (busy0, children0, steal0, ns0), (busy1, children1, steal1, ns1) = (
        [int(x) for x in sample.split()] for sample in (before, after))
    capacity = (ns1 - ns0) / 1e9 * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    other = max(0, (busy1 - busy0) - (children1 - children0)) / capacity
    return other, (steal1 - steal0) / capacity


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results")
    parser.add_argument("--command", required=True)
    parser.add_argument("--setting", required=True)
    parser.add_argument("--fact", action="append", default=[],
                        help="one more bullet for the header (server versions)")
    parser.add_argument("--cpu-before", help="compare.sh's cpu_sample at the start")
    parser.add_argument("--cpu-after", help="compare.sh's cpu_sample at the end")
    parser.add_argument("--fairness-only", metavar="TITLE",
                        help="print only a fairness section under this title, with its "
                        "targets (bench/fairness.sh)")
    args = parser.parse_args()
    cases = Cases(load(args.results))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.fairness_only:
        notes = (f"\n\n- command: `{args.command.strip()}`\n- date: {now}, "
                 f"{machine()}\n- settings: {args.setting}")
        print(fairness_section(cases, title=args.fairness_only, notes=notes))
        print(table(["target (issue 13)", "bound", "this run", "verdict"],
                    fairness_targets(cases)))
        return
    print("# Benchmarks: router vs Redis pub/sub vs NATS\n")
    print(f"- command: `{args.command.strip()}`")
    print(f"- machine: {machine()}; the load generator shares it with the server")
    print(f"- date: {now}")
    print(f"- settings: {args.setting}")
    for fact in args.fact:
        print(f"- {fact}")
    if args.cpu_before and args.cpu_after:
        other, stolen = other_work(args.cpu_before, args.cpu_after)
        print(f"- other work during the run: {100 * other:.1f}% of the machine's CPU time "
              "(busy time not spent in the servers or the load generator); stolen by the "
              f"hypervisor: {100 * stolen:.1f}%")
        if other > BUSY or stolen > BUSY:
            print(f"\n**Warning: other work took {100 * max(other, stolen):.0f}% of the "
                  "machine's CPU time during the run, competing with both the servers and "
                  "the load generator. Absolute figures are low and noisy; rerun on a "
                  "quiet machine before drawing conclusions.**")
    print("\nAll traffic is on 127.0.0.1. `direct` has no server: sender and receiver "
          "share one loopback TCP connection, the kernel's cost of one hop. Medians over "
          "repetitions of fault-free runs; a FLAGGED run counted verification faults "
          "(lost, reordered, corrupt or misrouted messages) and is left out of the "
          "medians. Latency comes from a send timestamp carried in every payload. Redis "
          "and NATS are driven through their maintained Rust clients (`redis`, "
          "`async-nats`), whose own work runs in the load generator on the same cores, "
          "so msg/s compares whole client + server systems; *msg per server CPU-s* "
          "isolates each server's efficiency.\n")
    print(message_section(cases, "pairs", "Pairs (streaming)",
                          "P sender → receiver pairs, each with at most W = 128 messages "
                          "in flight; S = payload bytes. msg/s and MB/s are delivered "
                          "payloads over the measurement window."))
    print(message_section(cases, "pingpong", "Ping-pong (round trips)",
                          "P pairs, one message in flight per pair; msg/s counts round "
                          "trips and latency is the round-trip time."))
    print(message_section(cases, "fanin", "Fan-in", "N senders to one receiver."))
    print(idle_section(cases))
    print(slow_section(cases))
    print(fairness_section(cases, notes=COMPARE_FAIRNESS_NOTES))
    print(targets_section(cases))


if __name__ == "__main__":
    main()
