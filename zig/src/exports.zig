//! The C ABI of libioperm / ioperm.dll: the only file with `export fn`.
//! Every function returns 0 or a negative status (see status.zig); reads return
//! the value read (>= 0) or a negative status, so one call carries both.
//! Grants belong to the calling thread.
const std = @import("std");
const core = @import("core.zig");
const grants = @import("grants.zig");
const status = @import("status.zig");
const platform = @import("platform.zig");
const prepared = @import("prepared.zig");
const buslock = @import("buslock.zig");

/// The result of a call that may change the thread's grants, after marking them changed.
fn changed(rc: i32) i32 {
    grants.touch(core.platform.thread());
    return rc;
}

/// Bumped when any signature or struct layout below changes.
pub const abi_version: u32 = 5;

/// abi_version, which lib/ffi.ts compares with its ABI_VERSION right after loading.
export fn ioperm_abi_version() u32 {
    return abi_version;
}

/// Status table, for the TypeScript side to check its copy against.
export fn ioperm_status_count() u32 {
    return status.all.len;
}

/// Status i of the table: its name (status.zig's tag) and its code into `code`, or null past the end.
export fn ioperm_status_at(i: u32, code: *i32) ?[*:0]const u8 {
    if (i >= status.all.len) return null;
    code.* = @backingInt(status.all[i]);
    return @tagName(status.all[i]);
}

/// Backend for this thread's grants from now on: a grants.Backend number, where
/// 0 ("none") asks for auto (see ioperm_backend_name for the table).
export fn ioperm_open(kind: u32) i32 {
    return changed(platform.setPreference(core.platform, kind));
}

/// Grants ports from..from+count-1 to the calling thread through its backend
/// (the preference set by ioperm_open, auto by default); why a refusal happened
/// is left for ioperm_diagnose.
export fn ioperm_grant(from: u32, count: u32) i32 {
    return changed(core.grant(from, count));
}

/// Every port (iopl(3) on Linux). Opt-in only.
export fn ioperm_grant_all() i32 {
    return changed(core.grantAll());
}

/// The parallel port the next ppdev grant claims: its device (/dev/parportN), its
/// base address (from /proc/sys/dev/parport), and whether the claim is exclusive.
export fn ioperm_ppdev(device: ?[*:0]const u8, base: u32, exclusive: u32) i32 {
    return changed(core.platform.ppdevConfigure(device orelse return status.of(.bad_buffer), base, exclusive != 0));
}

/// Starts the calling (main) thread's mirror with the ranges ioperm-run granted
/// (`fd` from IOPERM_GRANTS_FD); refused unless root wrote and sealed the list.
export fn ioperm_adopt(fd: i32) i32 {
    return changed(core.platform.adopt(core.platform.thread(), fd));
}

/// count == 0 releases everything the calling thread holds.
export fn ioperm_release(from: u32, count: u32) i32 {
    return changed(core.release(from, count));
}

/// The calling thread's backend (grants.Backend), plus grants.all_ports_flag when it holds every port.
export fn ioperm_thread_backend() i32 {
    const t = core.platform.thread();
    return @as(i32, @backingInt(t.backend)) | (if (t.all) grants.all_ports_flag else 0);
}

/// Backend table, for the TypeScript side to check its copy against: the name of
/// backend number i, or null past the end.
export fn ioperm_backend_name(i: u32) ?[*:0]const u8 {
    const all = comptime std.enums.values(grants.Backend);
    for (all) |b| if (@backingInt(b) == i) return @tagName(b);
    return null;
}

/// grants.all_ports_flag, for the TypeScript side to check its copy against.
export fn ioperm_all_ports_flag() i32 {
    return grants.all_ports_flag;
}

/// 1 when the calling thread may access port..port+width-1, else 0.
export fn ioperm_is_granted(port: u32, width: u32) i32 {
    return @intFromBool(core.isGranted(port, width));
}

/// Why this thread's last grant (Windows: driver call) failed: a copy of
/// platform.Diagnosis, the first backend's OS error (ioperm/iopl or ppdev errno,
/// or a Win32 error) and /dev/port's errno.
export fn ioperm_diagnose(out: *platform.Diagnosis) void {
    out.* = platform.diagnosis;
}

/// The name of platform.Diagnosis field i (each an i32, in memory order), or
/// null past the last, for the TypeScript side to check its copy against.
export fn ioperm_diagnosis_field(i: u32) ?[*:0]const u8 {
    const names = @typeInfo(platform.Diagnosis).@"struct".field_names;
    return if (i < names.len) names[i] else null;
}

/// Reads a byte from `port`: the value (0-0xFF), or a negative status.
export fn ioperm_inb(port: u32) i32 {
    return @intCast(core.read(1, port));
}

/// Reads 16 bits from `port`..`port`+1: the value, or a negative status.
export fn ioperm_inw(port: u32) i32 {
    return @intCast(core.read(2, port));
}

/// Reads 32 bits from `port`..`port`+3: the value, or a negative status (an i64,
/// since every u32 value must stay non-negative).
export fn ioperm_inl(port: u32) i64 {
    return core.read(4, port);
}

/// Writes the byte `value` (0-0xFF, else range) to `port`.
export fn ioperm_outb(port: u32, value: u32) i32 {
    return core.write(1, port, value);
}

/// Writes the 16-bit `value` to `port`..`port`+1.
export fn ioperm_outw(port: u32, value: u32) i32 {
    return core.write(2, port, value);
}

/// Writes the 32-bit `value` to `port`..`port`+3.
export fn ioperm_outl(port: u32, value: u32) i32 {
    return core.write(4, port, value);
}

/// Reads `count` bytes from `port` into `buf` (rep insb: the port stays, the buffer
/// advances); a null `buf` with a count is bad_buffer.
export fn ioperm_insb(port: u32, buf: ?[*]u8, count: u32) i32 {
    return core.readString(1, port, buf, count);
}

/// Reads `count` 16-bit values from `port` into the u16 array `buf`.
export fn ioperm_insw(port: u32, buf: ?[*]u16, count: u32) i32 {
    return core.readString(2, port, buf, count);
}

/// Reads `count` 32-bit values from `port` into the u32 array `buf`.
export fn ioperm_insl(port: u32, buf: ?[*]u32, count: u32) i32 {
    return core.readString(4, port, buf, count);
}

/// Writes `count` bytes from `buf` to `port` (rep outsb: the port stays, the buffer advances).
export fn ioperm_outsb(port: u32, buf: ?[*]const u8, count: u32) i32 {
    return core.writeString(1, port, buf, count);
}

/// Writes `count` 16-bit values from the u16 array `buf` to `port`.
export fn ioperm_outsw(port: u32, buf: ?[*]const u16, count: u32) i32 {
    return core.writeString(2, port, buf, count);
}

/// Writes `count` 32-bit values from the u32 array `buf` to `port`.
export fn ioperm_outsl(port: u32, buf: ?[*]const u32, count: u32) i32 {
    return core.writeString(4, port, buf, count);
}

/// Runs `count` op slots (core.Op, 8 bytes each; a wait or pulse takes two); see core.batch.
export fn ioperm_batch(ops: ?[*]core.Op, count: u32, done: ?*u32) i32 {
    return core.batch(ops, count, done);
}

/// The last value read by the calling thread's last wait that timed out (the
/// batch or prepared run returned `timeout`), as errno goes with a -1.
export fn ioperm_timeout_value() u32 {
    return core.timeout_value;
}

/// The caps of timed steps in microseconds (the header's IOPERM_MAX_STEP_US and
/// IOPERM_MAX_CALL_US), for the TypeScript side to check its copy against.
export fn ioperm_step_limits(out: *[2]u32) void {
    out.* = .{ core.max_step_us, core.max_call_us };
}

/// Copies and checks an op list for repeated runs (see prepared.zig). Returns a
/// handle (> 0, below 2^53), or a negative status with `done` set to the refused
/// op's index; too_many_prepared when every slot holds a batch.
export fn ioperm_prepare(ops: ?[*]const core.Op, count: u32, done: ?*u32) i64 {
    return prepared.prepare(ops, count, done);
}

/// Runs a prepared list on the calling thread, each op's value to `values`.
export fn ioperm_prepared_run(handle: i64, done: ?*u32, values: ?[*]u32) i32 {
    return prepared.run(handle, done, values);
}

/// Frees a prepared list; its handle is refused from then on. Safe against a
/// run of the same handle in another thread (the run keeps the list until it returns).
export fn ioperm_prepared_free(handle: i64) i32 {
    return prepared.free(handle);
}

/// How many prepared lists are alive in this process (for the too_many_prepared message).
export fn ioperm_prepared_alive() u32 {
    return prepared.alive();
}

/// Windows: the running driver's version block, six u32 in the order of
/// IOPERM_VERSION_INFO (windows-driver/include/ioperm_ioctl.h): protocol,
/// driver_version, capabilities, max_batch, op_size, pointer_bits. Opens the
/// device if needed; grants nothing and touches no port.
export fn ioperm_driver_version(out: *[6]u32) i32 {
    return core.platform.driverVersion(out);
}

/// Windows: one dword of PCI configuration space (bus 0-255, device 0-31,
/// function 0-7, offset 0-252 and a multiple of 4) into `out`, read by the
/// driver (IOCTL_IOPERM_PCI_READ), which keeps 0xCF8-0xCFF to itself. Needs no
/// grant, only the device. Linux: `unsupported` (grant 0xCF8-0xCFF and use the ports).
export fn ioperm_pci_read32(bus: u32, device: u32, function: u32, offset: u32, out: ?*u32) i32 {
    return core.platform.pciRead32(bus, device, function, offset, out orelse return status.of(.bad_buffer));
}

/// Windows: installs `sys_path` (UTF-8, absolute) as the ioperm kernel service,
/// auto-start when `auto` != 0, and starts it. Needs elevation. The file must
/// hash to the SHA-256 built into this DLL (driver_mismatch otherwise, nothing
/// installed). Returns how many ports at 0x400 and above the started driver admits.
export fn ioperm_driver_install(sys_path: ?[*:0]const u8, auto: u32) i32 {
    return core.platform.driverInstall(sys_path orelse return status.of(.bad_buffer), auto != 0);
}

/// Windows: stops and deletes the service (closing this process's device handle first).
export fn ioperm_driver_uninstall() i32 {
    return core.platform.driverUninstall();
}

/// Windows: the service state (1 stopped, 2 start pending, 3 stop pending,
/// 4 running), or a negative status (driver_not_installed when absent).
export fn ioperm_driver_status() i32 {
    return core.platform.driverStatus();
}

/// Benchmark baseline: the signature of ioperm_outb with an empty body.
export fn ioperm_nop(port: u32, value: u32) i32 {
    std.mem.doNotOptimizeAway(port);
    std.mem.doNotOptimizeAway(value);
    return 0;
}

/// Benchmark baseline: ioperm_prepared_run's signature; checks and runs nothing.
export fn ioperm_nop_prepared_run(handle: i64, done: ?*u32, values: ?[*]u32) i32 {
    std.mem.doNotOptimizeAway(handle);
    std.mem.doNotOptimizeAway(values);
    if (done) |d| d.* = 0;
    return 0;
}

/// Benchmark native floor for writes: `count` single writes of `value` to one
/// port inside one call, checked once. Returns 0 or a negative status.
export fn ioperm_bench_out(port: u32, width: u32, value: u32, count: u32) i32 {
    return switch (width) {
        inline 1, 2, 4 => |w| blk: {
            const rc = core.write(w, port, value);
            if (rc < 0) break :blk rc;
            var i: u32 = 1;
            while (i < count) : (i += 1) _ = core.write(w, port, value);
            break :blk status.ok;
        },
        else => status.of(.bad_width),
    };
}

/// Benchmark native floor: `count` single reads of one port inside one call,
/// checked once. Returns the last value or a negative status.
export fn ioperm_bench_in(port: u32, width: u32, count: u32) i64 {
    return switch (width) {
        inline 1, 2, 4 => |w| blk: {
            var last: i64 = core.read(w, port);
            if (last < 0) break :blk last;
            var i: u32 = 1;
            while (i < count) : (i += 1) last = core.read(w, port);
            break :blk last;
        },
        else => status.of(.bad_width),
    };
}

/// Takes a bus lock (kind: buslock.Bus, 0 isa, 1 smbus, 2 pci, 3 ec), waiting at most
/// `timeout_ms` (<= buslock.max_timeout_ms); writes the handle to release it with.
/// lock_timeout when another process or thread still holds it.
export fn ioperm_bus_lock(kind: u32, timeout_ms: u32, handle: ?*i64) i32 {
    const out = handle orelse return status.of(.bad_buffer);
    const bus = buslock.busOf(kind) orelse return status.of(.range);
    const h = buslock.lock(bus, timeout_ms);
    if (h < 0) return @intCast(h);
    out.* = h;
    return status.ok;
}

/// Releases a bus lock taken by ioperm_bus_lock (on Windows, from the thread that took it).
export fn ioperm_bus_unlock(handle: i64) i32 {
    return buslock.unlock(handle);
}

/// The name of bus lock `kind` on this platform (the lock file or the mutex), or null past the last.
export fn ioperm_bus_lock_name(kind: u32) ?[*:0]const u8 {
    const bus = buslock.busOf(kind) orelse return null;
    return switch (@import("builtin").os.tag) {
        .windows => buslock.windowsName(bus),
        else => buslock.linuxPath(bus),
    };
}

test {
    std.testing.refAllDecls(@This());
    _ = @import("grants.zig");
    _ = @import("status.zig");
    _ = @import("core.zig");
    _ = @import("prepared.zig");
    _ = @import("ppdev.zig");
    _ = @import("buslock.zig");
}
