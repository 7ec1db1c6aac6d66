//! Checks every request in a fixed order (range and width, then the thread's
//! grants), then hands it to the platform backend. Nothing reaches an in/out
//! instruction without passing through here.
const std = @import("std");
const builtin = @import("builtin");
const cpu = @import("cpu.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");

pub const platform = switch (builtin.os.tag) {
    .linux => @import("linux.zig"),
    .windows => @import("windows.zig"),
    else => @compileError("ioperm supports x86 Linux and Windows"),
};

comptime {
    @import("platform.zig").check(platform);
}

/// One entry of a batch, 8 bytes, laid out identically in lib/ and the Windows driver.
pub const Op = extern struct {
    port: u16,
    width: u8,
    flags: u8,
    /// Written for a write; replaced by the value read for a read.
    value: u32,

    pub const write_flag: u8 = 1;
};

comptime {
    std.debug.assert(@sizeOf(Op) == 8);
}

fn fits(comptime width: u32, value: u32) bool {
    return width == 4 or value <= std.math.maxInt(cpu.Int(width));
}

/// Range, then grants. Returns ok or the status that refuses the access.
fn admit(t: *const grants.Thread, port: u32, width: u32) i32 {
    if (!grants.validRange(port, width)) return status.of(.range);
    if (!t.covers(port, width)) return status.of(.not_granted);
    return status.ok;
}

pub fn grant(from: u32, count: u32) i32 {
    if (!grants.validRange(from, count)) return status.of(.range);
    return platform.grant(platform.thread(), from, count);
}

pub fn grantAll() i32 {
    return platform.grantAll(platform.thread());
}

pub fn release(from: u32, count: u32) i32 {
    if (count != 0 and !grants.validRange(from, count)) return status.of(.range);
    return platform.release(platform.thread(), from, count);
}

pub fn isGranted(port: u32, width: u32) bool {
    return grants.validRange(port, width) and platform.thread().covers(port, width);
}

pub inline fn read(comptime width: u32, port: u32) i64 {
    const t = platform.thread();
    const rc = admit(t, port, width);
    if (rc != status.ok) return rc;
    return platform.read(t.backend, width, @intCast(port));
}

pub inline fn write(comptime width: u32, port: u32, value: u32) i32 {
    if (!fits(width, value)) return status.of(.range);
    const t = platform.thread();
    const rc = admit(t, port, width);
    if (rc != status.ok) return rc;
    return platform.write(t.backend, width, @intCast(port), @truncate(value));
}

pub fn readString(comptime width: u32, port: u32, buf: ?[*]cpu.Int(width), count: u32) i32 {
    const t = platform.thread();
    const rc = admit(t, port, width);
    if (rc != status.ok) return rc;
    if (count == 0) return status.ok;
    const p = buf orelse return status.of(.bad_buffer);
    return platform.readString(t.backend, width, @intCast(port), p, count);
}

pub fn writeString(comptime width: u32, port: u32, buf: ?[*]const cpu.Int(width), count: u32) i32 {
    const t = platform.thread();
    const rc = admit(t, port, width);
    if (rc != status.ok) return rc;
    if (count == 0) return status.ok;
    const p = buf orelse return status.of(.bad_buffer);
    return platform.writeString(t.backend, width, @intCast(port), p, count);
}

/// Checks one op without running it.
pub fn checkOp(t: *const grants.Thread, op: Op) i32 {
    const rc = checkFields(op);
    if (rc != status.ok) return rc;
    return checkGrants(t, op);
}

/// The checks of an op that do not depend on grants: flags, width, a written value's size.
pub fn checkFields(op: Op) i32 {
    if (op.flags & ~Op.write_flag != 0) return status.of(.bad_op);
    if (!grants.validWidth(op.width)) return status.of(.bad_width);
    if (op.flags & Op.write_flag != 0 and op.width != 4 and op.value >> @intCast(op.width * 8) != 0)
        return status.of(.range);
    return status.ok;
}

/// The checks of an op that depend on the thread: range, then grants.
pub fn checkGrants(t: *const grants.Thread, op: Op) i32 {
    return admit(t, op.port, op.width);
}

inline fn runOp(backend: grants.Backend, op: *Op) i32 {
    const w = op.flags & Op.write_flag != 0;
    return switch (op.width) {
        inline 1, 2, 4 => |width| if (w)
            platform.write(backend, width, op.port, @intCast(op.value))
        else blk: {
            const v = platform.read(backend, width, op.port);
            if (v < 0) break :blk @intCast(v);
            op.value = @intCast(v);
            break :blk status.ok;
        },
        else => status.of(.bad_width),
    };
}

/// Ops copied from the caller this many at a time onto the stack; longer lists go to the heap.
const stack_ops = 256;

/// Runs a list of ops in order. The list is copied into memory only this call
/// sees, then the whole copy is checked, then the copy runs: a caller's buffer
/// that another thread rewrites meanwhile (a SharedArrayBuffer) cannot slip in an
/// op that was never checked. A refused op means none ran; `done` receives the
/// index of the op that failed (or `count`). Values read are copied back.
pub fn batch(ops: ?[*]Op, count: u32, done: ?*u32) i32 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    if (count == 0) return status.ok;
    const caller = (ops orelse return status.of(.bad_buffer))[0..count];
    var local: [stack_ops]Op = undefined;
    const heap = count > stack_ops;
    const list: []Op = if (heap) std.heap.page_allocator.alloc(Op, count) catch return status.of(.bad_buffer) else local[0..count];
    defer if (heap) std.heap.page_allocator.free(list);
    @memcpy(list, caller);
    const t = platform.thread();
    for (list, 0..) |op, i| {
        const rc = checkOp(t, op);
        if (rc != status.ok) {
            out.* = @intCast(i);
            return rc;
        }
    }
    const rc = platform.batch(t, list, out);
    for (caller, list) |*c, op| c.value = op.value;
    return rc;
}

/// Runs checked ops in order through the thread's backend, one access each;
/// `out` receives the index of an op that failed, or the count.
pub fn runEach(backend: grants.Backend, list: []Op, out: *u32) i32 {
    // The backend is fixed for the whole list: chosen once here, not per op.
    return switch (backend) {
        inline else => |b| runEachOn(b, list, out),
    };
}

fn runEachOn(comptime backend: grants.Backend, list: []Op, out: *u32) i32 {
    for (list, 0..) |*op, i| {
        const rc = runOp(backend, op);
        if (rc != status.ok) {
            out.* = @intCast(i);
            return rc;
        }
    }
    out.* = @intCast(list.len);
    return status.ok;
}

test "checkOp order: flags, width, value, range, grants" {
    var t: grants.Thread = .{};
    t.set(0x378, 3, true);
    try std.testing.expectEqual(status.of(.bad_op), checkOp(&t, .{ .port = 0x378, .width = 1, .flags = 4, .value = 0 }));
    try std.testing.expectEqual(status.of(.bad_width), checkOp(&t, .{ .port = 0x378, .width = 3, .flags = 0, .value = 0 }));
    try std.testing.expectEqual(status.of(.range), checkOp(&t, .{ .port = 0x378, .width = 1, .flags = 1, .value = 0x100 }));
    try std.testing.expectEqual(status.of(.range), checkOp(&t, .{ .port = 0xFFFF, .width = 2, .flags = 0, .value = 0 }));
    try std.testing.expectEqual(status.of(.not_granted), checkOp(&t, .{ .port = 0x37A, .width = 2, .flags = 0, .value = 0 }));
    try std.testing.expectEqual(status.ok, checkOp(&t, .{ .port = 0x379, .width = 2, .flags = 1, .value = 0xFFFF }));
}

test "batch checks and runs its own copy: the caller's list is read once" {
    // A refused op in the caller's list is reported by index, and the list is not written.
    var t_ops = [_]Op{
        .{ .port = 0x80, .width = 3, .flags = 0, .value = 7 },
    };
    var done: u32 = 99;
    try std.testing.expectEqual(status.of(.bad_width), batch(&t_ops, 1, &done));
    try std.testing.expectEqual(@as(u32, 0), done);
    try std.testing.expectEqual(@as(u32, 7), t_ops[0].value);
    // Longer than the stack copy: the heap copy is checked the same way.
    var many: [stack_ops + 1]Op = @splat(.{ .port = 0x80, .width = 1, .flags = 0, .value = 0 });
    many[1] = .{ .port = 0x80, .width = 1, .flags = 8, .value = 0 };
    try std.testing.expectEqual(status.of(.not_granted), batch(&many, many.len, &done));
    try std.testing.expectEqual(@as(u32, 0), done);
}

test "refused accesses never reach the instruction" {
    // This test thread holds no grant: if any of these executed, the test would die.
    try std.testing.expectEqual(@as(i64, status.of(.not_granted)), read(1, 0x80));
    try std.testing.expectEqual(status.of(.not_granted), write(4, 0xCF8, 0x80000000));
    try std.testing.expectEqual(status.of(.range), write(1, 0x80, 0x100));
    try std.testing.expectEqual(@as(i64, status.of(.range)), read(2, 0xFFFF));
    var ops = [_]Op{
        .{ .port = 0x80, .width = 1, .flags = 0, .value = 0 },
    };
    var done: u32 = 99;
    try std.testing.expectEqual(status.of(.not_granted), batch(&ops, 1, &done));
    try std.testing.expectEqual(@as(u32, 0), done);
}
