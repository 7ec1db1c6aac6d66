//! The Windows half of zig/build.zig (-Dwindows): ioperm.sys for x64 and x86,
//! the x86 ioperm.dll, the test tools (iopermctl, iopermfuzz) and the Wine shim.
//! Each function builds one thing; `build` strings them together per arch.
const std = @import("std");

/// The driver's protocol header, the one source of truth for IOCTL codes and
/// layouts, and for the op kinds and caps of every platform: core.zig imports
/// it as "ioperm_ioctl" and checks core.Op against it.
pub const ioctl_header = "../windows-driver/include/ioperm_ioctl.h";

/// ioperm.dll's backend: the header through translate-c, the system DLLs it calls,
/// and `driver_hash`, the SHA-256 of its arch's ioperm.sys that driverInstall checks.
pub fn client(b: *std.Build, module: *std.Build.Module, target: std.Build.ResolvedTarget, driver_hash: std.Build.LazyPath) void {
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

/// The driver's C sources. ioperm.c: load, unload and dispatch; ports.c: the
/// port-access IOCTLs; allowlist.c: which ports; iopm.c: the x86 IOPM grant;
/// runtime.c: NX pool and the stack-protector guard; pci.c: PCI configuration reads.
const driver_sources = [_][]const u8{ "ioperm.c", "ports.c", "allowlist.c", "iopm.c", "runtime.c", "pci.c" };

/// Each arch's generated SHA-256 source of its final ioperm.sys (hashzig), for ioperm.dll.
pub const DriverHashes = struct { x64: std.Build.LazyPath, x86: std.Build.LazyPath };

/// Everything -Dwindows builds besides the x64 ioperm.dll (build.zig's, which
/// gets the x64 hash returned here). Installs into zig-out/windows/<arch>/ and
/// zig-out/windows/wine/.
pub fn build(b: *std.Build, optimize: std.builtin.OptimizeMode, sign: bool) DriverHashes {
    const tools = hostTools(b);
    var hashes: [driver_arches.len]std.Build.LazyPath = undefined;
    for (driver_arches, &hashes) |arch, *hash| {
        const dir = b.fmt("windows/{s}", .{arch.name});
        const built = driver(b, tools.pefix, arch);
        const image = if (sign) testSign(b, built.image, dir) else built.image;
        checkDriver(b, tools.check_step, arch, image, built.pdb, sign, dir);
        hash.* = driverHash(b, tools.hashzig, image);
        installDriver(b, image, built.pdb, dir);
        // ioperm.dll for the same arch. The x64 one is the product (zig-out/bin);
        // the x86 one exists for the IOPM backend and for C callers only: there
        // is no 32-bit Bun. It is compiled here but only tested on x64.
        if (arch.query.cpu_arch == .x86) x86Dll(b, arch, optimize, hash.*, dir);
        // The raw-IOCTL test client, same arch as the driver.
        cTool(b, arch, dir, "iopermctl", &.{"../windows-driver/exe/iopermctl.c"});
        // The fuzzing client of test/windows/fuzz.test.ts: thousands of requests in one Wine process.
        cTool(b, arch, dir, "iopermfuzz", &.{
            "../windows-driver/tools/iopermfuzz.c",
            "../windows-driver/tools/iopermfuzz_ioctl.c",
            "../windows-driver/tools/iopermfuzz_registry.c",
        });
    }
    wineShim(b);
    comptime std.debug.assert(std.mem.eql(u8, driver_arches[0].name, "x64") and std.mem.eql(u8, driver_arches[1].name, "x86"));
    return .{ .x64 = hashes[0], .x86 = hashes[1] };
}

const HostTools = struct { pefix: *std.Build.Step.Compile, hashzig: *std.Build.Step.Compile, check_step: *std.Build.Step };

/// The build host's helpers, pefix (the PE checksum) and hashzig (the SHA-256
/// as Zig source), with their unit tests on the check-windows step, which
/// `zig build` (install) runs too.
fn hostTools(b: *std.Build) HostTools {
    const check_step = b.step("check-windows", "check the driver images (scripts/windows/check_pe.py)");
    b.getInstallStep().dependOn(check_step);
    var tools: HostTools = .{ .pefix = undefined, .hashzig = undefined, .check_step = check_step };
    inline for (.{ "pefix", "hashzig" }) |name| {
        const exe = b.addExecutable(.{
            .name = name,
            .root_module = b.createModule(.{
                .root_source_file = b.path("../windows-driver/tools/" ++ name ++ ".zig"),
                .target = b.graph.host,
                .optimize = .ReleaseSafe,
            }),
        });
        check_step.dependOn(&b.addRunArtifact(b.addTest(.{ .root_module = exe.root_module })).step);
        @field(tools, name) = exe;
    }
    return tools;
}

/// ioperm.sys for one arch, checksummed but unsigned, and its PDB: import
/// libraries from our .def lists (zig dlltool), compiled and linked with zig cc,
/// the checksum fixed by pefix.
fn driver(b: *std.Build, pefix: *std.Build.Step.Compile, arch: DriverArch) struct { image: std.Build.LazyPath, pdb: std.Build.LazyPath } {
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
    cc.addPrefixedDirectoryArg("-I", std.Build.LazyPath.zig_lib.path(b, "libc/include/any-windows-any/ddk"));
    // -nostdlib also drops libc's include path, which the DDK headers need.
    cc.addPrefixedDirectoryArg("-isystem", std.Build.LazyPath.zig_lib.path(b, "libc/include/any-windows-any"));
    for (driver_sources) |c| cc.addFileArg(b.path(b.fmt("../windows-driver/sys/{s}", .{c})));
    cc.addFileInput(b.path(ioctl_header));
    cc.addFileInput(b.path("../windows-driver/sys/ioperm.h"));
    for (arch.defs) |def| cc.addFileArg(importLibrary(b, arch, def));
    cc.addArg("-o");
    const linked = cc.addOutputFileArg("ioperm.sys");

    const fix = b.addRunArtifact(pefix);
    fix.addFileArg(linked);
    return .{ .image = fix.addOutputFileArg("ioperm.sys"), .pdb = linked.dirname().path(b, "ioperm.pdb") };
}

/// The import library of one .def list (ntoskrnl.exe or HAL.dll), for zig cc.
fn importLibrary(b: *std.Build, arch: DriverArch, def: []const u8) std.Build.LazyPath {
    const dlltool = b.addSystemCommand(&.{ b.graph.zig_exe, "dlltool", "-m", arch.machine });
    if (arch.decorated) dlltool.addArg("-k");
    dlltool.addArg("-d");
    dlltool.addFileArg(b.path(b.fmt("../windows-driver/sys/{s}", .{def})));
    dlltool.addArg("-l");
    return dlltool.addOutputFileArg(b.fmt("lib{s}.a", .{def[0 .. def.len - 4]}));
}

/// Test-signs an image (scripts/windows/sign.sh) and installs the test certificate beside it.
fn testSign(b: *std.Build, image: std.Build.LazyPath, dir: []const u8) std.Build.LazyPath {
    const signer = b.addSystemCommand(&.{"sh"});
    signer.addFileArg(b.path("../scripts/windows/sign.sh"));
    signer.addFileArg(image);
    const signed = signer.addOutputFileArg("ioperm.sys");
    const cer = signer.addOutputFileArg("ioperm-test.cer");
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(cer, .prefix, b.fmt("{s}/ioperm-test.cer", .{dir})).step);
    return signed;
}

/// Checks the final image with an independent PE reader (scripts/windows/check_pe.py)
/// on the check-windows step, and installs its stamp.
fn checkDriver(b: *std.Build, check_step: *std.Build.Step, arch: DriverArch, image: std.Build.LazyPath, pdb: std.Build.LazyPath, sign: bool, dir: []const u8) void {
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
    b.getInstallStep().dependOn(&b.addInstallFileWithDir(stamp, .prefix, b.fmt("{s}/check.txt", .{dir})).step);
}

/// The final (signed) image's SHA-256 as Zig source, compiled into this arch's ioperm.dll.
fn driverHash(b: *std.Build, hashzig: *std.Build.Step.Compile, image: std.Build.LazyPath) std.Build.LazyPath {
    const run = b.addRunArtifact(hashzig);
    run.addFileArg(image);
    return run.addOutputFileArg("driver_sha256.zig");
}

/// Installs the image, its PDB, the INF and the .reg into zig-out/<dir>.
fn installDriver(b: *std.Build, image: std.Build.LazyPath, pdb: std.Build.LazyPath, dir: []const u8) void {
    const install = b.getInstallStep();
    install.dependOn(&b.addInstallFileWithDir(image, .prefix, b.fmt("{s}/ioperm.sys", .{dir})).step);
    install.dependOn(&b.addInstallFileWithDir(pdb, .prefix, b.fmt("{s}/ioperm.pdb", .{dir})).step);
    for ([_][]const u8{ "ioperm.inf", "ioperm.reg" }) |f|
        install.dependOn(&b.addInstallFileWithDir(b.path(b.fmt("../windows-driver/sys/{s}", .{f})), .prefix, b.fmt("{s}/{s}", .{ dir, f })).step);
}

/// The x86 ioperm.dll, installed beside the x86 driver.
fn x86Dll(b: *std.Build, arch: DriverArch, optimize: std.builtin.OptimizeMode, hash: std.Build.LazyPath, dir: []const u8) void {
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
    client(b, dll.root_module, dll.root_module.resolved_target.?, hash);
    b.getInstallStep().dependOn(&b.addInstallArtifact(dll, .{
        .dest_dir = .{ .override = .{ .custom = dir } },
        .implib_dir = .disabled,
        .pdb_dir = .disabled,
    }).step);
}

/// A user-mode C tool of the driver's (iopermctl, iopermfuzz) for one arch, installed beside it.
fn cTool(b: *std.Build, arch: DriverArch, dir: []const u8, name: []const u8, sources: []const []const u8) void {
    const exe = b.addExecutable(.{
        .name = name,
        .root_module = b.createModule(.{ .target = b.resolveTargetQuery(arch.query), .optimize = .ReleaseSmall, .link_libc = true }),
    });
    for (sources) |c| exe.root_module.addCSourceFile(.{ .file = b.path(c), .flags = &.{ "-std=c11", "-Wall", "-Wextra", "-Werror" } });
    exe.root_module.addIncludePath(b.path("../windows-driver/include"));
    exe.root_module.linkSystemLibrary("advapi32", .{});
    b.getInstallStep().dependOn(&b.addInstallArtifact(exe, .{ .dest_dir = .{ .override = .{ .custom = dir } } }).step);
}

/// ProcessPrng for Bun under Wine 8, which lacks it (test/windows/shim/).
fn wineShim(b: *std.Build) void {
    const shim = b.addLibrary(.{
        .linkage = .dynamic,
        .name = "bcryptprimitives",
        .root_module = b.createModule(.{
            .root_source_file = b.path("../test/windows/shim/bcryptprimitives.zig"),
            .target = b.resolveTargetQuery(driver_arches[0].query),
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
}
