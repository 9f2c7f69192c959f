#!/usr/bin/env bash
# The image's command: ./lab start, plus one thing only a container needs.
#
# zig's cache (prepared in the image by ./lab setup) records each source file's inode; an
# image's layers are unpacked anew when it is built (buildah commits by unpacking) or pulled,
# so in a new container every inode differs and zig re-hashes all of the MinGW-w64 C
# runtime's sources before it finds its Windows C library cached (measured here: 149 s, 49 s
# of CPU; it is not rebuilt). Without this, the learner's first zig build for Windows
# (lesson 04) pays that. So a new container re-checks it at once, in the background, as the
# warm-up step "zig-windows" (a cell that needs it meanwhile says so and waits; the doctor shows
# it "being prepared"), once: the container keeps the refreshed cache.
cd "$(dirname "$0")/.."
cache=${LABSUPPORT_CACHE:-$HOME/.cache/labsupport}
if [ -x .venv/bin/python ] && [ -d "$cache/zig" ] && [ ! -e "$cache/zig-revalidated" ]; then
  ( nice .venv/bin/python -c 'from labsupport import warmup; warmup.run(["zig-windows"])' \
      && date -u > "$cache/zig-revalidated" ) > "$cache/zig-revalidate.log" 2>&1 < /dev/null &
fi
exec ./lab start "$@"
