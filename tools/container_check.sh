#!/usr/bin/env bash
# Build container/Dockerfile for real and run the image's course as its `learner` user:
# the doctor, then nbval on lessons 00, 04 and 08 -- the container path a macOS or Windows
# learner takes, checked on this machine.
#
#   sudo tools/container_check.sh            (podman; installs it with apt-get if missing)
#
# No registry needed: the base image `debian:12` is made here with Debian's debootstrap
# (bookworm, minbase) and imported into podman's local storage under the name the
# Dockerfile uses. Where `podman run` is refused (a machine whose OCI runtime may not set
# cgroup limits, such as a VM without systemd), the image's files are run through
# `podman mount` and chroot as `learner` instead; the script says which way ran.
# Not part of ./lab test: it downloads ~1.5 GB of packages and takes 20-40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (podman storage, debootstrap, chroot)"; exit 1; }
IMAGE=${IMAGE:-memory-course:check}
BASE=${BASE:-/var/tmp/labsupport-container-base}
LESSONS=${LESSONS:-"00 04 08"}
need() { command -v "$1" >/dev/null || { apt-get update -qq; apt-get install -y -qq "$2" >/dev/null; }; }
need podman podman
need debootstrap debootstrap
PODMAN=(podman --cgroup-manager=cgroupfs --events-backend=file)

if ! "${PODMAN[@]}" image exists docker.io/library/debian:12; then
  echo "[container] base image: debootstrap bookworm into $BASE"
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
  rm -rf "$BASE"/var/cache/apt/archives/*.deb "$BASE"/var/lib/apt/lists/*
  tar -C "$BASE" -c . | "${PODMAN[@]}" import - docker.io/library/debian:12 >/dev/null
fi

# a machine behind a TLS-inspecting proxy trusts an extra authority: so must the image
cp /usr/local/share/ca-certificates/*.crt container/ca-certificates/ 2>/dev/null || true
echo "[container] building $IMAGE from container/Dockerfile"
t0=$(date +%s)
"${PODMAN[@]}" build --isolation chroot --network host -f container/Dockerfile -t "$IMAGE" . \
  > /var/tmp/container-build.log 2>&1 || { tail -30 /var/tmp/container-build.log; exit 1; }
t1=$(date +%s)
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "[container] built in $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s; image $(( size / 1000000 )) MB"

inside='cd /home/learner/course && ./lab doctor && for n in '"$LESSONS"'; do
  .venv/bin/python -m pytest -p no:cacheprovider -q --nbval notebooks/${n}_*.ipynb \
    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env || exit 1; done'
if "${PODMAN[@]}" run --rm --network host "$IMAGE" true >/dev/null 2>&1; then
  echo "[container] podman run works: running the course in the container"
  "${PODMAN[@]}" run --rm --network host "$IMAGE" bash -c "$inside"
  status=$?
else
  echo "[container] podman run is refused here: running the image's files with podman mount + chroot as learner"
  cid=$("${PODMAN[@]}" create "$IMAGE")
  mnt=$("${PODMAN[@]}" mount "$cid")
  mounts=()
  cleanup() {
    for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    "${PODMAN[@]}" umount "$cid" >/dev/null 2>&1 || true
    "${PODMAN[@]}" rm "$cid" >/dev/null 2>&1 || true
  }
  trap cleanup EXIT
  for d in proc sys dev dev/pts; do
    case $d in proc) mount -t proc proc "$mnt/proc" ;; *) mount --bind "/$d" "$mnt/$d" ;; esac
    mounts+=("$mnt/$d")
  done
  mount -t tmpfs tmpfs "$mnt/tmp"; mounts+=("$mnt/tmp")
  cp /etc/resolv.conf "$mnt/etc/resolv.conf"
  set +e
  chroot --userspec=learner:learner "$mnt" /usr/bin/env -i HOME=/home/learner USER=learner \
    PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHON=/usr/bin/python3 bash -c "$inside"
  status=$?
  set -e
fi
echo "[container] largest parts of the image:"
"${PODMAN[@]}" run --rm "$IMAGE" true >/dev/null 2>&1 || true
mnt=$("${PODMAN[@]}" image mount "$IMAGE") || true
[ -n "$mnt" ] && du -xsh "$mnt"/usr/lib/x86_64-linux-gnu "$mnt"/usr/lib/i386-linux-gnu "$mnt"/usr/lib/gcc* "$mnt"/usr/share \
  "$mnt"/home/learner/course/.venv "$mnt"/home/learner/course/node_modules "$mnt"/home/learner/.cache \
  "$mnt"/home/learner/.wine "$mnt"/usr/lib/wine "$mnt"/usr/lib/x86_64-linux-gnu/wine "$mnt"/usr/x86_64-w64-mingw32 \
  "$mnt"/usr/i686-w64-mingw32 2>/dev/null | sort -h | sed "s|$mnt||" || true   # du: some folders may not exist
"${PODMAN[@]}" image umount "$IMAGE" >/dev/null 2>&1 || true
echo "[container] exit $status"
exit $status
