//! ioperm-run: starts from nothing, grants exactly the given port ranges
//! (ioperm), drops to an ordinary user for good, then execs the command, which
//! inherits the I/O bitmap (Linux keeps it across setuid and execve). The ranges
//! also travel in a sealed memfd that root created (IOPERM_GRANTS_FD), so the
//! library in the command starts its per-thread mirror with exactly them and
//! refuses the rest with NOT_GRANTED: no other process can forge a root-owned sealed memfd.
//!
//!   ioperm-run --uid UID --gid GID [--allow-gid-0] [--grant FROM:COUNT]... -- COMMAND [ARG]...
//!
//! Refused outright: installed setuid or with file capabilities (AT_SECURE, or
//! real and effective IDs differ), --uid 0, and --gid 0 unless --allow-gid-0.
//! The command runs in a child, in a new session (setsid): it has no controlling
//! terminal, so it cannot push keystrokes into the invoker's (TIOCSTI). This
//! process stays root, waits for it, forwards SIGHUP/SIGINT/SIGQUIT/SIGTERM, and
//! ends the way it ended (its exit status, or the same signal).
//! In the child, in this order: inherited iopl and every ioperm bit cleared,
//! descriptors above 2 closed, the grants, the memfd, the bounding set emptied,
//! securebits locked (NOROOT, no ambient raise, no setuid fixup, no keep-caps),
//! ambient capabilities cleared, supplementary groups cleared, real/effective/saved
//! IDs set to UID/GID (which empties the permitted and effective sets), the
//! inheritable set emptied, no_new_privs set, and all of it checked before exec.
//! Exit status: 125 when the grants or the drop fail (the reason on stderr), 126
//! or 127 as env(1) when COMMAND cannot be run; otherwise COMMAND's own.
const std = @import("std");
const linux = std.os.linux;
const execvp = @import("exec.zig");

const exit_failed = execvp.exit_failed;
const max_grants = 64;
const F_ADD_SEALS = 1033;
const seals = 1 | 2 | 4 | 8; // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
const MFD_ALLOW_SEALING = 2;
const PR_SET_PDEATHSIG = 1;
const PR_SET_DUMPABLE = 4;
const PR_CAPBSET_DROP = 24;
const PR_SET_SECUREBITS = 28;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const AT_SECURE = 23;
/// <linux/securebits.h>: root gains nothing on exec, ambient capabilities cannot be
/// raised, and the uid change must clear capabilities; each locked so the command cannot undo it.
const securebits = linux.SECBIT_NOROOT | linux.SECBIT_NOROOT_LOCKED |
    linux.SECBIT_NO_CAP_AMBIENT_RAISE | linux.SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED |
    linux.SECBIT_NO_SETUID_FIXUP_LOCKED | linux.SECBIT_KEEP_CAPS_LOCKED;
/// Signals a terminal or a supervisor sends to the job: passed on to the command.
const forwarded = [_]u32{ 1, 2, 3, 15 }; // SIGHUP, SIGINT, SIGQUIT, SIGTERM
const SIGCHLD = 17;

const Grant = extern struct { from: u32, count: u32 };

/// capget/capset as the kernel lays them out (_LINUX_CAPABILITY_VERSION_3: two 32-bit words per set).
const CapHeader = extern struct { version: u32 = 0x20080522, pid: i32 = 0 };
const CapData = extern struct { effective: u32 = 0, permitted: u32 = 0, inheritable: u32 = 0 };

const Request = struct {
    grants: []const Grant,
    uid: u32,
    gid: u32,
    args: [*:null]const ?[*:0]const u8,
    env: [:null]const ?[*:0]const u8,
};

pub fn main(init: std.process.Init.Minimal) u8 {
    // A setuid or file-capability install would let any user pick --uid and --grant.
    if (linux.getauxval(AT_SECURE) != 0 or linux.getuid() != linux.geteuid() or linux.getgid() != linux.getegid())
        return fail("refusing to run setuid or with file capabilities: install it as an ordinary file and run it as root (sudo)", .{});
    const argv = init.args.vector;
    var grants: [max_grants]Grant = undefined;
    var n: usize = 0;
    var uid: ?u32 = null;
    var gid: ?u32 = null;
    var allow_gid_0 = false;
    var i: usize = 1;
    while (i < argv.len) : (i += 1) {
        const a = std.mem.span(argv[i]);
        if (std.mem.eql(u8, a, "--")) break;
        if (std.mem.eql(u8, a, "--allow-gid-0")) {
            allow_gid_0 = true;
            continue;
        }
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
    if (i + 1 >= argv.len or uid == null or gid == null) return fail("usage: ioperm-run --uid UID --gid GID [--allow-gid-0] [--grant FROM:COUNT]... -- COMMAND [ARG]...", .{});
    if (uid.? == 0) return fail("--uid 0: the point is to drop root", .{});
    if (gid.? == 0 and !allow_gid_0) return fail("--gid 0: the command would keep group root's files; add --allow-gid-0 if that is what you want", .{});
    const req: Request = .{ .grants = grants[0..n], .uid = uid.?, .gid = gid.?, .args = @ptrCast(argv[i + 1 ..].ptr), .env = init.environ.block.slice };

    // Blocked before the fork, so none is lost in between; the child restores the mask.
    var set = linux.sigemptyset();
    for (forwarded ++ [_]u32{SIGCHLD}) |sig| sigaddset(&set, sig);
    var old: linux.sigset_t = undefined;
    _ = linux.sigprocmask(linux.SIG.BLOCK, &set, &old);
    const parent = linux.getpid();
    const rc = linux.fork();
    switch (linux.errno(rc)) {
        .SUCCESS => {},
        else => |e| return fail("fork: {t}", .{e}),
    }
    if (rc == 0) {
        _ = linux.sigprocmask(linux.SIG.SETMASK, &old, null);
        return child(req, parent);
    }
    return supervise(@intCast(rc), &set);
}

/// The parent: stays root (so the user cannot signal or trace it), passes the
/// forwarded signals on, and ends as the command ended.
fn supervise(pid: i32, set: *const linux.sigset_t) u8 {
    while (true) {
        const sig = linux.syscall4(.rt_sigtimedwait, @intFromPtr(set), 0, 0, linux.NSIG / 8);
        if (linux.errno(sig) != .SUCCESS) continue; // EINTR
        if (sig != SIGCHLD) {
            _ = linux.syscall2(.kill, @bitCast(@as(isize, pid)), sig);
            continue;
        }
        var st: i32 = 0;
        const w = linux.wait4(pid, &st, linux.W.NOHANG, null);
        if (linux.errno(w) == .SUCCESS and w == @as(usize, @intCast(pid))) return endLike(@bitCast(st));
    }
}

/// This process's exit as the command's: its status, or the same signal (as
/// timeout(1) does, with core dumps off so that root leaves no core behind).
fn endLike(st: u32) u8 {
    if (linux.W.IFEXITED(st)) return linux.W.EXITSTATUS(st);
    if (!linux.W.IFSIGNALED(st)) return exit_failed;
    const sig: u32 = st & 0x7f;
    const none: linux.rlimit = .{ .cur = 0, .max = 0 };
    _ = linux.syscall2(.setrlimit, 4, @intFromPtr(&none)); // RLIMIT_CORE
    _ = linux.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // a core_pattern pipe ignores RLIMIT_CORE
    var only = linux.sigemptyset();
    sigaddset(&only, sig);
    _ = linux.sigprocmask(linux.SIG.UNBLOCK, &only, null);
    _ = linux.syscall2(.kill, @bitCast(@as(isize, linux.getpid())), sig);
    return 128 + @as(u8, @intCast(sig)); // a signal this process cannot die of
}

fn sigaddset(set: *linux.sigset_t, sig: u32) void {
    linux.sigaddset(set, @fromBackingInt(sig));
}

/// The child: from nothing to exactly the grants, then the drop, then exec.
fn child(req: Request, parent: i32) u8 {
    if (linux.errno(linux.setsid()) != .SUCCESS) return fail("setsid failed", .{});
    // What the invoker held (ioperm-with-iopl, grantAll(), an inherited bitmap)
    // would otherwise pass to the command. ENOSYS: no I/O permissions exist to inherit.
    if (execvp.dropPorts()) |f| return fail("{s}: {t}", .{ f.call, f.err });
    if (linux.errno(linux.close_range(3, std.math.maxInt(i32), .{ .UNSHARE = false, .CLOEXEC = false })) != .SUCCESS)
        return fail("close_range failed", .{});
    // A closed 0, 1 or 2 would be the memfd's number, and the command's stdin or output.
    for (0..3) |std_fd| if (linux.errno(linux.fcntl(@intCast(std_fd), linux.F.GETFD, 0)) == .BADF) {
        if (linux.open("/dev/null", .{ .ACCMODE = .RDWR }, 0) != std_fd) return fail("cannot open /dev/null for descriptor {d}", .{std_fd});
    };

    for (req.grants) |g| switch (linux.errno(linux.syscall3(.ioperm, g.from, g.count, 1))) {
        .SUCCESS => {},
        else => |e| return fail("ioperm(0x{x}, {d}): {t} (run it as root)", .{ g.from, g.count, e }),
    };
    const fd = sealedGrants(req.grants) catch |e| return fail("memfd: {t}", .{e});

    var cap: u32 = 0;
    while (cap < 64) : (cap += 1) switch (linux.errno(linux.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))) {
        .SUCCESS => {},
        .INVAL => break, // past the kernel's last capability
        else => |e| return fail("dropping capability {d} from the bounding set: {t} (run it as root)", .{ cap, e }),
    };
    if (linux.errno(linux.prctl(PR_SET_SECUREBITS, securebits, 0, 0, 0)) != .SUCCESS) return fail("securebits: cannot lock them (run it as root)", .{});
    if (linux.errno(linux.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) != .SUCCESS) return fail("cannot clear ambient capabilities", .{});
    if (linux.errno(linux.setgroups(0, &[_]u32{})) != .SUCCESS) return fail("setgroups: cannot clear groups", .{});
    if (linux.errno(linux.setresgid(req.gid, req.gid, req.gid)) != .SUCCESS) return fail("setresgid({d}) failed", .{req.gid});
    if (linux.errno(linux.setresuid(req.uid, req.uid, req.uid)) != .SUCCESS) return fail("setresuid({d}) failed", .{req.uid});
    var hdr: CapHeader = .{};
    var none = [2]CapData{ .{}, .{} };
    if (linux.errno(linux.syscall2(.capset, @intFromPtr(&hdr), @intFromPtr(&none))) != .SUCCESS) return fail("capset: cannot clear capabilities", .{});
    if (linux.errno(linux.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != .SUCCESS) return fail("no_new_privs failed", .{});
    // The drop reset the parent-death signal; set after it, the command ends with ioperm-run.
    _ = linux.prctl(PR_SET_PDEATHSIG, 15, 0, 0, 0);
    if (linux.getppid() != parent) return fail("ioperm-run ended before the command started", .{});
    if (!dropped(req)) return fail("the drop did not hold: a capability or ID is left", .{});

    var env_buf: [1024]?[*:0]const u8 = undefined;
    var fd_var: [48:0]u8 = undefined;
    const envp = withGrantsFd(&env_buf, req.env, std.mem.printSentinel(&fd_var, "IOPERM_GRANTS_FD={d}", .{fd}, 0) catch unreachable) orelse
        return fail("too many environment variables", .{});
    return execvp.execOrFail("ioperm-run", req.args, envp, execvp.pathOf(req.env));
}

/// Checked, not assumed: no capability in any set and every ID the requested one.
fn dropped(req: Request) bool {
    var hdr: CapHeader = .{};
    var now = [2]CapData{ .{ .effective = 1 }, .{ .effective = 1 } };
    if (linux.errno(linux.syscall2(.capget, @intFromPtr(&hdr), @intFromPtr(&now))) != .SUCCESS) return false;
    for (now) |d| if (d.effective | d.permitted | d.inheritable != 0) return false;
    var r: u32 = 0;
    var e: u32 = 0;
    var s: u32 = 0;
    if (linux.errno(linux.getresuid(&r, &e, &s)) != .SUCCESS or r != req.uid or e != req.uid or s != req.uid) return false;
    if (linux.errno(linux.getresgid(&r, &e, &s)) != .SUCCESS or r != req.gid or e != req.gid or s != req.gid) return false;
    return true;
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
    return execvp.fail("ioperm-run", exit_failed, fmt, args);
}

test "grants: FROM:COUNT in hex or decimal, inside the port space" {
    try std.testing.expectEqual(Grant{ .from = 0x378, .count = 3 }, parseGrant("0x378:3").?);
    try std.testing.expectEqual(Grant{ .from = 888, .count = 3 }, parseGrant("888:3").?);
    for ([_][]const u8{ "0x378", "0x378:0", "0x10000:1", "0xffff:2", "x:1" }) |bad| try std.testing.expect(parseGrant(bad) == null);
}

test {
    _ = execvp;
}
