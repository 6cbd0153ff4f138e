#!/usr/bin/env bash
# Regenerates the shell completions and the man page in packaging/ from the CLI's clap
# definitions (`pvault completions SHELL`, `pvault man --dir`), so they never drift from the code.
#
#   packaging/generate.sh [OUT_DIR]     # default: packaging/ itself
#
# Uses $PVAULT, else the `pvault` next to this checkout's target/{release,debug}, else PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
pvault="${PVAULT:-}"
if [ -z "$pvault" ]; then
  for p in "$here/../target/release/pvault" "$here/../target/debug/pvault"; do
    if [ -x "$p" ]; then pvault="$p"; break; fi
  done
fi
pvault="${pvault:-pvault}"
command -v "$pvault" >/dev/null || { echo "generate.sh: no pvault binary: build it (cargo build -p pvault-cli) or set PVAULT" >&2; exit 1; }

mkdir -p "$out/completions" "$out/man"
"$pvault" completions bash >"$out/completions/pvault.bash"
"$pvault" completions zsh >"$out/completions/_pvault"
"$pvault" completions fish >"$out/completions/pvault.fish"
rm -f "$out"/man/pvault*.1
"$pvault" man --dir "$out/man"
echo "generated $out/completions/{pvault.bash,_pvault,pvault.fish} and $(ls "$out/man" | wc -l) man pages in $out/man with $pvault"
