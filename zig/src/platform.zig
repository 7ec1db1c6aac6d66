//! What a platform backend provides (linux.zig, windows.zig), checked at compile
//! time by `check`, and the per-thread state every backend keeps the same way:
//! the backend preference and the diagnosis of the last failed call.
const std = @import("std");
const cpu = @import("cpu.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");
const Thread = grants.Thread;
const Backend = grants.Backend;

/// Why this thread's last grant (or, on Windows, driver or service call) failed:
/// the operating system's own answers, 0 where a backend was not tried or did
/// not fail. ioperm_diagnose copies it out whole; this struct is the one place
/// its fields are written down (lib/ffi.ts checks its copy,
/// DIAGNOSIS_FIELDS, against ioperm_diagnosis_field). The first step of the refusal path ARCHITECTURE.md draws.
pub const Diagnosis = extern struct {
    /// The first backend's answer. Linux: the errno of ioperm/iopl (direct) or
    /// of the ppdev claim, whichever the grant tried. Windows: the Win32 error
    /// (GetLastError) of the failed DeviceIoControl, CreateFile or service call.
    os_error: i32 = 0,
    /// Linux: the errno of opening /dev/port, when the grant fell back to it.
    /// Windows: always 0.
    devport_errno: i32 = 0,
};

comptime {
    // lib/ffi.ts reads it as an Int32Array, one slot per field in this order.
    for (@typeInfo(Diagnosis).@"struct".field_types, @typeInfo(Diagnosis).@"struct".field_names) |t, name| {
        if (t != i32) @compileError("Diagnosis." ++ name ++ " must be i32: lib/ffi.ts reads an Int32Array");
    }
}

/// The calling thread's diagnosis; each backend resets it when a grant starts.
pub threadlocal var diagnosis: Diagnosis = .{};

/// Which backend this thread's first grant picks: 0 auto, or a Backend value.
/// Per thread, like the grants; a thread keeps the backend its first grant got
/// until it releases everything.
pub threadlocal var preference: u8 = 0;

/// Sets this thread's preference when the platform offers that backend.
pub fn setPreference(comptime P: type, kind: u32) i32 {
    if (kind != @backingInt(Backend.none) and !P.offers(kind)) return status.of(.unsupported);
    preference = @intCast(kind);
    return status.ok;
}

/// The declarations a backend must have, with their types: a missing or
/// mistyped one is a compile error naming it, not a silent @hasDecl fallback.
pub fn check(comptime P: type) void {
    const want = .{
        .{ "offers", fn (u32) bool },
        .{ "grant", fn (*Thread, u32, u32) i32 },
        .{ "grantAll", fn (*Thread) i32 },
        .{ "release", fn (*Thread, u32, u32) i32 },
        .{ "batch", fn (Backend, []const @import("core.zig").Op, [*]u32, *u32) i32 },
        .{ "driverVersion", fn (*[6]u32) i32 },
        .{ "pciRead32", fn (u32, u32, u32, u32, *u32) i32 },
        .{ "driverInstall", fn ([*:0]const u8, bool) i32 },
        .{ "driverUninstall", fn () i32 },
        .{ "driverStatus", fn () i32 },
        .{ "ppdevConfigure", fn ([*:0]const u8, u32, bool) i32 },
        .{ "adopt", fn (*Thread, i32) i32 },
        .{ "monotonicNs", fn () u64 },
    };
    inline for (want) |w| {
        if (!@hasDecl(P, w[0])) @compileError(@typeName(P) ++ " lacks " ++ w[0]);
        if (@TypeOf(@field(P, w[0])) != w[1]) @compileError(@typeName(P) ++ "." ++ w[0] ++ " has type " ++ @typeName(@TypeOf(@field(P, w[0]))));
    }
    // read/write/readString/writeString are generic over the width, and thread (the calling
    // thread's grants, as the backend vouches for them) is inline: their presence is checked
    // here, their shape by every call in core.zig.
    inline for (.{ "read", "write", "readString", "writeString", "thread" }) |name| {
        if (!@hasDecl(P, name)) @compileError(@typeName(P) ++ " lacks " ++ name);
    }
    _ = cpu;
}
