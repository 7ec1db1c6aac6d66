#!/bin/busybox sh
# /init of the lab initramfs, built by lib/lab/initramfs.ts and booted by
# lib/lab/vm.ts. It turns the host's root filesystem (9p, read-only) into the
# guest's root with a throwaway tmpfs layer on top, so every host tool and the
# project tree sit at the same paths as on the host, then runs the run dir's
# guest.sh as root and reports the exit code through the run dir.
#
# Kernel command line (written by lib/lab/vm.ts from lib/lab/machine.ts):
#   lab.run=<host run dir> lab.id=<marker nonce>
#   lab.modules=<host dir of this kernel's /lib/modules/<kver>>
#   lab.exit=<isa-debug-exit's port, decimal>
#   lab.tty=2 when the host's stdout and stderr are terminals, 1 when only its stdout is, 0 when neither
/bin/busybox --install -s /bin
export PATH=/bin

# The kernel may start us without a console if the initramfs lacks /dev/console.
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

# isa-debug-exit (lab.exit=) ends QEMU at once; poweroff is the slower fallback
# for a machine without it. The harness reads the exit code from the run dir,
# never from QEMU's status.
leave() {
  sync
  [ -n "$exit" ] && printf '\052' | dd of=/dev/port bs=1 seek="$exit" count=1 conv=notrunc 2>/dev/null
  sleep 2
  poweroff -f
}
die() { echo "lab-init: $*"; leave; }

run= id= modules= exit= tty=0
for arg in $(cat /proc/cmdline); do
  case $arg in
    lab.tty=*) tty=${arg#lab.tty=} ;;
    lab.exit=*) exit=${arg#lab.exit=} ;;
    lab.run=*) run=${arg#lab.run=} ;;
    lab.id=*) id=${arg#lab.id=} ;;
    lab.modules=*) modules=${arg#lab.modules=} ;;
  esac
done
[ -n "$run" ] && [ -n "$id" ] || die "lab.run= and lab.id= are missing from the kernel command line"

# The builder lists only the modules this kernel has as files, in load order.
for m in $(cat /lib/modules/load.order); do
  insmod "/lib/modules/$m.ko" || die "insmod $m failed"
done

# msize is the 9p message size: the default (8 KiB) makes loading Bun's 90 MB
# binary crawl. The host root may be cached loosely: it is read-only to us and
# nothing in a lab run depends on seeing host edits made during the run.
mkdir -p /lower /layer /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower \
  || die "cannot mount the host root (9p tag hostroot): the kernel needs virtio-pci, 9p and 9pnet_virtio"
mount -t tmpfs -o mode=755 layer /layer
mkdir /layer/upper /layer/work
mount -t overlay -o lowerdir=/lower,upperdir=/layer/upper,workdir=/layer/work overlay /newroot \
  || die "cannot mount the overlay root: the kernel needs overlayfs"

mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
# /tmp stays the overlay's (writable, upper layer in RAM): a tmpfs here would hide
# a project that lives under the host's /tmp, as a CI clone may.
mount -t tmpfs -o mode=755 run /newroot/run
# /run/lock as systemd and Debian make it (world-writable, sticky): the bus locks live there.
mkdir -p /newroot/run/lock && chmod 1777 /newroot/run/lock

# The run dir is shared read-write and uncached, so the guest sees what QEMU's
# chardevs write on the host as it happens, and the host sees what the guest writes.
mkdir -p "/newroot$run"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labrun "/newroot$run" \
  || die "cannot mount the run dir (9p tag labrun)"

# This kernel's modules at the usual place, for tests that insmod e.g. parport_pc.
if [ -n "$modules" ] && [ -d "/newroot$modules" ]; then
  kdir="/newroot/lib/modules/$(uname -r)"
  mkdir -p "$kdir" && mount --bind "/newroot$modules" "$kdir"
fi
hostname lab

# Markers let the harness hide boot and shutdown noise. The end marker has no
# leading newline so output without a final newline comes through unchanged.
# The command's stdout is the console (COM1, which the host copies to its stdout);
# its stderr goes to <run>/stderr, which the host streams to its stderr as it grows.
# The console is a tty, and the command sees one where the host has one: both
# streams on it when the host's stdout and stderr are terminals (2), stdout alone
# (1), or neither, stdout then a pipe through cat (0).
printf '\n@@lab-start-%s@@\n' "$id"
case $tty in
  2)
    env -i chroot /newroot /bin/sh "$run/guest.sh" </dev/null
    echo "$?" >"/newroot$run/exit-code" ;;
  1)
    env -i chroot /newroot /bin/sh "$run/guest.sh" </dev/null 2>"/newroot$run/stderr"
    echo "$?" >"/newroot$run/exit-code" ;;
  *)
    { env -i chroot /newroot /bin/sh "$run/guest.sh" </dev/null 2>"/newroot$run/stderr"; echo "$?" >"/newroot$run/exit-code"; } | cat ;;
esac
printf '@@lab-end-%s@@\n' "$id"
leave
