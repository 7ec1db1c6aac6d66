//! Status codes: the single source of truth. Every export returns 0 or a negative
//! status: a negated Linux errno (-1 EPERM, -38 ENOSYS, ...) or one of the fixed
//! codes below, which sit below -4096 so that they never collide with an errno.
//! lib/status.ts mirrors this table and test/status.test.ts checks it against
//! `ioperm_status_at`, so the two cannot drift apart.
const std = @import("std");

pub const Code = enum(i32) {
    /// The port is outside what the calling thread was granted: the instruction was not run.
    not_granted = -5001,
    /// Neither ioperm/iopl nor /dev/port (nor the Windows driver) is usable.
    no_backend = -5002,
    /// Port range is outside 0..0xFFFF, or a range/count is zero or overflows.
    range = -5003,
    /// Width is not 1, 2 or 4 bytes.
    bad_width = -5004,
    /// A batch op has unknown flags.
    bad_op = -5005,
    /// /dev/port performs byte accesses only: 16/32-bit I/O needs the direct backend.
    width_unsupported = -5006,
    /// iopl(3) is in force: a partial release cannot take effect; release everything.
    iopl_active = -5007,
    /// The thread already holds grants through another backend.
    backend_mismatch = -5008,
    /// Windows: the ioperm driver is not installed or not started.
    driver_not_installed = -5009,
    /// Windows: the driver refused to open (not elevated).
    driver_access_denied = -5010,
    /// Windows: the port is not in the driver's allowlist.
    not_allowed = -5011,
    /// Windows: the driver speaks another protocol version.
    driver_version = -5012,
    /// Windows: DeviceIoControl failed for another reason.
    driver_io = -5013,
    /// The operation does not exist on this platform or architecture.
    unsupported = -5014,
    /// A null or misaligned buffer, or a count that overflows it.
    bad_buffer = -5015,
    /// A bus lock (buslock.zig) was still held by another process or thread when the wait ran out.
    lock_timeout = -5021,
    /// Windows: the ioperm.sys given to driver install is not the one this library was built with
    /// (its SHA-256 differs, or another process holds it open for writing): nothing was installed.
    driver_mismatch = -5020,
    /// Every prepared-batch slot holds a batch: free some (prepared.max_slots are alive).
    too_many_prepared = -5016,
    /// A batch's wait saw no match before its timeout: the ops before it ran, none after it.
    timeout = -5017,
    /// A wait, delay or pulse is over the step cap, or a batch's timed steps add up to more
    /// than the call cap (IOPERM_MAX_STEP_US, IOPERM_MAX_CALL_US): nothing ran.
    too_long = -5018,
};

pub const ok: i32 = 0;

pub inline fn of(c: Code) i32 {
    return @backingInt(c);
}

/// Negated errno, the Linux convention for a failed syscall.
pub inline fn errno(e: anytype) i32 {
    return -@as(i32, @intCast(@backingInt(e)));
}

pub const all = std.enums.values(Code);

test "fixed codes never collide with errno values" {
    for (all) |c| try std.testing.expect(@backingInt(c) < -4095);
}
