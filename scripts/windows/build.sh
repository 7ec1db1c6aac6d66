#!/bin/sh
# Builds everything Windows with the pinned Zig: ioperm.dll, ioperm.sys (x64
# and x86, checksummed, test-signed, checked), iopermctl.exe and the Wine shim.
# Extra arguments go to `zig build` (e.g. -Dsign=false).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root/zig" && "$root/.cache/bin/zig" build -Dwindows=true -Doptimize=ReleaseFast "$@"
