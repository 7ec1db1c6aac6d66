#!/bin/sh
# Runs the Windows build under Wine in a private prefix, headless and bounded.
#   wine.sh prefix                  create/refresh the prefix (wineboot -i)
#   wine.sh install-driver SYS      copy SYS to system32\drivers, register the
#                                   ioperm service (auto start) and start it
#   wine.sh set-allowlist ENTRY...  write Parameters\AllowedPorts (none: delete it)
#   wine.sh restart-driver          stop and start the service (re-reads the allowlist)
#   wine.sh run OUT EXE ARGS...     run EXE, stdout+stderr into OUT, exit code kept
#   wine.sh sc OUT ARGS...          run Wine's sc.exe the same way
#   wine.sh server                  start a persistent wineserver: the session (services,
#                                   the driver in winedevice) then outlives each command
#                                   until `kill`, instead of ending 3 s after the last one
#   wine.sh kill                    stop every process of the prefix (wineserver -k)
# Every path is absolute under .cache/ so the same commands work from the lab
# VM's chroot. Wine's output always goes to files, never pipes: background Wine
# processes (services, winedevice) would hold a pipe open forever.
# Environment: IOPERM_WINEPREFIX (default .cache/windows/wineprefix),
# IOPERM_WINE_LOGS (default .cache/windows/logs), IOPERM_WINE_TIMEOUT (seconds
# per Wine command, default 60).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
export WINEPREFIX="${IOPERM_WINEPREFIX:-$root/.cache/windows/wineprefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
logs="${IOPERM_WINE_LOGS:-$root/.cache/windows/logs}"
mkdir -p "$logs"
T="${IOPERM_WINE_TIMEOUT:-60}"
command -v wine >/dev/null || { echo "wine.sh: wine is not installed (apt-get install wine wine64)" >&2; exit 127; }

bounded() { # OUT CMD...: run with a timeout, output to OUT
  out=$1; shift
  rc=0; timeout -k 5 "$T" "$@" >"$out" 2>&1 </dev/null || rc=$?
  return $rc
}

drivers="$WINEPREFIX/drive_c/windows/system32/drivers"
cmd=${1:-}; [ $# -gt 0 ] && shift
case "$cmd" in
  prefix)
    bounded "$logs/wineboot.log" wine wineboot -i || { cat "$logs/wineboot.log" >&2; exit 1; }
    ;;
  install-driver)
    # A registered auto-start service starts with the first Wine process of a
    # session, so stop and delete it, end the session, then register afresh.
    "$0" kill
    bounded "$logs/sc-stop.log" wine sc stop ioperm || true
    bounded "$logs/sc-delete.log" wine sc delete ioperm || true
    "$0" kill
    cp "$1" "$drivers/ioperm.sys"
    bounded "$logs/sc-create.log" wine sc create ioperm type= kernel start= auto error= normal \
      binPath= 'C:\windows\system32\drivers\ioperm.sys' DisplayName= ioperm || { cat "$logs/sc-create.log" >&2; exit 1; }
    bounded "$logs/sc-start.log" wine sc start ioperm || { cat "$logs/sc-start.log" >&2; exit 1; }
    ;;
  set-allowlist)
    key='HKLM\System\CurrentControlSet\Services\ioperm\Parameters'
    if [ $# -eq 0 ]; then
      bounded "$logs/reg.log" wine reg delete "$key" /v AllowedPorts /f || true
    else
      list=$(printf '%s\\0' "$@"); list=${list%\\0}
      # reg.exe can fail at once, silently, while the previous session is still going
      # down (seen under load); a second try after the server has exited is reliable.
      add() { bounded "$logs/reg.log" wine reg add "$key" /v AllowedPorts /t REG_MULTI_SZ /d "$list" /f; }
      if ! add; then
        timeout -k 5 30 wineserver -w >/dev/null 2>&1 </dev/null || true
        add || { echo "wine reg add failed twice:" >&2; cat "$logs/reg.log" >&2; exit 1; }
      fi
    fi
    ;;
  restart-driver)
    bounded "$logs/sc-stop.log" wine sc stop ioperm || true
    bounded "$logs/sc-start.log" wine sc start ioperm
    ;;
  run)
    out=$1; shift
    bounded "$out" wine "$@"
    ;;
  sc)
    out=$1; shift
    bounded "$out" wine sc "$@"
    ;;
  server)
    # wineserver detaches itself; -p: no idle timeout.
    bounded "$logs/wineserver.log" wineserver -p || { cat "$logs/wineserver.log" >&2; exit 1; }
    ;;
  kill)
    timeout -k 5 30 wineserver -k >/dev/null 2>&1 </dev/null || true
    timeout -k 5 30 wineserver -w >/dev/null 2>&1 </dev/null || true
    ;;
  *)
    sed -n '2,13p' "$0" >&2; exit 2
    ;;
esac
