#!/bin/sh
# Installs whatever this project needs and is missing, quietly and idempotently.
# Pins live elsewhere, once each: Bun in package.json (devDependencies), Zig in
# zig/build.zig.zon (minimum_zig_version), Debian package names and the QEMU and
# kernel series in package.json ("toolchain"). Everything lands in .cache/, except
# the lab's kernel: that goes to the per-user lab cache, as for users (lib/lab).
#   sh scripts/bootstrap.sh            Bun, npm packages, Zig
#   sh scripts/bootstrap.sh --lab      also QEMU, busybox, the lab's witness tools and the Debian kernel
#   sh scripts/bootstrap.sh --windows  also Wine and osslsigncode (the Windows tests)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache/bin"
say() { printf 'bootstrap: %s\n' "$*" >&2; }
lab=false windows=false
for a in "$@"; do
  case "$a" in
    --lab) lab=true ;;
    --windows) windows=true ;;
    *) say "unknown option $a (use --lab, --windows)"; exit 64 ;;
  esac
done
json() { node -e 'const p=require(process.argv[1]);const v=process.argv[2].split(".").reduce((o,k)=>o[k],p);console.log(Array.isArray(v)?v.join(" "):v)' "$root/package.json" "$1"; }

# Bun and the npm dev dependencies (node and npm come with the machine).
bun_pin=$(json devDependencies.bun)
if [ "$("$root/node_modules/.bin/bun" --version 2>/dev/null || true)" != "$bun_pin" ] || [ ! -d "$root/node_modules/mitata" ]; then
  say "installing Bun $bun_pin and npm dev dependencies"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >"$cache/npm.log" 2>&1) || { cat "$cache/npm.log" >&2; exit 1; }
fi
ln -sf "$root/node_modules/.bin/bun" "$cache/bin/bun"

# Zig from PyPI into a private target directory, never the user's site-packages.
zig_pin=$(sed -n 's/.*minimum_zig_version *= *"\([^"]*\)".*/\1/p' "$root/zig/build.zig.zon")
zig_dir="$cache/zig/$zig_pin"
if [ "$("$zig_dir/ziglang/zig" version 2>/dev/null || true)" != "$zig_pin" ]; then
  say "installing Zig $zig_pin (PyPI ziglang)"
  rm -rf "$zig_dir"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$zig_dir" "ziglang==$zig_pin" >"$cache/pip.log" 2>&1 || { cat "$cache/pip.log" >&2; exit 1; }
fi
ln -sf "$zig_dir/ziglang/zig" "$cache/bin/zig"

# Debian packages named by a package.json list, installed when missing.
debian() {
  missing=""
  for p in $(json "$1"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq $missing >"$cache/apt.log" 2>&1; then
    apt-get update -qq >>"$cache/apt.log" 2>&1
    apt-get install -y -qq $missing >>"$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; exit 1; }
  fi
}

if $windows; then
  debian toolchain.windowsDebian
  # pefile: the independent PE reader that checks the driver images.
  pefile_pin=$(json toolchain.pefile)
  if [ "$(PYTHONPATH="$cache/python" python3 -c 'import pefile; print(pefile.__version__)' 2>/dev/null || true)" != "$pefile_pin" ]; then
    say "installing pefile $pefile_pin (PyPI)"
    rm -rf "$cache/python"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$cache/python" "pefile==$pefile_pin" >"$cache/pip.log" 2>&1 || { cat "$cache/pip.log" >&2; exit 1; }
  fi
fi
$lab || exit 0

# The lab: Debian packages, then the current Debian kernel, unpacked (never installed).
debian toolchain.debian
qemu_series=$(json toolchain.qemuSeries)
qemu-system-x86_64 --version | head -1 | grep -q "version $qemu_series" \
  || { say "QEMU is not the pinned $qemu_series series: $(qemu-system-x86_64 --version | head -1)"; exit 1; }

# The kernel and busybox come the way users' labs get theirs (lib/lab/toolchain.ts),
# into the per-user cache; here we only check the kernel is the pinned series.
series=$(json toolchain.kernelSeries)
prepared=$("$cache/bin/bun" "$root/lib/cli.ts" lab --prepare 2>"$cache/lab-prepare.log") || { cat "$cache/lab-prepare.log" >&2; exit 1; }
printf '%s\n' "$prepared" | grep -q "^lab: kernel $series\." \
  || { say "the lab's kernel is not the pinned $series series: $(printf '%s\n' "$prepared" | grep '^lab: kernel')"; exit 1; }
