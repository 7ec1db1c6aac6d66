//! The driver's device protocol (windows-driver/include/ioperm_ioctl.h through
//! translate-c): the process's one handle to \\\\.\\ioperm, the version and
//! allowlist read when it opens, and each IOCTL with its verdict.
const std = @import("std");
const proto = @import("ioperm_ioctl");
const core = @import("../core.zig");
const platform = @import("../platform.zig");
const status = @import("../status.zig");
const win32 = @import("win32.zig");

/// The user-mode path of the driver's device (IOPERM_USER_PATH in the header).
const device_path = std.unicode.utf8ToUtf16LeStringLiteral(proto.IOPERM_USER_PATH);

/// Opened by the first grant (or version query) and kept for the process.
pub var device = std.atomic.Value(usize).init(win32.invalid_handle);
var device_lock = std.atomic.Value(bool).init(false);
pub var version: proto.IOPERM_VERSION_INFO = undefined;
var allowlist: proto.IOPERM_ALLOWLIST = undefined;

fn lock() void {
    while (device_lock.cmpxchgWeak(false, true, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
}

fn unlock() void {
    device_lock.store(false, .release);
}

pub fn ioctl(h: usize, code: u32, in: ?*const anyopaque, in_len: usize, out: ?*anyopaque, out_len: usize) i32 {
    var got: u32 = 0;
    if (win32.DeviceIoControl(h, code, in, @intCast(in_len), out, @intCast(out_len), &got, null) == 0)
        return win32.fail(status.of(.driver_io));
    if (got != out_len) return status.of(.driver_io);
    return status.ok;
}

/// The process's handle to \\.\ioperm, opened and checked on first use: the
/// protocol version must match and the allowlist is read once.
pub fn open() i32 {
    if (device.load(.acquire) != win32.invalid_handle) return status.ok;
    lock();
    defer unlock();
    if (device.load(.acquire) != win32.invalid_handle) return status.ok;
    const h = win32.CreateFileW(device_path, win32.GENERIC_READ | win32.GENERIC_WRITE, 0, null, win32.OPEN_EXISTING, 0, null);
    if (h == win32.invalid_handle) {
        const e = win32.GetLastError();
        platform.diagnosis.os_error = @bitCast(e);
        return switch (e) {
            win32.err.file_not_found, win32.err.path_not_found => status.of(.driver_not_installed),
            win32.err.access_denied => status.of(.driver_access_denied),
            else => status.of(.driver_io),
        };
    }
    var rc = ioctl(h, proto.IOCTL_IOPERM_VERSION, null, 0, &version, @sizeOf(proto.IOPERM_VERSION_INFO));
    if (rc == status.ok and (version.protocol != proto.IOPERM_PROTOCOL_VERSION or version.op_size != @sizeOf(core.Op)))
        rc = status.of(.driver_version);
    if (rc == status.ok) rc = ioctl(h, proto.IOCTL_IOPERM_ALLOWLIST, null, 0, &allowlist, @sizeOf(proto.IOPERM_ALLOWLIST));
    if (rc != status.ok) {
        _ = win32.CloseHandle(h);
        return rc;
    }
    device.store(h, .release);
    return status.ok;
}

/// Bumped whenever this process loses what its threads were granted through
/// the handle: the handle closed (the driver revokes its IOPM grant at cleanup),
/// or the driver revoked the IOPM grant after a failed one. A thread's mirror
/// from an older generation holds nothing (windows.zig checks it before access).
pub var generation = std.atomic.Value(u32).init(1);

/// Held shared by every access for as long as it uses the handle or, on x86,
/// the IOPM grant (pin/unpin), and exclusively by closeDevice: a close waits for
/// the accesses in flight, and an access that starts after it sees the new
/// generation and is refused. Without it, a thread could pass its grant check,
/// another could close the device, and the first would then send its IOCTL to
/// a closed (or reused) handle, or run `in`/`out` with the IOPM grant revoked,
/// which faults the process.
var lifetime: win32.SRWLOCK = .{};

/// Pins the device for one access by a thread whose grants belong to
/// generation `held`: true (unpin after) when they are still current, false
/// (nothing held) when the device was closed since, so the access must be refused.
pub inline fn pin(held: u32) bool {
    win32.AcquireSRWLockShared(&lifetime);
    if (held == generation.load(.acquire)) return true;
    win32.ReleaseSRWLockShared(&lifetime);
    return false;
}

pub inline fn unpin() void {
    win32.ReleaseSRWLockShared(&lifetime);
}

/// Closes the process's handle (before the service is stopped, which waits for
/// it), and with it every thread's grants: the IOPM holders are reset and the
/// generation bumped, under the IOPM lock so no grant or revoke is half done,
/// and after every access in flight (lifetime) has finished.
pub fn closeDevice() void {
    win32.AcquireSRWLockExclusive(&lifetime);
    defer win32.ReleaseSRWLockExclusive(&lifetime);
    win32.AcquireSRWLockExclusive(&iopm_lock);
    defer win32.ReleaseSRWLockExclusive(&iopm_lock);
    lock();
    defer unlock();
    iopm_holders = 0;
    _ = generation.fetchAdd(1, .acq_rel);
    const h = device.swap(win32.invalid_handle, .acq_rel);
    if (h != win32.invalid_handle) _ = win32.CloseHandle(h);
}

pub fn allowed(port: u32) bool {
    return allowlist.bits[port >> 3] & (@as(u8, 1) << @intCast(port & 7)) != 0;
}

pub fn allowedRange(from: u32, count: u32) bool {
    var p = from;
    while (p < from + count) : (p += 1) if (!allowed(p)) return false;
    return true;
}

/// The driver's verdict as a status code.
pub fn verdict(result: i32) i32 {
    return switch (result) {
        proto.IOPERM_RESULT_OK => status.ok,
        proto.IOPERM_RESULT_NOT_ALLOWED => status.of(.not_allowed),
        proto.IOPERM_RESULT_BAD_WIDTH => status.of(.bad_width),
        proto.IOPERM_RESULT_BAD_OP => status.of(.bad_op),
        proto.IOPERM_RESULT_RANGE => status.of(.range),
        proto.IOPERM_RESULT_TIMEOUT => status.of(.timeout),
        proto.IOPERM_RESULT_TOO_LONG => status.of(.too_long),
        else => status.of(.driver_io),
    };
}

/// IOPERM_VERSION_INFO of the running driver, as its six u32 fields.
pub fn driverVersion(out: *[6]u32) i32 {
    comptime std.debug.assert(@sizeOf(proto.IOPERM_VERSION_INFO) == @sizeOf([6]u32));
    platform.diagnosis = .{};
    const rc = open();
    if (rc != status.ok) return rc;
    out.* = @as(*const [6]u32, @ptrCast(&version)).*;
    return status.ok;
}

/// One READ or WRITE IOCTL: the value read (>= 0) or a negative status.
pub fn single(comptime width: u32, port: u16, flags: u8, value: u32) i64 {
    var op: proto.IOPERM_OP = .{ .port = port, .width = width, .flags = flags, .value = value };
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    const code = if (flags & proto.IOPERM_OP_WRITE != 0) proto.IOCTL_IOPERM_WRITE else proto.IOCTL_IOPERM_READ;
    const rc = ioctl(device.load(.acquire), code, &op, @sizeOf(proto.IOPERM_OP), &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
    if (rc != status.ok) return rc;
    const v = verdict(reply.result);
    return if (v != status.ok) v else reply.value;
}

/// Header and ops in one buffer, as IOCTL_IOPERM_BATCH wants them.
pub const chunk_ops = 512;
const Chunk = extern struct {
    header: proto.IOPERM_BATCH_HEADER,
    ops: [chunk_ops]core.Op,
};

/// One IOCTL for `ops` (at most IOPERM_MAX_BATCH). The driver's copy comes
/// back with the values read; `values` gets those of the slots before `index`
/// (all of them when every op ran), one u32 per slot as core.runEach writes them.
pub fn batchIoctl(ops: []const core.Op, values: [*]u32, index: *u32) i32 {
    var local: Chunk = undefined;
    const size = @sizeOf(proto.IOPERM_BATCH_HEADER) + ops.len * @sizeOf(core.Op);
    const heap = ops.len > chunk_ops;
    const buf: []align(4) u8 = if (heap)
        std.heap.page_allocator.alignedAlloc(u8, .@"4", size) catch return status.of(.bad_buffer)
    else
        @as([*]align(4) u8, @ptrCast(&local))[0..size];
    defer if (heap) std.heap.page_allocator.free(buf);
    const header: *proto.IOPERM_BATCH_HEADER = @ptrCast(buf.ptr);
    const list: [*]core.Op = @ptrCast(@alignCast(buf.ptr + @sizeOf(proto.IOPERM_BATCH_HEADER)));
    header.* = .{ .count = @intCast(ops.len), .result = 0, .index = 0, .value = 0 };
    @memcpy(list[0..ops.len], ops);
    const rc = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_BATCH, buf.ptr, size, buf.ptr, size);
    if (rc != status.ok) return rc;
    const v = verdict(header.result);
    // A timeout stops the list after the ops before it ran: their values count too.
    if (v == status.of(.timeout)) core.timeout_value = header.value;
    const ran: usize = if (v == status.ok) ops.len else @min(header.index, ops.len);
    for (list[0..ran], 0..) |op, i| values[i] = op.value;
    index.* = @intCast(ran);
    return v;
}

/// rep ins/outs through the driver: a batch of accesses to one port per IOCTL.
pub fn stringChunks(comptime width: u32, port: u16, comptime write_op: bool, buf: anytype, count: usize) i32 {
    var ops: [chunk_ops]core.Op = undefined;
    var done: usize = 0;
    while (done < count) {
        const n = @min(count - done, chunk_ops);
        for (ops[0..n], 0..) |*op, i| op.* = .{
            .port = port,
            .width = width,
            .flags = if (write_op) core.Op.write_flag else 0,
            .value = if (write_op) buf[done + i] else 0,
        };
        var values: [chunk_ops]u32 = undefined;
        var index: u32 = 0;
        const rc = batchIoctl(ops[0..n], &values, &index);
        if (rc != status.ok) return rc;
        if (!write_op) for (values[0..n], 0..) |v, i| {
            buf[done + i] = @intCast(v);
        };
        done += n;
    }
    return status.ok;
}

/// One dword of PCI configuration space through IOCTL_IOPERM_PCI_READ: the
/// driver does the 0xCF8/0xCFC pair itself (those ports stay denylisted).
/// Arguments are checked here as the driver checks them, so a bad one is
/// `range` rather than the driver's ERROR_INVALID_PARAMETER.
pub fn pciRead32(bus: u32, dev: u32, function: u32, offset: u32, out: *u32) i32 {
    if (bus > proto.IOPERM_PCI_MAX_BUS or dev > proto.IOPERM_PCI_MAX_DEVICE or function > proto.IOPERM_PCI_MAX_FUNCTION or
        offset > proto.IOPERM_PCI_MAX_OFFSET or offset & 3 != 0) return status.of(.range);
    platform.diagnosis = .{};
    const rc = open();
    if (rc != status.ok) return rc;
    if (version.capabilities & proto.IOPERM_CAP_PCI_READ == 0) return status.of(.unsupported);
    var address: proto.IOPERM_PCI_ADDRESS = .{ .bus = bus, .device = dev, .function = function, .offset = offset };
    var value: u32 = undefined;
    win32.AcquireSRWLockShared(&lifetime);
    defer win32.ReleaseSRWLockShared(&lifetime);
    const h = device.load(.acquire);
    if (h == win32.invalid_handle) return status.of(.driver_not_installed); // closed since open() above
    const r = ioctl(h, proto.IOCTL_IOPERM_PCI_READ, &address, @sizeOf(proto.IOPERM_PCI_ADDRESS), &value, @sizeOf(u32));
    if (r != status.ok) return r;
    out.* = value;
    return status.ok;
}

// ---- the x86 IOPM grant --------------------------------------------------------

/// Serialises IOPM grant and revoke with the holder count and with closeDevice:
/// without it, a release that drops the count to 0 could revoke (for the whole
/// handle) a grant another thread made between the count and the revoke.
var iopm_lock: win32.SRWLOCK = .{};
/// Threads of this process holding an IOPM (direct) grant. The driver tracks the
/// grant per handle and this process has one handle, so it is given back only
/// when the last of them releases. Guarded by iopm_lock.
var iopm_holders: u32 = 0;

/// x86 only: opens this process's I/O permission map for a range the allowlist
/// admits. `held` is the generation of the calling thread's IOPM grant (null
/// when it holds none): a thread is counted as a holder once per generation.
/// The generation the grant belongs to is written to `gen`. If the driver fails
/// the request (not a verdict), it has revoked the whole handle's grant: every
/// thread's mirror is stale, so the generation moves on.
pub fn iopmGrant(from: u32, count: u32, held: ?u32, gen: *u32) i32 {
    win32.AcquireSRWLockExclusive(&iopm_lock);
    defer win32.ReleaseSRWLockExclusive(&iopm_lock);
    var range: proto.IOPERM_RANGE = .{ .from = from, .count = count };
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    const rc = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_IOPM_GRANT, &range, @sizeOf(proto.IOPERM_RANGE), &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
    if (rc != status.ok) {
        iopm_holders = 0;
        _ = generation.fetchAdd(1, .acq_rel);
        return rc;
    }
    const v = verdict(reply.result);
    gen.* = generation.load(.acquire);
    if (v == status.ok and held != gen.*) iopm_holders += 1;
    return v;
}

/// One thread gives its IOPM grant back; the last one revokes it for the handle.
/// `gen` is the generation the thread's grant belongs to: an older one was
/// already given back with the handle, so it counts for nothing.
pub fn iopmRelease(gen: u32) void {
    win32.AcquireSRWLockExclusive(&iopm_lock);
    defer win32.ReleaseSRWLockExclusive(&iopm_lock);
    if (gen != generation.load(.acquire) or iopm_holders == 0) return;
    iopm_holders -= 1;
    if (iopm_holders != 0) return;
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    _ = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_IOPM_REVOKE, null, 0, &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
}
