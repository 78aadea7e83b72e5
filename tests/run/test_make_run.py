"""`make run`, `make run-without` and `make restart` (README, "Working on one service"): one
service dies or is restarted while the rest keeps running, one is left out and started by hand
with the command the stack prints, and a port something else holds is refused."""

import os
import signal
import socket

import pytest
from parley_stack import wait_until
from run_stack import ADMIN_PORT_SETTINGS, PORT_SETTINGS, SERVICES, alive


def report_line(output, text):
    lines = [line for line in output.splitlines() if text in line]
    assert lines, f"no line with {text!r} in:\n{output}"
    return lines[0]


def test_a_killed_service_is_reported_and_the_rest_keeps_running_until_ctrl_c(make_run):
    make_run.start("run")
    pids = {name: make_run.pid(name) for name in SERVICES + ["redis", "tansu", "run"]}

    os.kill(pids["relay-svc"], signal.SIGKILL)
    report = f"relay-svc (pid {pids['relay-svc']}) exited with status 137"
    make_run.session.wait_output(report, 30)
    assert make_run.log_path(report_line(make_run.output(), report)) == make_run.dir / "relay-svc.log"
    assert make_run.session.proc.poll() is None, make_run.output()
    for name in SERVICES:
        if name != "relay-svc":
            assert make_run.ready(name), f"{name} stopped answering /readyz after relay-svc was killed"
            assert make_run.pid(name) == pids[name] and alive(pids[name])

    status, out = make_run.make("restart", "SVC=relay-svc")
    assert status == 0, out
    relay = make_run.pid("relay-svc")
    assert relay != pids["relay-svc"] and alive(relay)
    assert make_run.ready("relay-svc")
    assert f"relay-svc restarted (pid {relay})" in out

    # A restart of a running service stops that process and starts a new one.
    status, out = make_run.make("restart", "SVC=ws-edge-2")
    assert status == 0, out
    edge = make_run.pid("ws-edge-2")
    assert edge != pids["ws-edge-2"] and alive(edge) and not alive(pids["ws-edge-2"])
    assert make_run.ready("ws-edge-2")

    # `make run` on the same run folder does not start a second stack.
    status, out = make_run.make("run", timeout=60)
    assert status != 0 and f"a stack is already running from {make_run.shown(make_run.dir)} " in out, out

    started = [pid for name, pid in pids.items() if name not in ("relay-svc", "ws-edge-2")] + [relay, edge]
    make_run.session.stop(signal.SIGINT)  # Ctrl-C in its terminal
    wait_until(lambda: not any(alive(pid) for pid in started), 30, "run.sh and every process it started stopped")
    assert "stopping...\nstopped\n" in make_run.output()


def test_run_without_prints_the_commands_that_start_the_service_by_hand(make_run):
    make_run.start("run-without", "SVC=relay-svc", started="'make restart SVC=relay-svc' runs it in this stack again")
    port = make_run.ports["relay-svc"]
    assert not (make_run.dir / "relay-svc.pid").exists() and not make_run.ready("relay-svc")
    out = make_run.output()
    swift_run = report_line(out, " swift run relay-svc ")
    binary = report_line(out, "/relay-svc --admin-port")
    for line in (swift_run, binary):
        assert f"--admin-port {port}" in line and f"--kafka-brokers 127.0.0.1:{make_run.ports['tansu']}" in line, line

    by_hand = make_run.start_by_hand(swift_run.strip())
    make_run.wait_ready("relay-svc")
    assert f"listening on 127.0.0.1:{port}" in by_hand.output()
    # While it runs by hand, the stack does not start a second one on its port.
    status, out = make_run.make("restart", "SVC=relay-svc")
    assert status != 0 and f"port {port} (RELAY_PORT, for relay-svc) is already in use" in out, out
    by_hand.stop()
    wait_until(lambda: not make_run.ready("relay-svc"), 30, "the relay-svc started with swift run stopped")

    by_hand = make_run.start_by_hand(binary.strip())
    make_run.wait_ready("relay-svc")
    assert f"listening on 127.0.0.1:{port}" in by_hand.output()
    by_hand.stop()
    wait_until(lambda: not make_run.ready("relay-svc"), 30, "the relay-svc binary started by hand stopped")

    status, out = make_run.make("restart", "SVC=relay-svc")
    assert status == 0, out
    assert alive(make_run.pid("relay-svc")) and make_run.ready("relay-svc")


@pytest.mark.parametrize("name,setting", list(PORT_SETTINGS.items()) + list(ADMIN_PORT_SETTINGS.items()))
def test_a_port_in_use_is_refused_with_its_setting(make_run, name, setting):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        make_run.env[setting] = str(taken)
        status, out = make_run.make("run", timeout=60)
    assert status != 0, out
    assert f"port {taken} ({setting}, for {name}) is already in use" in out, out
    assert f"choose another port, e.g. {setting}=" in out, out
    assert not make_run.dir.exists(), "the stack started something on a refused port"
