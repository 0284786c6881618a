#!/usr/bin/env python3
"""Writes the bandwidth estimator's feedback traces (tests/unit/bwe/*.trace).

A link emulator, open loop: a sender of video-like traffic (30 frames a
second, each frame's size the scheduled rate's share +-30%, cut into packets
of at most 1200 bytes and paced at 2.5x the rate, as libwebrtc's pacer
sends), a bottleneck (a FIFO served at the scheduled capacity, drop-tail
when its bytes would pass the buffer), propagation delay, jitter that keeps
the order, optional reordering (a packet held back 5-30 ms), a
Gilbert-Elliott bursty loss after the queue, and outages (every packet
lost). A receiver whose clock is offset from the sender's (and drifts)
sends transport-wide feedback every 50-100 ms, as Chrome does: every
sequence number from the one after its last report up to the highest
received, the ones not received by then reported lost, cut into messages
of at most max_fb packets. The feedback reaches the sender one propagation
delay later.

Trace format, one feedback after another:
    fb <now_us>                      the feedback came at now_us (sender's clock)
    <send_us> <arrival_us>|lost <size>  one packet, in sequence order
Sequence numbers are implicit: 0 for the first packet line, then +1 for each
(mod 2^16). arrival_us is the receiver's clock. Lines starting with '#' are
comments (the trace's parameters).

Deterministic: each trace has its own seed. Run from anywhere:
    python3 tests/unit/bwe/make_traces.py    # rewrites the .trace files
"""
import math
import os
import random

MTU = 1200
FPS = 30
PACING = 2.5


def at(schedule, t_us):
    """The value of a [(from_us, value), ...] schedule at t_us."""
    v = schedule[0][1]
    for start, value in schedule:
        if t_us >= start:
            v = value
    return v


def send_times(rates, duration_us, rng):
    """(send_us, size) of every packet the sender sends."""
    out = []
    free = 0.0
    frame_us = 1e6 / FPS
    for k in range(int(duration_us / frame_us)):
        t = k * frame_us
        rate = at(rates, t)
        frame = max(100, int(rate / 8 / FPS * rng.uniform(0.7, 1.3)))
        n = math.ceil(frame / MTU)
        size = math.ceil(frame / n)
        gap = size * 8 / (rate * PACING) * 1e6
        s = max(t, free)
        for _ in range(n):
            out.append((int(s), size))
            s += gap
        free = s
    return out


class GilbertElliott:
    """Two-state loss: in the bad state every packet is lost."""

    def __init__(self, mean_loss, mean_burst, rng):
        self.rng = rng
        self.p_bg = 1.0 / mean_burst if mean_burst else 1.0
        self.p_gb = self.p_bg * mean_loss / (1 - mean_loss) if mean_loss else 0.0
        self.bad = False

    def lost(self):
        if self.bad:
            self.bad = self.rng.random() >= self.p_bg
        else:
            self.bad = self.rng.random() < self.p_gb
        return self.bad


def through_link(pkts, cfg, rng):
    """The true arrival time (sender's clock, us) of each packet, or None."""
    ge = GilbertElliott(cfg.get('loss', 0), cfg.get('burst', 1), rng)
    queue = []  # (departure_us, size) of packets in the bottleneck
    free = 0.0
    last_arr = 0.0
    out = []
    for send, size in pkts:
        queue = [q for q in queue if q[0] > send]
        if sum(q[1] for q in queue) + size > cfg['buffer']:
            out.append(None)
            continue
        dep = max(send, free) + size * 8 / at(cfg['capacity'], max(send, free)) * 1e6
        free = dep
        queue.append((dep, size))
        if ge.lost() or any(a <= send < b for a, b in cfg.get('outages', [])):
            out.append(None)
            continue
        arr = dep + cfg['prop'] + rng.uniform(0, cfg.get('jitter', 0))
        if rng.random() < cfg.get('reorder', 0):
            out.append(arr + rng.uniform(5000, 30000))
            continue
        arr = max(arr, last_arr)
        last_arr = arr
        out.append(arr)
    return out


def feedback(pkts, arrivals, cfg, rng):
    """[(now_us, [(send_us, arrival_rx_us or None, size), ...]), ...]."""
    fbs = []
    nxt = 0
    t = 0.0
    offset, drift = cfg.get('offset', 0), cfg.get('drift_ppm', 0) * 1e-6
    max_fb = cfg.get('max_fb', 100)
    while nxt < len(pkts):
        t += rng.uniform(50000, 100000)
        high = -1
        i = nxt
        while i < len(pkts) and pkts[i][0] <= t:
            if arrivals[i] is not None and arrivals[i] <= t:
                high = i
            i += 1
        if t > pkts[-1][0] + 1e6:
            break
        if high < nxt:
            continue
        entries = []
        for j in range(nxt, high + 1):
            a = arrivals[j]
            rx = None if a is None or a > t else int(a + offset + a * drift)
            entries.append((pkts[j][0], rx, pkts[j][1]))
        for k in range(0, len(entries), max_fb):
            fbs.append((int(t + cfg['prop']), entries[k:k + max_fb]))
        nxt = high + 1
    return fbs


def write(path, cfg):
    rng = random.Random(cfg['seed'])
    pkts = send_times(cfg['rates'], cfg['duration'], rng)
    arrivals = through_link(pkts, cfg, rng)
    with open(path, 'w') as f:
        f.write('# %s, written by make_traces.py\n' % os.path.basename(path))
        for key in sorted(cfg):
            f.write('# %s: %s\n' % (key, cfg[key]))
        for now, entries in feedback(pkts, arrivals, cfg, rng):
            f.write('fb %d\n' % now)
            for send, rx, size in entries:
                f.write('%d %s %d\n' % (send, 'lost' if rx is None else rx, size))


# Rates in bits per second, times and delays in microseconds, buffer in bytes.
TRACES = {
    # A 2.5 Mbit/s link, 1.2 Mbit/s sent: no congestion, jitter, a receiver
    # clock 20 ppm fast.
    'steady': dict(seed=1, duration=20e6, rates=[(0, 1.2e6)], capacity=[(0, 2.5e6)],
                   buffer=60000, prop=25000, jitter=2000, offset=5_000_000_000, drift_ppm=20),
    # The link falls from 2.5 Mbit/s to 300 kbit/s at 10 s; the sender keeps
    # 1.5 Mbit/s.
    'step_down': dict(seed=2, duration=16e6, rates=[(0, 1.5e6)],
                      capacity=[(0, 2.5e6), (10e6, 300e3)], buffer=40000, prop=25000,
                      jitter=1000, offset=-3_000_000_000),
    # The link rises from 300 kbit/s to 2.5 Mbit/s at 10 s; the sender sends
    # 450 kbit/s, 1.5x what the link carried.
    'step_up': dict(seed=3, duration=25e6, rates=[(0, 450e3)],
                    capacity=[(0, 300e3), (10e6, 2.5e6)], buffer=40000, prop=25000,
                    jitter=1000, offset=123_456_789),
    # A 3 Mbit/s link that never queues for long (2 Mbit/s sent), 5% of
    # packets lost in bursts of 4 on average.
    'bursty_loss': dict(seed=4, duration=20e6, rates=[(0, 2e6)], capacity=[(0, 3e6)],
                        buffer=200000, prop=30000, jitter=2000, loss=0.05, burst=4,
                        offset=42_000_000),
    # 1 Mbit/s on a 2.5 Mbit/s link, 3% of packets held back 5-30 ms (so
    # arriving out of order), and an outage from 8 s to 9.5 s: no feedback
    # during it, then messages (at most 32 packets each) that report only
    # lost packets.
    'reorder_outage': dict(seed=5, duration=16e6, rates=[(0, 1e6)], capacity=[(0, 2.5e6)],
                           buffer=60000, prop=25000, jitter=1000, reorder=0.03,
                           outages=[(8e6, 9.5e6)], max_fb=32, offset=7_000_000_000),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, cfg in TRACES.items():
        write(os.path.join(here, name + '.trace'), cfg)


if __name__ == '__main__':
    main()
