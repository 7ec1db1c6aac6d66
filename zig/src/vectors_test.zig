//! The shared table of op-validity cases (test/vectors/ops.json), checked
//! against core.checkList: the same table lib/ and the driver's tests read.
const std = @import("std");
const core = @import("core.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");

const Case = struct {
    name: []const u8,
    port: u32,
    width: u32,
    flags: u32,
    value: u32,
    param: ?[2]u32 = null,
    repeat: u32 = 1,
    expect: []const u8,
};
const Table = struct { about: []const u8, granted: []const [2]u32, cases: []const Case };

test "ops.json: checkList gives each case's verdict" {
    const parsed = try std.json.parseFromSlice(Table, std.testing.allocator, @embedFile("ops_vectors"), .{});
    defer parsed.deinit();
    var t: grants.Thread = .{};
    for (parsed.value.granted) |g| t.set(g[0], g[1], true);
    try std.testing.expect(parsed.value.cases.len >= 10);
    for (parsed.value.cases) |c| {
        const want: i32 = if (std.mem.eql(u8, c.expect, "ok")) status.ok else status.of(std.meta.stringToEnum(status.Code, c.expect) orelse return error.UnknownVerdict);
        const op: core.Op = .{ .port = @truncate(c.port), .width = @intCast(c.width), .flags = @intCast(c.flags), .value = c.value };
        var list: [32]core.Op = undefined;
        var n: usize = 0;
        for (0..c.repeat) |_| {
            list[n] = op;
            n += 1;
            if (c.param) |p| {
                list[n] = @as(*const core.Op, @ptrCast(&core.WaitParam{ .mask = p[0], .expect = p[1] })).*;
                n += 1;
            }
        }
        var done: u32 = 0;
        std.testing.expectEqual(want, core.checkList(&t, list[0..n], &done)) catch |e| {
            std.debug.print("ops.json case \"{s}\"\n", .{c.name});
            return e;
        };
    }
}
