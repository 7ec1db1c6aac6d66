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
const execvp = @import("exec.zig");

const exit_failed = execvp.exit_failed;

pub fn main(init: std.process.Init.Minimal) u8 {
    const argv = init.args.vector;
    const envp = init.environ.block.slice;
    if (argv.len < 2) {
        return fail(exit_failed, "usage: ioperm-with-iopl COMMAND [ARG]...  (iopl(3), then exec COMMAND)", .{});
    }
    switch (linux.errno(linux.syscall1(.iopl, 3))) {
        .SUCCESS => {},
        .PERM => return fail(exit_failed, "iopl(3): EPERM: needs root or CAP_SYS_RAWIO (and no kernel lockdown)", .{}),
        .NOSYS => return fail(exit_failed, "iopl(3): ENOSYS: this kernel was built without CONFIG_X86_IOPL_IOPERM (run it in the lab VM: bun run lab)", .{}),
        else => |e| return fail(exit_failed, "iopl(3): {t}", .{e}),
    }
    // The vector is argv as the kernel laid it out, so it is null-terminated in place.
    const args: [*:null]const ?[*:0]const u8 = @ptrCast(argv[1..].ptr);
    return execvp.execOrFail("ioperm-with-iopl", args, envp.ptr, execvp.pathOf(envp));
}

fn fail(code: u8, comptime fmt: []const u8, args: anytype) u8 {
    return execvp.fail("ioperm-with-iopl", code, fmt, args);
}
