#!/usr/bin/env bash
# Run by container/Dockerfile as `learner`, in the same RUN as ./lab setup, so that what it
# removes is never stored in any layer of the image. Nothing the course uses goes:
#  - the installers' download caches (pip, uv, npm) and uv itself (./lab installs it again
#    the day it is needed: a changed requirements.lock)
#  - zig's and Wine's temporary files
#  - Wine's prefix keeps its layout, but each file `wineboot` copied from Wine's own DLL
#    folder (byte for byte the same: about 630 of the prefix's 690 MB) becomes a symbolic
#    link to that file. Wine loads its DLLs from that folder either way; a program that
#    opens C:\windows\system32\X.dll reads the same bytes.
set -euo pipefail
cache=${LABSUPPORT_CACHE:-$HOME/.cache/labsupport}
course=$(cd "$(dirname "$0")/.." && pwd)

dlls=$(dirname "$(find /usr/lib -path '*/wine/x86_64-windows/ntdll.dll' -print -quit 2>/dev/null || true)")
before=$(du -sm "$cache/wine" 2>/dev/null | cut -f1 || echo 0)
if [ -d "$cache/wine/drive_c" ] && [ -f "$dlls/ntdll.dll" ]; then
  linked=0
  while IFS= read -r -d '' f; do
    b="$dlls/${f##*/}"
    if [ -f "$b" ] && cmp -s "$f" "$b"; then ln -sf "$b" "$f"; linked=$((linked + 1)); fi
  done < <(find "$cache/wine/drive_c" -type f -print0)
  echo "[trim] Wine's prefix: $linked files linked to $dlls ($before MB -> $(du -sm "$cache/wine" | cut -f1) MB)"
fi

"$course/.venv/bin/python" -m pip uninstall -q -y uv 2>/dev/null || true
rm -rf "$HOME/.cache/pip" "$HOME/.cache/uv" "$HOME/.npm" "$HOME/.cache/zig/tmp" "$cache/zig/tmp"
find /tmp -mindepth 1 -maxdepth 1 -user "$(id -u)" -exec rm -rf {} + 2>/dev/null || true
echo "[trim] left in the course cache: $(du -sh "$cache" | cut -f1); .venv: $(du -sh "$course/.venv" | cut -f1)"
