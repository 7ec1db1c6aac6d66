//! The ppdev backend: one parallel port through the kernel's parport driver
//! (/dev/parportN), so an ordinary user in group lp can drive it with no
//! capability. The three registers map to ppdev's ioctls: base+0 data
//! (PPRDATA/PPWDATA), base+1 status (PPRSTATUS, read-only), base+2 control
//! (PPRCONTROL/PPWCONTROL). The claim (PPCLAIM, optionally PPEXCL first) is
//! held by the thread's own descriptor until that thread releases everything.
//!
//! Per thread, like every other backend's grants: the device, its base and the
//! descriptor belong to the thread that configured and claimed them, so another
//! thread can neither use nor redirect them. A port one thread of this process
//! holds is refused to the others with EBUSY at once (the kernel would make a
//! second non-exclusive PPCLAIM wait until the first is given back).
const std = @import("std");
const linux = std.os.linux;
const status = @import("status.zig");

// <linux/ppdev.h>: _IO('p', n), _IOR('p', n, unsigned char), _IOW('p', n, unsigned char).
const PPCLAIM: u32 = 0x708b;
const PPRELEASE: u32 = 0x708c;
const PPEXCL: u32 = 0x708f;
const PPRSTATUS: u32 = 0x80017081;
const PPRCONTROL: u32 = 0x80017083;
const PPWCONTROL: u32 = 0x40017084;
const PPRDATA: u32 = 0x80017085;
const PPWDATA: u32 = 0x40017086;

/// What this thread's next ppdev grant opens: set by configure() (lib/ reads the base from /proc/sys/dev/parport).
threadlocal var path: [64:0]u8 = @splat(0);
threadlocal var base: u32 = 0;
threadlocal var exclusive = false;
/// This thread's claimed descriptor, -1 when it holds none.
threadlocal var fd: i32 = -1;

/// The bases of the ports some thread of this process has claimed (0 = free
/// slot), so that a second thread is refused instead of sharing or waiting.
var held: [8]u32 = @splat(0);
var held_lock: std.atomic.Mutex = .unlocked;

fn lock() void {
    while (!held_lock.tryLock()) std.atomic.spinLoopHint();
}

/// Marks this port held; false when another thread holds it (or every slot is taken).
fn reserve(b: u32) bool {
    lock();
    defer held_lock.unlock();
    for (held) |h| if (h == b) return false;
    for (&held) |*h| if (h.* == 0) {
        h.* = b;
        return true;
    };
    return false;
}

fn unreserve(b: u32) void {
    lock();
    defer held_lock.unlock();
    for (&held) |*h| if (h.* == b) {
        h.* = 0;
    };
}

/// Remembers the device for this thread's next grant. A path longer than 63 bytes
/// is refused, and so is a change while this thread holds a claim (release first).
pub fn configure(device: [*:0]const u8, port_base: u32, excl: bool) i32 {
    const s = std.mem.span(device);
    if (s.len == 0 or s.len >= path.len or port_base > 0xfffd) return status.of(.range);
    if (fd >= 0) {
        const same = port_base == base and excl == exclusive and std.mem.eql(u8, s, std.mem.sliceTo(&path, 0));
        return if (same) status.ok else status.of(.backend_mismatch);
    }
    @memset(&path, 0);
    @memcpy(path[0..s.len], s);
    base = port_base;
    exclusive = excl;
    return status.ok;
}

/// Whether from..from+count-1 lies within this thread's port's three registers.
pub fn covers(from: u32, count: u32) bool {
    return base != 0 and from >= base and from + count <= base + 3;
}

/// Opens and claims this thread's device (once, until released); the errno on
/// failure. EBUSY when another thread of this process holds the port.
pub fn claim() linux.E {
    if (fd >= 0) return .SUCCESS;
    if (!reserve(base)) return .BUSY;
    const rc = linux.open(&path, .{ .ACCMODE = .RDWR, .CLOEXEC = true }, 0);
    var e = linux.errno(rc);
    if (e == .SUCCESS) {
        const f: i32 = @intCast(rc);
        if (exclusive) e = linux.errno(linux.ioctl(f, PPEXCL, 0));
        if (e == .SUCCESS) e = linux.errno(linux.ioctl(f, PPCLAIM, 0));
        // ppdev registers with the parport core at the first claim and answers ENXIO
        // when the core refuses: another process (or a driver) holds the port exclusively.
        if (e == .NXIO) e = .BUSY;
        if (e == .SUCCESS) fd = f else _ = linux.close(f);
    }
    if (e != .SUCCESS) unreserve(base);
    return e;
}

/// Gives this thread's port back to the kernel and closes its descriptor.
pub fn release() void {
    if (fd < 0) return;
    _ = linux.ioctl(fd, PPRELEASE, 0);
    _ = linux.close(fd);
    fd = -1;
    unreserve(base);
}

/// The register at `port` (caller checked the grant): its value, or a negative status.
pub fn read(port: u16) i64 {
    const req = switch (port - base) {
        0 => PPRDATA,
        1 => PPRSTATUS,
        2 => PPRCONTROL,
        else => return status.of(.not_granted),
    };
    var v: u8 = 0;
    const e = linux.errno(linux.ioctl(fd, req, @intFromPtr(&v)));
    return if (e == .SUCCESS) v else status.errno(e);
}

/// Writes data (base+0) or control (base+2); status (base+1) is read-only in every port.
pub fn write(port: u16, value: u8) i32 {
    const req = switch (port - base) {
        0 => PPWDATA,
        2 => PPWCONTROL,
        1 => return status.of(.unsupported),
        else => return status.of(.not_granted),
    };
    var v = value;
    return status.errno(linux.errno(linux.ioctl(fd, req, @intFromPtr(&v))));
}

test "a port one thread holds is refused to the others until released, and configure stays per thread" {
    try std.testing.expect(reserve(0x378));
    const Other = struct {
        fn run(got: *[3]bool) void {
            got[0] = reserve(0x378); // held by the test's thread
            got[1] = reserve(0x278); // another port is free
            unreserve(0x278);
            got[2] = configure("/dev/parport1", 0x278, false) == status.ok and base == 0x278;
        }
    };
    var got: [3]bool = undefined;
    const t = try std.Thread.spawn(.{}, Other.run, .{&got});
    t.join();
    try std.testing.expectEqual([3]bool{ false, true, true }, got);
    try std.testing.expectEqual(@as(u32, 0), base); // the other thread's configure left ours alone
    unreserve(0x378);
    try std.testing.expect(reserve(0x378));
    unreserve(0x378);
}
