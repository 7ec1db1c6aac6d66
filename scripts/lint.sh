#!/bin/sh
# The formatters and the linter, checked (never rewritten) in npm test: zig fmt
# for all Zig, clang-format (.clang-format) for all C (the driver's and the tests'),
# Biome (biome.json) for TypeScript. To fix: zig fmt <files>; clang-format -i <files>;
# biome check --write .
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
.cache/bin/zig fmt --check $(git ls-files '*.zig')
clang-format --dry-run --Werror $(git ls-files '*.c' '*.h')
node_modules/.bin/biome ci --colors=off . >/dev/null || node_modules/.bin/biome ci --colors=off .
