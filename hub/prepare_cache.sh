#!/usr/bin/env bash
# Prepare the course cache once, for every learner of a hub (hub/README.md, "Sharing the
# expensive parts"): Wine's prefix, zig's C libraries and every C module the book's
# lessons build. Run it as the hub's admin after ./lab setup, and again when the lessons change.
#
#   hub/prepare_cache.sh /srv/memory-course-cache
#   LABHUB_PREPARED_CACHE=/srv/memory-course-cache jupyterhub -f hub/jupyterhub_config.py
#
# A new learner's first start then copies it into their ~/.cache/labsupport (a real copy:
# Wine writes into its prefix and refuses one owned by another user).
set -euo pipefail
cd "$(dirname "$0")/.."
COURSE=$(pwd)
DEST=${1:?usage: hub/prepare_cache.sh DIR}
mkdir -p "$DEST"
export LABSUPPORT_CACHE
LABSUPPORT_CACHE=$(realpath "$DEST")
unset LABSUPPORT_ZIG_CACHE
.venv/bin/python -m labsupport warmup
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/work"
ln -s "$COURSE/native_examples" "$tmp/native_examples"      # lessons say ../native_examples
cp notebooks/[0-9][0-9]_*.ipynb "$tmp/work/"
for nb in "$tmp"/work/*.ipynb; do
  # executing the book once builds (and caches) every C module its cells build
  HOME=$tmp .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
      --ExecutePreprocessor.timeout=900 "$nb" >/dev/null 2>&1 \
    || echo "note: $(basename "$nb") stopped at an error; the modules before it are cached"
done
rm -rf "$LABSUPPORT_CACHE/lastword" "$LABSUPPORT_CACHE/warmup.log"
rm -f "$LABSUPPORT_CACHE"/*.lock
du -sh "$LABSUPPORT_CACHE"
