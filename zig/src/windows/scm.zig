//! ioperm.sys as a kernel service, through the Service Control Manager:
//! install (register and start), uninstall, status.
const std = @import("std");
const proto = @import("ioperm_ioctl");
const platform = @import("../platform.zig");
const status = @import("../status.zig");
const device = @import("device.zig");
const win32 = @import("win32.zig");

/// The service's name (IOPERM_SERVICE_NAME in the header).
const service_name = std.unicode.utf8ToUtf16LeStringLiteral(proto.IOPERM_SERVICE_NAME);

/// SHA-256 of the ioperm.sys built with this DLL (zig/build.zig runs
/// windows-driver/tools/hashzig.zig on the signed image). The source driver sits
/// in build output or a package a user may be able to write; a hash file beside
/// it would be as writable as the driver, but this one is part of the DLL the
/// administrator runs to install it.
const expected_sha256: [32]u8 = blk: {
    var digest: [32]u8 = undefined;
    _ = std.fmt.hexToBytes(&digest, @import("driver_sha256").sha256_hex) catch unreachable;
    break :blk digest;
};

/// Far above any ioperm.sys (~100 KB): anything larger is refused unread.
const max_driver_size = 16 << 20;

fn scmFailure() i32 {
    const e = win32.GetLastError();
    platform.diagnosis.os_error = @bitCast(e);
    return switch (e) {
        win32.err.access_denied => status.of(.driver_access_denied),
        win32.err.service_does_not_exist => status.of(.driver_not_installed),
        else => status.of(.driver_io),
    };
}

fn openScm(access: u32) ?win32.SC_HANDLE {
    const scm = win32.OpenSCManagerW(null, null, access);
    return if (scm == 0) null else scm;
}

/// Where the driver is installed: %SystemRoot%\System32\drivers\ioperm.sys, as the
/// INF puts it, in a directory only administrators can write. Never the user's
/// build output: a process that is not elevated could replace that file, and the
/// kernel would load the replacement at the next start.
fn installedPath(buf: *[520:0]u16) ?[*:0]const u16 {
    const tail = std.unicode.utf8ToUtf16LeStringLiteral("\\drivers\\" ++ proto.IOPERM_SERVICE_NAME ++ ".sys");
    const n = win32.GetSystemDirectoryW(buf, buf.len - tail.len - 1);
    if (n == 0 or n + tail.len >= buf.len) return null;
    @memcpy(buf[n..][0..tail.len], tail);
    buf[n + tail.len] = 0;
    return buf;
}

/// Reads the source driver through one handle that denies writers
/// (FILE_SHARE_READ only: nobody can change, rename or delete it while it is
/// open, and if someone already holds it open for writing, the open fails), and
/// checks its SHA-256 against the one built into this DLL. The bytes returned
/// (page_allocator) are the bytes hashed, so the copy installed is the file checked.
fn readChecked(source: [*:0]const u16) union(enum) { bytes: []u8, rc: i32 } {
    const h = win32.CreateFileW(source, win32.GENERIC_READ, win32.FILE_SHARE_READ, null, win32.OPEN_EXISTING, win32.FILE_ATTRIBUTE_NORMAL, null);
    if (h == win32.invalid_handle) {
        if (win32.GetLastError() == win32.err.sharing_violation) return .{ .rc = win32.fail(status.of(.driver_mismatch)) };
        return .{ .rc = scmFailure() };
    }
    defer _ = win32.CloseHandle(h);
    var size: i64 = 0;
    if (win32.GetFileSizeEx(h, &size) == 0) return .{ .rc = scmFailure() };
    if (size <= 0 or size > max_driver_size) return .{ .rc = status.of(.driver_mismatch) };
    const buf = std.heap.page_allocator.alloc(u8, @intCast(size)) catch return .{ .rc = status.of(.bad_buffer) };
    var done: usize = 0;
    while (done < buf.len) {
        var got: u32 = 0;
        const ok = win32.ReadFile(h, buf[done..].ptr, @intCast(buf.len - done), &got, null) != 0;
        if (!ok or got == 0) {
            const rc = if (ok) status.of(.driver_mismatch) else scmFailure();
            std.heap.page_allocator.free(buf);
            return .{ .rc = rc };
        }
        done += got;
    }
    var digest: [32]u8 = undefined;
    std.crypto.hash.sha2.Sha256.hash(buf, &digest, .{});
    if (!std.mem.eql(u8, &digest, &expected_sha256)) {
        std.heap.page_allocator.free(buf);
        return .{ .rc = status.of(.driver_mismatch) };
    }
    return .{ .bytes = buf };
}

/// Writes the checked bytes as the installed driver, replacing any older copy.
fn writeInstalled(dest: [*:0]const u16, bytes: []const u8) i32 {
    const h = win32.CreateFileW(dest, win32.GENERIC_WRITE, 0, null, win32.CREATE_ALWAYS, win32.FILE_ATTRIBUTE_NORMAL, null);
    if (h == win32.invalid_handle) return scmFailure();
    defer _ = win32.CloseHandle(h);
    var done: usize = 0;
    while (done < bytes.len) {
        var put: u32 = 0;
        if (win32.WriteFile(h, bytes[done..].ptr, @intCast(bytes.len - done), &put, null) == 0) return scmFailure();
        done += put;
    }
    return status.ok;
}

/// Ports from here up are where PCI I/O BARs and the chipset's ACPI PM and SMI
/// blocks sit; every legacy ISA device decodes below it.
const first_non_isa_port = 0x400;

/// How many ports at 0x400 and above the running driver's allowlist admits (its
/// ALLOWLIST IOCTL, denylist applied), or 0 when the device does not open.
fn nonIsaPortsAllowed() i32 {
    if (device.open() != status.ok) return 0;
    var n: i32 = 0;
    var p: u32 = first_non_isa_port;
    while (p < proto.IOPERM_PORT_COUNT) : (p += 1) n += @intFromBool(device.allowed(p));
    return n;
}

/// Copies ioperm.sys (`path`, UTF-8, absolute) to System32\drivers, registers that
/// copy as a kernel service, `auto` starting at boot or on demand, and starts it.
/// An existing service is pointed at the copy. The source must hash to the
/// SHA-256 built into this DLL (driver_mismatch otherwise, nothing installed); a
/// source that cannot be read is refused. Needs an elevated caller. Returns the
/// number of ports at 0x400 and above that the started driver admits (0 for the
/// default allowlist): each may be a bus-master device's or the chipset's,
/// which the driver's denylist cannot judge.
pub fn driverInstall(path: [*:0]const u8, auto: bool) i32 {
    platform.diagnosis = .{};
    var source: [1024:0]u16 = undefined;
    const len = std.unicode.utf8ToUtf16Le(&source, std.mem.span(path)) catch return status.of(.bad_buffer);
    if (len >= source.len) return status.of(.bad_buffer);
    source[len] = 0;
    var wide: [520:0]u16 = undefined;
    _ = installedPath(&wide) orelse return win32.fail(status.of(.driver_io));
    const bytes = switch (readChecked(&source)) {
        .bytes => |b| b,
        .rc => |rc| return rc,
    };
    defer std.heap.page_allocator.free(bytes);
    const written = writeInstalled(&wide, bytes);
    if (written != status.ok) return written;
    const start = if (auto) win32.SERVICE_AUTO_START else win32.SERVICE_DEMAND_START;
    const scm = openScm(win32.SC_MANAGER_CONNECT | win32.SC_MANAGER_CREATE_SERVICE) orelse return scmFailure();
    defer _ = win32.CloseServiceHandle(scm);
    const access = win32.SERVICE_START | win32.SERVICE_QUERY_STATUS | win32.SERVICE_CHANGE_CONFIG;
    var svc = win32.CreateServiceW(scm, service_name, service_name, access, win32.SERVICE_KERNEL_DRIVER, start, win32.SERVICE_ERROR_NORMAL, &wide, null, null, null, null, null);
    if (svc == 0) {
        if (win32.GetLastError() != win32.err.service_exists) return scmFailure();
        svc = win32.OpenServiceW(scm, service_name, access);
        if (svc == 0) return scmFailure();
        if (win32.ChangeServiceConfigW(svc, win32.SERVICE_KERNEL_DRIVER, start, win32.SERVICE_ERROR_NORMAL, &wide, null, null, null, null, null, null) == 0) {
            const rc = scmFailure();
            _ = win32.CloseServiceHandle(svc);
            return rc;
        }
    }
    defer _ = win32.CloseServiceHandle(svc);
    if (win32.StartServiceW(svc, 0, null) == 0 and win32.GetLastError() != win32.err.service_already_running) return scmFailure();
    return nonIsaPortsAllowed();
}

/// Stops and deletes the service, and removes the installed driver file. This process's device handle is closed
/// first (the driver cannot unload while it is open), which ends its grants.
pub fn driverUninstall() i32 {
    platform.diagnosis = .{};
    device.closeDevice();
    const scm = openScm(win32.SC_MANAGER_CONNECT) orelse return scmFailure();
    defer _ = win32.CloseServiceHandle(scm);
    const svc = win32.OpenServiceW(scm, service_name, win32.SERVICE_STOP | win32.SERVICE_QUERY_STATUS | win32.DELETE);
    if (svc == 0) return scmFailure();
    defer _ = win32.CloseServiceHandle(svc);
    var st: win32.SERVICE_STATUS = undefined;
    if (win32.ControlService(svc, win32.SERVICE_CONTROL_STOP, &st) == 0 and win32.GetLastError() != win32.err.service_not_active) return scmFailure();
    if (win32.DeleteService(svc) == 0 and win32.GetLastError() != win32.err.service_marked_for_delete) return scmFailure();
    // The installed copy goes with the service (the driver is stopped, so unloaded).
    var wide: [520:0]u16 = undefined;
    const installed = installedPath(&wide) orelse return status.ok;
    if (win32.DeleteFileW(installed) == 0 and win32.GetLastError() != win32.err.file_not_found) return scmFailure();
    return status.ok;
}

/// The service's win32.SERVICE_STATUS.dwCurrentState (1 stopped ... 4 running), or a status.
pub fn driverStatus() i32 {
    platform.diagnosis = .{};
    const scm = openScm(win32.SC_MANAGER_CONNECT) orelse return scmFailure();
    defer _ = win32.CloseServiceHandle(scm);
    const svc = win32.OpenServiceW(scm, service_name, win32.SERVICE_QUERY_STATUS);
    if (svc == 0) return scmFailure();
    defer _ = win32.CloseServiceHandle(svc);
    var st: win32.SERVICE_STATUS = undefined;
    if (win32.QueryServiceStatus(svc, &st) == 0) return scmFailure();
    return @intCast(st.current_state);
}
