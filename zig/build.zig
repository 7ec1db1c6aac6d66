//! Builds libioperm.so (x86_64-linux, no libc) and, with -Dwindows, ioperm.dll
//! (x86_64-windows) plus the Windows driver (x64 and x86), its test tools and
//! the Wine test shim (build/windows.zig). `zig build test` runs the unit tests that need no port.
const std = @import("std");
const builtin = @import("builtin");
const zon = @import("build.zig.zon");
const windows_build = @import("build/windows.zig");

/// The targets this library supports; anything else is refused at configure time.
const targets = [_]std.Target.Query{
    .{ .cpu_arch = .x86_64, .os_tag = .linux, .abi = .none },
    .{ .cpu_arch = .x86_64, .os_tag = .windows, .abi = .gnu },
};

pub fn build(b: *std.Build) void {
    if (!std.mem.eql(u8, builtin.zig_version_string, zon.minimum_zig_version)) {
        std.debug.panic("ioperm pins Zig {s} (zig/build.zig.zon); this is {s}. Run: sh scripts/bootstrap.sh", .{ zon.minimum_zig_version, builtin.zig_version_string });
    }
    const optimize = b.standardOptimizeOption(.{});
    const windows = b.option(bool, "windows", "also build ioperm.dll, ioperm.sys (x64, x86) and the Windows test tools") orelse false;
    const sign = b.option(bool, "sign", "test-sign ioperm.sys with osslsigncode (with -Dwindows; default true)") orelse true;
    // The driver first: each arch's ioperm.dll carries the SHA-256 of the ioperm.sys built beside it.
    const driver_hashes = if (windows) windows_build.build(b, optimize, sign) else null;

    for (targets) |query| {
        if (query.os_tag == .windows and !windows) continue;
        const target = b.resolveTargetQuery(query);
        const lib = b.addLibrary(.{
            .linkage = .dynamic,
            .name = "ioperm",
            .root_module = b.createModule(.{
                .root_source_file = b.path("src/exports.zig"),
                .target = target,
                .optimize = optimize,
                .link_libc = false,
                // What ships carries no debug info (the .so drops from ~950 KB); Debug builds keep it.
                .strip = optimize != .debug,
            }),
        });
        if (query.os_tag == .windows) windows_build.client(b, lib.root_module, target, driver_hashes.?.x64) else protocol(b, lib.root_module, target);
        b.installArtifact(lib);
    }

    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("src/exports.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
    }) });
    protocol(b, tests.root_module, b.resolveTargetQuery(targets[0]));
    const test_step = b.step("test", "unit tests that need no port");
    test_step.dependOn(&b.addRunArtifact(tests).step);

    // The op-validity table shared with lib/ and the driver's tests (test/vectors/ops.json).
    const vectors = b.createModule(.{
        .root_source_file = b.path("src/vectors_test.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
    });
    vectors.addAnonymousImport("ops_vectors", .{ .root_source_file = b.path("../test/vectors/ops.json") });
    protocol(b, vectors, b.resolveTargetQuery(targets[0]));
    test_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = vectors })).step);

    // ioperm-with-iopl: iopl(3), then exec its arguments (the lab runs Wine under it).
    linuxTool(b, optimize, test_step, "ioperm-with-iopl", "src/tools/with_iopl.zig");
    // ioperm-run: grant ranges, drop to a user, exec (bunx ioperm run).
    linuxTool(b, optimize, test_step, "ioperm-run", "src/tools/run.zig");
    // ioperm-noports: drop every inherited I/O permission, then exec (lib/spawn.ts).
    linuxTool(b, optimize, test_step, "ioperm-noports", "src/tools/noports.zig");
}

/// A Linux executable of ours (no libc, stripped unless Debug), installed in
/// zig-out/bin, with its unit tests on the test step.
fn linuxTool(b: *std.Build, optimize: std.builtin.OptimizeMode, test_step: *std.Build.Step, name: []const u8, source: []const u8) void {
    const module = b.createModule(.{
        .root_source_file = b.path(source),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
        .link_libc = false,
        .strip = optimize != .debug,
    });
    b.installArtifact(b.addExecutable(.{ .name = name, .root_module = module }));
    test_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = module })).step);
}

/// The header through translate-c for a Linux module (it needs no libc: clang's own <stdint.h>).
fn protocol(b: *std.Build, module: *std.Build.Module, target: std.Build.ResolvedTarget) void {
    const header = b.addTranslateC(.{
        .root_source_file = b.path(windows_build.ioctl_header),
        .target = target,
        .optimize = .ReleaseSmall,
        .link_libc = false,
    });
    module.addImport("ioperm_ioctl", header.createModule());
}
