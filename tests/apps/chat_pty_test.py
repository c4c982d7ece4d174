#!/usr/bin/env python3
"""`tessera chat` through a pseudo-terminal, as a person uses it: two turns (the second written
over two lines with a trailing backslash), Ctrl-C in the middle of a long reply (the reply stops,
the chat goes on), /set temperature, /stats, /clear and /bye.

Usage: chat_pty_test.py TESSERA_BINARY MODEL, a model slow enough that a reply of the context's
length lasts more than 0.3 s (tests/apps/CMakeLists.txt synthesizes one). Prints PASS, or FAIL with
the transcript and exits 1."""
import os
import pty
import re
import select
import sys
import time

binary, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "chat", "-m", model, "--temp", "0", "-n", "24", "-t", "1", "-c", "1024"])

transcript = b""


def read_until(pattern, timeout=60.0):
    """Reads until the transcript's new part matches `pattern`; returns that part."""
    global transcript
    start = len(transcript)
    deadline = time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            transcript += data
            if re.search(pattern, transcript[start:]):
                return transcript[start:].decode("utf-8", "replace")
    fail("timed out waiting for %r" % pattern)


def send(text):
    os.write(fd, text.encode())


def fail(why):
    sys.stdout.write("FAIL: %s\n--- transcript ---\n%s\n" % (why, transcript.decode("utf-8", "replace")))
    sys.exit(1)


read_until(rb">>> ")
send("Hello there\r")
first = read_until(rb"\n>>> ")
if not re.search(r"[A-Za-z]{2,}", first.split("Hello there", 1)[-1]):
    fail("no reply to the first turn")
send("Tell me \\\r")
read_until(rb"\.\.\. ")
send("a story\r")
read_until(rb"\n>>> ")  # the tiny story model may answer a chat turn with blank lines only
send("/stats\r")
stats = read_until(rb"\n>>> ")
if "conversation: 4 messages" not in stats or not re.search(r"[1-9]\d* output tokens", stats):
    fail("/stats does not count two turns")
send("/set temperature 0.7\r")
if "Set temperature to 0.7" not in read_until(rb"\n>>> "):
    fail("/set temperature")
send("/set max_tokens 100000\r")
read_until(rb"\n>>> ")
send("Once upon a time\r")
time.sleep(0.3)  # the reply is streaming now
send("\x03")
stopped = read_until(rb"\n>>> ")
if "[stopped]" not in stopped:
    fail("Ctrl-C did not stop the reply")
send("/clear\r")
if "Cleared" not in read_until(rb"\n>>> "):
    fail("/clear")
send("/stats\r")
if "conversation: 0 messages" not in read_until(rb"\n>>> "):
    fail("/clear left messages")
send("/bye\r")
_, status = os.waitpid(pid, 0)
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    fail("exit status %r after /bye" % status)
print("PASS")
