//! The ppdev backend: one parallel port through the kernel's parport driver
//! (/dev/parportN), so an ordinary user in group lp can drive it with no
//! capability. The three registers map to ppdev's ioctls: base+0 data
//! (PPRDATA/PPWDATA), base+1 status (PPRSTATUS, read-only), base+2 control
//! (PPRCONTROL/PPWCONTROL). The claim (PPCLAIM, optionally PPEXCL first) is
//! held by the process's one descriptor until everything is released.
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

/// What the next ppdev grant opens: set by configure() (lib/ reads the base from /proc/sys/dev/parport).
var path: [64:0]u8 = @splat(0);
var base = std.atomic.Value(u32).init(0);
var exclusive = false;
var fd = std.atomic.Value(i32).init(-1);

/// Remembers the device for the next grant. A path longer than 63 bytes is refused.
pub fn configure(device: [*:0]const u8, port_base: u32, excl: bool) i32 {
    const s = std.mem.span(device);
    if (s.len == 0 or s.len >= path.len or port_base > 0xfffd) return status.of(.range);
    @memset(&path, 0);
    @memcpy(path[0..s.len], s);
    base.store(port_base, .release);
    exclusive = excl;
    return status.ok;
}

/// Whether from..from+count-1 lies within the port's three registers.
pub fn covers(from: u32, count: u32) bool {
    const b = base.load(.acquire);
    return b != 0 and from >= b and from + count <= b + 3;
}

/// Opens and claims the device (once per process); the errno on failure.
pub fn claim() linux.E {
    if (fd.load(.acquire) >= 0) return .SUCCESS;
    const rc = linux.open(&path, .{ .ACCMODE = .RDWR, .CLOEXEC = true }, 0);
    var e = linux.errno(rc);
    if (e != .SUCCESS) return e;
    const f: i32 = @intCast(rc);
    if (exclusive) e = linux.errno(linux.ioctl(f, PPEXCL, 0));
    if (e == .SUCCESS) e = linux.errno(linux.ioctl(f, PPCLAIM, 0));
    // ppdev registers with the parport core at the first claim and answers ENXIO
    // when the core refuses: another process (or a driver) holds the port exclusively.
    if (e == .NXIO) e = .BUSY;
    if (e != .SUCCESS or fd.cmpxchgStrong(-1, f, .acq_rel, .acquire) != null) _ = linux.close(f);
    return e;
}

/// Gives the port back to the kernel and closes the device.
pub fn release() void {
    const f = fd.swap(-1, .acq_rel);
    if (f < 0) return;
    _ = linux.ioctl(f, PPRELEASE, 0);
    _ = linux.close(f);
}

/// The register at `port` (caller checked the grant): its value, or a negative status.
pub fn read(port: u16) i64 {
    const req = switch (port - base.load(.acquire)) {
        0 => PPRDATA,
        1 => PPRSTATUS,
        2 => PPRCONTROL,
        else => return status.of(.not_granted),
    };
    var v: u8 = 0;
    const e = linux.errno(linux.ioctl(fd.load(.acquire), req, @intFromPtr(&v)));
    return if (e == .SUCCESS) v else status.errno(e);
}

/// Writes data (base+0) or control (base+2); status (base+1) is read-only in every port.
pub fn write(port: u16, value: u8) i32 {
    const req = switch (port - base.load(.acquire)) {
        0 => PPWDATA,
        2 => PPWCONTROL,
        1 => return status.of(.unsupported),
        else => return status.of(.not_granted),
    };
    var v = value;
    return status.errno(linux.errno(linux.ioctl(fd.load(.acquire), req, @intFromPtr(&v))));
}
