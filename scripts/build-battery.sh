#!/usr/bin/env bash
# Compiles the audit battery (audit/autoharden-battery.c) into dist/audit/autoharden-battery: static
# and libc-only, so it runs in any unit's sandbox (no loader or library paths needed there).
#   bash scripts/build-battery.sh      (part of `npm run build`)
# Without a C compiler, or without a static libc (glibc-static, libc6-dev), it says so on one line
# and exits 0: the rest of autoharden builds and works, only `audit` needs the battery. With both, a
# compile error fails the build. Env: CC (default cc, else gcc, else clang).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/audit/autoharden-battery
cc=${CC:-}
if [ -z "$cc" ]; then
  for c in cc gcc clang; do if command -v "$c" >/dev/null; then cc=$c; break; fi; done
fi
if [ -z "$cc" ] || ! command -v "$cc" >/dev/null; then
  echo "build-battery.sh: no C compiler: $out not built (autoharden audit needs it)"
  exit 0
fi
mkdir -p "$(dirname "$out")"
tmp=$out.$$.tmp
trap 'rm -f "$tmp" "$tmp.c"' EXIT
printf 'int main(void) { return 0; }\n' > "$tmp.c"
if ! "$cc" -static -o "$tmp" "$tmp.c" >/dev/null 2>&1; then
  echo "build-battery.sh: $cc cannot link statically (no static libc): $out not built (autoharden audit needs it)"
  exit 0
fi
"$cc" -static -O2 -Wall -Werror -o "$tmp" audit/autoharden-battery.c
chmod 755 "$tmp"
mv -f "$tmp" "$out"
