#!/usr/bin/env bash
# `make test-image`: proves compose/Dockerfile's runtime stage without a Docker engine. It builds
# the release binaries as the build stage does, bootstraps a minimal Debian 12 root file system
# (debootstrap --variant=minbase, cached in .parley/image), runs the runtime stage's instructions
# in it (RUN in a chroot, COPY, ENV, WORKDIR, USER: read from the Dockerfile, so they cannot
# drift), then starts each executable in the chroot as the image's user against a broker and
# Redis on the host, waits for /readyz, delivers one message and crashes one process for a
# backtrace (tests/image_smoke.py). A wrong package name or a missing library fails here.
#
#   DEBIAN_MIRROR   archive for debootstrap (http://deb.debian.org/debian)
#   SKIP_BUILD=1    reuse the last release build in .build-release
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# A private mount namespace: the chroot's /proc, /sys and /dev mounts end with this script.
if [ -z "${TEST_IMAGE_UNSHARED:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "test-image: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
  TEST_IMAGE_UNSHARED=1 exec unshare --mount --propagation private "$ROOT/scripts/test-image.sh" "$@"
fi

DOCKERFILE=compose/Dockerfile
IMAGE="$ROOT/.parley/image"
ROOTFS="$IMAGE/rootfs"
OUT="$IMAGE/out"         # stands in for the build stage's /out
BASE="$IMAGE/bookworm-minbase.tar"
SCRATCH="$ROOT/.build-release"
EXES=(ws-edge relay-svc presence-svc offline-svc)
BUILD_FLAGS=(-c release --static-swift-stdlib)
mkdir -p "$IMAGE"

PARLEY_EXTRA_APT="debootstrap patchelf" scripts/setup.sh test

# The Dockerfile's logical lines (continuations joined, comments dropped) of stage $1.
stage_lines() {
  awk -v stage="$1" '
    /^[[:space:]]*#/ { next }
    { line = line $0 }
    /\\$/ { sub(/\\$/, "", line); next }
    { if (line ~ /[^[:space:]]/) print line; line = "" }' "$DOCKERFILE" |
  awk -v stage="$1" 'toupper($1) == "FROM" { inside = (tolower($NF) == stage); next } inside'
}

# The build stage, as far as the image's content goes: the same build flags, binaries, backtracer
# and librdkafka in the same /out layout.
build_stage=$(stage_lines build)
grep -qF "swift build ${BUILD_FLAGS[*]}" <<<"$build_stage" || { echo "test-image: the build stage no longer runs swift build ${BUILD_FLAGS[*]}" >&2; exit 1; }
for exe in "${EXES[@]}"; do
  grep -qF "\"\$bin/$exe\"" <<<"$build_stage" || { echo "test-image: the build stage does not copy out $exe" >&2; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "test-image: PARLEY_NO_RPATH=1 swift build ${BUILD_FLAGS[*]} --scratch-path .build-release"
  PARLEY_NO_RPATH=1 swift build "${BUILD_FLAGS[@]}" --scratch-path "$SCRATCH" >"$IMAGE/build.log" 2>&1 ||
    { tail -30 "$IMAGE/build.log"; exit 1; }
fi
bin=$(PARLEY_NO_RPATH=1 swift build "${BUILD_FLAGS[@]}" --scratch-path "$SCRATCH" --show-bin-path)
rm -rf "$OUT"; mkdir -p "$OUT/bin" "$OUT/lib"
for exe in "${EXES[@]}"; do
  if readelf -d "$bin/$exe" | grep -E 'R(UN)?PATH.*(\[|:)/'; then
    echo "test-image: $exe carries an absolute rpath (a build machine's path)" >&2; exit 1
  fi
  cp "$bin/$exe" "$OUT/bin/"
done
cp "$(dirname "$(command -v swift)")/../libexec/swift/linux/swift-backtrace-static" "$OUT/bin/"
cp -L .parley/lib/librdkafka.so.1 "$OUT/lib/librdkafka.so.1"
grep -qF "patchelf --set-soname librdkafka.so.1 /out/lib/librdkafka.so.1" <<<"$build_stage" ||
  { echo "test-image: the build stage no longer sets librdkafka's soname" >&2; exit 1; }
patchelf --set-soname librdkafka.so.1 "$OUT/lib/librdkafka.so.1"

# The runtime stage's base: Debian 12 minbase with the apt sources of the debian:12 images.
if [ ! -f "$BASE" ]; then
  echo "test-image: debootstrap --variant=minbase bookworm (once; cached in $BASE)"
  rm -rf "$IMAGE/base"
  debootstrap --variant=minbase bookworm "$IMAGE/base" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$IMAGE/debootstrap.log" 2>&1 ||
    { tail -20 "$IMAGE/debootstrap.log"; exit 1; }
  rm -f "$IMAGE/base/etc/apt/sources.list"
  cat >"$IMAGE/base/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${DEBIAN_MIRROR:-http://deb.debian.org/debian}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  tar -C "$IMAGE/base" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
  rm -rf "$IMAGE/base"
fi
if grep -qF " $ROOTFS/" /proc/self/mounts; then echo "test-image: something is mounted under $ROOTFS" >&2; exit 1; fi
rm -rf --one-file-system "$ROOTFS"; mkdir -p "$ROOTFS"
tar -C "$ROOTFS" -xf "$BASE"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"  # as Docker provides one to RUN and to containers
mount -t proc proc "$ROOTFS/proc"
mount --rbind /sys "$ROOTFS/sys"
mount --rbind /dev "$ROOTFS/dev"

# The runtime stage, instruction by instruction, as `docker build` runs it.
runtime_from=$(awk 'toupper($1) == "ARG" && $2 ~ /^RUNTIME_IMAGE=/ { sub(/^RUNTIME_IMAGE=/, "", $2); print $2 }' "$DOCKERFILE")
case $runtime_from in
  debian:12*|debian:bookworm*) ;;
  *) echo "test-image: the runtime stage is $runtime_from; this test bootstraps Debian 12" >&2; exit 1 ;;
esac
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # the debian:12 images' PATH
SHELL_CMD=(/bin/sh -c); IMAGE_ENV=("PATH=$IMAGE_PATH"); WORKDIR=/; USER_SPEC=0:0; CMD=""
in_image() { # runs a command in the root file system as the current USER, in WORKDIR, with the ENV so far
  chroot --userspec="$USER_SPEC" "$ROOTFS" /usr/bin/env -i -C "$WORKDIR" "${IMAGE_ENV[@]}" "$@"
}
copy_into() { # source (host path), destination in the image: Docker's COPY of one source
  local source=$1 destination=$ROOTFS$2
  if [ -d "$source" ]; then
    mkdir -p "$destination"; cp -a "$source/." "$destination/"
  else
    [[ $2 == */ ]] && mkdir -p "$destination"
    cp -a "$source" "$destination"
  fi
}
while read -r keyword arguments; do
  case ${keyword^^} in
    SHELL) mapfile -t SHELL_CMD < <(python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$arguments") ;;
    RUN) [[ $arguments != --* ]] || { echo "test-image: RUN ${arguments%% *} is not supported here" >&2; exit 1; }
         echo "test-image: RUN ${arguments:0:100}"; in_image "${SHELL_CMD[@]}" "$arguments" ;;
    COPY)
      read -ra words <<<"$arguments"
      from=""; [[ ${words[0]} == --from=* ]] && { from=${words[0]#--from=}; words=("${words[@]:1}"); }
      [[ ${words[0]} != --* ]] || { echo "test-image: COPY ${words[0]} is not supported here" >&2; exit 1; }
      destination=${words[-1]}
      for source in "${words[@]:0:${#words[@]}-1}"; do
        case $from in
          build) [[ $source == /out/* ]] || { echo "test-image: COPY --from=build $source is not under /out" >&2; exit 1; }
                 copy_into "$OUT/${source#/out/}" "$destination" ;;
          "") copy_into "$ROOT/$source" "$destination" ;;
          *) echo "test-image: COPY --from=$from is not supported here" >&2; exit 1 ;;
        esac
      done ;;
    ENV)
      [[ $arguments == *=* && $arguments != *\"* ]] || { echo "test-image: write ENV as KEY=value pairs without quotes" >&2; exit 1; }
      read -ra pairs <<<"$arguments"; IMAGE_ENV+=("${pairs[@]}") ;;
    WORKDIR) WORKDIR=$arguments; mkdir -p "$ROOTFS$WORKDIR" ;;
    USER) [[ $arguments =~ ^[0-9]+:[0-9]+$ ]] || { echo "test-image: USER must be uid:gid, not $arguments" >&2; exit 1; }
          USER_SPEC=$arguments ;;
    CMD) CMD=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[0])' "$arguments") ;;
    EXPOSE|LABEL|ARG|HEALTHCHECK) ;;
    *) echo "test-image: $keyword in the runtime stage is not supported here" >&2; exit 1 ;;
  esac
done < <(stage_lines runtime)

[ "$USER_SPEC" != 0:0 ] || { echo "test-image: the runtime stage never leaves root" >&2; exit 1; }
for exe in "${EXES[@]}" "$CMD"; do
  [ -x "$ROOTFS/usr/local/bin/$exe" ] || { echo "test-image: /usr/local/bin/$exe is not in the image" >&2; exit 1; }
done
kafka_lib=$(in_image ldd /usr/local/bin/relay-svc | awk '$1 == "librdkafka.so.1" { print $3 }')
[ "$kafka_lib" = /usr/local/lib/librdkafka.so.1 ] ||
  { echo "test-image: relay-svc loads librdkafka.so.1 from '$kafka_lib', not the image's /usr/local/lib" >&2; exit 1; }

# Each executable as the image runs it: the image's ENV, WORKDIR and USER, plus the PARLEY_*
# settings the smoke test passes (as compose's `environment:` would).
mkdir -p "$IMAGE/bin"
env_words=$(printf ' %q' "${IMAGE_ENV[@]}")
for exe in "${EXES[@]}"; do
  cat >"$IMAGE/bin/$exe" <<WRAPPER
#!/usr/bin/env bash
settings=(); for name in \$(compgen -e); do [[ \$name == PARLEY_* ]] && settings+=("\$name=\${!name}"); done
exec chroot --userspec=$USER_SPEC $(printf %q "$ROOTFS") /usr/bin/env -i -C $(printf %q "$WORKDIR")$env_words "\${settings[@]}" /usr/local/bin/$exe "\$@"
WRAPPER
  chmod +x "$IMAGE/bin/$exe"
done

STATE="$IMAGE/state"
rm -rf "$STATE"; mkdir -p "$STATE"
echo "test-image: starting ${EXES[*]} in $ROOTFS as $USER_SPEC (logs in $STATE)"
.venv/bin/python tests/image_smoke.py --bin "$IMAGE/bin" --state "$STATE" --user "${USER_SPEC%%:*}"
