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
if [ -n "${CHECK_ONLY:-}" ]; then     # CHECK_ONLY=1: check the image built earlier, do not build
  echo "[container] checking $IMAGE as built earlier"
else
  echo "[container] building $IMAGE from container/Dockerfile"
  t0=$(date +%s)
  "${PODMAN[@]}" build --isolation chroot --network host -f container/Dockerfile -t "$IMAGE" . \
    > /var/tmp/container-build.log 2>&1 || { tail -30 /var/tmp/container-build.log; exit 1; }
  t1=$(date +%s)
  echo "[container] built in $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s"
fi
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "[container] image $IMAGE: $(( size / 1000000 )) MB"

# the image's own environment (its ENV lines) and command (CMD), as `podman run` would use them
mapfile -t image_env < <("${PODMAN[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | grep . || true)
image_cmd=$("${PODMAN[@]}" image inspect --format '{{range .Config.Cmd}}{{.}} {{end}}' "$IMAGE")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=check$RANDOM$RANDOM
# 1. the first start, as a learner's: the image's command (a local port and token instead of
#    8888) must open JupyterLab at once, with nothing to install and the one-time preparations
#    done (the only thing started behind it: container/start.sh's re-check of zig's cache)
first_start="cd /home/learner/course && exec ${image_cmd/--ip=0.0.0.0 --port=8888/--ip=127.0.0.1 --port=$PORT} --ServerApp.token=$TOKEN"
after_start='cd /home/learner/course && .venv/bin/python - <<"PY" && ls work/00_start_here.ipynb
from labsupport.warmstate import STEPS, status
from labsupport.toolchain import cache_dir
s = status()
print("[container] warm-ups recorded at the first start:",
      ", ".join(k + " " + s.get(k, {}).get("state", "not run") for k in STEPS))
print("[container] background warm-up started by ./lab start:",
      "yes" if (cache_dir() / "warmup.log").exists() else "no")
PY
'
# zig's cache re-checked by container/start.sh: wait for it (then the doctor's own run is quick)
wait_recheck='c=$HOME/.cache/labsupport; for i in $(seq 120); do [ -e $c/zig-revalidated ] && break; sleep 5; done
  echo "[container] zig cache re-check in the background (container/start.sh):"; sed "s/^/  /" $c/zig-revalidate.log
  [ -e $c/zig-revalidated ]'
# 2. the doctor (the image as it ships), 3. nbval on the lessons: pytest and nbval are test
#    tools the image leaves out, so they go into this run's container layer only
checks='cd /home/learner/course && ./lab doctor \
  && echo "[container] test tools for this run only: pytest, nbval (requirements.lock versions)" \
  && .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock pytest nbval \
  && for n in '"$LESSONS"'; do echo "[container] nbval lesson $n"; \
  .venv/bin/python -m pytest -p no:cacheprovider -q --nbval notebooks/${n}_*.ipynb \
    --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env || exit 1; done'

wait_for_lab() {   # seconds until JupyterLab answers on $PORT, or exit 1
  local t0=$SECONDS
  for _ in $(seq 240); do
    if python3 - "$PORT" "$TOKEN" <<'PY' 2>/dev/null; then echo $((SECONDS - t0)); return 0; fi
import sys, urllib.request
page = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/lab?token={sys.argv[2]}", timeout=5).read()
sys.exit(0 if b"JupyterLab" in page else 1)
PY
    sleep 1
  done
  return 1
}

status=0
echo "[container] the image's command: $image_cmd"
if "${PODMAN[@]}" run --rm --network host "$IMAGE" true >/dev/null 2>&1; then
  echo "[container] podman run works: running the course in the container"
  cid=$("${PODMAN[@]}" run -d --network host "$IMAGE" bash -c "$first_start")
  in_ctr() { "${PODMAN[@]}" exec "$cid" bash -c "$1"; }
  stop_first() { :; }                  # JupyterLab keeps running beside the checks
  cleanup() { "${PODMAN[@]}" rm -f "$cid" >/dev/null 2>&1 || true; }
else
  echo "[container] podman run is refused here: running the image's files with podman mount + chroot as learner"
  cid=$("${PODMAN[@]}" create "$IMAGE")
  mnt=$("${PODMAN[@]}" mount "$cid")
  mounts=()
  lab_pid=
  cleanup() {
    if [ -n "$lab_pid" ]; then kill -- "-$lab_pid" 2>/dev/null; sleep 2; fi
    for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    "${PODMAN[@]}" umount "$cid" >/dev/null 2>&1 || true
    "${PODMAN[@]}" rm "$cid" >/dev/null 2>&1 || true
  }
  for d in proc sys dev dev/pts; do
    case $d in proc) mount -t proc proc "$mnt/proc" ;; *) mount --bind "/$d" "$mnt/$d" ;; esac
    mounts+=("$mnt/$d")
  done
  mount -t tmpfs tmpfs "$mnt/tmp"; mounts+=("$mnt/tmp")
  cp /etc/resolv.conf "$mnt/etc/resolv.conf"
  in_ctr() {
    chroot --userspec=learner:learner "$mnt" /usr/bin/env -i HOME=/home/learner USER=learner \
      PATH=/usr/local/bin:/usr/bin:/bin "${image_env[@]}" bash -c "$1"
  }
  # in its own process group (setsid), so that it and only it is stopped afterwards
  setsid chroot --userspec=learner:learner "$mnt" /usr/bin/env -i HOME=/home/learner USER=learner \
    PATH=/usr/local/bin:/usr/bin:/bin "${image_env[@]}" bash -c "$first_start" \
    > /var/tmp/container-first-start.log 2>&1 &
  lab_pid=$!
  stop_first() { kill -- "-$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null; lab_pid=; }
fi
trap cleanup EXIT
if secs=$(wait_for_lab); then echo "[container] first start: JupyterLab answered after $secs s"; else
  echo "[container] first start: JupyterLab did not answer (/var/tmp/container-first-start.log)"; status=1; fi
grep -E '^\S*\[lab\]|preparations|installing' /var/tmp/container-first-start.log 2>/dev/null | sed 's/^/  start: /' || true
set +e
in_ctr "$after_start" || status=1
in_ctr "$wait_recheck" || status=1
stop_first
in_ctr "$checks" || status=1
set -e
echo "[container] largest parts of the image:"
mnt=$("${PODMAN[@]}" image mount "$IMAGE") || true
if [ -n "$mnt" ]; then
  # one du per folder (du counts a folder inside one listed before it as nothing); some may not exist
  for d in "$mnt"/usr/lib/x86_64-linux-gnu "$mnt"/usr/lib/x86_64-linux-gnu/wine "$mnt"/usr/lib/gcc "$mnt"/usr/lib/gcc/*/* "$mnt"/usr/share \
    "$mnt"/usr/share/doc "$mnt"/usr/share/man "$mnt"/usr/share/locale "$mnt"/usr/share/nodejs "$mnt"/var/cache/apt \
    "$mnt"/home/learner/course/.venv "$mnt"/home/learner/course/node_modules "$mnt"/home/learner/.cache \
    "$mnt"/home/learner/.cache/labsupport/* "$mnt"/usr/x86_64-w64-mingw32 \
    "$mnt"/home/learner/course/.venv/lib/python3*/site-packages/*; do
    if [ -e "$d" ]; then du -xsh "$d"; fi
  done | sort -h | tail -24 | sed "s|$mnt||" || true
  echo "[container] the whole image, as files: $(du -xsh "$mnt" | cut -f1)"
  "${PODMAN[@]}" image umount "$IMAGE" >/dev/null 2>&1 || true
fi
echo "[container] exit $status"
exit $status
