//! The Win32 API this library calls (kernel32, advapi32): types, constants and
//! declarations only, and the recording of a failed call's error for
//! ioperm_diagnose. The device protocol is in device.zig, the service in scm.zig.
const std = @import("std");
const platform = @import("../platform.zig");

pub const HANDLE = *anyopaque;
pub const BOOL = i32;
pub const invalid_handle: usize = std.math.maxInt(usize);
pub const GENERIC_READ: u32 = 0x80000000;
pub const GENERIC_WRITE: u32 = 0x40000000;
pub const OPEN_EXISTING: u32 = 3;
pub const CREATE_ALWAYS: u32 = 2;
pub const FILE_SHARE_READ: u32 = 0x1;
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;

pub const err = struct {
    pub const file_not_found: u32 = 2;
    pub const path_not_found: u32 = 3;
    pub const access_denied: u32 = 5;
    pub const sharing_violation: u32 = 32;
    pub const service_already_running: u32 = 1056;
    pub const service_does_not_exist: u32 = 1060;
    pub const service_not_active: u32 = 1062;
    pub const service_exists: u32 = 1073;
    pub const service_marked_for_delete: u32 = 1072;
};

pub extern "kernel32" fn CreateFileW(name: [*:0]const u16, access: u32, share: u32, security: ?*anyopaque, disposition: u32, flags: u32, template: ?HANDLE) callconv(.winapi) usize;
pub extern "kernel32" fn DeviceIoControl(device: usize, code: u32, in: ?*const anyopaque, in_len: u32, out: ?*anyopaque, out_len: u32, returned: ?*u32, overlapped: ?*anyopaque) callconv(.winapi) BOOL;
pub extern "kernel32" fn CloseHandle(h: usize) callconv(.winapi) BOOL;
pub extern "kernel32" fn GetLastError() callconv(.winapi) u32;
pub extern "kernel32" fn ReadFile(h: usize, buf: [*]u8, len: u32, read: *u32, overlapped: ?*anyopaque) callconv(.winapi) BOOL;
pub extern "kernel32" fn WriteFile(h: usize, buf: [*]const u8, len: u32, written: *u32, overlapped: ?*anyopaque) callconv(.winapi) BOOL;
pub extern "kernel32" fn GetFileSizeEx(h: usize, size: *i64) callconv(.winapi) BOOL;
pub extern "kernel32" fn DeleteFileW(path: [*:0]const u16) callconv(.winapi) BOOL;
/// A slim reader/writer lock, zero-initialised (SRWLOCK_INIT).
pub const SRWLOCK = extern struct { ptr: ?*anyopaque = null };
pub extern "kernel32" fn AcquireSRWLockExclusive(lock: *SRWLOCK) callconv(.winapi) void;
pub extern "kernel32" fn ReleaseSRWLockExclusive(lock: *SRWLOCK) callconv(.winapi) void;
pub extern "kernel32" fn AcquireSRWLockShared(lock: *SRWLOCK) callconv(.winapi) void;
pub extern "kernel32" fn ReleaseSRWLockShared(lock: *SRWLOCK) callconv(.winapi) void;
pub extern "kernel32" fn QueryPerformanceCounter(count: *i64) callconv(.winapi) BOOL;
pub extern "kernel32" fn QueryPerformanceFrequency(frequency: *i64) callconv(.winapi) BOOL;
pub extern "kernel32" fn GetSystemDirectoryW(buf: [*]u16, size: u32) callconv(.winapi) u32;

// Named mutexes (the bus locks hardware tools share; buslock.zig).
pub const SYNCHRONIZE: u32 = 0x00100000;
pub const MUTEX_MODIFY_STATE: u32 = 0x0001;
pub const WAIT_OBJECT_0: u32 = 0;
pub const WAIT_ABANDONED: u32 = 0x80;
pub const WAIT_TIMEOUT: u32 = 0x102;
pub extern "kernel32" fn CreateMutexW(security: ?*anyopaque, initial_owner: BOOL, name: [*:0]const u16) callconv(.winapi) usize;
pub extern "kernel32" fn OpenMutexW(access: u32, inherit: BOOL, name: [*:0]const u16) callconv(.winapi) usize;
pub extern "kernel32" fn WaitForSingleObject(h: usize, ms: u32) callconv(.winapi) u32;
pub extern "kernel32" fn ReleaseMutex(h: usize) callconv(.winapi) BOOL;

pub const SC_HANDLE = usize;
pub const SERVICE_KERNEL_DRIVER: u32 = 1;
pub const SERVICE_ERROR_NORMAL: u32 = 1;
pub const SERVICE_AUTO_START: u32 = 2;
pub const SERVICE_DEMAND_START: u32 = 3;
pub const SERVICE_NO_CHANGE: u32 = 0xFFFFFFFF;
pub const SC_MANAGER_CONNECT: u32 = 0x0001;
pub const SC_MANAGER_CREATE_SERVICE: u32 = 0x0002;
pub const SERVICE_QUERY_STATUS: u32 = 0x0004;
pub const SERVICE_CHANGE_CONFIG: u32 = 0x0002;
pub const SERVICE_START: u32 = 0x0010;
pub const SERVICE_STOP: u32 = 0x0020;
pub const DELETE: u32 = 0x00010000;
pub const SERVICE_CONTROL_STOP: u32 = 1;

pub const SERVICE_STATUS = extern struct {
    service_type: u32,
    current_state: u32,
    controls_accepted: u32,
    win32_exit_code: u32,
    service_specific_exit_code: u32,
    check_point: u32,
    wait_hint: u32,
};

pub extern "advapi32" fn OpenSCManagerW(machine: ?[*:0]const u16, database: ?[*:0]const u16, access: u32) callconv(.winapi) SC_HANDLE;
pub extern "advapi32" fn OpenServiceW(scm: SC_HANDLE, name: [*:0]const u16, access: u32) callconv(.winapi) SC_HANDLE;
pub extern "advapi32" fn CreateServiceW(scm: SC_HANDLE, name: [*:0]const u16, display: ?[*:0]const u16, access: u32, service_type: u32, start_type: u32, error_control: u32, binary: ?[*:0]const u16, group: ?[*:0]const u16, tag: ?*u32, deps: ?[*:0]const u16, user: ?[*:0]const u16, password: ?[*:0]const u16) callconv(.winapi) SC_HANDLE;
pub extern "advapi32" fn ChangeServiceConfigW(service: SC_HANDLE, service_type: u32, start_type: u32, error_control: u32, binary: ?[*:0]const u16, group: ?[*:0]const u16, tag: ?*u32, deps: ?[*:0]const u16, user: ?[*:0]const u16, password: ?[*:0]const u16, display: ?[*:0]const u16) callconv(.winapi) BOOL;
pub extern "advapi32" fn StartServiceW(service: SC_HANDLE, argc: u32, argv: ?[*]const [*:0]const u16) callconv(.winapi) BOOL;
pub extern "advapi32" fn ControlService(service: SC_HANDLE, control: u32, st: *SERVICE_STATUS) callconv(.winapi) BOOL;
pub extern "advapi32" fn QueryServiceStatus(service: SC_HANDLE, st: *SERVICE_STATUS) callconv(.winapi) BOOL;
pub extern "advapi32" fn DeleteService(service: SC_HANDLE) callconv(.winapi) BOOL;
pub extern "advapi32" fn CloseServiceHandle(h: SC_HANDLE) callconv(.winapi) BOOL;

/// Records this thread's last Win32 error as the diagnosis and returns `code`.
pub fn fail(code: i32) i32 {
    platform.diagnosis.os_error = @bitCast(GetLastError());
    return code;
}
