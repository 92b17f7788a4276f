#!/usr/bin/env python3
"""Wake-up latency of a thread that sleeps 1 ms at a time, and how much of it
the kernel counts as waiting on its run queue (schedstat's run_delay): long
waits counted there happen in this kernel's scheduler, not below it.

    scripts/wake_latency.py [WAKEUPS]   (8000 by default, about 9 s)

Run it alone, then beside a load (two `chrt -i 0` busy loops, say), to see
what the load does to a woken thread (BENCHMARKS.md, eleventh session)."""
import sys
import threading
import time

WAKEUPS = int(sys.argv[1]) if len(sys.argv) > 1 else 8000


def run_delay_ns():
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as stats:
        return int(stats.read().split()[1])


late, queued = [], []
for _ in range(WAKEUPS):
    queued_before, start = run_delay_ns(), time.perf_counter_ns()
    time.sleep(0.001)
    end, queued_after = time.perf_counter_ns(), run_delay_ns()
    late.append((end - start) / 1e6 - 1.0)
    queued.append((queued_after - queued_before) / 1e6)


def quantile(values, q):
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


long_ones = [(l, q) for l, q in zip(late, queued) if l > 1]
print(
    f"late ms p50 {quantile(late, .5):.3f} p99 {quantile(late, .99):.3f} max {max(late):.3f}; "
    f"over 1 ms late: {len(long_ones)} of {WAKEUPS}, "
    f"{sum(1 for _, q in long_ones if q > 1)} of them queued over 1 ms"
)
