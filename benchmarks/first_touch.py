"""How much this machine charges for memory a process touches for the first time.

Usage::

    python -m benchmarks.first_touch            # 4 GiB, three rounds
    python -m benchmarks.first_touch --gib 1 --rounds 2
    python -m benchmarks.first_touch --pages small   # as a build allocates

In a fresh process, allocates ``--gib`` GiB (numpy, uninitialised), writes one byte
per 4 KiB page (the first touch: the page faults in), then writes every byte (the
memory is now mapped: a plain memory write), and frees it; ``--rounds`` times. The
first round pays for memory the operating system (and, in a virtual machine, the
hypervisor) has to provide; later rounds mostly get back the pages the first round
freed. Building an index writes about 30 bytes per stay of memory it has not used
before (the read buffers and the index), so on a machine where the first round is
slow, a build in a fresh process is slow for the same reason, and a second build in
the same process is faster. ``--pages small`` allocates as a build does
(``tracegraph._memory.small_pages``: 4 KiB pages, no transparent huge pages) instead
of as numpy does (huge pages for arrays of 4 MiB or more, where the kernel allows
them). The README's Performance section quotes this.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from tracegraph import _memory

PAGE = 4096


def measure(gib: float, rounds: int, pages: str = "numpy") -> list[dict[str, float]]:
    """Seconds per GiB of first touch and of a full write, per round.

    ``pages``: "numpy" (``numpy.empty``) or "small" (``tracegraph._memory.small_pages``).
    """
    n = int(gib * (1 << 30))
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        if pages == "numpy":
            block = np.empty(n, dtype=np.uint8)
        else:
            block = _memory.small_pages(n, np.uint8)
        block[::PAGE] = 1
        t1 = time.perf_counter()
        block[:] = 2
        t2 = time.perf_counter()
        del block
        out.append({"first_touch_s_per_gib": (t1 - t0) / gib, "write_s_per_gib": (t2 - t1) / gib})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.first_touch", description=__doc__)
    p.add_argument("--gib", type=float, default=4.0, help="GiB to allocate (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="rounds in this process (default 3)")
    p.add_argument(
        "--pages",
        choices=["numpy", "small"],
        default="numpy",
        help="allocate as numpy does (default) or as a build does (4 KiB pages)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    if args.gib <= 0 or args.rounds < 1:
        p.error("--gib must be > 0 and --rounds >= 1")
    rows = measure(args.gib, args.rounds, args.pages)
    if args.json:
        json.dump({"gib": args.gib, "pages": args.pages, "rounds": rows}, sys.stdout)
        print()
        return 0
    print(f"{args.gib:g} GiB, fresh process, {args.pages} pages; seconds per GiB")
    print("round  first touch  full write")
    for i, r in enumerate(rows, 1):
        print(f"{i:>5}  {r['first_touch_s_per_gib']:>11.2f}  {r['write_s_per_gib']:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
