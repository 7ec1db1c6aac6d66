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

fn scmFailure() i32 {
    const e = win32.GetLastError();
    platform.diagnosis.ioperm_errno = @bitCast(e);
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

/// Copies ioperm.sys (`path`, UTF-8, absolute) to System32\drivers, registers that
/// copy as a kernel service, `auto` starting at boot or on demand, and starts it.
/// An existing service is pointed at the copy. A source that cannot be read is
/// refused. Needs an elevated caller.
pub fn driverInstall(path: [*:0]const u8, auto: bool) i32 {
    platform.diagnosis = .{};
    var source: [1024:0]u16 = undefined;
    const len = std.unicode.utf8ToUtf16Le(&source, std.mem.span(path)) catch return status.of(.bad_buffer);
    if (len >= source.len) return status.of(.bad_buffer);
    source[len] = 0;
    var wide: [520:0]u16 = undefined;
    _ = installedPath(&wide) orelse return win32.fail(status.of(.driver_io));
    if (win32.CopyFileW(&source, &wide, 0) == 0) return scmFailure();
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
    return status.ok;
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
