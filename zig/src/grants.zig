//! The calling thread's grants, mirrored in user space so that an ungranted port
//! is refused before its instruction runs (the CPU would raise #GP and the kernel
//! would SIGSEGV the whole process). Linux keeps the I/O bitmap per thread, so
//! this mirror is thread-local too. A new thread starts with an empty mirror even
//! when the kernel let it inherit its creator's grants: refusing a port the kernel
//! would allow is safe; the opposite would crash.
const std = @import("std");

pub const port_count = 0x10000;

pub const Backend = enum(u8) {
    none = 0,
    /// ioperm/iopl and the in/out instructions in this process.
    direct = 1,
    /// pread/pwrite on /dev/port: the kernel does each byte access.
    devport = 2,
    /// Windows: DeviceIoControl to ioperm.sys.
    driver = 3,
    /// Linux: one parallel port through /dev/parportN (ppdev), no capability needed.
    ppdev = 4,
};

/// Set beside the backend number in ioperm_thread_backend() when the thread holds every port.
pub const all_ports_flag: i32 = 0x100;

pub const Thread = struct {
    bits: [port_count / 64]u64 = @splat(0),
    /// Every port: iopl(3), an open /dev/port granted wholesale, or the driver.
    all: bool = false,
    backend: Backend = .none,
    /// With `generation`, names this thread's grants as they are now: set by
    /// touch() whenever they (or the backend) may have changed. Prepared
    /// batches compare both to skip re-checking their grants. `id` is unique
    /// to a thread (taken from a process-wide counter; 0: never touched), so a
    /// stamp from one thread never matches another's.
    id: u32 = 0,
    generation: u64 = 0,

    pub fn covers(t: *const Thread, port: u32, width: u32) bool {
        if (t.all) return true;
        var p = port;
        while (p < port + width) : (p += 1) {
            if (t.bits[p >> 6] & (@as(u64, 1) << @intCast(p & 63)) == 0) return false;
        }
        return true;
    }

    pub fn set(t: *Thread, from: u32, count: u32, on: bool) void {
        var p = from;
        const end = from + count;
        // Whole words where possible: a 64 Ki-port grant is 1024 stores, not 65536.
        while (p < end) {
            if (p & 63 == 0 and end - p >= 64) {
                t.bits[p >> 6] = if (on) ~@as(u64, 0) else 0;
                p += 64;
            } else {
                const m = @as(u64, 1) << @intCast(p & 63);
                if (on) t.bits[p >> 6] |= m else t.bits[p >> 6] &= ~m;
                p += 1;
            }
        }
    }

    pub fn clear(t: *Thread) void {
        t.* = .{};
    }

    pub fn any(t: *const Thread) bool {
        if (t.all) return true;
        for (t.bits) |w| if (w != 0) return true;
        return false;
    }
};

threadlocal var state: Thread = .{};

/// Source of thread ids (32-bit: x86 has no 64-bit atomic add).
var thread_ids = std.atomic.Value(u32).init(0);

/// Marks a thread's grants as changed (call after anything that may change them).
pub fn touch(t: *Thread) void {
    if (t.id == 0) t.id = thread_ids.fetchAdd(1, .monotonic) +% 1;
    t.generation +%= 1;
}

pub fn current() *Thread {
    return &state;
}

/// Range check shared by every entry point: from..from+count stays inside the
/// 64 Ki port space and count is not zero.
pub fn validRange(from: u32, count: u32) bool {
    return count != 0 and from < port_count and count <= port_count - from;
}

pub fn validWidth(width: u32) bool {
    return width == 1 or width == 2 or width == 4;
}

test "set and covers agree, word and bit paths" {
    var t: Thread = .{};
    t.set(0x378, 3, true);
    try std.testing.expect(t.covers(0x378, 1));
    try std.testing.expect(t.covers(0x379, 2));
    try std.testing.expect(!t.covers(0x37A, 2));
    try std.testing.expect(!t.covers(0x377, 1));
    t.set(0, 0x10000, true);
    try std.testing.expect(t.covers(0xFFFC, 4));
    t.set(0x40, 0x80, false);
    try std.testing.expect(!t.covers(0x40, 1));
    try std.testing.expect(!t.covers(0xBF, 1));
    try std.testing.expect(t.covers(0x3F, 1) and t.covers(0xC0, 1));
    t.clear();
    try std.testing.expect(!t.any());
}

test "ranges" {
    try std.testing.expect(validRange(0, 0x10000));
    try std.testing.expect(validRange(0xFFFF, 1));
    try std.testing.expect(!validRange(0xFFFF, 2));
    try std.testing.expect(!validRange(0x10000, 1));
    try std.testing.expect(!validRange(5, 0));
    try std.testing.expect(!validRange(0xFFFFFFFF, 2));
}
