"""Benchmark workload: a 5-process tree that holds memory and sleeps (CPU ~0).

    python3 tree.py [SECONDS] [MIB,MIB,MIB,MIB]

The parent starts 4 children (this same script with "child"); each child allocates and touches
its share of memory (default 20, 30, 40, 50 MiB), then sleeps until SECONDS after the parent
started; the parent holds ~10 MiB, waits for the children and exits 0. Standard library only.
"""
import subprocess
import sys
import time


def hold(mib):
    # bytes * n writes every byte (memset), so the pages are resident, unlike bytearray(n)/calloc.
    return b"\x01" * (mib * 1024 * 1024)


def main(argv):
    if len(argv) > 1 and argv[1] == "child":
        mib, until = int(argv[2]), float(argv[3])
        buf = hold(mib)
        time.sleep(max(0.0, until - time.time()))
        return 0 if buf else 1
    seconds = float(argv[1]) if len(argv) > 1 else 10.0
    mibs = [int(x) for x in argv[2].split(",")] if len(argv) > 2 else [20, 30, 40, 50]
    until = time.time() + seconds
    own = hold(10)
    children = [subprocess.Popen([sys.executable, __file__, "child", str(m), repr(until)]) for m in mibs]
    codes = [c.wait() for c in children]
    return 0 if own and not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
