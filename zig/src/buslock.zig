//! The bus locks hardware tools share, so that two programs never interleave
//! their transactions on one bus: on Windows the named mutexes that HWiNFO,
//! AIDA64, LibreHardwareMonitor and others take (names below, each cited), on
//! Linux an advisory flock on a file under /run/lock that every ioperm process
//! honours (other Linux tools do not know it).
//!
//! Every wait is bounded: a timeout is lock_timeout, never a hang. A holder that
//! dies releases the lock: the kernel drops a dead process's flock, and Windows
//! hands an abandoned mutex to the next waiter (WAIT_ABANDONED, taken as ours).
const std = @import("std");
const builtin = @import("builtin");
const status = @import("status.zig");

/// One entry per bus; the kind numbers are the ABI (lib/lock.ts names them and is checked against these).
pub const Bus = enum(u32) {
    isa = 0,
    smbus = 1,
    pci = 2,
    ec = 3,
};

/// The Windows mutex name of each bus. ISA, PCI and EC: LibreHardwareMonitor's
/// Hardware/Mutexes.cs; SMBus: the name SMBus tools share (LibreHardwareMonitor's
/// SMBus code, RAMSPDToolkit, OpenRGB, PawnIO's users).
pub fn windowsName(bus: Bus) [:0]const u8 {
    return switch (bus) {
        .isa => "Global\\Access_ISABUS.HTP.Method",
        .smbus => "Global\\Access_SMBUS.HTP.Method",
        .pci => "Global\\Access_PCI",
        .ec => "Global\\Access_EC",
    };
}

/// The Linux lock file of each bus: /run/lock is world-writable and sticky on
/// every systemd and Debian system, so any user can create and lock it.
pub fn linuxPath(bus: Bus) [:0]const u8 {
    return switch (bus) {
        .isa => "/run/lock/ioperm-isa.lock",
        .smbus => "/run/lock/ioperm-smbus.lock",
        .pci => "/run/lock/ioperm-pci.lock",
        .ec => "/run/lock/ioperm-ec.lock",
    };
}

/// The longest wait a caller may ask for: one minute. Longer is refused (range).
pub const max_timeout_ms: u32 = 60_000;

pub fn busOf(kind: u32) ?Bus {
    return std.enums.fromInt(Bus, kind);
}

/// Takes `bus`'s lock, waiting at most `timeout_ms`; the handle to release it with, or a negative status.
pub fn lock(bus: Bus, timeout_ms: u32) i64 {
    if (timeout_ms > max_timeout_ms) return status.of(.range);
    return switch (builtin.os.tag) {
        .linux => linuxLock(bus, timeout_ms),
        .windows => windowsLock(bus, timeout_ms),
        else => status.of(.unsupported),
    };
}

/// Releases a lock `lock` returned.
pub fn unlock(handle: i64) i32 {
    if (handle < 0) return status.of(.bad_buffer);
    return switch (builtin.os.tag) {
        .linux => linuxUnlock(handle),
        .windows => windowsUnlock(handle),
        else => status.of(.unsupported),
    };
}

const linux = std.os.linux;
const LOCK_EX: i32 = 2;
const LOCK_NB: i32 = 4;
const LOCK_UN: i32 = 8;

fn monotonicMs() u64 {
    var ts: linux.timespec = undefined;
    _ = linux.clock_gettime(.MONOTONIC, &ts);
    return @as(u64, @intCast(ts.sec)) * 1000 + @as(u64, @intCast(ts.nsec)) / 1_000_000;
}

/// Opens the lock file without following a symlink planted in the sticky
/// directory: an existing file first (O_CREAT on another user's file in a
/// sticky directory is refused where fs.protected_regular is on), else a new one.
fn openLockFile(path: [:0]const u8) i32 {
    const existing = linux.open(path, .{ .ACCMODE = .RDONLY, .NOFOLLOW = true, .CLOEXEC = true }, 0);
    if (linux.errno(existing) == .SUCCESS) return @intCast(existing);
    if (linux.errno(existing) != .NOENT) return status.errno(linux.errno(existing));
    const made = linux.open(path, .{ .ACCMODE = .RDONLY, .CREAT = true, .EXCL = true, .NOFOLLOW = true, .CLOEXEC = true }, 0o644);
    if (linux.errno(made) == .EXIST) return openLockFile(path); // another process made it meanwhile
    if (linux.errno(made) != .SUCCESS) return status.errno(linux.errno(made));
    // Readable by all (flock needs no write access), whatever the umask made of 0644.
    _ = linux.fchmod(@intCast(made), 0o644);
    return @intCast(made);
}

fn linuxLock(bus: Bus, timeout_ms: u32) i64 {
    const fd = openLockFile(linuxPath(bus));
    if (fd < 0) return fd;
    const deadline = monotonicMs() + timeout_ms;
    while (true) {
        const e = linux.errno(linux.flock(fd, LOCK_EX | LOCK_NB));
        if (e == .SUCCESS) return fd;
        if (e != .AGAIN and e != .INTR) {
            _ = linux.close(fd);
            return status.errno(e);
        }
        if (monotonicMs() >= deadline) {
            _ = linux.close(fd);
            return status.of(.lock_timeout);
        }
        const ms: linux.timespec = .{ .sec = 0, .nsec = 1_000_000 };
        _ = linux.nanosleep(&ms, null);
    }
}

fn linuxUnlock(handle: i64) i32 {
    const fd: i32 = std.math.cast(i32, handle) orelse return status.of(.bad_buffer);
    _ = linux.flock(fd, LOCK_UN);
    const e = linux.errno(linux.close(fd));
    return if (e == .SUCCESS) status.ok else status.errno(e);
}

const win = if (builtin.os.tag == .windows) @import("windows/win32.zig") else struct {};

fn windowsLock(bus: Bus, timeout_ms: u32) i64 {
    const name = switch (bus) {
        inline else => |b| comptime std.unicode.utf8ToUtf16LeStringLiteral(windowsName(b)),
    };
    var h = win.CreateMutexW(null, 0, name);
    // Another tool may have made it with a DACL that lets us wait but not create.
    if (h == 0) h = win.OpenMutexW(win.SYNCHRONIZE | win.MUTEX_MODIFY_STATE, 0, name);
    if (h == 0) return win.fail(status.of(.driver_io));
    switch (win.WaitForSingleObject(h, timeout_ms)) {
        win.WAIT_OBJECT_0, win.WAIT_ABANDONED => return @intCast(h),
        win.WAIT_TIMEOUT => {
            _ = win.CloseHandle(h);
            return status.of(.lock_timeout);
        },
        else => {
            const rc = win.fail(status.of(.driver_io));
            _ = win.CloseHandle(h);
            return rc;
        },
    }
}

fn windowsUnlock(handle: i64) i32 {
    const h: usize = @intCast(handle);
    // A mutex is owned by the thread that took it: release from that thread.
    const rc = if (win.ReleaseMutex(h) != 0) status.ok else win.fail(status.of(.driver_io));
    _ = win.CloseHandle(h);
    return rc;
}

test "every bus has a Linux path under /run/lock and a Global\\ Windows name" {
    for (std.enums.values(Bus)) |b| {
        try std.testing.expect(std.mem.startsWith(u8, linuxPath(b), "/run/lock/ioperm-"));
        try std.testing.expect(std.mem.startsWith(u8, windowsName(b), "Global\\Access_"));
    }
    try std.testing.expectEqual(@as(?Bus, null), busOf(4));
}
