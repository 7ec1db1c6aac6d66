//! Windows backend: ioperm.sys runs the port instructions. This file is the
//! backend (grants and accesses); windows/device.zig speaks the driver's protocol
//! (the header through translate-c, so codes and layouts are never copied by
//! hand), windows/scm.zig installs the service, windows/win32.zig declares the API.
//!
//! One device handle serves the whole process; grants stay per thread, in the
//! same mirror as on Linux (grants.zig), so an ungranted port is refused here
//! before any IOCTL. The driver checks again against its allowlist, which an
//! administrator controls. On x86 (32-bit) Windows a grant can instead open the
//! process's I/O permission bitmap (the seed article's method, driver
//! IOCTL_IOPERM_IOPM_GRANT) and the instructions then run in this process; x64
//! kernels have no such mechanism, so there every access is one IOCTL and a
//! batch is exactly one IOCTL.
const std = @import("std");
const builtin = @import("builtin");
const proto = @import("ioperm_ioctl");
const core = @import("core.zig");
const cpu = @import("cpu.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");
const platform = @import("platform.zig");
const device = @import("windows/device.zig");
const scm = @import("windows/scm.zig");
const win32 = @import("windows/win32.zig");
const Thread = grants.Thread;
const Backend = grants.Backend;

const is_x86 = builtin.cpu.arch == .x86;

pub const driverVersion = device.driverVersion;
pub const pciRead32 = device.pciRead32;
pub const driverInstall = scm.driverInstall;
pub const driverUninstall = scm.driverUninstall;
pub const driverStatus = scm.driverStatus;

/// Inherited grants (ioperm-run) are a Linux mechanism.
pub fn adopt(_: *Thread, _: i32) i32 {
    return status.of(.unsupported);
}

/// ppdev is Linux's parallel-port driver: there is none here.
pub fn ppdevConfigure(_: [*:0]const u8, _: u32, _: bool) i32 {
    return status.of(.unsupported);
}

// ---- grants -------------------------------------------------------------------

/// device.generation when this thread's grants were made. Closing the device
/// (driverUninstall) takes every thread's grants with it, including the x86
/// IOPM, where an access on a stale mirror would fault the process; so each
/// access first checks this, and a stale mirror is cleared and refused.
threadlocal var held_since: u32 = 0;

/// Clears this thread's mirror if the handle it was granted through is gone.
fn stale(t: *Thread) bool {
    if (t.backend == .none or held_since == device.generation.load(.acquire)) return false;
    t.clear();
    return true;
}

/// The calling thread's grants, cleared first if they predate the device
/// handle: core.zig reaches the mirror only through here, so every access,
/// batch, query and release sees a closed device as "nothing granted".
pub inline fn thread() *Thread {
    const t = grants.current();
    _ = stale(t);
    return t;
}

/// The backends that exist here besides auto (0): the driver, and direct (the IOPM grant) on x86 only.
pub fn offers(kind: u32) bool {
    return kind == @backingInt(Backend.driver) or (is_x86 and kind == @backingInt(Backend.direct));
}

fn pickBackend(t: *const Thread) ?Backend {
    const pref: Backend = @fromBackingInt(@intCast(platform.preference));
    if (t.backend != .none) {
        if (pref != .none and pref != t.backend) return null;
        return t.backend;
    }
    if (pref != .none) return pref;
    return if (is_x86 and device.version.capabilities & proto.IOPERM_CAP_IOPM != 0) .direct else .driver;
}

/// Opens the driver, checks the range against its allowlist (so a refusal
/// comes at grant time, as on Linux), and records the grant for this thread.
pub fn grant(t: *Thread, from: u32, count: u32) i32 {
    platform.diagnosis = .{};
    const rc = device.open();
    if (rc != status.ok) return rc;
    if (!device.allowedRange(from, count)) return status.of(.not_allowed);
    const backend = pickBackend(t) orelse return status.of(.backend_mismatch);
    var gen = device.generation.load(.acquire);
    if (backend == .direct) {
        const g = device.iopmGrant(from, count, if (t.backend == .direct) held_since else null, &gen);
        if (g != status.ok) {
            _ = stale(t); // a failed request revoked the handle's whole IOPM grant
            return g;
        }
    }
    // A grant made across a close belongs to the newer handle: older ranges are gone.
    if (t.backend != .none and gen != held_since) t.clear();
    held_since = gen;
    t.backend = backend;
    t.set(from, count, true);
    return status.ok;
}

/// Every port the driver's allowlist admits (never more: the allowlist is the
/// administrator's, and on x86 an unlisted port would fault in this process).
pub fn grantAll(t: *Thread) i32 {
    platform.diagnosis = .{};
    const rc = device.open();
    if (rc != status.ok) return rc;
    var any = false;
    var p: u32 = 0;
    while (p < grants.port_count) {
        if (!device.allowed(p)) {
            p += 1;
            continue;
        }
        var end = p;
        while (end < grants.port_count and device.allowed(end)) end += 1;
        const g = grant(t, p, end - p);
        if (g != status.ok) return g;
        any = true;
        p = end;
    }
    return if (any) status.ok else status.of(.not_allowed);
}

/// count == 0 releases everything this thread holds.
pub fn release(t: *Thread, from: u32, count: u32) i32 {
    if (count != 0) {
        t.set(from, count, false);
        if (t.any()) return status.ok;
    }
    if (t.backend == .direct) device.iopmRelease(held_since);
    t.clear();
    return status.ok;
}

// ---- access -------------------------------------------------------------------

// Each access below runs pinned (device.pin): the grants the caller checked
// were made through the handle still open, and it stays open, with the x86 IOPM
// grant in force, until the access is done. A close in between makes the access
// NOT_GRANTED (the mirror is cleared at the next thread()), never a fault.

/// Value (>= 0) or a negative status. The caller checked range and grants.
pub inline fn read(backend: Backend, comptime width: u32, port: u16) i64 {
    if (!device.pin(held_since)) return status.of(.not_granted);
    defer device.unpin();
    if (is_x86 and backend == .direct) return cpu.in(width, port);
    return device.single(width, port, 0, 0);
}

pub inline fn write(backend: Backend, comptime width: u32, port: u16, value: cpu.Int(width)) i32 {
    if (!device.pin(held_since)) return status.of(.not_granted);
    defer device.unpin();
    if (is_x86 and backend == .direct) {
        cpu.out(width, port, value);
        return status.ok;
    }
    return @intCast(device.single(width, port, proto.IOPERM_OP_WRITE, value));
}

/// Exactly one IOCTL on the driver backend, timed steps included (the driver
/// runs them); core.batch has checked every op and the caps, which the driver
/// checks again. The x86 direct backend runs the list in this process.
pub fn batch(backend: Backend, list: []const core.Op, values: [*]u32, out: *u32) i32 {
    // A thread without grants got here with a list of delays alone (core.batch
    // checked every op): the device may not be open yet, and there is no grant
    // whose generation the pin must match, only the device's current one.
    if (backend == .none) {
        const opened = device.open();
        if (opened != status.ok) return opened;
    }
    if (!device.pin(if (backend == .none) device.generation.load(.acquire) else held_since)) {
        out.* = 0;
        return status.of(.not_granted);
    }
    defer device.unpin();
    if (is_x86 and backend == .direct) return core.runEach(.direct, list, values, out);
    if (list.len > proto.IOPERM_MAX_BATCH) return status.of(.range);
    var index: u32 = 0;
    const rc = device.batchIoctl(list, values, &index);
    out.* = index;
    return rc;
}

/// The performance counter in nanoseconds: the clock of timed steps run in this
/// process (the x86 direct backend; the driver keeps its own). The frequency is
/// read each time: it is a read of shared memory, and a cached i64 would need a
/// 64-bit atomic that x86 lacks.
pub fn monotonicNs() u64 {
    var f: i64 = 1;
    _ = win32.QueryPerformanceFrequency(&f);
    var c: i64 = 0;
    _ = win32.QueryPerformanceCounter(&c);
    const count: u64 = @intCast(c);
    const freq: u64 = @intCast(f);
    return count / freq * std.time.ns_per_s + count % freq * std.time.ns_per_s / freq;
}

pub fn readString(backend: Backend, comptime width: u32, port: u16, buf: [*]cpu.Int(width), count: usize) i32 {
    if (!device.pin(held_since)) return status.of(.not_granted);
    defer device.unpin();
    if (is_x86 and backend == .direct) {
        for (0..count) |i| buf[i] = cpu.in(width, port);
        return status.ok;
    }
    return device.stringChunks(width, port, false, buf, count);
}

pub fn writeString(backend: Backend, comptime width: u32, port: u16, buf: [*]const cpu.Int(width), count: usize) i32 {
    if (!device.pin(held_since)) return status.of(.not_granted);
    defer device.unpin();
    if (is_x86 and backend == .direct) {
        for (0..count) |i| cpu.out(width, port, buf[i]);
        return status.ok;
    }
    return device.stringChunks(width, port, true, buf, count);
}
