//! ioperm-run: grants exactly the given port ranges (ioperm), drops to an
//! ordinary user for good, then execs the command, which inherits the I/O
//! bitmap (Linux keeps it across setuid and execve). The ranges also travel in a
//! sealed memfd that root created (IOPERM_GRANTS_FD), so the library in the
//! command starts its per-thread mirror with exactly them and refuses the rest
//! with NOT_GRANTED: no other process can forge a root-owned sealed memfd.
//!
//!   ioperm-run --uid UID --gid GID [--grant FROM:COUNT]... -- COMMAND [ARG]...
//!
//! After the grants: supplementary groups cleared, real/effective/saved IDs set
//! to UID/GID (which clears every capability), no_new_privs set. Exit status:
//! 125 when the grants or the drop fail (the reason on stderr), 126 or 127 as
//! env(1) when COMMAND cannot be run; otherwise COMMAND's own.
const std = @import("std");
const linux = std.os.linux;
const execvp = @import("exec.zig");

const exit_failed: u8 = 125;
const max_grants = 64;
const F_ADD_SEALS = 1033;
const seals = 1 | 2 | 4 | 8; // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
const MFD_ALLOW_SEALING = 2;
const PR_SET_NO_NEW_PRIVS = 38;

const Grant = extern struct { from: u32, count: u32 };

pub fn main(init: std.process.Init.Minimal) u8 {
    const argv = init.args.vector;
    var grants: [max_grants]Grant = undefined;
    var n: usize = 0;
    var uid: ?u32 = null;
    var gid: ?u32 = null;
    var i: usize = 1;
    while (i < argv.len) : (i += 1) {
        const a = std.mem.span(argv[i]);
        if (std.mem.eql(u8, a, "--")) break;
        if (i + 1 >= argv.len) return fail("{s} wants a value", .{a});
        const v = std.mem.span(argv[i + 1]);
        i += 1;
        if (std.mem.eql(u8, a, "--uid")) uid = std.fmt.parseInt(u32, v, 10) catch return fail("--uid {s}: not a number", .{v}) //
        else if (std.mem.eql(u8, a, "--gid")) gid = std.fmt.parseInt(u32, v, 10) catch return fail("--gid {s}: not a number", .{v}) //
        else if (std.mem.eql(u8, a, "--grant")) {
            if (n == max_grants) return fail("at most {d} --grant ranges", .{max_grants});
            grants[n] = parseGrant(v) orelse return fail("--grant {s}: want FROM:COUNT within 0..0xFFFF", .{v});
            n += 1;
        } else return fail("unknown option {s}", .{a});
    }
    if (i + 1 >= argv.len or uid == null or gid == null) return fail("usage: ioperm-run --uid UID --gid GID [--grant FROM:COUNT]... -- COMMAND [ARG]...", .{});
    if (uid.? == 0) return fail("--uid 0: the point is to drop root", .{});

    for (grants[0..n]) |g| switch (linux.errno(linux.syscall3(.ioperm, g.from, g.count, 1))) {
        .SUCCESS => {},
        else => |e| return fail("ioperm(0x{x}, {d}): {t} (run it as root)", .{ g.from, g.count, e }),
    };
    const fd = sealedGrants(grants[0..n]) catch |e| return fail("memfd: {t}", .{e});

    if (linux.errno(linux.setgroups(0, &[_]u32{})) != .SUCCESS) return fail("setgroups: cannot clear groups", .{});
    if (linux.errno(linux.setresgid(gid.?, gid.?, gid.?)) != .SUCCESS) return fail("setresgid({d}) failed", .{gid.?});
    if (linux.errno(linux.setresuid(uid.?, uid.?, uid.?)) != .SUCCESS) return fail("setresuid({d}) failed", .{uid.?});
    if (linux.errno(linux.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != .SUCCESS) return fail("no_new_privs failed", .{});

    var env_buf: [1024]?[*:0]const u8 = undefined;
    var fd_var: [48:0]u8 = undefined;
    const envp = withGrantsFd(&env_buf, init.environ.block.slice, std.mem.printSentinel(&fd_var, "IOPERM_GRANTS_FD={d}", .{fd}, 0) catch unreachable) orelse
        return fail("too many environment variables", .{});
    const args: [*:null]const ?[*:0]const u8 = @ptrCast(argv[i + 1 ..].ptr);
    const name = std.mem.span(argv[i + 1]);
    const e = execvp.exec(name, args, envp, execvp.pathOf(init.environ.block.slice));
    return switch (e) {
        .NOENT, .NOTDIR => fail2(127, "{s}: command not found", .{name}),
        else => fail2(126, "{s}: cannot execute: {t}", .{ name, e }),
    };
}

/// "0x378:3" or "888:3": a range inside the port space, count at least 1.
fn parseGrant(s: []const u8) ?Grant {
    const colon = std.mem.indexOfScalar(u8, s, ':') orelse return null;
    const from = std.fmt.parseInt(u32, s[0..colon], 0) catch return null;
    const count = std.fmt.parseInt(u32, s[colon + 1 ..], 0) catch return null;
    if (count == 0 or from > 0xffff or count > 0x10000 - from) return null;
    return .{ .from = from, .count = count };
}

/// The grants in a memfd sealed against every change, inherited across execve (no CLOEXEC).
fn sealedGrants(list: []const Grant) error{ Create, Write, Seal }!i32 {
    const rc = linux.memfd_create("ioperm-grants", MFD_ALLOW_SEALING);
    if (linux.errno(rc) != .SUCCESS) return error.Create;
    const fd: i32 = @intCast(rc);
    const bytes = std.mem.sliceAsBytes(list);
    if (linux.write(fd, bytes.ptr, bytes.len) != bytes.len) return error.Write;
    if (linux.errno(linux.fcntl(fd, F_ADD_SEALS, seals)) != .SUCCESS) return error.Seal;
    return fd;
}

/// The environment with IOPERM_GRANTS_FD set (any inherited one replaced), null-terminated in `buf`.
fn withGrantsFd(buf: []?[*:0]const u8, env: [:null]const ?[*:0]const u8, entry: [*:0]const u8) ?[*:null]const ?[*:0]const u8 {
    var n: usize = 0;
    for (env) |e| {
        if (std.mem.startsWith(u8, std.mem.span(e.?), "IOPERM_GRANTS_FD=")) continue;
        if (n + 2 >= buf.len) return null;
        buf[n] = e;
        n += 1;
    }
    buf[n] = entry;
    buf[n + 1] = null;
    return @ptrCast(buf.ptr);
}

fn fail(comptime fmt: []const u8, args: anytype) u8 {
    return fail2(exit_failed, fmt, args);
}

fn fail2(code: u8, comptime fmt: []const u8, args: anytype) u8 {
    var buf: [1024]u8 = undefined;
    const msg = std.mem.print(&buf, "ioperm-run: " ++ fmt ++ "\n", args) catch return code;
    _ = linux.write(2, msg.ptr, msg.len);
    return code;
}

test "grants: FROM:COUNT in hex or decimal, inside the port space" {
    try std.testing.expectEqual(Grant{ .from = 0x378, .count = 3 }, parseGrant("0x378:3").?);
    try std.testing.expectEqual(Grant{ .from = 888, .count = 3 }, parseGrant("888:3").?);
    for ([_][]const u8{ "0x378", "0x378:0", "0x10000:1", "0xffff:2", "x:1" }) |bad| try std.testing.expect(parseGrant(bad) == null);
}

test {
    _ = execvp;
}
