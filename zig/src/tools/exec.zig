//! What the tools (ioperm-with-iopl, ioperm-run, ioperm-noports) share: they
//! exec a command after changing what it inherits. execvp (a name with a slash
//! is a path, anything else is looked up in PATH), the exit statuses env(1) and
//! timeout(1) use, dropping every inherited I/O permission, and one-line errors.
const std = @import("std");
const linux = std.os.linux;

/// Exit statuses, as env(1) and timeout(1): the tool itself failed, the command
/// was found but could not be run, the command was not found.
pub const exit_failed: u8 = 125;
pub const exit_cannot_run: u8 = 126;
pub const exit_not_found: u8 = 127;

/// Writes "<tool>: <message>" to stderr and returns `code`, for `return fail(...)`.
pub fn fail(comptime tool: []const u8, code: u8, comptime fmt: []const u8, args: anytype) u8 {
    var buf: [1024]u8 = undefined;
    const msg = std.mem.print(&buf, tool ++ ": " ++ fmt ++ "\n", args) catch return code;
    _ = linux.write(2, msg.ptr, msg.len);
    return code;
}

/// Drops every I/O permission this process holds: the iopl level and every
/// ioperm bit. ENOSYS counts as done: a kernel without them has none to hand down.
/// The syscall that failed and why, else null.
pub fn dropPorts() ?struct { call: []const u8, err: linux.E } {
    switch (linux.errno(linux.syscall1(.iopl, 0))) {
        .SUCCESS, .NOSYS => {},
        else => |e| return .{ .call = "iopl(0)", .err = e },
    }
    switch (linux.errno(linux.syscall3(.ioperm, 0, 0x10000, 0))) {
        .SUCCESS, .NOSYS => {},
        else => |e| return .{ .call = "ioperm(0, 0x10000, 0)", .err = e },
    }
    return null;
}

/// Execs the command; returns only when it could not, with the error said and the exit status it decides.
pub fn execOrFail(comptime tool: []const u8, args: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8, path: []const u8) u8 {
    const name = std.mem.span(args[0].?);
    const e = exec(name, args, envp, path);
    return switch (e) {
        .NOENT, .NOTDIR => fail(tool, exit_not_found, "{s}: command not found", .{name}),
        else => fail(tool, exit_cannot_run, "{s}: cannot execute: {t}", .{ name, e }),
    };
}

/// execve as execvp does it: a name with a slash is a path, anything else is
/// looked up in PATH. Returns only on failure: the error that decides the exit
/// status (EACCES from any candidate wins over ENOENT from the rest).
pub fn exec(name: []const u8, args: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8, path: []const u8) linux.E {
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

pub fn pathOf(envp: [:null]const ?[*:0]const u8) []const u8 {
    for (envp) |entry| {
        const kv = std.mem.span(entry.?);
        if (std.mem.startsWith(u8, kv, "PATH=")) return kv["PATH=".len..];
    }
    return "/usr/local/bin:/usr/bin:/bin"; // no PATH: the usual places
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
