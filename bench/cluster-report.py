#!/usr/bin/env python3
"""bench/run-cluster.sh's report: python3 bench/cluster-report.py ROWS.jsonl [CORES]

ROWS has one JSON row per node and configuration ("ingest": the publisher
alone on one node; "n1", "n2", ...: that many nodes, the viewers spread
evenly, the publisher on node 1; "relay": node 1 with no viewer of its own
and one edge link to node 2, which has every viewer). Prints Markdown: the
table, the relay's cost per packet, the ratios and a 10-node projection at
CORES cores a node (bench/README.md, "Cluster")."""
import json
import sys


def rate(r, key):
    return r[key] / r["window_s"]


def us_per(cpu_rate, pps):
    return cpu_rate * 1e6 / pps if pps > 0 else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    cores = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    by = {}
    for r in rows:
        by.setdefault(r["config"], []).append(r)
    out = []
    p = out.append
    p("All nodes, redis-server, PostgreSQL and the viewer emulators ran on this one machine:")
    p("the figures are CPU costs per packet, not the capacity of separate machines.")
    p("")
    p("| config | node | viewers | fwd pkt/s | relay out/s | relay in/s | CPU (cores) |"
      " idle CPU | us CPU/fwd pkt |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for cfg, rs in by.items():
        for r in rs:
            cpu = rate(r, "cpu_s")
            p("| %s | %d%s | %d | %.0f | %.0f | %.0f | %.3f | %.3f | %.2f |" % (
                cfg, r["node"], " (origin)" if r["node"] == 1 else " (edge)", r["viewers"],
                rate(r, "rtp_out"), rate(r, "relay_out"), rate(r, "relay_in"), cpu,
                r["idle_cpu"], us_per(cpu, rate(r, "rtp_out"))))
        if len(rs) > 1:
            cpu = sum(rate(r, "cpu_s") for r in rs)
            fwd = sum(rate(r, "rtp_out") for r in rs)
            p("| %s | all | %d | %.0f | | | %.3f | | %.2f |" % (
                cfg, sum(r["viewers"] for r in rs), fwd, cpu, us_per(cpu, fwd)))
    p("")
    ing = by.get("ingest", [None])[0]
    n1 = by.get("n1", [None])[0]
    if not ing or not n1:
        print("\n".join(out + ["(no ingest or n1 rows: no ratios)"]))
        return
    pps = rate(ing, "rtp_in")
    ing_cpu = rate(ing, "cpu_s")
    # The node's own idle CPU (read before the publisher came) is not the ingest's.
    c_ing = us_per(ing_cpu - ing["idle_cpu"], pps)
    c_fwd = us_per(rate(n1, "cpu_s"), rate(n1, "rtp_out"))
    per_viewer = ratio(rate(n1, "rtp_out"), n1["viewers"])
    p("The publisher's stream: %.0f packets/s in; %.1f packets/s to each viewer." % (pps, per_viewer))
    p("Ingest alone (the publisher, no viewer, no link): %.3f cores, of which %.3f the node's"
      " idle CPU; %.2f us a received packet above idle." % (ing_cpu, ing["idle_cpu"], c_ing))
    p("CPU per forwarded packet (the table) is all of a node's CPU, idle and ingest included.")
    p("")
    p("**Ratios** (CPU per forwarded packet, all nodes together, against one node):")
    for cfg, rs in by.items():
        if cfg.startswith("n") and cfg != "n1":
            cpu = sum(rate(r, "cpu_s") for r in rs)
            fwd = sum(rate(r, "rtp_out") for r in rs)
            origin = us_per(rate(rs[0], "cpu_s"), rate(rs[0], "rtp_out"))
            edges = [us_per(rate(r, "cpu_s"), rate(r, "rtp_out")) for r in rs[1:]]
            p("- %s: %.2f x one node's; each edge's CPU per forwarded packet / the origin's: %s;"
              " relay out %.0f/s on the origin = %.2f x its publisher's packets" % (
                  cfg, ratio(us_per(cpu, fwd), c_fwd),
                  ", ".join("%.2f" % ratio(e, origin) for e in edges),
                  rate(rs[0], "relay_out"), ratio(rate(rs[0], "relay_out"), rate(rs[0], "rtp_in"))))
    c_relay = c_in = float("nan")
    relay = by.get("relay")
    if relay and len(relay) == 2:
        o, e = relay
        # The origin with no viewer: its ingest plus the link. What it spent
        # over the ingest run, per packet it relayed.
        c_relay = us_per(rate(o, "cpu_s") - ing_cpu, rate(o, "relay_out"))
        # The edge with every viewer, against one node with every viewer and
        # the publisher: the link's receive side in place of the ingest.
        c_in = c_ing + us_per(rate(e, "cpu_s") - rate(n1, "cpu_s"), rate(e, "relay_in"))
        p("")
        p("**The relay's own cost** (the relay run: the origin with no viewer and one edge link):")
        p("- sending: %.2f us CPU a relayed packet on the origin (its CPU over the ingest run's:"
          " %.3f against %.3f cores, %.0f packets/s relayed)" % (
              c_relay, rate(o, "cpu_s"), ing_cpu, rate(o, "relay_out")))
        p("- receiving: %.2f us CPU a packet on the edge (its CPU with %d viewers, %.3f cores,"
          " against one node's with the publisher and as many viewers, %.3f, plus the"
          " ingest's %.2f us)" % (c_in, e["viewers"], rate(e, "cpu_s"), rate(n1, "cpu_s"), c_ing))
        p("- per forwarded packet at %d viewers on the edge: %.3f us of relay receive against"
          " %.2f us of forwarding" % (e["viewers"], c_in / max(per_viewer * e["viewers"] / pps, 1e-9),
                                      c_fwd))
    p("")
    budget = cores * 1e6  # us of CPU a second
    per_viewer_us = c_fwd * per_viewer
    v_node = budget / per_viewer_us
    p("**A 10-node deployment** (from these figures, at %.1f core(s) a node for media, the cost"
      " per packet taken as constant):" % cores)
    p("- one node forwards %.0f packets/s: %.0f viewers of this stream (%.2f us a packet)" % (
        budget / c_fwd, v_node, c_fwd))
    if c_relay == c_relay and c_in == c_in:
        origin_relay = 9 * pps * c_relay / 1e6
        origin_v = (budget - pps * c_ing - 9 * pps * c_relay) / per_viewer_us
        edge_v = (budget - pps * max(c_in, 0)) / per_viewer_us
        p("- the origin relaying to 9 edges: %.4f cores (%.2f %% of its budget) for the links;"
          " it still serves %.0f viewers" % (origin_relay, 100 * origin_relay / cores, origin_v))
        p("- each edge: %.0f viewers (its link in costs %.4f cores)" % (edge_v, pps * max(c_in, 0) / 1e6))
        p("- in all: about %.0f viewers of one broadcast, against %.0f on one node" % (
            origin_v + 9 * edge_v, v_node))
    print("\n".join(out))


if __name__ == "__main__":
    main()
