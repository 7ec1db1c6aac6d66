#!/bin/sh
# Builds the native library with the pinned Zig (see scripts/bootstrap.sh).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/zig" && "$root/.cache/bin/zig" build -Doptimize=ReleaseFast "$@"
