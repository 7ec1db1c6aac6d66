//! Prepared batches: an op list copied once into memory only this library
//! sees, its op fields checked once, and its grants checked again only when the
//! running thread's grants have changed since the last run (grants.Thread's
//! id and generation).
//! A replay then costs one comparison before the ops run.
//!
//! Callers hold a handle, never a pointer: (slot index << 32) | tag, where the
//! tag changes each time a slot is reused. A stale, freed or forged handle is
//! refused with bad_buffer instead of touching freed memory.
const std = @import("std");
const core = @import("core.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");

const Slot = struct {
    ops: []core.Op = &.{},
    /// Odd while the slot holds a batch; bumped on every allocation and free.
    tag: u32 = 0,
    /// The grants.Thread id and generation at the last successful grant check; id 0: never checked.
    checked_id: u32 = 0,
    checked_generation: u64 = 0,
};

const chunk_len = 256;
const max_chunks = 256;

/// Slots in chunks that never move once allocated, so a run needs no lock to find its slot.
var chunks: [max_chunks]?*[chunk_len]Slot = @splat(null);
var free_list: std.ArrayList(u32) = .empty;
var slot_count: u32 = 0;
/// Guards allocation and freeing only (rare, short); runs never take it.
var locked = std.atomic.Value(bool).init(false);

const lock = struct {
    fn lock() void {
        while (locked.cmpxchgWeak(false, true, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
    }
    fn unlock() void {
        locked.store(false, .release);
    }
};

const gpa = std.heap.page_allocator;

fn slotAt(index: u32) ?*Slot {
    const chunk = chunks[index / chunk_len] orelse return null;
    return &chunk[index % chunk_len];
}

/// Takes a free slot (allocating a chunk when all are used); null when out of memory or slots.
fn takeSlot() ?u32 {
    lock.lock();
    defer lock.unlock();
    if (free_list.pop()) |index| return index;
    if (slot_count == chunk_len * max_chunks) return null;
    const index = slot_count;
    if (chunks[index / chunk_len] == null) {
        const chunk = gpa.create([chunk_len]Slot) catch return null;
        chunk.* = @splat(.{});
        chunks[index / chunk_len] = chunk;
    }
    slot_count += 1;
    return index;
}

fn lookup(handle: i64) ?*Slot {
    if (handle <= 0) return null;
    const index: u32 = @intCast(handle >> 32);
    const tag: u32 = @truncate(@as(u64, @intCast(handle)));
    if (index >= max_chunks * chunk_len) return null;
    const slot = slotAt(index) orelse return null;
    if (tag & 1 == 0 or slot.tag != tag) return null;
    return slot;
}

/// Copies `count` op slots and checks every field that does not depend on grants
/// (kind, width, values, the caps of timed steps; core.checkList). Returns a handle (> 0), or a negative status
/// with `done` set to the index of the op refused.
pub fn prepare(ops: ?[*]const core.Op, count: u32, done: ?*u32) i64 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    const src: []const core.Op = if (count == 0) &.{} else (ops orelse return status.of(.bad_buffer))[0..count];
    const list = gpa.alloc(core.Op, count) catch return status.of(.bad_buffer);
    @memcpy(list, src);
    const rc = core.checkList(null, list, out);
    if (rc != status.ok) {
        gpa.free(list);
        return rc;
    }
    const index = takeSlot() orelse {
        gpa.free(list);
        return status.of(.bad_buffer);
    };
    const slot = slotAt(index).?;
    slot.ops = list;
    slot.checked_id = 0;
    slot.tag +%= 1; // odd: in use
    out.* = count;
    return (@as(i64, index) << 32) | slot.tag;
}

/// Runs a prepared batch on the calling thread, writing each op's value to
/// `values` (one u32 per op). The grants are checked when the thread's grants
/// changed since the last run that passed; a refused op means none ran, and
/// `done` receives its index (or the count when all ran).
pub fn run(handle: i64, done: ?*u32, values: ?[*]u32) i32 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    const slot = lookup(handle) orelse return status.of(.bad_buffer);
    const list = slot.ops;
    if (list.len == 0) return status.ok;
    const v = values orelse return status.of(.bad_buffer);
    const t = core.platform.thread();
    if (t.id == 0 or slot.checked_id != t.id or slot.checked_generation != t.generation) {
        const rc = core.checkListGrants(t, list, out);
        if (rc != status.ok) return rc;
        slot.checked_id = t.id;
        slot.checked_generation = t.generation;
    }
    const rc = core.platform.batch(t, list, out);
    for (list, 0..) |op, i| v[i] = op.value;
    return rc;
}

/// Frees a prepared batch; its handle is refused from then on.
pub fn free(handle: i64) i32 {
    const slot = lookup(handle) orelse return status.of(.bad_buffer);
    const index: u32 = @intCast(handle >> 32);
    gpa.free(slot.ops);
    slot.ops = &.{};
    slot.tag +%= 1; // even: free
    lock.lock();
    defer lock.unlock();
    free_list.append(gpa, index) catch {}; // lost to reuse, never to safety
    return status.ok;
}

test "a prepared batch is checked once per grant generation, and a freed handle is refused" {
    const t = core.platform.thread();
    t.clear();
    grants.touch(t);
    t.backend = .none;
    var done: u32 = 99;
    const ops = [_]core.Op{
        .{ .port = 0x378, .width = 1, .flags = core.Op.write_flag, .value = 0x55 },
        .{ .port = 0x379, .width = 1, .flags = 0, .value = 0 },
    };
    const h = prepare(&ops, ops.len, &done);
    try std.testing.expect(h > 0);
    try std.testing.expectEqual(@as(u32, 2), done);
    var values: [2]u32 = .{ 0, 0 };
    // Nothing granted: refused at the first op.
    try std.testing.expectEqual(status.of(.not_granted), run(h, &done, &values));
    try std.testing.expectEqual(@as(u32, 0), done);
    // A forged handle (same index, other tag) and a zero handle are refused.
    try std.testing.expectEqual(status.of(.bad_buffer), run(h + 2, &done, &values));
    try std.testing.expectEqual(status.of(.bad_buffer), run(0, &done, &values));
    try std.testing.expectEqual(status.ok, free(h));
    try std.testing.expectEqual(status.of(.bad_buffer), run(h, &done, &values));
    try std.testing.expectEqual(status.of(.bad_buffer), free(h));
}

test "prepare refuses a bad op by index and keeps nothing" {
    var done: u32 = 99;
    const ops = [_]core.Op{
        .{ .port = 0x80, .width = 1, .flags = 0, .value = 0 },
        .{ .port = 0x80, .width = 1, .flags = core.Op.write_flag, .value = 0x100 },
    };
    try std.testing.expectEqual(@as(i64, status.of(.range)), prepare(&ops, ops.len, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
}
