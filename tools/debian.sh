#!/usr/bin/env bash
# Run the course's test command on another Debian release in a chroot built with Debian's
# own debootstrap, then list the compared cells whose output differs from the stored book,
# and any test that failed:
#   bookworm  Debian 12: glibc 2.36, gcc 12, Python 3.11 (the book's own)
#   trixie    Debian 13: glibc 2.41, gcc 14, Python 3.13, Wine 10
#   sid       unstable:  the newest (measured 2026-12: glibc 2.43, Python 3.14, gcc 16, binutils 2.47)
#
#   sudo tools/debian.sh SUITE [ROOTFS]     (default /var/tmp/labsupport-SUITE)
#   AS=learner sudo tools/debian.sh SUITE  the second half of CI instead (.ci/as-learner: a
#                                          regular user, the suite's own python3; run root first,
#                                          which installs the system packages); AS=both: both
#
# Not part of ./lab test: it downloads a Debian root file system (~1 GB with the tools)
# and runs the whole suite inside it (20-40 minutes on 2 cores). The root file system is
# kept, so a second run only refreshes the course and runs the tests again.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)
SUITE=${1:-}
case "$SUITE" in bookworm|trixie|forky|sid) ;; -h|--help|"") sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "unknown suite $SUITE: bookworm, trixie, forky or sid"; exit 2 ;; esac
ROOTFS=${2:-/var/tmp/labsupport-$SUITE}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)"; exit 1; }

command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }
if [ ! -f "$ROOTFS/.labsupport-ready" ]; then
  echo "[$SUITE] building $ROOTFS"
  rm -rf "$ROOTFS"
  # node and npm come later, from ./lab's own set-up: npm's dependencies do not
  # configure inside debootstrap's base stage (measured: node-gauge/npmlog loop)
  debootstrap --variant=minbase --include=ca-certificates,git,python3,python3-venv \
    "$SUITE" "$ROOTFS" "$MIRROR"
  touch "$ROOTFS/.labsupport-ready"
fi

mounts=()
cleanup() { for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
for d in proc sys dev dev/pts; do
  mkdir -p "$ROOTFS/$d"
  if ! mountpoint -q "$ROOTFS/$d"; then
    case $d in proc) mount -t proc proc "$ROOTFS/proc" ;; *) mount --bind "/$d" "$ROOTFS/$d" ;; esac
    mounts+=("$ROOTFS/$d")
  fi
done
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
# a machine behind a TLS-inspecting proxy trusts an extra CA; the chroot must trust it too
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1 \
    || cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
passenv=()
for v in SSL_CERT_FILE PIP_CERT REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS CURL_CA_BUNDLE; do
  [ -n "${!v:-}" ] && passenv+=("$v=${!v}")
done

rm -rf "$ROOTFS/root/course"
git clone --quiet --no-hardlinks "$HERE" "$ROOTFS/root/course"
AS=${AS:-root}
status=0
run_in() {   # run_in NAME COMMAND: one half of the suite inside the chroot, then its report
  local name=$1 cmd=$2
  echo "[$SUITE] $name"
  set +e
  chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    CI=true "${passenv[@]}" bash -c "cd /root/course && cat /etc/debian_version && $cmd" \
    > "$ROOTFS/root/test-$3.log" 2>&1
  local s=$?
  set -e
  # pytest's own summary line (the last lines of the log may be a diff's marker lines)
  grep -aE '^(=+ )?[0-9]+ (passed|failed|error)' "$ROOTFS/root/test-$3.log" | tail -1 \
    || tail -3 "$ROOTFS/root/test-$3.log"
  [ -f "$ROOTFS/$4" ] && python3 "$HERE/tools/nbval_report.py" "$ROOTFS/$4"
  echo "[$SUITE] full log: $ROOTFS/root/test-$3.log (exit $s)"
  [ $s -eq 0 ] || status=$s
}
if [ "$AS" = root ] || [ "$AS" = both ]; then
  run_in "running ./lab test inside (as root; set-up installs apt.txt there)" \
    "./lab test --junitxml=/root/report.xml -q" root root/report.xml
fi
if [ "$AS" = learner ] || [ "$AS" = both ]; then
  run_in "running .ci/as-learner inside (a regular user, this suite's /usr/bin/python3)" \
    "bash .ci/as-learner --junitxml=/tmp/report-learner.xml -q" learner tmp/report-learner.xml
fi
exit $status
