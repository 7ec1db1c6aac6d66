#!/bin/sh
# Prepares, on the host, the Wine prefix the lab VM's Wine tests use
# (.cache/windows/lab-wineprefix): ioperm.sys registered as an auto-start
# service with the lab allowlist, and the Wine session ended so the registry is
# on disk. The guest sees this prefix through its read-only root (writes go to
# its RAM overlay), so under TCG it only has to start Wine, not build a prefix
# (wineboot -i takes minutes there).
#
#   lab-prefix.sh          prepare (skips what is already up to date)
#
# Writes .cache/windows/lab-wine.json for the guest: the prefix, the allowlist,
# and bun.exe (scripts/windows/bun-windows.sh; null with the reason when it
# could not be fetched). Up to date = same ioperm.sys bytes, allowlist and Wine
# version as the prefix's stamp. Without Wine it says why and exits 0: the
# guest tests skip themselves.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
prefix="$root/.cache/windows/lab-wineprefix"
# POST 0x80-0x83 (bench), isa-debugcon 0xE9, LPT1 data/status/control. Not COM2
# or 0x64: the guest tests use them as ports the driver must refuse.
allow="0x80-0x83 0xE9 0x378-0x37A"

info="$root/.cache/windows/lab-wine.json"
mkdir -p "$root/.cache/windows"
rm -f "$info"
command -v wine >/dev/null || { echo "lab-prefix.sh: wine is not installed; the lab's Wine tests will skip" >&2; exit 0; }
sign=""; command -v osslsigncode >/dev/null && command -v openssl >/dev/null || sign="-Dsign=false"
# shellcheck disable=SC2086
sh "$root/scripts/windows/build.sh" $sign >&2
sys="$root/zig/zig-out/windows/x64/ioperm.sys"

stamp="$prefix/ioperm-lab.stamp"
want="$(sha256sum "$sys" | cut -d' ' -f1) $allow $(wine --version 2>/dev/null)"
bun_exe=$(sh "$root/scripts/windows/bun-windows.sh" 2>"$root/.cache/windows/bun-windows.log") && bun_json="\"$bun_exe\"" || {
  bun_json=null
  echo "lab-prefix.sh: no bun.exe for the guest (the TypeScript-API-in-Wine test will skip):" >&2
  cat "$root/.cache/windows/bun-windows.log" >&2
}
write_info() {
  printf '{"prefix":"%s","allowlist":"%s","bunExe":%s}\n' "$prefix" "$allow" "$bun_json" >"$info"
}

if [ -f "$prefix/system.reg" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  write_info
  exit 0
fi

export IOPERM_WINEPREFIX="$prefix"
export IOPERM_WINE_LOGS="$root/.cache/windows/lab-logs"
export IOPERM_WINE_TIMEOUT="${IOPERM_WINE_TIMEOUT:-180}"
wine_sh="$root/scripts/windows/wine.sh"
rm -f "$stamp"
[ -f "$prefix/system.reg" ] || "$wine_sh" prefix
"$wine_sh" install-driver "$sys"
# shellcheck disable=SC2086
"$wine_sh" set-allowlist $allow
"$wine_sh" kill
echo "$want" >"$stamp"
write_info
