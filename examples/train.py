"""A small stand-in for a training job, bundled so `npm run example` has something real to record.

It loads a "model" (a step up), then runs epochs whose batches allocate and free memory (a
sawtooth), keeps a bit of every batch in a module-level list (a slow leak, the kind that gets
containers OOM-killed hours in), and runs a data-loading worker in a child process. It writes
section and point markers to memhunt's channel when it runs under memhunt, and runs unchanged
without it. Standard library only; about 6 seconds.
"""
import os
import subprocess
import sys
import time

MiB = 1024 * 1024
_history = []  # the leak: a little of every batch is kept "for later analysis"


def marker(line):
    """Write one marker line to memhunt's channel, if there is one; never block or fail."""
    path = os.environ.get("MEMHUNT_MARKERS")
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"{os.getpid()} {line}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def touch(n_bytes):
    return bytearray(b"\x01" * n_bytes)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    marker("begin load-model")
    model = touch(60 * MiB)
    time.sleep(0.5)
    marker("end load-model")

    # A data-loading worker: a child process holding its own buffer for a while.
    worker = subprocess.Popen([sys.executable, "-c",
                               "import time; b = bytearray(b'\\x02' * (40 * 2**20)); time.sleep(3)"])
    for epoch in range(1, epochs + 1):
        marker(f"begin epoch {epoch}")
        for _ in range(8):
            # 40 MiB: above glibc's largest dynamic mmap threshold (32 MiB), so each batch is its own
            # mapping and its memory returns to the OS when freed: a visible sawtooth.
            batch = touch(40 * MiB)
            _history.append(bytes(batch[: 2 * MiB]))
            time.sleep(0.08)
            del batch
            time.sleep(0.07)
        marker(f"end epoch {epoch}")
        marker(f"mark checkpoint {epoch}")
    worker.wait()
    print(f"trained {epochs} epochs; model {len(model) // MiB} MiB; kept {len(_history)} batch samples")


if __name__ == "__main__":
    main()
