//! Windows backend: ioperm.sys runs the port instructions; this file speaks its
//! protocol (windows-driver/include/ioperm_ioctl.h, imported through translate-c
//! as "ioperm_ioctl", so codes and layouts are never copied by hand).
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
const Thread = grants.Thread;
const Backend = grants.Backend;

comptime {
    // core.Op travels to the driver as IOPERM_OP unchanged.
    std.debug.assert(@sizeOf(core.Op) == @sizeOf(proto.IOPERM_OP));
    for (.{ "port", "width", "flags", "value" }) |f|
        std.debug.assert(@offsetOf(core.Op, f) == @offsetOf(proto.IOPERM_OP, f));
    std.debug.assert(core.Op.write_flag == proto.IOPERM_OP_WRITE);
    std.debug.assert(grants.port_count == proto.IOPERM_PORT_COUNT);
}

/// The user-mode path of the driver's device (IOPERM_USER_PATH in the header).
const device_path = std.unicode.utf8ToUtf16LeStringLiteral(proto.IOPERM_USER_PATH);

const is_x86 = builtin.cpu.arch == .x86;

// ---- Win32 ------------------------------------------------------------------

const HANDLE = *anyopaque;
const BOOL = i32;
const invalid_handle: usize = std.math.maxInt(usize);
const GENERIC_READ: u32 = 0x80000000;
const GENERIC_WRITE: u32 = 0x40000000;
const OPEN_EXISTING: u32 = 3;

const err = struct {
    const file_not_found: u32 = 2;
    const path_not_found: u32 = 3;
    const access_denied: u32 = 5;
    const service_already_running: u32 = 1056;
    const service_does_not_exist: u32 = 1060;
    const service_not_active: u32 = 1062;
    const service_exists: u32 = 1073;
    const service_marked_for_delete: u32 = 1072;
};

extern "kernel32" fn CreateFileW(name: [*:0]const u16, access: u32, share: u32, security: ?*anyopaque, disposition: u32, flags: u32, template: ?HANDLE) callconv(.winapi) usize;
extern "kernel32" fn DeviceIoControl(device: usize, code: u32, in: ?*const anyopaque, in_len: u32, out: ?*anyopaque, out_len: u32, returned: ?*u32, overlapped: ?*anyopaque) callconv(.winapi) BOOL;
extern "kernel32" fn CloseHandle(h: usize) callconv(.winapi) BOOL;
extern "kernel32" fn GetLastError() callconv(.winapi) u32;

// ---- diagnosis ----------------------------------------------------------------

/// Same shape as on Linux; on Windows the first slot holds the Win32 error of
/// this thread's last failed driver or SCM call (0 = none), the second is unused.
pub const Diagnosis = extern struct { ioperm_errno: i32 = 0, devport_errno: i32 = 0 };
threadlocal var diagnosis: Diagnosis = .{};

pub fn lastDiagnosis() Diagnosis {
    return diagnosis;
}

fn win32Failure(code: i32) i32 {
    diagnosis.ioperm_errno = @bitCast(GetLastError());
    return code;
}

// ---- the device handle ----------------------------------------------------------

/// Opened by the first grant (or version query) and kept for the process.
var device = std.atomic.Value(usize).init(invalid_handle);
var device_lock = std.atomic.Value(bool).init(false);
var version: proto.IOPERM_VERSION_INFO = undefined;
var allowlist: proto.IOPERM_ALLOWLIST = undefined;

fn lock() void {
    while (device_lock.cmpxchgWeak(false, true, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
}

fn unlock() void {
    device_lock.store(false, .release);
}

fn ioctl(h: usize, code: u32, in: ?*const anyopaque, in_len: usize, out: ?*anyopaque, out_len: usize) i32 {
    var got: u32 = 0;
    if (DeviceIoControl(h, code, in, @intCast(in_len), out, @intCast(out_len), &got, null) == 0)
        return win32Failure(status.of(.driver_io));
    if (got != out_len) return status.of(.driver_io);
    return status.ok;
}

/// The process's handle to \\.\ioperm, opened and checked on first use: the
/// protocol version must match and the allowlist is read once.
fn open() i32 {
    if (device.load(.acquire) != invalid_handle) return status.ok;
    lock();
    defer unlock();
    if (device.load(.acquire) != invalid_handle) return status.ok;
    const h = CreateFileW(device_path, GENERIC_READ | GENERIC_WRITE, 0, null, OPEN_EXISTING, 0, null);
    if (h == invalid_handle) {
        const e = GetLastError();
        diagnosis.ioperm_errno = @bitCast(e);
        return switch (e) {
            err.file_not_found, err.path_not_found => status.of(.driver_not_installed),
            err.access_denied => status.of(.driver_access_denied),
            else => status.of(.driver_io),
        };
    }
    var rc = ioctl(h, proto.IOCTL_IOPERM_VERSION, null, 0, &version, @sizeOf(proto.IOPERM_VERSION_INFO));
    if (rc == status.ok and (version.protocol != proto.IOPERM_PROTOCOL_VERSION or version.op_size != @sizeOf(core.Op)))
        rc = status.of(.driver_version);
    if (rc == status.ok) rc = ioctl(h, proto.IOCTL_IOPERM_ALLOWLIST, null, 0, &allowlist, @sizeOf(proto.IOPERM_ALLOWLIST));
    if (rc != status.ok) {
        _ = CloseHandle(h);
        return rc;
    }
    device.store(h, .release);
    return status.ok;
}

/// Closes the process's handle (before the service is stopped, which waits for it).
fn closeDevice() void {
    lock();
    defer unlock();
    const h = device.swap(invalid_handle, .acq_rel);
    if (h != invalid_handle) _ = CloseHandle(h);
}

fn allowed(port: u32) bool {
    return allowlist.bits[port >> 3] & (@as(u8, 1) << @intCast(port & 7)) != 0;
}

fn allowedRange(from: u32, count: u32) bool {
    var p = from;
    while (p < from + count) : (p += 1) if (!allowed(p)) return false;
    return true;
}

/// The driver's verdict as a status code.
fn verdict(result: i32) i32 {
    return switch (result) {
        proto.IOPERM_RESULT_OK => status.ok,
        proto.IOPERM_RESULT_NOT_ALLOWED => status.of(.not_allowed),
        proto.IOPERM_RESULT_BAD_WIDTH => status.of(.bad_width),
        proto.IOPERM_RESULT_BAD_OP => status.of(.bad_op),
        proto.IOPERM_RESULT_RANGE => status.of(.range),
        else => status.of(.driver_io),
    };
}

/// IOPERM_VERSION_INFO of the running driver, as its six u32 fields.
pub fn driverVersion(out: *[6]u32) i32 {
    comptime std.debug.assert(@sizeOf(proto.IOPERM_VERSION_INFO) == @sizeOf([6]u32));
    diagnosis = .{};
    const rc = open();
    if (rc != status.ok) return rc;
    out.* = @as(*const [6]u32, @ptrCast(&version)).*;
    return status.ok;
}

// ---- grants -------------------------------------------------------------------

/// Which backend this thread's first grant picks: 0 auto, 1 direct (x86 IOPM
/// only), 3 driver (one IOCTL per access). /dev/port (2) does not exist here.
threadlocal var preference: u8 = 0;

/// Threads of this process holding an IOPM (direct) grant: the bitmap belongs
/// to the process, so it is given back only when the last of them releases.
var iopm_holders = std.atomic.Value(u32).init(0);

pub fn setPreference(kind: u32) i32 {
    switch (kind) {
        @backingInt(Backend.none), @backingInt(Backend.driver) => {},
        @backingInt(Backend.direct) => if (!is_x86) return status.of(.unsupported),
        else => return status.of(.unsupported),
    }
    preference = @intCast(kind);
    return status.ok;
}

fn pickBackend(t: *const Thread) ?Backend {
    const pref: Backend = @fromBackingInt(@intCast(preference));
    if (t.backend != .none) {
        if (pref != .none and pref != t.backend) return null;
        return t.backend;
    }
    if (pref != .none) return pref;
    return if (is_x86 and version.capabilities & proto.IOPERM_CAP_IOPM != 0) .direct else .driver;
}

fn iopmGrant(from: u32, count: u32) i32 {
    var range: proto.IOPERM_RANGE = .{ .from = from, .count = count };
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    const rc = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_IOPM_GRANT, &range, @sizeOf(proto.IOPERM_RANGE), &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
    return if (rc != status.ok) rc else verdict(reply.result);
}

fn iopmRevoke() void {
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    _ = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_IOPM_REVOKE, null, 0, &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
}

/// Opens the driver, checks the range against its allowlist (so a refusal
/// comes at grant time, as on Linux), and records the grant for this thread.
pub fn grant(t: *Thread, from: u32, count: u32) i32 {
    diagnosis = .{};
    const rc = open();
    if (rc != status.ok) return rc;
    if (!allowedRange(from, count)) return status.of(.not_allowed);
    const backend = pickBackend(t) orelse return status.of(.backend_mismatch);
    if (backend == .direct) {
        const g = iopmGrant(from, count);
        if (g != status.ok) return g;
        if (t.backend == .none) _ = iopm_holders.fetchAdd(1, .monotonic);
    }
    t.backend = backend;
    t.set(from, count, true);
    return status.ok;
}

/// Every port the driver's allowlist admits (never more: the allowlist is the
/// administrator's, and on x86 an unlisted port would fault in this process).
pub fn grantAll(t: *Thread) i32 {
    diagnosis = .{};
    const rc = open();
    if (rc != status.ok) return rc;
    var any = false;
    var p: u32 = 0;
    while (p < grants.port_count) {
        if (!allowed(p)) {
            p += 1;
            continue;
        }
        var end = p;
        while (end < grants.port_count and allowed(end)) end += 1;
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
    if (t.backend == .direct and iopm_holders.fetchSub(1, .acq_rel) == 1) iopmRevoke();
    t.clear();
    return status.ok;
}

// ---- access -------------------------------------------------------------------

fn single(comptime width: u32, port: u16, flags: u8, value: u32) i64 {
    var op: proto.IOPERM_OP = .{ .port = port, .width = width, .flags = flags, .value = value };
    var reply: proto.IOPERM_PORT_REPLY = undefined;
    const code = if (flags & proto.IOPERM_OP_WRITE != 0) proto.IOCTL_IOPERM_WRITE else proto.IOCTL_IOPERM_READ;
    const rc = ioctl(device.load(.acquire), code, &op, @sizeOf(proto.IOPERM_OP), &reply, @sizeOf(proto.IOPERM_PORT_REPLY));
    if (rc != status.ok) return rc;
    const v = verdict(reply.result);
    return if (v != status.ok) v else reply.value;
}

/// Value (>= 0) or a negative status. The caller checked range and grants.
pub inline fn read(backend: Backend, comptime width: u32, port: u16) i64 {
    if (is_x86 and backend == .direct) return cpu.in(width, port);
    return single(width, port, 0, 0);
}

pub inline fn write(backend: Backend, comptime width: u32, port: u16, value: cpu.Int(width)) i32 {
    if (is_x86 and backend == .direct) {
        cpu.out(width, port, value);
        return status.ok;
    }
    return @intCast(single(width, port, proto.IOPERM_OP_WRITE, value));
}

/// Header and ops in one buffer, as IOCTL_IOPERM_BATCH wants them.
const chunk_ops = 512;
const Chunk = extern struct {
    header: proto.IOPERM_BATCH_HEADER,
    ops: [chunk_ops]core.Op,
};

/// One IOCTL for `ops` (at most IOPERM_MAX_BATCH): values read come back in place.
fn batchIoctl(ops: []core.Op, index: *u32) i32 {
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
    header.* = .{ .count = @intCast(ops.len), .result = 0, .index = 0, .reserved = 0 };
    @memcpy(list[0..ops.len], ops);
    const rc = ioctl(device.load(.acquire), proto.IOCTL_IOPERM_BATCH, buf.ptr, size, buf.ptr, size);
    if (rc != status.ok) return rc;
    index.* = header.index;
    const v = verdict(header.result);
    if (v == status.ok) @memcpy(ops, list[0..ops.len]);
    return v;
}

/// Exactly one IOCTL on the driver backend; core.batch has checked every op.
pub fn batch(t: *Thread, list: []core.Op, out: *u32) i32 {
    if (is_x86 and t.backend == .direct) {
        for (list, 0..) |*op, i| {
            const rc = runDirect(op);
            if (rc != status.ok) {
                out.* = @intCast(i);
                return rc;
            }
        }
        out.* = @intCast(list.len);
        return status.ok;
    }
    if (list.len > proto.IOPERM_MAX_BATCH) return status.of(.range);
    var index: u32 = 0;
    const rc = batchIoctl(list, &index);
    out.* = if (rc == status.ok) @intCast(list.len) else index;
    return rc;
}

fn runDirect(op: *core.Op) i32 {
    return switch (op.width) {
        inline 1, 2, 4 => |w| blk: {
            if (op.flags & core.Op.write_flag != 0) {
                cpu.out(w, op.port, @intCast(op.value));
            } else op.value = cpu.in(w, op.port);
            break :blk status.ok;
        },
        else => status.of(.bad_width),
    };
}

/// rep ins/outs through the driver: a batch of accesses to one port per IOCTL.
fn stringChunks(comptime width: u32, port: u16, comptime write_op: bool, buf: anytype, count: usize) i32 {
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
        var index: u32 = 0;
        const rc = batchIoctl(ops[0..n], &index);
        if (rc != status.ok) return rc;
        if (!write_op) for (ops[0..n], 0..) |op, i| {
            buf[done + i] = @intCast(op.value);
        };
        done += n;
    }
    return status.ok;
}

pub fn readString(backend: Backend, comptime width: u32, port: u16, buf: [*]cpu.Int(width), count: usize) i32 {
    if (is_x86 and backend == .direct) {
        for (0..count) |i| buf[i] = cpu.in(width, port);
        return status.ok;
    }
    return stringChunks(width, port, false, buf, count);
}

pub fn writeString(backend: Backend, comptime width: u32, port: u16, buf: [*]const cpu.Int(width), count: usize) i32 {
    if (is_x86 and backend == .direct) {
        for (0..count) |i| cpu.out(width, port, buf[i]);
        return status.ok;
    }
    return stringChunks(width, port, true, buf, count);
}

// ---- the service (SCM) -----------------------------------------------------------

const SC_HANDLE = usize;
const SERVICE_KERNEL_DRIVER: u32 = 1;
const SERVICE_ERROR_NORMAL: u32 = 1;
const SERVICE_AUTO_START: u32 = 2;
const SERVICE_DEMAND_START: u32 = 3;
const SERVICE_NO_CHANGE: u32 = 0xFFFFFFFF;
const SC_MANAGER_CONNECT: u32 = 0x0001;
const SC_MANAGER_CREATE_SERVICE: u32 = 0x0002;
const SERVICE_QUERY_STATUS: u32 = 0x0004;
const SERVICE_CHANGE_CONFIG: u32 = 0x0002;
const SERVICE_START: u32 = 0x0010;
const SERVICE_STOP: u32 = 0x0020;
const DELETE: u32 = 0x00010000;
const SERVICE_CONTROL_STOP: u32 = 1;

const SERVICE_STATUS = extern struct {
    service_type: u32,
    current_state: u32,
    controls_accepted: u32,
    win32_exit_code: u32,
    service_specific_exit_code: u32,
    check_point: u32,
    wait_hint: u32,
};

extern "advapi32" fn OpenSCManagerW(machine: ?[*:0]const u16, database: ?[*:0]const u16, access: u32) callconv(.winapi) SC_HANDLE;
extern "advapi32" fn OpenServiceW(scm: SC_HANDLE, name: [*:0]const u16, access: u32) callconv(.winapi) SC_HANDLE;
extern "advapi32" fn CreateServiceW(scm: SC_HANDLE, name: [*:0]const u16, display: ?[*:0]const u16, access: u32, service_type: u32, start_type: u32, error_control: u32, binary: ?[*:0]const u16, group: ?[*:0]const u16, tag: ?*u32, deps: ?[*:0]const u16, user: ?[*:0]const u16, password: ?[*:0]const u16) callconv(.winapi) SC_HANDLE;
extern "advapi32" fn ChangeServiceConfigW(service: SC_HANDLE, service_type: u32, start_type: u32, error_control: u32, binary: ?[*:0]const u16, group: ?[*:0]const u16, tag: ?*u32, deps: ?[*:0]const u16, user: ?[*:0]const u16, password: ?[*:0]const u16, display: ?[*:0]const u16) callconv(.winapi) BOOL;
extern "advapi32" fn StartServiceW(service: SC_HANDLE, argc: u32, argv: ?[*]const [*:0]const u16) callconv(.winapi) BOOL;
extern "advapi32" fn ControlService(service: SC_HANDLE, control: u32, st: *SERVICE_STATUS) callconv(.winapi) BOOL;
extern "advapi32" fn QueryServiceStatus(service: SC_HANDLE, st: *SERVICE_STATUS) callconv(.winapi) BOOL;
extern "advapi32" fn DeleteService(service: SC_HANDLE) callconv(.winapi) BOOL;
extern "advapi32" fn CloseServiceHandle(h: SC_HANDLE) callconv(.winapi) BOOL;

/// The service's name (IOPERM_SERVICE_NAME in the header).
const service_name = std.unicode.utf8ToUtf16LeStringLiteral(proto.IOPERM_SERVICE_NAME);

fn scmFailure() i32 {
    const e = GetLastError();
    diagnosis.ioperm_errno = @bitCast(e);
    return switch (e) {
        err.access_denied => status.of(.driver_access_denied),
        err.service_does_not_exist => status.of(.driver_not_installed),
        else => status.of(.driver_io),
    };
}

fn openScm(access: u32) ?SC_HANDLE {
    const scm = OpenSCManagerW(null, null, access);
    return if (scm == 0) null else scm;
}

/// Registers ioperm.sys (`path`, UTF-8, absolute) as a kernel service, `auto`
/// starting at boot or on demand, and starts it. An existing service is
/// pointed at `path`. Needs an elevated caller.
pub fn driverInstall(path: [*:0]const u8, auto: bool) i32 {
    diagnosis = .{};
    var wide: [1024:0]u16 = undefined;
    const n = std.unicode.utf8ToUtf16Le(&wide, std.mem.span(path)) catch return status.of(.bad_buffer);
    if (n >= wide.len) return status.of(.bad_buffer);
    wide[n] = 0;
    const start = if (auto) SERVICE_AUTO_START else SERVICE_DEMAND_START;
    const scm = openScm(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE) orelse return scmFailure();
    defer _ = CloseServiceHandle(scm);
    const access = SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_CHANGE_CONFIG;
    var svc = CreateServiceW(scm, service_name, service_name, access, SERVICE_KERNEL_DRIVER, start, SERVICE_ERROR_NORMAL, &wide, null, null, null, null, null);
    if (svc == 0) {
        if (GetLastError() != err.service_exists) return scmFailure();
        svc = OpenServiceW(scm, service_name, access);
        if (svc == 0) return scmFailure();
        if (ChangeServiceConfigW(svc, SERVICE_KERNEL_DRIVER, start, SERVICE_ERROR_NORMAL, &wide, null, null, null, null, null, null) == 0) {
            const rc = scmFailure();
            _ = CloseServiceHandle(svc);
            return rc;
        }
    }
    defer _ = CloseServiceHandle(svc);
    if (StartServiceW(svc, 0, null) == 0 and GetLastError() != err.service_already_running) return scmFailure();
    return status.ok;
}

/// Stops and deletes the service. This process's device handle is closed
/// first (the driver cannot unload while it is open), which ends its grants.
pub fn driverUninstall() i32 {
    diagnosis = .{};
    closeDevice();
    const scm = openScm(SC_MANAGER_CONNECT) orelse return scmFailure();
    defer _ = CloseServiceHandle(scm);
    const svc = OpenServiceW(scm, service_name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
    if (svc == 0) return scmFailure();
    defer _ = CloseServiceHandle(svc);
    var st: SERVICE_STATUS = undefined;
    if (ControlService(svc, SERVICE_CONTROL_STOP, &st) == 0 and GetLastError() != err.service_not_active) return scmFailure();
    if (DeleteService(svc) == 0 and GetLastError() != err.service_marked_for_delete) return scmFailure();
    return status.ok;
}

/// The service's SERVICE_STATUS.dwCurrentState (1 stopped ... 4 running), or a status.
pub fn driverStatus() i32 {
    diagnosis = .{};
    const scm = openScm(SC_MANAGER_CONNECT) orelse return scmFailure();
    defer _ = CloseServiceHandle(scm);
    const svc = OpenServiceW(scm, service_name, SERVICE_QUERY_STATUS);
    if (svc == 0) return scmFailure();
    defer _ = CloseServiceHandle(svc);
    var st: SERVICE_STATUS = undefined;
    if (QueryServiceStatus(svc, &st) == 0) return scmFailure();
    return @intCast(st.current_state);
}
