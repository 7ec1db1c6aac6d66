//! execvp for the tools (ioperm-with-iopl, ioperm-run), which exec a command
//! after changing what it inherits: a name with a slash is a path, anything
//! else is looked up in PATH, and the error that decides the exit status comes back.
const std = @import("std");
const linux = std.os.linux;

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
