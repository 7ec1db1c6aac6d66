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

/// The driver's protocol header (translate-c): the one source of the op kinds,
/// the parameter slots of timed steps and their caps, on every platform.
const proto = @import("ioperm_ioctl");

/// One slot of a batch, 8 bytes, laid out identically in lib/ and the Windows
/// driver: a port access, or the head of a timed step (see the header).
pub const Op = extern struct {
    port: u16,
    width: u8,
    /// The kind (Kind).
    flags: u8,
    /// Written for a write; replaced by the value read for a read.
    value: u32,

    pub const write_flag: u8 = proto.IOPERM_OP_WRITE;
};

/// What a slot asks for (IOPERM_OP_* in the header).
pub const Kind = enum(u8) {
    read = proto.IOPERM_OP_READ,
    write = proto.IOPERM_OP_WRITE,
    wait = proto.IOPERM_OP_WAIT,
    delay = proto.IOPERM_OP_DELAY,
    pulse = proto.IOPERM_OP_PULSE,

    /// Slots the step takes: a head and its parameter, or one.
    pub fn slots(k: Kind) usize {
        return switch (k) {
            .wait, .pulse => 2,
            .read, .write, .delay => 1,
        };
    }
};

/// The slot after a wait's head.
pub const WaitParam = extern struct { mask: u32, expect: u32 };
/// The slot after a pulse's head.
pub const PulseParam = extern struct { rest: u32, hold_us: u32 };

/// The most one step may wait, delay or hold, in microseconds.
pub const max_step_us: u32 = proto.IOPERM_MAX_STEP_US;
/// The most all the timed steps of one call may add up to, in microseconds.
pub const max_call_us: u32 = proto.IOPERM_MAX_CALL_US;

comptime {
    std.debug.assert(@sizeOf(Op) == 8);
    std.debug.assert(@sizeOf(Op) == @sizeOf(proto.IOPERM_OP));
    for (.{ "port", "width", "flags", "value" }) |f|
        std.debug.assert(@offsetOf(Op, f) == @offsetOf(proto.IOPERM_OP, f));
    std.debug.assert(@sizeOf(WaitParam) == @sizeOf(Op) and @sizeOf(PulseParam) == @sizeOf(Op));
    std.debug.assert(@offsetOf(WaitParam, "mask") == @offsetOf(proto.IOPERM_WAIT_PARAM, "mask"));
    std.debug.assert(@offsetOf(WaitParam, "expect") == @offsetOf(proto.IOPERM_WAIT_PARAM, "expect"));
    std.debug.assert(@offsetOf(PulseParam, "rest") == @offsetOf(proto.IOPERM_PULSE_PARAM, "rest"));
    std.debug.assert(@offsetOf(PulseParam, "hold_us") == @offsetOf(proto.IOPERM_PULSE_PARAM, "hold_us"));
    std.debug.assert(grants.port_count == proto.IOPERM_PORT_COUNT);
}

/// A parameter slot read as what its head says it is.
fn param(comptime P: type, slot: *const Op) P {
    return @as(*const P, @ptrCast(slot)).*;
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

/// A value fits `width` bytes (a width already checked).
fn fitsBytes(value: u32, width: u8) bool {
    return width == 4 or value >> @intCast(width * 8) == 0;
}

/// Checks one step without running it: its fields, then its grants. `next` is
/// the slot after it (a two-slot step's parameter), null at the end of the list.
pub fn checkOp(t: *const grants.Thread, op: Op, next: ?Op) i32 {
    const rc = checkFields(op, next);
    if (rc != status.ok) return rc;
    return checkGrants(t, op);
}

/// The checks of a step that do not depend on grants, in a fixed order: kind
/// (and a parameter slot present), width, values, time against the step cap.
pub fn checkFields(op: Op, next: ?Op) i32 {
    const kind = std.enums.fromInt(Kind, op.flags) orelse return status.of(.bad_op);
    if (kind == .delay) {
        if (op.port != 0 or op.width != 0) return status.of(.bad_op);
        return if (op.value > max_step_us) status.of(.too_long) else status.ok;
    }
    if (kind.slots() == 2 and next == null) return status.of(.bad_op);
    if (!grants.validWidth(op.width)) return status.of(.bad_width);
    switch (kind) {
        .read, .delay => {},
        .write => if (!fitsBytes(op.value, op.width)) return status.of(.range),
        .wait => {
            const p = param(WaitParam, &next.?);
            if (!fitsBytes(p.mask, op.width) or !fitsBytes(p.expect, op.width) or p.expect & ~p.mask != 0)
                return status.of(.range);
            if (op.value > max_step_us) return status.of(.too_long);
        },
        .pulse => {
            const p = param(PulseParam, &next.?);
            if (!fitsBytes(op.value, op.width) or !fitsBytes(p.rest, op.width)) return status.of(.range);
            if (p.hold_us > max_step_us) return status.of(.too_long);
        },
    }
    return status.ok;
}

/// The time a checked step may take, in microseconds (0 for an access).
fn stepUs(op: Op, next: ?Op) u32 {
    return switch (@as(Kind, @fromBackingInt(@intCast(op.flags)))) {
        .read, .write => 0,
        .wait, .delay => op.value,
        .pulse => param(PulseParam, &next.?).hold_us,
    };
}

/// The checks of a step that depend on the thread: range, then grants. A
/// delay touches no port; a wait and a pulse touch theirs.
pub fn checkGrants(t: *const grants.Thread, op: Op) i32 {
    if (op.flags == proto.IOPERM_OP_DELAY) return status.ok;
    return admit(t, op.port, op.width);
}

/// Walks a list step by step (a two-slot step's parameter is never read as an
/// op) and checks each: its fields and caps, the running total against the
/// call cap, then, with `t`, its grants. A refusal sets `out` to the slot of
/// the step refused.
pub fn checkList(t: ?*const grants.Thread, list: []const Op, out: *u32) i32 {
    var total: u64 = 0;
    var i: usize = 0;
    while (i < list.len) {
        const next: ?Op = if (i + 1 < list.len) list[i + 1] else null;
        var rc = checkFields(list[i], next);
        if (rc == status.ok) {
            total += stepUs(list[i], next);
            if (total > max_call_us) rc = status.of(.too_long);
        }
        if (rc == status.ok) if (t) |th| {
            rc = checkGrants(th, list[i]);
        };
        if (rc != status.ok) {
            out.* = @intCast(i);
            return rc;
        }
        i += @as(Kind, @fromBackingInt(@intCast(list[i].flags))).slots();
    }
    return status.ok;
}

/// The grant checks alone of a list whose fields checkList has passed.
pub fn checkListGrants(t: *const grants.Thread, list: []const Op, out: *u32) i32 {
    var i: usize = 0;
    while (i < list.len) {
        const rc = checkGrants(t, list[i]);
        if (rc != status.ok) {
            out.* = @intCast(i);
            return rc;
        }
        i += @as(Kind, @fromBackingInt(@intCast(list[i].flags))).slots();
    }
    return status.ok;
}

/// The last value a timed-out wait read on this thread (ioperm_timeout_value):
/// set with every timeout status, like errno beside a -1.
pub threadlocal var timeout_value: u32 = 0;

inline fn readAs(comptime backend: grants.Backend, width: u8, port: u16) i64 {
    return switch (width) {
        inline 1, 2, 4 => |w| platform.read(backend, w, port),
        else => status.of(.bad_width),
    };
}

inline fn writeAs(comptime backend: grants.Backend, width: u8, port: u16, value: u32) i32 {
    return switch (width) {
        inline 1, 2, 4 => |w| platform.write(backend, w, port, @intCast(value)),
        else => status.of(.bad_width),
    };
}

/// Busy-waits until `us` microseconds have passed since `start` (platform.monotonicNs).
fn spinUntil(start: u64, us: u32) void {
    const ns = @as(u64, us) * std.time.ns_per_us;
    while (platform.monotonicNs() -% start < ns) std.atomic.spinLoopHint();
}

/// A timed step (wait, delay, pulse) at `list[i]`, run and its slots' values
/// written. Returns the slot after it, or a negative status. Kept out of the
/// loop's body: a list of port accesses, the common case, pays only for
/// telling them apart.
noinline fn runTimed(comptime backend: grants.Backend, list: []const Op, values: [*]u32, i: usize) i64 {
    const op = list[i];
    const kind: Kind = @fromBackingInt(@intCast(op.flags));
    switch (kind) {
        .read, .write => unreachable, // runEachOn runs those itself
        .wait => {
            // At least one read; then reads until the match or the timeout.
            const p = param(WaitParam, &list[i + 1]);
            const ns = @as(u64, op.value) * std.time.ns_per_us;
            const start = platform.monotonicNs();
            while (true) {
                const v = readAs(backend, op.width, op.port);
                if (v < 0) return @intCast(v);
                const got: u32 = @intCast(v);
                if (got & p.mask == p.expect) break;
                if (platform.monotonicNs() -% start >= ns) {
                    timeout_value = got;
                    return status.of(.timeout);
                }
            }
        },
        .delay => spinUntil(platform.monotonicNs(), op.value),
        .pulse => {
            const p = param(PulseParam, &list[i + 1]);
            const rc = writeAs(backend, op.width, op.port, op.value);
            if (rc != status.ok) return rc;
            // Timed from the end of the first write: the port holds value at least hold_us.
            spinUntil(platform.monotonicNs(), p.hold_us);
            const back = writeAs(backend, op.width, op.port, p.rest);
            if (back != status.ok) return back;
        },
    }
    const n = kind.slots();
    for (i..i + n) |s| values[s] = list[s].value;
    return @intCast(i + n);
}

/// The end of a run that stopped at slot `i` with `rc` (out of the loop: a
/// failure is rare, and the loop keeps fewer registers live without it).
noinline fn stopAt(i: usize, rc: i32, out: *u32) i32 {
    out.* = @intCast(i);
    return rc;
}

/// Ops copied from the caller this many at a time onto the stack; longer lists go to the heap.
const stack_ops = 256;

/// Runs a list of ops in order. The list is copied into memory only this call
/// sees, then the whole copy is checked, then the copy runs: a caller's buffer
/// that another thread rewrites meanwhile (a SharedArrayBuffer) cannot slip in an
/// op that was never checked. A refused op means none ran; `done` receives the
/// slot of the op that failed (or `count`). A wait that times out stops the
/// list there (timeout, its value in `timeout_value`): the ops before it ran.
/// Values read are copied back.
pub fn batch(ops: ?[*]Op, count: u32, done: ?*u32) i32 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    if (count == 0) return status.ok;
    const caller = (ops orelse return status.of(.bad_buffer))[0..count];
    var local: [stack_ops]Op = undefined;
    var local_values: [stack_ops]u32 = undefined;
    const heap = count > stack_ops;
    const list: []Op = if (heap) std.heap.page_allocator.alloc(Op, count) catch return status.of(.bad_buffer) else local[0..count];
    defer if (heap) std.heap.page_allocator.free(list);
    const values: []u32 = if (heap) std.heap.page_allocator.alloc(u32, count) catch return status.of(.bad_buffer) else local_values[0..count];
    defer if (heap) std.heap.page_allocator.free(values);
    @memcpy(list, caller);
    const t = platform.thread();
    const checked = checkList(t, list, out);
    if (checked != status.ok) return checked;
    const rc = platform.batch(t.backend, list, values.ptr, out);
    // The slots that ran; the rest keep the caller's values.
    for (caller[0..out.*], values[0..out.*]) |*c, v| c.value = v;
    return rc;
}

/// Runs checked ops in order through the thread's backend, one access each.
/// `out` receives the slot of the op that failed, or the count; `values`
/// receives one u32 for each slot before it: a read's value, every other
/// slot's own value field. The list itself is only read, so any number of
/// threads may run one list at once.
pub inline fn runEach(backend: grants.Backend, list: []const Op, values: [*]u32, out: *u32) i32 {
    // The backend is fixed for the whole list: chosen once here, not per op.
    // The direct one in line, and by a compare rather than a jump table: the
    // fixed cost of a short batch is mostly calls, returns and indirect jumps
    // (each a lookup under an emulator such as QEMU's TCG).
    if (backend == .direct) return @call(.always_inline, runEachOn, .{ .direct, list, values, out });
    return runEachOther(backend, list, values, out);
}

/// The backends with a system call per access, where a call more does not show.
noinline fn runEachOther(backend: grants.Backend, list: []const Op, values: [*]u32, out: *u32) i32 {
    return switch (backend) {
        .direct => unreachable,
        inline else => |b| runEachOn(b, list, values, out),
    };
}

fn runEachOn(comptime backend: grants.Backend, list: []const Op, values: [*]u32, out: *u32) i32 {
    // Each slot's first four bytes read as one word (x86 is little-endian):
    // the port in the low half, the width and the kind above it.
    const heads: [*]const u32 = @ptrCast(list.ptr);
    var i: usize = 0;
    while (i < list.len) {
        const head = heads[2 * i];
        const port: u16 = @truncate(head);
        // A port access, the common case, in one slot and with no call; a
        // timed step through runTimed. One word compared against six shapes,
        // not a jump table: an indirect jump per op costs a lookup in an
        // emulator such as QEMU's TCG.
        const rc: i64 = switch (head >> 16) {
            inline shape(.read, 1), shape(.read, 2), shape(.read, 4) => |s| read: {
                const v = platform.read(backend, s & 0xff, port);
                if (v >= 0) values[i] = @intCast(v);
                break :read v;
            },
            inline shape(.write, 1), shape(.write, 2), shape(.write, 4) => |s| write: {
                const value = list[i].value;
                values[i] = value;
                break :write platform.write(backend, s & 0xff, port, @truncate(value));
            },
            else => {
                const next = runTimed(backend, list, values, i);
                if (next < 0) return stopAt(i, @intCast(next), out);
                i = @intCast(next);
                continue;
            },
        };
        if (rc < 0) return stopAt(i, @intCast(rc), out);
        i += 1;
    }
    out.* = @intCast(list.len);
    return status.ok;
}

/// An access's kind and width as runEachOn reads them from a slot's head word.
fn shape(comptime kind: Kind, comptime width: u8) u32 {
    return @as(u32, @backingInt(kind)) << 8 | width;
}

test "checkOp order: flags, width, value, range, grants" {
    var t: grants.Thread = .{};
    t.set(0x378, 3, true);
    try std.testing.expectEqual(status.of(.bad_op), checkOp(&t, .{ .port = 0x378, .width = 1, .flags = 9, .value = 0 }, null));
    try std.testing.expectEqual(status.of(.bad_width), checkOp(&t, .{ .port = 0x378, .width = 3, .flags = 0, .value = 0 }, null));
    try std.testing.expectEqual(status.of(.range), checkOp(&t, .{ .port = 0x378, .width = 1, .flags = 1, .value = 0x100 }, null));
    try std.testing.expectEqual(status.of(.range), checkOp(&t, .{ .port = 0xFFFF, .width = 2, .flags = 0, .value = 0 }, null));
    try std.testing.expectEqual(status.of(.not_granted), checkOp(&t, .{ .port = 0x37A, .width = 2, .flags = 0, .value = 0 }, null));
    try std.testing.expectEqual(status.ok, checkOp(&t, .{ .port = 0x379, .width = 2, .flags = 1, .value = 0xFFFF }, null));
}

fn waitHead(port: u16, timeout_us: u32) Op {
    return .{ .port = port, .width = 1, .flags = proto.IOPERM_OP_WAIT, .value = timeout_us };
}

fn waitParam(mask: u32, expect: u32) Op {
    return @as(*const Op, @ptrCast(&WaitParam{ .mask = mask, .expect = expect })).*;
}

fn delay(us: u32) Op {
    return .{ .port = 0, .width = 0, .flags = proto.IOPERM_OP_DELAY, .value = us };
}

test "timed steps: a missing parameter, the step cap and the call cap are refused before anything runs" {
    var t: grants.Thread = .{};
    t.set(0x378, 3, true);
    var done: u32 = 99;
    // A wait head in the last slot has no parameter.
    try std.testing.expectEqual(status.of(.bad_op), checkList(&t, &.{waitHead(0x379, 10)}, &done));
    try std.testing.expectEqual(@as(u32, 0), done);
    // expect outside mask could never match.
    try std.testing.expectEqual(status.of(.range), checkList(&t, &.{ waitHead(0x379, 10), waitParam(0x80, 0x40) }, &done));
    // One step over the cap.
    try std.testing.expectEqual(status.of(.too_long), checkList(&t, &.{ delay(1), waitHead(0x379, max_step_us + 1), waitParam(0x80, 0x80) }, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
    // Each step under the cap, their sum over the call cap: refused at the step that passes it.
    var many: [12]Op = @splat(delay(max_step_us));
    try std.testing.expectEqual(status.of(.too_long), checkList(&t, &many, &done));
    try std.testing.expectEqual(@as(u32, max_call_us / max_step_us), done);
    // A delay names no port.
    try std.testing.expectEqual(status.of(.bad_op), checkList(&t, &.{.{ .port = 0x378, .width = 0, .flags = proto.IOPERM_OP_DELAY, .value = 1 }}, &done));
    // A wait on a port outside the grants, after an allowed delay: refused by slot.
    try std.testing.expectEqual(status.of(.not_granted), checkList(&t, &.{ delay(5), waitHead(0x80, 10), waitParam(1, 1) }, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
    // A parameter slot is never read as an op: a mask of 0xFF000000 puts 0xFF
    // where an op's kind would be, and the list is still valid.
    t.set(0x378, 4, true);
    var wide = waitHead(0x378, 10);
    wide.width = 4;
    try std.testing.expectEqual(status.ok, checkList(&t, &.{ wide, waitParam(0xFF00_0000, 0) }, &done));
}

test "a timed-out refusal never reaches the instruction: the batch fails at the check" {
    // This test thread holds no grant: a wait on an ungranted port is refused by index.
    var list = [_]Op{ delay(0), waitHead(0x80, 100), waitParam(1, 1) };
    var done: u32 = 99;
    try std.testing.expectEqual(status.of(.not_granted), batch(&list, list.len, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
}

test "delay busy-waits at least the time asked on the monotonic clock" {
    const list = [_]Op{delay(200)};
    var values: [1]u32 = undefined;
    var done: u32 = 99;
    const start = platform.monotonicNs();
    try std.testing.expectEqual(status.ok, runEach(.none, &list, &values, &done));
    try std.testing.expect(platform.monotonicNs() - start >= 200 * std.time.ns_per_us);
    try std.testing.expectEqual(@as(u32, 1), done);
}

test "a run writes one value per slot before the one it stopped at, and none after" {
    // On the `none` backend a 16-bit read stops at the backend (width_unsupported) before any instruction.
    var values: [3]u32 = @splat(0xAAAA_AAAA);
    var done: u32 = 99;
    // A timed step that ran: its slot gets its own value field.
    try std.testing.expectEqual(status.ok, runEach(.none, &.{delay(1)}, &values, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
    try std.testing.expectEqual(@as(u32, 1), values[0]);
    // Stopped at slot 1: slot 0 written, slot 1 and the delay after it untouched.
    const stopping = [_]Op{ delay(2), .{ .port = 0x100, .width = 2, .flags = proto.IOPERM_OP_READ, .value = 0 }, delay(3) };
    values = @splat(0xAAAA_AAAA);
    try std.testing.expectEqual(status.of(.width_unsupported), runEach(.none, &stopping, &values, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
    try std.testing.expectEqual([3]u32{ 2, 0xAAAA_AAAA, 0xAAAA_AAAA }, values);
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
    many[1] = .{ .port = 0x80, .width = 1, .flags = 0x80, .value = 0 };
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
