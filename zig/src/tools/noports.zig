//! ioperm-noports: gives up every I/O port permission this process inherited
//! (iopl back to 0, every ioperm bit off), then execs its arguments. Linux
//! copies a thread's I/O bitmap and iopl to a child on fork and keeps them
//! across execve, so a child spawned from a thread that holds grants could use
//! them; spawned through this, it starts with none, and the parent keeps its own
//! (lib/spawn.ts). Lowering needs no privilege, so any user may run it.
//! IOPERM_GRANTS_FD (ioperm-run's list of what the bitmap held) is dropped from
//! the environment too: it would no longer be true.
//!
//!   ioperm-noports COMMAND [ARG]...
//!
//! Exit status, as env(1): 125 when the permissions cannot be dropped (the
//! reason on stderr), 126 when COMMAND was found but could not be run, 127 when
//! it was not found; otherwise COMMAND's own, since this process becomes COMMAND.
const std = @import("std");
const linux = std.os.linux;
const execvp = @import("exec.zig");

const exit_failed = execvp.exit_failed;

pub fn main(init: std.process.Init.Minimal) u8 {
    const argv = init.args.vector;
    if (argv.len < 2) return fail(exit_failed, "usage: ioperm-noports COMMAND [ARG]...  (drop every I/O port permission, then exec COMMAND)", .{});
    if (execvp.dropPorts()) |f| return fail(exit_failed, "{s}: {t}", .{ f.call, f.err });
    var env_buf: [1024]?[*:0]const u8 = undefined;
    const envp = without(&env_buf, init.environ.block.slice, "IOPERM_GRANTS_FD=") orelse
        return fail(exit_failed, "too many environment variables", .{});
    // The vector is argv as the kernel laid it out, so it is null-terminated in place.
    const args: [*:null]const ?[*:0]const u8 = @ptrCast(argv[1..].ptr);
    return execvp.execOrFail("ioperm-noports", args, envp, execvp.pathOf(init.environ.block.slice));
}

/// The environment without entries that start with `prefix`, null-terminated in `buf`.
fn without(buf: []?[*:0]const u8, env: [:null]const ?[*:0]const u8, prefix: []const u8) ?[*:null]const ?[*:0]const u8 {
    var n: usize = 0;
    for (env) |e| {
        if (std.mem.startsWith(u8, std.mem.span(e.?), prefix)) continue;
        if (n + 1 >= buf.len) return null;
        buf[n] = e;
        n += 1;
    }
    buf[n] = null;
    return @ptrCast(buf.ptr);
}

fn fail(code: u8, comptime fmt: []const u8, args: anytype) u8 {
    return execvp.fail("ioperm-noports", code, fmt, args);
}

test "the grant list leaves the environment, the rest stays in order" {
    var buf: [8]?[*:0]const u8 = undefined;
    const env: [:null]const ?[*:0]const u8 = &.{ "A=1", "IOPERM_GRANTS_FD=3", "B=2" };
    const out = without(&buf, env, "IOPERM_GRANTS_FD=").?;
    try std.testing.expectEqualStrings("A=1", std.mem.span(out[0].?));
    try std.testing.expectEqualStrings("B=2", std.mem.span(out[1].?));
    try std.testing.expect(out[2] == null);
    var tiny: [2]?[*:0]const u8 = undefined;
    try std.testing.expect(without(&tiny, env, "IOPERM_GRANTS_FD=") == null);
}

test {
    _ = execvp;
}
