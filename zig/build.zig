//! Builds libioperm.so (x86_64-linux, no libc) and, with -Dwindows, ioperm.dll
//! (x86_64-windows). `zig build test` runs the unit tests that need no port.
const std = @import("std");
const builtin = @import("builtin");
const zon = @import("build.zig.zon");

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
    const windows = b.option(bool, "windows", "also build ioperm.dll for x86_64-windows") orelse false;

    for (targets) |query| {
        if (query.os_tag == .windows and !windows) continue;
        const lib = b.addLibrary(.{
            .linkage = .dynamic,
            .name = "ioperm",
            .root_module = b.createModule(.{
                .root_source_file = b.path("src/exports.zig"),
                .target = b.resolveTargetQuery(query),
                .optimize = optimize,
                .link_libc = false,
            }),
        });
        b.installArtifact(lib);
    }

    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("src/exports.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
    }) });
    b.step("test", "unit tests that need no port").dependOn(&b.addRunArtifact(tests).step);
}
