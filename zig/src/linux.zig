//! Linux backends. `direct`: ioperm(2)/iopl(2) change the calling thread's I/O
//! permission bitmap and the instructions run here. `devport`: the kernel runs
//! each byte access for us through pread/pwrite on /dev/port (offset = port).
const std = @import("std");
const linux = std.os.linux;
const cpu = @import("cpu.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");
const platform = @import("platform.zig");
const core = @import("core.zig");
const ppdev = @import("ppdev.zig");
const Thread = grants.Thread;
const Backend = grants.Backend;

var devport_fd = std.atomic.Value(i32).init(-1);

/// The backends that exist here besides auto (0): direct, then /dev/port.
pub fn offers(kind: u32) bool {
    return kind == @backingInt(Backend.direct) or kind == @backingInt(Backend.devport) or kind == @backingInt(Backend.ppdev);
}

/// The device, base and claim mode of the next ppdev grant.
pub const ppdevConfigure = ppdev.configure;

fn sysErr(rc: usize) linux.E {
    return linux.errno(rc);
}

fn ioperm(from: u32, count: u32, on: bool) linux.E {
    return sysErr(linux.syscall3(.ioperm, from, count, @intFromBool(on)));
}

fn iopl(level: u32) linux.E {
    return sysErr(linux.syscall1(.iopl, level));
}

fn openDevport() linux.E {
    if (devport_fd.load(.acquire) >= 0) return .SUCCESS;
    const rc = linux.open("/dev/port", .{ .ACCMODE = .RDWR, .CLOEXEC = true }, 0);
    const e = sysErr(rc);
    if (e != .SUCCESS) return e;
    const fd: i32 = @intCast(rc);
    if (devport_fd.cmpxchgStrong(-1, fd, .acq_rel, .acquire) != null) _ = linux.close(fd);
    return .SUCCESS;
}

/// Fallback from ioperm to /dev/port only where ioperm itself cannot work here.
fn fallsBack(e: linux.E) bool {
    return e == .NOSYS or e == .PERM or e == .INVAL;
}

/// Picks the backend for this thread's grant and runs `direct` (a syscall) or
/// opens /dev/port. On success the thread's backend is recorded.
fn acquire(t: *Thread, comptime direct: fn (u32, u32) linux.E, from: u32, count: u32) i32 {
    platform.diagnosis = .{};
    const pref: Backend = @fromBackingInt(@intCast(platform.preference));
    var want = pref;
    if (t.backend != .none) {
        if (pref != .none and pref != t.backend) return status.of(.backend_mismatch);
        want = t.backend;
    }
    if (want == .ppdev) {
        // Only the configured port's three registers, and never everything (grantAll).
        if (count == 0 or !ppdev.covers(from, count)) return status.of(.not_granted);
        const e = ppdev.claim();
        if (e != .SUCCESS) {
            platform.diagnosis.os_error = @backingInt(e);
            return status.errno(e);
        }
        t.backend = .ppdev;
        return status.ok;
    }
    if (want == .none or want == .direct) {
        const e = direct(from, count);
        if (e == .SUCCESS) {
            t.backend = .direct;
            return status.ok;
        }
        platform.diagnosis.os_error = @backingInt(e);
        if (want == .direct or !fallsBack(e)) return status.errno(e);
    }
    const e = openDevport();
    if (e == .SUCCESS) {
        t.backend = .devport;
        return status.ok;
    }
    platform.diagnosis.devport_errno = @backingInt(e);
    if (want == .devport) return status.errno(e);
    // Both failed. Missing on both sides is "no backend"; otherwise the ioperm
    // error is the one to act on (EPERM: root or CAP_SYS_RAWIO).
    const io: linux.E = @fromBackingInt(@intCast(platform.diagnosis.os_error));
    if (io == .NOSYS and (e == .NOENT or e == .NXIO or e == .NODEV)) return status.of(.no_backend);
    return status.errno(io);
}

fn iopermOn(from: u32, count: u32) linux.E {
    return ioperm(from, count, true);
}

fn iopl3(_: u32, _: u32) linux.E {
    return iopl(3);
}

pub fn grant(t: *Thread, from: u32, count: u32) i32 {
    const rc = acquire(t, iopermOn, from, count);
    if (rc == status.ok) t.set(from, count, true);
    return rc;
}

pub fn grantAll(t: *Thread) i32 {
    const rc = acquire(t, iopl3, 0, 0);
    if (rc == status.ok) t.all = true;
    return rc;
}

/// count == 0 releases everything this thread holds.
pub fn release(t: *Thread, from: u32, count: u32) i32 {
    dropAdopted();
    if (count == 0) {
        if (t.backend == .direct) {
            if (t.all) _ = iopl(0);
            _ = ioperm(0, grants.port_count, false);
        }
        if (t.backend == .ppdev) ppdev.release();
        t.clear();
        return status.ok;
    }
    if (t.all) return status.of(.iopl_active);
    if (t.backend == .direct) {
        const e = ioperm(from, count, false);
        if (e != .SUCCESS) return status.errno(e);
    }
    t.set(from, count, false);
    if (t.backend == .ppdev and !t.any()) {
        ppdev.release();
        t.clear();
    }
    return status.ok;
}

fn devRead(port: u16, byte: *u8) i32 {
    const rc = linux.pread(devport_fd.load(.acquire), @ptrCast(byte), 1, port);
    const e = sysErr(rc);
    if (e != .SUCCESS) return status.errno(e);
    return if (rc == 1) status.ok else status.errno(linux.E.IO);
}

fn devWrite(port: u16, byte: u8) i32 {
    const rc = linux.pwrite(devport_fd.load(.acquire), @ptrCast(&byte), 1, port);
    const e = sysErr(rc);
    if (e != .SUCCESS) return status.errno(e);
    return if (rc == 1) status.ok else status.errno(linux.E.IO);
}

/// Value (>= 0) or a negative status. The caller checked range and grants.
pub inline fn read(backend: Backend, comptime width: u32, port: u16) i64 {
    if (backend == .direct) return cpu.in(width, port);
    if (width != 1) return status.of(.width_unsupported);
    if (backend == .ppdev) return ppdev.read(port);
    var b: u8 = 0;
    const rc = devRead(port, &b);
    return if (rc == status.ok) b else rc;
}

pub inline fn write(backend: Backend, comptime width: u32, port: u16, value: cpu.Int(width)) i32 {
    if (backend == .direct) {
        cpu.out(width, port, value);
        return status.ok;
    }
    if (width != 1) return status.of(.width_unsupported);
    if (backend == .ppdev) return ppdev.write(port, value);
    return devWrite(port, value);
}

pub fn readString(backend: Backend, comptime width: u32, port: u16, buf: [*]cpu.Int(width), count: usize) i32 {
    if (backend == .direct) {
        cpu.ins(width, port, buf, count);
        return status.ok;
    }
    if (width != 1) return status.of(.width_unsupported);
    // One byte per pread: a longer pread would walk consecutive ports, not repeat one.
    for (0..count) |i| {
        const v = read(backend, 1, port);
        if (v < 0) return @intCast(v);
        buf[i] = @intCast(v);
    }
    return status.ok;
}

pub fn writeString(backend: Backend, comptime width: u32, port: u16, buf: [*]const cpu.Int(width), count: usize) i32 {
    if (backend == .direct) {
        cpu.outs(width, port, buf, count);
        return status.ok;
    }
    if (width != 1) return status.of(.width_unsupported);
    for (0..count) |i| {
        const rc = write(backend, 1, port, buf[i]);
        if (rc != status.ok) return rc;
    }
    return status.ok;
}

/// Runs checked ops one by one (core.batch has checked the whole list).
pub fn batch(backend: Backend, list: []const core.Op, values: [*]u32, out: *u32) i32 {
    return core.runEach(backend, list, values, out);
}

/// CLOCK_MONOTONIC in nanoseconds, through the vDSO when the process has one
/// (std looks it up; a syscall otherwise): the clock of waits, delays and pulses.
pub fn monotonicNs() u64 {
    var ts: linux.timespec = undefined;
    _ = linux.clock_gettime(.MONOTONIC, &ts);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

/// The calling thread's grants: the mirror is the kernel's bitmap, nothing to refresh.
pub inline fn thread() *Thread {
    return grants.current();
}

/// Linux reads PCI configuration through 0xCF8/0xCFC grants (lib/devices/pci.ts).
pub fn pciRead32(_: u32, _: u32, _: u32, _: u32, _: *u32) i32 {
    return status.of(.unsupported);
}

// The Windows driver does not exist here.
pub fn driverVersion(_: *[6]u32) i32 {
    return status.of(.unsupported);
}
pub fn driverInstall(_: [*:0]const u8, _: bool) i32 {
    return status.of(.unsupported);
}
pub fn driverUninstall() i32 {
    return status.of(.unsupported);
}
pub fn driverStatus() i32 {
    return status.of(.unsupported);
}

/// The sealed grant list ioperm-run left us (IOPERM_GRANTS_FD), -1 when none or once released.
var adopted_fd = std.atomic.Value(i32).init(-1);
const F_GET_SEALS = 1034;
const required_seals = 1 | 2 | 4 | 8; // SEAL, SHRINK, GROW, WRITE

/// Starts the calling thread's mirror with the ranges ioperm-run granted before
/// it dropped root (src/tools/run.zig). Trusted only as root wrote it: a memfd
/// owned by uid 0 and sealed against every change, read on the main thread
/// (the one that inherited the I/O bitmap across execve). Anything else is refused
/// and the mirror stays empty, so a forged list gives NOT_GRANTED, never a fault.
pub fn adopt(t: *Thread, fd: i32) i32 {
    if (linux.gettid() != linux.getpid()) return status.of(.unsupported);
    var st: linux.Statx = undefined;
    if (linux.errno(linux.statx(fd, "", 0x1000, .{ .UID = true }, &st)) != .SUCCESS) return status.of(.bad_buffer);
    if (st.uid != 0) return status.of(.not_granted);
    const got = linux.fcntl(fd, F_GET_SEALS, 0);
    if (linux.errno(got) != .SUCCESS or got & required_seals != required_seals) return status.of(.not_granted);
    var list: [64][2]u32 = undefined;
    const rc = linux.pread(fd, @ptrCast(&list), @sizeOf(@TypeOf(list)), 0);
    if (linux.errno(rc) != .SUCCESS or rc % 8 != 0) return status.of(.bad_buffer);
    const n = rc / 8;
    for (list[0..n]) |g| if (!grants.validRange(g[0], g[1])) return status.of(.range);
    t.clear();
    for (list[0..n]) |g| t.set(g[0], g[1], true);
    t.backend = .direct;
    adopted_fd.store(fd, .release);
    return status.ok;
}

/// After any release the inherited list no longer says what the bitmap holds: close
/// it, so that children spawned from here do not inherit a stale claim.
fn dropAdopted() void {
    const fd = adopted_fd.swap(-1, .acq_rel);
    if (fd >= 0) _ = linux.close(fd);
}
