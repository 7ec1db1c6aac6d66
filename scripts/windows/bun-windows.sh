#!/bin/sh
# Puts Bun for Windows (the npm package @oven/bun-windows-x64, same version as
# the Bun pin in package.json) into .cache/windows/bun/, with the ProcessPrng
# shim (zig-out/windows/wine/bcryptprimitives.dll, built by
# `zig build -Dwindows=true`) beside bun.exe so it starts under Wine 8.
# Prints the path of bun.exe.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
pin=$(node -e 'console.log(require(process.argv[1]).devDependencies.bun)' "$root/package.json")
dir="$root/.cache/windows/bun/$pin"
if [ ! -x "$dir/bun.exe" ]; then
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  (cd "$dir.tmp" && npm pack --silent "@oven/bun-windows-x64@$pin" >pack.log 2>&1) || { cat "$dir.tmp/pack.log" >&2; exit 1; }
  tar -xzf "$dir.tmp"/oven-bun-windows-x64-"$pin".tgz -C "$dir.tmp"
  mkdir -p "$dir" && mv "$dir.tmp/package/bin/bun.exe" "$dir/bun.exe" && rm -rf "$dir.tmp"
fi
shim="$root/zig/zig-out/windows/wine/bcryptprimitives.dll"
[ -f "$shim" ] || { echo "bun-windows.sh: $shim is missing: run scripts/windows/build.sh" >&2; exit 1; }
cp "$shim" "$dir/bcryptprimitives.dll"
echo "$dir/bun.exe"
