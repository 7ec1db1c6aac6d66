//! Prepared batches: an op list copied once into memory only this library
//! sees, its op fields checked once, and its grants checked again only when the
//! running thread's grants have changed since the last run (grants.Thread's
//! id and generation).
//! A replay then costs one comparison before the ops run.
//!
//! Callers hold a handle, never a pointer: generation * 2^16 + slot index. A
//! slot's generation is odd while it holds a batch and moves on at every
//! prepare and free; it never goes back, and a slot whose next handle would
//! reach 2^53 is retired instead of reused. So a handle names one batch for
//! the life of the process, stays an exact JavaScript number, and a stale,
//! freed or forged one is refused with bad_buffer instead of touching freed
//! memory.
//!
//! Any thread may run or free any handle at any time. Each slot keeps one
//! atomic word: whether it holds a batch, the references held on its ops, and
//! whether a run holds the grants stamp. A run takes a reference only while
//! the slot holds a batch (one compare-and-swap), then compares the whole
//! generation, which cannot change while any reference is held. Free clears
//! the word's live bit and drops the batch's own reference; whoever drops the
//! last reference frees the ops and returns the slot. So no run reads freed
//! memory, and a batch is freed once, whichever thread gets there first.
//! A run only reads the op list (values go to the caller's array), so runs on
//! several threads share it. Only the run holding the stamp bit reads or
//! writes the grants stamp; a run that meets it taken checks its own grants in
//! full, so no stamp is ever half written.
//! The word is 32 bits because 32-bit x86 (ioperm.dll for C callers) has no
//! wider atomics.
const std = @import("std");
const core = @import("core.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");

const index_bits = 16;
/// How many prepared batches can be alive at once in this process.
pub const max_slots = 1 << index_bits;
/// A slot's generation stays below this, so a handle stays below 2^53.
const generation_limit: u64 = 1 << (53 - index_bits);

// The state word: references in the low bits, then the stamp and live bits.
const refs_mask: u32 = (1 << 30) - 1;
const stamp_bit: u32 = 1 << 30;
const live_bit: u32 = 1 << 31;

const Slot = struct {
    /// Live bit, stamp bit and references (see the constants above).
    state: std.atomic.Value(u32) = .init(0),
    /// Odd: the batch the slot holds (or last held, until the last reference goes).
    /// Written only while nothing references the slot; read under a reference.
    generation: u64 = 0,
    /// Written only while nothing references the slot; read under a reference.
    ops: []core.Op = &.{},
    /// The grants.Thread id and generation at the last grant check that passed
    /// (id 0: never checked). Read and written only by the run that holds the
    /// stamp bit, so no two threads touch it at once and it cannot tear.
    checked_id: u32 = 0,
    checked_generation: u64 = 0,
    /// While on the free list: the next free slot's index + 1 (0: the end).
    next_free: u32 = 0,
};

const chunk_len = 256;
const max_chunks = max_slots / chunk_len;

/// Slots in chunks that never move once allocated, so a run needs no lock to find its slot.
var chunks: [max_chunks]std.atomic.Value(?*[chunk_len]Slot) = @splat(.init(null));
/// Index + 1 of the first free slot (0: none); guarded by `locked`.
var free_head: u32 = 0;
var slot_count: u32 = 0;
/// Slots holding a batch, or waiting for a run to let go of a freed one.
var in_use = std.atomic.Value(u32).init(0);
/// Guards the free list and slot_count (taken at prepare and by the last reference, never by a run that keeps its slot).
var locked = std.atomic.Value(bool).init(false);

const lock = struct {
    fn lock() void {
        while (locked.cmpxchgWeak(false, true, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
    }
    fn unlock() void {
        locked.store(false, .release);
    }
};

/// Op lists come from a general-purpose allocator: a batch of a few ops takes a
/// few dozen bytes, not a page. Slot chunks are few and permanent.
const ops_allocator = std.heap.smp_allocator;

fn slotAt(index: u32) ?*Slot {
    const chunk = chunks[index / chunk_len].load(.acquire) orelse return null;
    return &chunk[index % chunk_len];
}

/// How many prepared batches are alive in this process (freed ones that a run still holds included).
pub fn alive() u32 {
    return in_use.load(.monotonic);
}

/// Takes a free slot, allocating a chunk when all are used.
fn takeSlot() error{ TooMany, OutOfMemory }!u32 {
    lock.lock();
    defer lock.unlock();
    if (free_head != 0) {
        const index = free_head - 1;
        free_head = slotAt(index).?.next_free;
        _ = in_use.fetchAdd(1, .monotonic);
        return index;
    }
    if (slot_count == max_slots) return error.TooMany;
    const index = slot_count;
    if (chunks[index / chunk_len].load(.monotonic) == null) {
        const chunk = try std.heap.page_allocator.create([chunk_len]Slot);
        chunk.* = @splat(.{});
        chunks[index / chunk_len].store(chunk, .release);
    }
    slot_count += 1;
    _ = in_use.fetchAdd(1, .monotonic);
    return index;
}

const Handle = struct { index: u32, generation: u64 };

fn decode(handle: i64) ?Handle {
    if (handle <= 0) return null;
    const h: u64 = @intCast(handle);
    const generation = h >> index_bits;
    if (generation & 1 == 0 or generation >= generation_limit) return null;
    return .{ .index = @intCast(h & (max_slots - 1)), .generation = generation };
}

/// A reference on a slot: its ops stay allocated until release().
const Ref = struct { slot: *Slot, index: u32, stamp: bool };

/// Takes a reference when `handle` names the batch the slot holds now, and
/// (when asked) the stamp bit if no other run has it. Inline: it is most of
/// a replay's cost beyond the ops.
inline fn acquire(handle: i64, comptime want_stamp: bool) ?Ref {
    const h = decode(handle) orelse return null;
    const slot = slotAt(h.index) orelse return null;
    var s = slot.state.load(.monotonic);
    const ref: Ref = while (true) {
        if (s & live_bit == 0 or s & refs_mask == refs_mask) return null;
        const stamp = want_stamp and s & stamp_bit == 0;
        const next = s + 1 + (if (stamp) stamp_bit else 0);
        s = slot.state.cmpxchgWeak(s, next, .acquire, .monotonic) orelse
            break .{ .slot = slot, .index = h.index, .stamp = stamp };
    };
    // Held now, so the generation cannot move: this is the batch the slot holds, or another.
    if (slot.generation != h.generation) {
        release(ref);
        return null;
    }
    return ref;
}

/// Inline: one atomic subtraction on every run; the rare last reference calls reclaim.
inline fn release(ref: Ref) void {
    const before = ref.slot.state.fetchSub(1 + (if (ref.stamp) stamp_bit else 0), .acq_rel);
    if (before & refs_mask == 1) reclaim(ref.slot, ref.index);
}

/// Frees a slot's ops once its last reference is gone, and returns the slot to
/// the free list unless its generation is used up.
noinline fn reclaim(slot: *Slot, index: u32) void {
    ops_allocator.free(slot.ops);
    slot.ops = &.{};
    slot.generation += 1; // even: free
    lock.lock();
    defer lock.unlock();
    // Retired: its next handle would reach 2^53 (after 2^36 batches in this one slot).
    if (slot.generation + 1 >= generation_limit) return;
    slot.next_free = free_head;
    free_head = index + 1;
    _ = in_use.fetchSub(1, .monotonic);
}

/// Copies `count` op slots and checks every field that does not depend on grants
/// (kind, width, values, the caps of timed steps; core.checkList). Returns a
/// handle (> 0), or a negative status with `done` set to the index of the op
/// refused; too_many_prepared when max_slots batches are alive.
pub fn prepare(ops: ?[*]const core.Op, count: u32, done: ?*u32) i64 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    const src: []const core.Op = if (count == 0) &.{} else (ops orelse return status.of(.bad_buffer))[0..count];
    const list = ops_allocator.alloc(core.Op, count) catch return status.of(.bad_buffer);
    @memcpy(list, src);
    const rc = core.checkList(null, list, out);
    if (rc != status.ok) {
        ops_allocator.free(list);
        return rc;
    }
    const index = takeSlot() catch |e| {
        ops_allocator.free(list);
        return status.of(if (e == error.TooMany) .too_many_prepared else .bad_buffer);
    };
    const slot = slotAt(index).?;
    // Nothing references this slot (its last reference reclaimed it), so plain writes, then publish.
    slot.ops = list;
    slot.checked_id = 0;
    slot.generation += 1; // odd: holds a batch
    slot.state.store(live_bit | 1, .release);
    out.* = count;
    return @intCast(slot.generation << index_bits | index);
}

/// Runs a prepared batch on the calling thread. `values` gets one u32 per op
/// slot for the slots before `done` (all of them when every op ran): what a
/// read read, every other slot's own value. The grants are checked when the
/// thread's grants changed since the last run that passed; a refused op means
/// none ran, and `done` receives its index (or the count when all ran).
/// Threads may run the same batch at once: the list is only read, and a run
/// that finds another holding the grants stamp checks its grants itself.
pub fn run(handle: i64, done: ?*u32, values: ?[*]u32) i32 {
    const out = done orelse return status.of(.bad_buffer);
    out.* = 0;
    const ref = acquire(handle, true) orelse return status.of(.bad_buffer);
    defer release(ref);
    const slot = ref.slot;
    const list = slot.ops;
    if (list.len == 0) return status.ok;
    const v = values orelse return status.of(.bad_buffer);
    const t = core.platform.thread();
    // Read before the checks: LLVM would otherwise look the thread up again for it.
    const backend = t.backend;
    // Without the stamp bit, the stamp is another run's: check in full and record nothing.
    if (!ref.stamp or t.id == 0 or slot.checked_id != t.id or slot.checked_generation != t.generation) {
        const rc = core.checkListGrants(t, list, out);
        if (rc != status.ok) return rc;
        if (ref.stamp) {
            slot.checked_id = t.id;
            slot.checked_generation = t.generation;
        }
    }
    return @call(.always_inline, core.platform.batch, .{ backend, list, v, out });
}

/// Frees a prepared batch; its handle is refused from then on. A run in
/// another thread keeps the ops until it returns. A second free is refused.
pub fn free(handle: i64) i32 {
    const ref = acquire(handle, false) orelse return status.of(.bad_buffer);
    var s = ref.slot.state.load(.monotonic);
    while (true) {
        if (s & live_bit == 0) {
            // Another free of the same handle got there first.
            release(ref);
            return status.of(.bad_buffer);
        }
        // No longer live, and two references fewer: the batch's own and this call's.
        const next = (s & ~live_bit) - 2;
        s = ref.slot.state.cmpxchgWeak(s, next, .acq_rel, .monotonic) orelse {
            if (s & refs_mask == 2) reclaim(ref.slot, ref.index);
            return status.ok;
        };
    }
}

// ---- tests ----------------------------------------------------------------------
// Port I/O cannot run in a unit test, so these ops are 16-bit reads on the `none`
// backend: once past the grant check they reach the backend, which refuses them
// with width_unsupported before any instruction. That status therefore says "the
// grants were passed (or skipped) and the list was read", and not_granted says
// "the check ran and refused".

const test_ports = 0x100;
/// Ops in a test batch: a page of them, so that a run reading a list freed under
/// it would fault with a page allocator, and long enough for threads to overlap.
const test_ops = 512;
/// Which op a "bad" batch refuses: one of the first few.
const test_kinds = 8;

/// This thread's mirror grants test_ports..+16 on the `none` backend (nothing reaches a port).
fn grantForTest() *grants.Thread {
    const t = core.platform.thread();
    t.clear();
    t.backend = .none;
    t.set(test_ports, 16, true);
    grants.touch(t);
    return t;
}

/// test_ops 16-bit reads of granted ports; with `bad` = j + 1, op j reads an ungranted port instead.
fn testOps(bad: u32) [test_ops]core.Op {
    var list: [test_ops]core.Op = undefined;
    for (&list, 0..) |*op, k| op.* = .{ .port = @intCast(test_ports + 2 * (k % 8)), .width = 2, .flags = 0, .value = 0 };
    if (bad != 0) list[bad - 1].port = 0x300;
    return list;
}

test "a prepared batch checks its grants once per grant generation of the running thread" {
    const t = grantForTest();
    var done: u32 = 99;
    const ops = testOps(0);
    const h = prepare(&ops, ops.len, &done);
    try std.testing.expect(h > 0);
    try std.testing.expectEqual(@as(u32, test_ops), done);
    defer _ = free(h);
    var values: [test_ops]u32 = @splat(0);
    // Granted: the check passes and the first op reaches the backend.
    try std.testing.expectEqual(status.of(.width_unsupported), run(h, &done, &values));
    // The mirror loses a port without the generation moving: the stamp still
    // matches, so this run does not check again (the op reaches the backend).
    t.set(test_ports, 1, false);
    try std.testing.expectEqual(status.of(.width_unsupported), run(h, &done, &values));
    // The generation moves: checked again, and refused at the op that lost its port.
    grants.touch(t);
    try std.testing.expectEqual(status.of(.not_granted), run(h, &done, &values));
    try std.testing.expectEqual(@as(u32, 0), done);
    // A refusal records nothing: the next run checks again.
    try std.testing.expectEqual(status.of(.not_granted), run(h, &done, &values));
    // Granted again in a new generation: passes once more.
    t.set(test_ports, 1, true);
    grants.touch(t);
    try std.testing.expectEqual(status.of(.width_unsupported), run(h, &done, &values));
}

test "a freed, stale, forged or zero handle is refused; a batch is freed once" {
    _ = grantForTest();
    const before = alive();
    var done: u32 = 0;
    var values: [test_ops]u32 = @splat(0);
    const ops = testOps(0);
    const h = prepare(&ops, ops.len, &done);
    try std.testing.expect(h > 0 and h < 1 << 53);
    try std.testing.expectEqual(before + 1, alive());
    // Other generations of the same slot (even: a freed one), other slots, zero, negative.
    for ([_]i64{ h + (2 << index_bits), h + (1 << index_bits), h - (1 << index_bits), h + 1, 0, -h }) |forged| {
        try std.testing.expectEqual(status.of(.bad_buffer), run(forged, &done, &values));
        try std.testing.expectEqual(status.of(.bad_buffer), free(forged));
    }
    try std.testing.expectEqual(status.ok, free(h));
    try std.testing.expectEqual(before, alive());
    try std.testing.expectEqual(status.of(.bad_buffer), run(h, &done, &values));
    try std.testing.expectEqual(status.of(.bad_buffer), free(h));
    // The slot is reused under a new handle; the old one still names nothing.
    const again = prepare(&ops, ops.len, &done);
    try std.testing.expect(again > 0 and again != h);
    try std.testing.expectEqual(status.of(.bad_buffer), run(h, &done, &values));
    try std.testing.expectEqual(status.of(.bad_buffer), free(h));
    try std.testing.expectEqual(status.of(.width_unsupported), run(again, &done, &values));
    try std.testing.expectEqual(status.ok, free(again));
}

test "prepare refuses a bad op by index and keeps nothing" {
    const before = alive();
    var done: u32 = 99;
    const ops = [_]core.Op{
        .{ .port = 0x80, .width = 1, .flags = 0, .value = 0 },
        .{ .port = 0x80, .width = 1, .flags = core.Op.write_flag, .value = 0x100 },
    };
    try std.testing.expectEqual(@as(i64, status.of(.range)), prepare(&ops, ops.len, &done));
    try std.testing.expectEqual(@as(u32, 1), done);
    try std.testing.expectEqual(before, alive());
}

test "slots run out with too_many_prepared, and a free makes room" {
    const room = max_slots - alive();
    const handles = try std.testing.allocator.alloc(i64, room);
    defer std.testing.allocator.free(handles);
    var done: u32 = 0;
    const ops = [_]core.Op{.{ .port = 0x80, .width = 1, .flags = 0, .value = 0 }};
    for (handles) |*h| {
        h.* = prepare(&ops, ops.len, &done);
        try std.testing.expect(h.* > 0);
    }
    try std.testing.expectEqual(@as(u32, max_slots), alive());
    try std.testing.expectEqual(@as(i64, status.of(.too_many_prepared)), prepare(&ops, ops.len, &done));
    try std.testing.expectEqual(status.ok, free(handles[room / 2]));
    handles[room / 2] = prepare(&ops, ops.len, &done);
    try std.testing.expect(handles[room / 2] > 0);
    for (handles) |h| try std.testing.expectEqual(status.ok, free(h));
    try std.testing.expectEqual(@as(u32, max_slots - room), alive());
}

/// Threads that prepare, run and free the same handles at once (see the test below).
const Hammer = struct {
    const cells = 8;
    /// Each preparer goes on until it has made this many batches and the runners have run this many.
    const min_rounds = 20_000;
    const min_runs = 200_000;
    /// (kind << 53) | handle, 0 when empty: a handle with the ops it was prepared from.
    shared: [cells]std.atomic.Value(u64) = @splat(.init(0)),
    stop: std.atomic.Value(bool) = .init(false),
    prepared: std.atomic.Value(u64) = .init(0),
    freed: std.atomic.Value(u64) = .init(0),
    runs: std.atomic.Value(u64) = .init(0),
    /// Runs whose outcome does not fit the batch their handle was made for, or the runner's grants.
    wrong: std.atomic.Value(u64) = .init(0),
    failed_prepares: std.atomic.Value(u64) = .init(0),

    fn handleOf(word: u64) i64 {
        return @intCast(word & ((1 << 53) - 1));
    }

    /// Fills half the cells over and over, freeing what each cell held (which a
    /// runner may be running), for as long as the runners need to run a while.
    fn preparer(hm: *Hammer, first: usize) void {
        var done: u32 = 0;
        var r: usize = 0;
        while (r < min_rounds or hm.runs.load(.monotonic) < min_runs) : (r += 1) {
            const kind: u64 = r % (test_kinds + 1);
            const ops = testOps(@intCast(kind));
            const h = prepare(&ops, ops.len, &done);
            if (h <= 0) {
                _ = hm.failed_prepares.fetchAdd(1, .monotonic);
                continue;
            }
            _ = hm.prepared.fetchAdd(1, .monotonic);
            const old = hm.shared[first + r % (cells / 2)].swap(kind << 53 | @as(u64, @intCast(h)), .acq_rel);
            if (old != 0 and free(handleOf(old)) == status.ok) _ = hm.freed.fetchAdd(1, .monotonic);
        }
    }

    /// Frees what the odd cells hold, twice: the preparers free the same handles.
    fn freer(hm: *Hammer) void {
        while (!hm.stop.load(.acquire)) {
            var cell: usize = 1;
            while (cell < cells) : (cell += 2) {
                const word = hm.shared[cell].load(.acquire);
                if (word == 0) continue;
                if (free(handleOf(word)) == status.ok) _ = hm.freed.fetchAdd(1, .monotonic);
                if (free(handleOf(word)) == status.ok) _ = hm.freed.fetchAdd(1, .monotonic);
            }
        }
    }

    /// Runs whatever the cells hold, and moves its own grant generation now and then.
    fn runner(hm: *Hammer) void {
        const t = grantForTest();
        var done: u32 = 0;
        var values: [test_ops]u32 = undefined;
        var has_first = true;
        var i: u32 = 0;
        while (!hm.stop.load(.acquire)) : (i += 1) {
            if (i % 64 == 0) {
                has_first = !has_first;
                t.set(test_ports, 1, has_first);
                grants.touch(t);
            }
            for (&hm.shared) |*cell| {
                const word = cell.load(.acquire);
                if (word == 0) continue;
                const kind: u32 = @intCast(word >> 53);
                const rc = run(handleOf(word), &done, &values);
                const fits = if (rc == status.of(.bad_buffer))
                    done == 0 // freed meanwhile
                else if (!has_first)
                    rc == status.of(.not_granted) and done == 0
                else if (kind == 0)
                    rc == status.of(.width_unsupported) and done == 0
                else
                    rc == status.of(.not_granted) and done == kind - 1;
                if (!fits) _ = hm.wrong.fetchAdd(1, .monotonic);
                if (rc != status.of(.bad_buffer)) _ = hm.runs.fetchAdd(1, .monotonic);
            }
        }
    }
};

test "threads running and freeing the same handles: no use after free, no double free, no stale or torn stamp" {
    const before = alive();
    var hm: Hammer = .{};
    var runners: [2]std.Thread = undefined;
    for (&runners) |*r| r.* = try std.Thread.spawn(.{}, Hammer.runner, .{&hm});
    const freer = try std.Thread.spawn(.{}, Hammer.freer, .{&hm});
    const preparers = [_]std.Thread{
        try std.Thread.spawn(.{}, Hammer.preparer, .{ &hm, 0 }),
        try std.Thread.spawn(.{}, Hammer.preparer, .{ &hm, Hammer.cells / 2 }),
    };
    for (preparers) |p| p.join();
    hm.stop.store(true, .release);
    for (runners) |r| r.join();
    freer.join();
    for (&hm.shared) |*cell| {
        const word = cell.swap(0, .acquire);
        if (word != 0 and free(Hammer.handleOf(word)) == status.ok) _ = hm.freed.fetchAdd(1, .monotonic);
    }
    try std.testing.expectEqual(@as(u64, 0), hm.failed_prepares.load(.monotonic));
    try std.testing.expectEqual(@as(u64, 0), hm.wrong.load(.monotonic));
    // Each batch freed exactly once, whoever won, and every slot back.
    try std.testing.expectEqual(hm.prepared.load(.monotonic), hm.freed.load(.monotonic));
    try std.testing.expectEqual(before, alive());
    // The runs raced the frees for real.
    try std.testing.expect(hm.runs.load(.monotonic) > 0);
}

test "a slot whose generation is used up is retired, never reused" {
    var done: u32 = 0;
    const ops = [_]core.Op{.{ .port = 0x80, .width = 1, .flags = 0, .value = 0 }};
    const h = prepare(&ops, ops.len, &done);
    try std.testing.expectEqual(status.ok, free(h));
    const index: u32 = @intCast(@as(u64, @intCast(h)) & (max_slots - 1));
    const slot = slotAt(index).?;
    // Skip to the last generation a handle can carry (as if 2^36 batches had used this slot).
    slot.generation = generation_limit - 2;
    const before = alive();
    const last = prepare(&ops, ops.len, &done);
    try std.testing.expectEqual(@as(i64, @intCast((generation_limit - 1) << index_bits | index)), last);
    try std.testing.expect(last < 1 << 53);
    try std.testing.expectEqual(status.ok, free(last));
    try std.testing.expectEqual(before + 1, alive()); // retired: still counted, never handed out
    const next = prepare(&ops, ops.len, &done);
    try std.testing.expect(next > 0 and @as(u64, @intCast(next)) & (max_slots - 1) != index);
    try std.testing.expectEqual(status.ok, free(next));
}
