"""The last step of `make test-image` (scripts/test-image.sh), not part of the pytest suite: the
image's four executables, started in its Debian 12 root file system as the image's user through
the wrappers in --bin, against a broker and Redis on the host. Each must reach /readyz, one
message must go from an edge through relay-svc to the other edge, and a crash signal must print
a backtrace (SWIFT_BACKTRACE and swift-backtrace-static as the image sets them).
"""

import argparse
import asyncio
import os
import pathlib
import signal
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "e2e")]
from client import ChatClient  # noqa: E402
from parley_stack import Stack, http_ok, wait_until  # noqa: E402

EXECUTABLES = ["ws-edge-1", "ws-edge-2", "relay-svc", "presence-svc", "offline-svc"]


class ImageStack(Stack):
    """The e2e stack, but ws-edge serves the image's own /app/web (its default web root)."""

    def _command(self, name):
        command = super()._command(name)
        if name.startswith("ws-edge-"):
            at = command.index("--web-root")
            del command[at:at + 2]
        return command


def uid_of(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


async def one_message(stack):
    alice = await ChatClient.connect(stack, 1, "image-alice")
    bob = await ChatClient.connect(stack, 2, "image-bob")
    await stack.online("image-bob", 1)
    sent = await alice.sent(await alice.send("image-bob", "hello from the image"))
    got = await bob.wait_for(lambda fs: bob.unique_messages(), what="the message")
    assert got[0]["body"] == "hello from the image" and got[0]["msg"] == sent["msg"], got
    await alice.close()
    await bob.close()


def crash_prints_backtrace(stack, name):
    """A SIGSEGV from outside runs the crash handler like a real fault; unlike a real fault,
    execution then goes on, so the process is killed once the backtrace is written."""
    proc = stack.procs.pop(name)
    os.kill(proc.pid, signal.SIGSEGV)
    try:
        wait_until(lambda: "Backtrace took" in stack.log(name), 120, f"{name}'s backtrace")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    log = stack.log(name)
    assert "Program crashed" in log and f'Thread 0 "{name}" crashed' in log, f"no backtrace in {name}'s log:\n{log[-3000:]}"
    assert f"/usr/local/bin/{name}" in log, f"the backtrace lists no image of {name}:\n{log[-3000:]}"
    return log


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the wrappers that start each executable in the image")
    parser.add_argument("--state", required=True)
    parser.add_argument("--user", type=int, required=True, help="the image's uid")
    args = parser.parse_args()

    stack = ImageStack(args.state, args.bin)
    try:
        stack.start()  # each executable's /readyz, or it fails naming the one that is not ready
        for name in EXECUTABLES:
            uid = uid_of(stack.procs[name].pid)
            assert uid == args.user, f"{name} runs as uid {uid}, not the image's {args.user}"
        print(f"image: {', '.join(EXECUTABLES)} ready, running as uid {args.user}")
        wait_until(lambda: http_ok(stack.ports["ws-edge-1"], "/"), 10, "the web client from /app/web")
        asyncio.run(asyncio.wait_for(one_message(stack), 60))
        print("image: one message delivered from ws-edge-1 through relay-svc to ws-edge-2")
        log = crash_prints_backtrace(stack, "relay-svc")
        print("image: a crash of relay-svc printed its backtrace:")
        print("\n".join(line for line in log.splitlines() if "Program crashed" in line or "Backtrace took" in line))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
