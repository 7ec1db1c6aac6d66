//! ioperm-with-iopl: raises this process to I/O privilege level 3, then execs
//! its arguments, which inherit the level (Linux keeps it across fork and
//! execve). The lab runs Wine under it, so that ioperm.sys inside winedevice.exe
//! can execute in/out against QEMU's devices.
//!
//!   ioperm-with-iopl COMMAND [ARG]...
//!
//! Exit status, as env(1) and timeout(1): 125 when iopl itself fails (the reason
//! on stderr), 126 when COMMAND was found but could not be run, 127 when it was
//! not found; otherwise COMMAND's own, since this process becomes COMMAND.
//! A standalone executable: no `export fn` here (zig/src/exports.zig owns those).
const std = @import("std");
const linux = std.os.linux;

const exit_failed: u8 = 125;
const exit_cannot_run: u8 = 126;
const exit_not_found: u8 = 127;

pub fn main(init: std.process.Init.Minimal) u8 {
    const argv = init.args.vector;
    const envp = init.environ.block.slice;
    if (argv.len < 2) {
        say("usage: ioperm-with-iopl COMMAND [ARG]...  (iopl(3), then exec COMMAND)", .{});
        return exit_failed;
    }
    switch (linux.errno(linux.syscall1(.iopl, 3))) {
        .SUCCESS => {},
        .PERM => return fail(exit_failed, "iopl(3): EPERM: needs root or CAP_SYS_RAWIO (and no kernel lockdown)", .{}),
        .NOSYS => return fail(exit_failed, "iopl(3): ENOSYS: this kernel was built without CONFIG_X86_IOPL_IOPERM (run it in the lab VM: bun run lab)", .{}),
        else => |e| return fail(exit_failed, "iopl(3): {t}", .{e}),
    }
    // The vector is argv as the kernel laid it out, so it is null-terminated in place.
    const args: [*:null]const ?[*:0]const u8 = @ptrCast(argv[1..].ptr);
    const name = std.mem.span(argv[1]);
    const e = exec(name, args, envp.ptr, pathOf(envp));
    return switch (e) {
        .NOENT, .NOTDIR => fail(exit_not_found, "{s}: command not found", .{name}),
        else => fail(exit_cannot_run, "{s}: cannot execute: {t}", .{ name, e }),
    };
}

/// execve as execvp does it: a name with a slash is a path, anything else is
/// looked up in PATH. Returns only on failure: the error that decides the exit
/// status (EACCES from any candidate wins over ENOENT from the rest).
fn exec(name: []const u8, args: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8, path: []const u8) linux.E {
    if (std.mem.indexOfScalar(u8, name, '/') != null) return linux.errno(linux.execve(args[0].?, args, envp));
    var buf: [4096]u8 = undefined;
    var seen: linux.E = .NOENT;
    var dirs = std.mem.splitScalar(u8, path, ':');
    while (dirs.next()) |dir| {
        const full = candidate(&buf, dir, name) orelse continue;
        switch (linux.errno(linux.execve(full, args, envp))) {
            .NOENT, .NOTDIR => {},
            .ACCES => seen = .ACCES,
            else => |e| return e,
        }
    }
    return seen;
}

/// "dir/name" in `buf`, NUL-terminated; an empty PATH entry means the current directory.
fn candidate(buf: []u8, dir: []const u8, name: []const u8) ?[*:0]const u8 {
    const s = std.mem.printSentinel(buf, "{s}/{s}", .{ if (dir.len == 0) "." else dir, name }, 0) catch return null;
    return s.ptr;
}

fn pathOf(envp: [:null]const ?[*:0]const u8) []const u8 {
    for (envp) |entry| {
        const kv = std.mem.span(entry.?);
        if (std.mem.startsWith(u8, kv, "PATH=")) return kv["PATH=".len..];
    }
    return "/usr/local/bin:/usr/bin:/bin"; // no PATH: the usual places
}

fn fail(code: u8, comptime fmt: []const u8, args: anytype) u8 {
    say(fmt, args);
    return code;
}

fn say(comptime fmt: []const u8, args: anytype) void {
    var buf: [1024]u8 = undefined;
    const msg = std.mem.print(&buf, "ioperm-with-iopl: " ++ fmt ++ "\n", args) catch return;
    _ = linux.write(2, msg.ptr, msg.len);
}

test "candidate joins dir and name, empty dir is the current one" {
    var buf: [64]u8 = undefined;
    try std.testing.expectEqualStrings("/usr/bin/wine", std.mem.span(candidate(&buf, "/usr/bin", "wine").?));
    try std.testing.expectEqualStrings("./wine", std.mem.span(candidate(&buf, "", "wine").?));
    var tiny: [8]u8 = undefined;
    try std.testing.expect(candidate(&tiny, "/usr/local/bin", "wine") == null);
}

test "PATH comes from the environment, else execvp's default" {
    const with: [:null]const ?[*:0]const u8 = &.{ "HOME=/root", "PATH=/a:/b" };
    try std.testing.expectEqualStrings("/a:/b", pathOf(with));
    const without: [:null]const ?[*:0]const u8 = &.{"HOME=/root"};
    try std.testing.expectEqualStrings("/usr/local/bin:/usr/bin:/bin", pathOf(without));
}

test "a missing command is ENOENT, found but not executable is EACCES" {
    const args: [:null]const ?[*:0]const u8 = &.{"ioperm-no-such-command"};
    try std.testing.expectEqual(linux.E.NOENT, exec("ioperm-no-such-command", args.ptr, &.{}, "/nonexistent:/also-not"));
    const etc: [:null]const ?[*:0]const u8 = &.{"passwd"};
    try std.testing.expectEqual(linux.E.ACCES, exec("passwd", etc.ptr, &.{}, "/nonexistent:/etc"));
}
