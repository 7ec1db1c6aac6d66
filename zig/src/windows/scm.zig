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

/// Registers ioperm.sys (`path`, UTF-8, absolute) as a kernel service, `auto`
/// starting at boot or on demand, and starts it. An existing service is
/// pointed at `path`. Needs an elevated caller.
pub fn driverInstall(path: [*:0]const u8, auto: bool) i32 {
    platform.diagnosis = .{};
    var wide: [1024:0]u16 = undefined;
    const n = std.unicode.utf8ToUtf16Le(&wide, std.mem.span(path)) catch return status.of(.bad_buffer);
    if (n >= wide.len) return status.of(.bad_buffer);
    wide[n] = 0;
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

/// Stops and deletes the service. This process's device handle is closed
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
