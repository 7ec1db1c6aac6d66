//! Windows backend: DeviceIoControl to ioperm.sys (filled in by the Windows issue).
const grants = @import("grants.zig");
const status = @import("status.zig");
const cpu = @import("cpu.zig");
const Thread = grants.Thread;
const Backend = grants.Backend;

pub const Diagnosis = extern struct { ioperm_errno: i32 = 0, devport_errno: i32 = 0 };
pub fn lastDiagnosis() Diagnosis {
    return .{};
}
pub fn setPreference(_: u32) i32 {
    return status.of(.unsupported);
}
pub fn grant(_: *Thread, _: u32, _: u32) i32 {
    return status.of(.unsupported);
}
pub fn grantAll(_: *Thread) i32 {
    return status.of(.unsupported);
}
pub fn release(t: *Thread, _: u32, _: u32) i32 {
    t.clear();
    return status.ok;
}
pub fn read(_: Backend, comptime _: u32, _: u16) i64 {
    return status.of(.unsupported);
}
pub fn write(_: Backend, comptime width: u32, _: u16, _: cpu.Int(width)) i32 {
    return status.of(.unsupported);
}
pub fn readString(_: Backend, comptime width: u32, _: u16, _: [*]cpu.Int(width), _: usize) i32 {
    return status.of(.unsupported);
}
pub fn writeString(_: Backend, comptime width: u32, _: u16, _: [*]const cpu.Int(width), _: usize) i32 {
    return status.of(.unsupported);
}
