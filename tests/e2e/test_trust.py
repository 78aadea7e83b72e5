"""Trust inside the network, end to end: each backend service runs as its own Redis ACL user
(compose/redis-users.acl, passwords from secret files, the ACL file built by compose's
redis-start.sh) and the whole chat path works; a wrong password stops a service at start with
one line."""

import asyncio
import os
import pathlib
import secrets
import subprocess
import tempfile

import pytest

from client import ChatClient
from parley_stack import ROOT, Stack


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


class ACLStack(Stack):
    """A stack whose Redis has compose's ACL users and whose services log in as theirs."""

    USERS = {"relay-svc": "relay", "presence-svc": "presence", "offline-svc": "offline"}

    def __init__(self, state_dir, bin_dir):
        super().__init__(state_dir, bin_dir)
        self.secrets = self.state / "secrets"
        self.secrets.mkdir()
        for user in self.USERS.values():
            (self.secrets / f"redis-{user}").write_text(secrets.token_hex(16) + "\n")
        self.acl = self.state / "users.acl"
        subprocess.run(["sh", str(ROOT / "compose/redis-start.sh")], check=True, env={
            **os.environ, "REDIS_USERS_ACL": str(ROOT / "compose/redis-users.acl"), "REDIS_SECRETS": str(self.secrets),
            "REDIS_ACL_FILE": str(self.acl), "REDIS_ACL_ONLY": "1"})
        self.redis_cli_auth = self.redis_login("presence")

    def redis_login(self, user):
        password = (self.secrets / f"redis-{user}").read_text().strip()
        return ["--user", user, "--pass", password, "--no-auth-warning"]

    def _command(self, name):
        command = super()._command(name)
        return command + ["--aclfile", str(self.acl)] if name == "redis" else command

    def _environment(self, name):
        user = self.USERS.get(name)
        if not user:
            return self.env
        return {**self.env, "PARLEY_REDIS_USER": user, "PARLEY_REDIS_PASSWORD_FILE": str(self.secrets / f"redis-{user}")}


# The ACL stack runs its own redis-server with compose's ACL file; the cluster pass's shared test
# cluster has no such users (what the ACL file allows is the same on a cluster's nodes).
single_redis_only = pytest.mark.skipif(os.environ.get("PARLEY_TEST_REDIS") == "cluster",
                                  reason="the ACL stack needs its own single redis-server")


@pytest.fixture(scope="module")
def acl_stack(stack):
    state = pathlib.Path(tempfile.mkdtemp(prefix="parley-acl-", dir=os.environ.get("PARLEY_E2E_STATE")))
    s = ACLStack(state, stack.bin)
    try:
        s.start()
        yield s
    finally:
        s.stop()


@single_redis_only
def test_every_service_works_as_its_own_redis_user(acl_stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(acl_stack, 1, alice)
        b = await ChatClient.connect(acl_stack, 2, bob)
        await acl_stack.online(bob, 1)
        await a.sent(await a.send(bob, "live"))
        await b.wait_for(lambda fs: [m for m in b.unique_messages() if m["body"] == "live"], what="the live message")
        await b.ack_all()
        await b.close()
        await acl_stack.online(bob, 0)
        await a.sent(await a.send(bob, "while away"))
        b = await ChatClient.connect(acl_stack, 2, bob)
        await b.wait_for(lambda fs: [m for m in b.unique_messages() if m["body"] == "while away"], what="the replay")
        await a.close()
        await b.close()

    run(scenario())
    # The users are limited: no service may list or flush the keyspace, nor touch keys outside its patterns.
    for user in ACLStack.USERS.values():
        for command in (["KEYS", "*"], ["FLUSHALL"], ["SET", "other", "1"]):
            out = subprocess.run(["redis-cli", "-p", str(acl_stack.ports["redis"]), *acl_stack.redis_login(user), *command],
                                 capture_output=True, text=True, timeout=10)
            assert "NOPERM" in out.stdout + out.stderr, (user, command, out.stdout, out.stderr)


@single_redis_only
def test_a_wrong_redis_password_stops_the_service_at_start_with_one_line(acl_stack):
    wrong = acl_stack.state / "wrong-password"
    wrong.write_text("not-the-password\n")
    env = {**acl_stack._environment("relay-svc"), "PARLEY_REDIS_PASSWORD_FILE": str(wrong),
           "PARLEY_TOPIC_PREFIX": "wrong-password."}
    command = [str(acl_stack.bin / "relay-svc"), "--admin-port", "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1, output
    refused = [line for line in output if "WRONGPASS" in line]
    assert len(refused) == 1 and "redis" in refused[0] and "refused the connection setup" in refused[0], output
    assert "not-the-password" not in done.stdout + done.stderr
