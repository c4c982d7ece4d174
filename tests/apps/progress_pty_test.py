#!/usr/bin/env python3
"""Progress lines on a terminal, and none elsewhere: `tessera bench-throughput -o json` and
`tessera perplexity -o json` with stderr on a pseudo-terminal draw their bars (loading the
weights too) ("\\r...[###...]"),
end with the line erased, and leave stdout one clean JSON document; with --quiet, or with stderr
a pipe, stderr carries no progress at all.

Usage: progress_pty_test.py TESSERA_BINARY MODEL TMP_DIR. TESSERA_PROGRESS_DELAY_MS=0 makes the
bars draw at their first update, so any model will do (CMakeLists.txt gives the tiny story model).
Prints PASS, or FAIL with what was seen and exits 1."""
import json
import os
import pty
import select
import subprocess
import sys

binary, model, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
os.environ["TESSERA_PROGRESS_DELAY_MS"] = "0"  # draw at the first update, however fast the machine


def check(ok, what, seen=b""):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
        print("  stderr seen:", seen[:600])


def run(args, stderr_tty):
    """Runs tessera with `args`; stdout is always a pipe. Returns (stdout, stderr) bytes."""
    if not stderr_tty:
        done = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        return done.stdout, done.stderr
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    err = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            err += data
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    proc.wait(timeout=300)
    os.close(controller)
    return out, err


def is_json(out):
    try:
        json.loads(out)
        return out.count(b"\n") == 1
    except ValueError:
        return False


text = os.path.join(tmp, "progress_text.txt")
with open(text, "w") as f:
    f.write(" ".join("the quick brown fox jumps over the lazy dog number %d." % i for i in range(400)))

bench = ["bench-throughput", "-m", model, "--num-prompts", "4", "--input-len", "16", "--output-len", "16", "-t", "1",
         "-o", "json"]
ppl = ["perplexity", "-m", model, "-f", text, "-c", "64", "--chunks", "3", "-t", "1", "-o", "json"]

for name, args, label in (("bench-throughput", bench, b"bench-throughput ["), ("perplexity", ppl, b"perplexity [")):
    out, err = run(args, stderr_tty=True)
    check(is_json(out), name + ": stdout is one JSON document with a terminal on stderr", out)
    check(label in err and b"\r" in err, name + ": a bar is drawn on the terminal", err)
    check(b"loading weights [" in err, name + ": loading the weights draws a bar", err)
    check(err.endswith(b"\r\x1b[K"), name + ": the last bar is erased", err[-80:])
    out, err = run(args + ["--quiet"], stderr_tty=True)
    check(is_json(out) and b"\r" not in err and b"[" not in err, name + ": --quiet draws nothing", err)
    out, err = run(args, stderr_tty=False)
    check(is_json(out) and err == b"", name + ": stderr a pipe: nothing on it", err)

if failures:
    print("FAIL: " + "; ".join(failures))
    sys.exit(1)
print("PASS")
