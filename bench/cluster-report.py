#!/usr/bin/env python3
"""bench/run-cluster.sh's report: python3 bench/cluster-report.py ROWS.jsonl [CORES]

ROWS has one JSON row per node and configuration ("ingest": the publisher
alone on one node; "n1", "n2", ...: that many nodes, the viewers spread
evenly, the publisher on node 1; "relay": node 1 with no viewer of its own
and one edge link to node 2, which has every viewer), and the copies
part's rows ("kind":"copies": the origin's windows with no copy, with
viewer copies and with relay links, see copies_report). Prints Markdown:
the table, the relay's cost per packet, the ratios and a 10-node
projection at CORES cores a node (bench/README.md, "Cluster")."""
import json
import statistics
import sys


def rate(r, key):
    return r[key] / r["window_s"]


def us_per(cpu_rate, pps):
    return cpu_rate * 1e6 / pps if pps > 0 else float("nan")


def ratio(a, b):
    return a / b if b else float("nan")


def window_ok(r):
    """A copies window counts when the links were what its phase needs at
    both ends of it and its copies were sent."""
    links = r["edges"] if r["phase"] == "links" else 0
    if r["links0"] != links or r["links1"] != links or r["rtp_in"] <= 0:
        return False
    if r["phase"] == "viewers":
        return r["rtp_out"] > 0
    return r["phase"] == "off" or r["relay_out"] > 0


def copy_cost(offs, on, cpu_key):
    """us of the origin's CPU per copy in window on over the mean of the
    windows offs (the "off" windows around it): the CPU it spent a second
    more, over the copies it sent a second (relay: the packets it received
    x the links; viewers: the packets it forwarded)."""
    base = sum(rate(o, cpu_key) for o in offs) / len(offs)
    extra = rate(on, cpu_key) - base
    if on["phase"] == "links":
        return us_per(extra, rate(on, "rtp_in") * on["edges"])
    return us_per(extra, rate(on, "rtp_out"))


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def listed(xs):
    return ", ".join("%.2f" % x for x in xs)


def copies_report(rows, p):
    """The copies part: in each cycle, the origin's CPU with EDGES links and
    with COPY_VIEWERS viewers, each over the mean of the "off" windows
    before and after the cycle; the medians over the cycles and their
    ratio; and the edges' CPU per packet taken in on their links, over the
    same off windows. Returns the medians (us a relay copy on the origin, us
    a packet taken in on an edge; nan without them)."""
    cycles = {}
    for r in rows:
        cycles.setdefault(r["cycle"], {})[r["phase"]] = r
    k = rows[0]["edges"]
    v = max(r["viewers"] for r in rows)
    p("")
    edge = ("a WebSocket joined to the room on each edge, no media" if rows[0].get("edge_join") == "ws"
            else "one emulated WebRTC viewer on each edge")
    p("**Relay copies against viewer copies** (one origin with the publisher and %d edge"
      " nodes; in each cycle three windows of the origin: off (the edges up, no link, no"
      " viewer), %d emulated viewers on the origin, %d links (%s; no viewer on the"
      " origin); a last off window after the last cycle):" % (k, v, k, edge))
    r0 = rows[0]
    p("")
    p("%s; the origin on CPUs %s, everything else on CPUs %s." % (
        "The edges, and the sockets of the origin's viewers, behind a veth: their receive path in"
        " its NAPI thread, not in the origin's sends" if r0.get("net") == "veth" else
        "All over loopback: the receivers' kernel path runs in the origin's sends",
        r0.get("origin_cpus") or "any", r0.get("emu_cpus") or "any"))
    p("")
    p("| cycle | window | links | viewers | pkt in/s | relay out/s | fwd pkt/s | CPU (cores) |"
      " CPU, utime+stime | us a copy | us a copy, utime+stime |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    costs = {"links": [], "viewers": []}
    link_in = []
    for c in sorted(cycles):
        ws = cycles[c]
        offs = [o for o in (ws.get("off"), cycles.get(c + 1, {}).get("off"))
                if o is not None and window_ok(o)]
        per = {}
        for phase in ("off", "viewers", "links"):
            r = ws.get(phase)
            if r is None:
                continue
            ok = window_ok(r)
            cost = (float("nan"),) * 2
            if phase != "off" and ok and offs:
                cost = (copy_cost(offs, r, "cpu_s"), copy_cost(offs, r, "cpu_stat_s"))
                per[phase] = cost
            p("| %d | %s%s | %d | %d | %.0f | %.0f | %.0f | %.4f | %.4f | %s | %s |" % (
                c, phase, "" if ok else " (left out: links %d..%d)" % (r["links0"], r["links1"]),
                r["links1"], r["viewers"], rate(r, "rtp_in"), rate(r, "relay_out"),
                rate(r, "rtp_out"), rate(r, "cpu_s"), rate(r, "cpu_stat_s"),
                *(("",) * 2 if phase == "off" else tuple("%.2f" % x for x in cost))))
        if "links" in per and "viewers" in per:
            for phase in per:
                costs[phase].append(per[phase])
            on = ws["links"]
            if all("edges_cpu_s" in r for r in offs + [on]) and on["edges_relay_in"] > 0:
                base = sum(rate(o, "edges_cpu_s") for o in offs) / len(offs)
                link_in.append(us_per(rate(on, "edges_cpu_s") - base, rate(on, "edges_relay_in")))
    relay = [x[0] for x in costs["links"]]
    viewer = [x[0] for x in costs["viewers"]]
    ratios = [ratio(a, b) for a, b in zip(relay, viewer)]
    c_relay, c_view = median(relay), median(viewer)

    def other(phase, i):
        return median([x[i] for x in costs[phase]])

    p("")
    p("- **a relay copy: %.2f us** of the origin's CPU per packet per link (median of %d cycles:"
      " %s; from utime + stime: %.2f)" % (c_relay, len(relay), listed(relay), other("links", 1)))
    p("- **a viewer copy: %.2f us** per packet per viewer (%s; from utime + stime: %.2f)" % (
        c_view, listed(viewer), other("viewers", 1)))
    p("- **relay copy / viewer copy: %.2f** (median of the cycles' ratios: %s; of the medians:"
      " %.2f)" % (median(ratios), listed(ratios), ratio(c_relay, c_view)))
    lo = [r for r in rows if r["phase"] == "links" and window_ok(r)]
    if lo:
        sent = sum(r["relay_out"] for r in lo)
        p("- relay packets sent / (packets received x links): %.3f; resent for the edges'"
          " NACKs: %d of %d" % (ratio(sent, sum(r["rtp_in"] * r["edges"] for r in lo)),
                                sum(r["relay_nack_resent"] for r in lo), sent))
    c_in = median(link_in)
    if link_in:
        p("- an edge taking its link in (no viewer of its own): %.2f us of its CPU per packet"
          " (the %d edges' CPU with the link over without, per packet they took in; %s)" % (
              c_in, k, listed(link_in)))
    return c_relay, c_in


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    cores = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    copies = [r for r in rows if r.get("kind") == "copies"]
    rows = [r for r in rows if r.get("kind") != "copies"]
    by = {}
    for r in rows:
        by.setdefault(r["config"], []).append(r)
    out, cout = [], []
    p = out.append
    c_copy, c_link_in = (copies_report(copies, cout.append) if copies
                         else (float("nan"), float("nan")))
    if not rows:
        print("\n".join(cout[1:]))
        return
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
        print("\n".join(out + ["(no ingest or n1 rows: no ratios)"] + cout))
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
          " %.3f against %.3f cores, %.0f packets/s relayed%s)" % (
              c_relay, rate(o, "cpu_s"), ing_cpu, rate(o, "relay_out"),
              "; two runs' small CPU figures, noise: the copies part below measures it"
              if c_copy == c_copy else ""))
        noisy_in = "; as noisy: the copies part below measures it" if c_link_in == c_link_in else ""
        p("- receiving: %.2f us CPU a packet on the edge (its CPU with %d viewers, %.3f cores,"
          " against one node's with the publisher and as many viewers, %.3f, plus the"
          " ingest's %.2f us%s)" % (c_in, e["viewers"], rate(e, "cpu_s"), rate(n1, "cpu_s"), c_ing,
                                  noisy_in))
        p("- per forwarded packet at %d viewers on the edge: %.3f us of relay receive against"
          " %.2f us of forwarding" % (e["viewers"], c_in / max(per_viewer * e["viewers"] / pps, 1e-9),
                                      c_fwd))
    out.extend(cout)
    if c_copy == c_copy:
        c_relay = c_copy
    if c_link_in == c_link_in:
        c_in = c_link_in
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
        p("- the origin relaying to 9 edges: %.4f cores (%.2f %% of its budget; %.2f us a relay"
          " copy, %s) for the links; it still serves %.0f viewers" % (
              origin_relay, 100 * origin_relay / cores, c_relay,
              "the copies part's" if c_copy == c_copy else "the relay run's", origin_v))
        p("- each edge: %.0f viewers (its link in costs %.4f cores, %.2f us a packet, %s)" % (
            edge_v, pps * max(c_in, 0) / 1e6, c_in,
            "the copies part's" if c_link_in == c_link_in else "the relay run's"))
        p("- in all: about %.0f viewers of one broadcast, against %.0f on one node" % (
            origin_v + 9 * edge_v, v_node))
    print("\n".join(out))


if __name__ == "__main__":
    main()
