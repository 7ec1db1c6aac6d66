//! Builds libioperm.so (x86_64-linux, no libc) and, with -Dwindows, ioperm.dll
//! (x86_64-windows) plus the Windows driver (x64 and x86), its test client and
//! the Wine test shim. `zig build test` runs the unit tests that need no port.
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
    const windows = b.option(bool, "windows", "also build ioperm.dll, ioperm.sys (x64, x86) and the Windows test tools") orelse false;
    const sign = b.option(bool, "sign", "test-sign ioperm.sys with osslsigncode (with -Dwindows; default true)") orelse true;
    // The driver first: each arch's ioperm.dll carries the SHA-256 of the ioperm.sys built beside it.
    const driver_hashes = if (windows) windowsDriver(b, optimize, sign) else null;

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
        if (query.os_tag == .windows) windowsClient(b, lib.root_module, target, driver_hashes.?.x64) else protocol(b, lib.root_module, target);
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
    const with_iopl = b.createModule(.{
        .root_source_file = b.path("src/tools/with_iopl.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
        .link_libc = false,
        .strip = optimize != .debug,
    });
    b.installArtifact(b.addExecutable(.{ .name = "ioperm-with-iopl", .root_module = with_iopl }));
    test_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = with_iopl })).step);

    // ioperm-run: grant ranges, drop to a user, exec (bunx ioperm run).
    const run_tool = b.createModule(.{
        .root_source_file = b.path("src/tools/run.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
        .link_libc = false,
        .strip = optimize != .debug,
    });
    b.installArtifact(b.addExecutable(.{ .name = "ioperm-run", .root_module = run_tool }));
    test_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = run_tool })).step);

    // ioperm-noports: drop every inherited I/O permission, then exec (lib/spawn.ts).
    const noports = b.createModule(.{
        .root_source_file = b.path("src/tools/noports.zig"),
        .target = b.resolveTargetQuery(targets[0]),
        .optimize = optimize,
        .link_libc = false,
        .strip = optimize != .debug,
    });
    b.installArtifact(b.addExecutable(.{ .name = "ioperm-noports", .root_module = noports }));
    test_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = noports })).step);
}

// ---- Windows -----------------------------------------------------------------

/// The driver's protocol header, the one source of truth for IOCTL codes and
/// layouts, and for the op kinds and caps of every platform: core.zig imports
/// it as "ioperm_ioctl" and checks core.Op against it.
const ioctl_header = "../windows-driver/include/ioperm_ioctl.h";

/// The header through translate-c for a Linux module (it needs no libc: clang's own <stdint.h>).
fn protocol(b: *std.Build, module: *std.Build.Module, target: std.Build.ResolvedTarget) void {
    const header = b.addTranslateC(.{
        .root_source_file = b.path(ioctl_header),
        .target = target,
        .optimize = .ReleaseSmall,
        .link_libc = false,
    });
    module.addImport("ioperm_ioctl", header.createModule());
}

/// ioperm.dll's backend: the header through translate-c, the system DLLs it calls,
/// and `driver_hash`, the SHA-256 of its arch's ioperm.sys that driverInstall checks.
fn windowsClient(b: *std.Build, module: *std.Build.Module, target: std.Build.ResolvedTarget, driver_hash: std.Build.LazyPath) void {
    const header = b.addTranslateC(.{
        .root_source_file = b.path(ioctl_header),
        .target = target,
        .optimize = .ReleaseSmall,
        .link_libc = false,
    });
    // <stdint.h> from the MinGW headers Zig ships, never the build host's.
    header.addSystemIncludePath(std.Build.LazyPath.zig_lib.path(b, "libc/include/any-windows-any"));
    module.addImport("ioperm_ioctl", header.createModule());
    module.addAnonymousImport("driver_sha256", .{ .root_source_file = driver_hash });
    module.linkSystemLibrary("kernel32", .{});
    module.linkSystemLibrary("advapi32", .{});
}

const DriverArch = struct {
    name: []const u8,
    query: std.Target.Query,
    /// llvm-dlltool machine, and whether its .def names carry stdcall/fastcall decorations.
    machine: []const u8,
    decorated: bool,
    entry: []const u8,
    defs: []const []const u8,
};

const driver_arches = [_]DriverArch{
    .{
        .name = "x64",
        .query = .{ .cpu_arch = .x86_64, .os_tag = .windows, .abi = .gnu },
        .machine = "i386:x86-64",
        .decorated = false,
        .entry = "DriverEntry",
        .defs = &.{ "ntoskrnl.x64.def", "hal.x64.def" },
    },
    .{
        .name = "x86",
        .query = .{ .cpu_arch = .x86, .os_tag = .windows, .abi = .gnu },
        .machine = "i386",
        .decorated = true,
        .entry = "DriverEntry@8",
        .defs = &.{ "ntoskrnl.x86.def", "hal.x86.def" },
    },
};

/// ioperm.sys for each arch: import libraries from our .def lists (zig dlltool),
/// compile and link with zig cc, fix the checksum (pefix), test-sign, and
/// check the result with an independent PE reader. Installs into
/// zig-out/windows/<arch>/. Returns each arch's generated SHA-256 source (hashzig).
fn windowsDriver(b: *std.Build, optimize: std.builtin.OptimizeMode, sign: bool) struct { x64: std.Build.LazyPath, x86: std.Build.LazyPath } {
    const pefix = b.addExecutable(.{
        .name = "pefix",
        .root_module = b.createModule(.{
            .root_source_file = b.path("../windows-driver/tools/pefix.zig"),
            .target = b.graph.host,
            .optimize = .ReleaseSafe,
        }),
    });
    const pefix_tests = b.addTest(.{ .root_module = pefix.root_module });
    const check_step = b.step("check-windows", "check the driver images (scripts/windows/check_pe.py)");
    check_step.dependOn(&b.addRunArtifact(pefix_tests).step);
    b.getInstallStep().dependOn(check_step);
    const hashzig = b.addExecutable(.{
        .name = "hashzig",
        .root_module = b.createModule(.{
            .root_source_file = b.path("../windows-driver/tools/hashzig.zig"),
            .target = b.graph.host,
            .optimize = .ReleaseSafe,
        }),
    });
    check_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = hashzig.root_module })).step);
    var hashes: [driver_arches.len]std.Build.LazyPath = undefined;

    const ddk = std.Build.LazyPath.zig_lib.path(b, "libc/include/any-windows-any/ddk");
    for (driver_arches, &hashes) |arch, *hash| {
        const cc = b.addSystemCommand(&.{ b.graph.zig_exe, "cc", "-target" });
        cc.addArg(b.fmt("{s}-windows-gnu", .{@tagName(arch.query.cpu_arch.?)}));
        cc.addArgs(&.{
            "-std=c11",       "-O2",                  "-g",                  "-Wall",     "-Wextra",                "-Werror",
            "-ffreestanding", "-mno-stack-arg-probe", "-mgeneral-regs-only", "-nostdlib", "-Wl,--subsystem,native", "-Wl,--dynamicbase",
            "-Wl,--nxcompat",
        });
        // -fstack-protector-strong, said to clang directly: zig cc refuses the flag
        // without libc; runtime.c supplies the guard and the failure path.
        cc.addArgs(&.{ "-Xclang", "-stack-protector", "-Xclang", "2" });
        cc.addArg(b.fmt("-Wl,-e,{s}", .{arch.entry}));
        cc.addPrefixedDirectoryArg("-I", b.path("../windows-driver/include"));
        cc.addPrefixedDirectoryArg("-I", ddk);
        // -nostdlib also drops libc's include path, which the DDK headers need.
        cc.addPrefixedDirectoryArg("-isystem", std.Build.LazyPath.zig_lib.path(b, "libc/include/any-windows-any"));
        // ioperm.c: load, unload and dispatch; ports.c: the port-access IOCTLs; allowlist.c: which ports;
        // iopm.c: the x86 IOPM grant; runtime.c: NX pool and the stack-protector guard; pci.c: PCI configuration reads.
        for ([_][]const u8{ "ioperm.c", "ports.c", "allowlist.c", "iopm.c", "runtime.c", "pci.c" }) |c| cc.addFileArg(b.path(b.fmt("../windows-driver/sys/{s}", .{c})));
        cc.addFileInput(b.path(ioctl_header));
        cc.addFileInput(b.path("../windows-driver/sys/ioperm.h"));
        for (arch.defs) |def| {
            const dlltool = b.addSystemCommand(&.{ b.graph.zig_exe, "dlltool", "-m", arch.machine });
            if (arch.decorated) dlltool.addArg("-k");
            dlltool.addArg("-d");
            dlltool.addFileArg(b.path(b.fmt("../windows-driver/sys/{s}", .{def})));
            dlltool.addArg("-l");
            cc.addFileArg(dlltool.addOutputFileArg(b.fmt("lib{s}.a", .{def[0 .. def.len - 4]})));
        }
        cc.addArg("-o");
        const linked = cc.addOutputFileArg("ioperm.sys");
        const pdb = linked.dirname().path(b, "ioperm.pdb");

        const fix = b.addRunArtifact(pefix);
        fix.addFileArg(linked);
        var image = fix.addOutputFileArg("ioperm.sys");

        const dir = b.fmt("windows/{s}", .{arch.name});
        if (sign) {
            const signer = b.addSystemCommand(&.{"sh"});
            signer.addFileArg(b.path("../scripts/windows/sign.sh"));
            signer.addFileArg(image);
            image = signer.addOutputFileArg("ioperm.sys");
            const cer = signer.addOutputFileArg("ioperm-test.cer");
            b.getInstallStep().dependOn(&b.addInstallFileWithDir(cer, .prefix, b.fmt("{s}/ioperm-test.cer", .{dir})).step);
        }

        const check = b.addSystemCommand(&.{"python3"});
        check.addFileArg(b.path("../scripts/windows/check_pe.py"));
        check.addArgs(&.{ "--arch", arch.name, "--pdb" });
        check.addFileArg(pdb);
        if (sign) check.addArg("--signed");
        for (arch.defs) |def| check.addFileInput(b.path(b.fmt("../windows-driver/sys/{s}", .{def})));
        check.addArg("--stamp");
        const stamp = check.addOutputFileArg("check.txt");
        check.addFileArg(image);
        check_step.dependOn(&check.step);

        // The final (signed) image's SHA-256, compiled into this arch's ioperm.dll.
        const hash_run = b.addRunArtifact(hashzig);
        hash_run.addFileArg(image);
        hash.* = hash_run.addOutputFileArg("driver_sha256.zig");

        const install = b.getInstallStep();
        install.dependOn(&b.addInstallFileWithDir(image, .prefix, b.fmt("{s}/ioperm.sys", .{dir})).step);
        install.dependOn(&b.addInstallFileWithDir(pdb, .prefix, b.fmt("{s}/ioperm.pdb", .{dir})).step);
        install.dependOn(&b.addInstallFileWithDir(stamp, .prefix, b.fmt("{s}/check.txt", .{dir})).step);
        for ([_][]const u8{ "ioperm.inf", "ioperm.reg" }) |f|
            install.dependOn(&b.addInstallFileWithDir(b.path(b.fmt("../windows-driver/sys/{s}", .{f})), .prefix, b.fmt("{s}/{s}", .{ dir, f })).step);

        // ioperm.dll for the same arch. The x64 one is the product (zig-out/bin);
        // the x86 one exists for the IOPM backend and for C callers only: there
        // is no 32-bit Bun. It is compiled here but only tested on x64.
        if (arch.query.cpu_arch == .x86) {
            const dll = b.addLibrary(.{
                .linkage = .dynamic,
                .name = "ioperm",
                .root_module = b.createModule(.{
                    .root_source_file = b.path("src/exports.zig"),
                    .target = b.resolveTargetQuery(arch.query),
                    .optimize = optimize,
                    .link_libc = false,
                }),
            });
            windowsClient(b, dll.root_module, dll.root_module.resolved_target.?, hash.*);
            install.dependOn(&b.addInstallArtifact(dll, .{
                .dest_dir = .{ .override = .{ .custom = dir } },
                .implib_dir = .disabled,
                .pdb_dir = .disabled,
            }).step);
        }

        // The raw-IOCTL test client, same arch as the driver.
        const target = b.resolveTargetQuery(arch.query);
        const ctl = b.addExecutable(.{
            .name = "iopermctl",
            .root_module = b.createModule(.{ .target = target, .optimize = .ReleaseSmall, .link_libc = true }),
        });
        ctl.root_module.addCSourceFile(.{ .file = b.path("../windows-driver/exe/iopermctl.c"), .flags = &.{ "-std=c11", "-Wall", "-Wextra", "-Werror" } });
        ctl.root_module.addIncludePath(b.path("../windows-driver/include"));
        ctl.root_module.linkSystemLibrary("advapi32", .{});
        install.dependOn(&b.addInstallArtifact(ctl, .{ .dest_dir = .{ .override = .{ .custom = dir } } }).step);

        // The fuzzing client of test/windows/fuzz.test.ts: thousands of requests in one Wine process.
        const fuzz = b.addExecutable(.{
            .name = "iopermfuzz",
            .root_module = b.createModule(.{ .target = target, .optimize = .ReleaseSmall, .link_libc = true }),
        });
        for ([_][]const u8{ "iopermfuzz.c", "iopermfuzz_ioctl.c", "iopermfuzz_registry.c" }) |c|
            fuzz.root_module.addCSourceFile(.{ .file = b.path(b.fmt("../windows-driver/tools/{s}", .{c})), .flags = &.{ "-std=c11", "-Wall", "-Wextra", "-Werror" } });
        fuzz.root_module.addIncludePath(b.path("../windows-driver/include"));
        fuzz.root_module.linkSystemLibrary("advapi32", .{});
        install.dependOn(&b.addInstallArtifact(fuzz, .{ .dest_dir = .{ .override = .{ .custom = dir } } }).step);
    }

    // ProcessPrng for Bun under Wine 8, which lacks it (test/windows/shim/).
    const shim = b.addLibrary(.{
        .linkage = .dynamic,
        .name = "bcryptprimitives",
        .root_module = b.createModule(.{
            .root_source_file = b.path("../test/windows/shim/bcryptprimitives.zig"),
            .target = b.resolveTargetQuery(targets[1]),
            .optimize = .ReleaseSmall,
            .link_libc = false,
        }),
    });
    shim.root_module.linkSystemLibrary("advapi32", .{});
    b.getInstallStep().dependOn(&b.addInstallArtifact(shim, .{
        .dest_dir = .{ .override = .{ .custom = "windows/wine" } },
        .implib_dir = .disabled,
        .pdb_dir = .disabled,
    }).step);
    comptime std.debug.assert(std.mem.eql(u8, driver_arches[0].name, "x64") and std.mem.eql(u8, driver_arches[1].name, "x86"));
    return .{ .x64 = hashes[0], .x86 = hashes[1] };
}
