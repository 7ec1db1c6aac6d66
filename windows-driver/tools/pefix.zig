//! pefix IN OUT: finishes a linked kernel driver image. The linker leaves the
//! optional header's CheckSum at 0, which the kernel loader refuses for a
//! driver, marks the image terminal-server aware, which means nothing for
//! the native subsystem, and has no flag for FORCE_INTEGRITY, which Memory
//! Integrity (HVCI) wants set with NX_COMPAT (the kernel then checks the
//! signature of this image whatever the boot options say). This writes OUT
//! with all three fixed and refuses anything that is not a native-subsystem PE. The independent check is
//! scripts/windows/check_pe.py (pefile), which recomputes the checksum itself.
const std = @import("std");

const image_subsystem_native = 1;
const dll_terminal_server_aware: u16 = 0x8000;
const dll_force_integrity: u16 = 0x0080;
const dll_nx_compat: u16 = 0x0100;

pub fn main(init: std.process.Init) !void {
    const args = try init.minimal.args.toSlice(init.arena.allocator());
    if (args.len != 3) fail("usage: pefix IN OUT", .{});
    const io = init.io;
    const cwd = std.Io.Dir.cwd();
    const image = try cwd.readFileAlloc(io, args[1], init.gpa, .limited(64 << 20));
    defer init.gpa.free(image);
    fix(image) catch |e| fail("{s}: {s}", .{ args[1], @errorName(e) });
    try cwd.writeFile(io, .{ .sub_path = args[2], .data = image });
}

fn fail(comptime fmt: []const u8, args: anytype) noreturn {
    std.debug.print("pefix: " ++ fmt ++ "\n", args);
    std.process.exit(1);
}

/// Where the optional header's fields sit (same offsets in PE32 and PE32+).
const Layout = struct { subsystem: usize, dll_characteristics: usize, checksum: usize };

fn layout(image: []const u8) error{ NotPe, NotNative }!Layout {
    if (image.len < 0x40 or !std.mem.eql(u8, image[0..2], "MZ")) return error.NotPe;
    const pe = std.mem.readInt(u32, image[0x3C..][0..4], .little);
    if (pe > image.len - 24 - 96 or !std.mem.eql(u8, image[pe..][0..4], "PE\x00\x00")) return error.NotPe;
    const opt = pe + 24;
    const magic = std.mem.readInt(u16, image[opt..][0..2], .little);
    if (magic != 0x10B and magic != 0x20B) return error.NotPe;
    const l: Layout = .{ .checksum = opt + 64, .subsystem = opt + 68, .dll_characteristics = opt + 70 };
    if (std.mem.readInt(u16, image[l.subsystem..][0..2], .little) != image_subsystem_native) return error.NotNative;
    return l;
}

fn fix(image: []u8) !void {
    const l = try layout(image);
    const dc = std.mem.readInt(u16, image[l.dll_characteristics..][0..2], .little);
    std.mem.writeInt(u16, image[l.dll_characteristics..][0..2], (dc & ~dll_terminal_server_aware) | dll_force_integrity | dll_nx_compat, .little);
    std.mem.writeInt(u32, image[l.checksum..][0..4], checksum(image, l.checksum), .little);
}

/// The PE checksum (imagehlp's CheckSumMappedFile): a 16-bit one's-complement
/// style sum of the file with the CheckSum field read as zero, plus the length.
pub fn checksum(image: []const u8, checksum_offset: usize) u32 {
    var sum: u64 = 0;
    var i: usize = 0;
    while (i < image.len) : (i += 2) {
        if (i == checksum_offset or i == checksum_offset + 2) continue;
        const lo: u64 = image[i];
        const hi: u64 = if (i + 1 < image.len) image[i + 1] else 0;
        sum += lo | hi << 8;
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    return @intCast(sum + image.len);
}

test "checksum of a tiny image ignores the field itself" {
    var buf = [_]u8{ 1, 0, 0xFF, 0xFF, 2, 0, 1, 0, 0xFF, 0xFF, 2, 0 };
    const a = checksum(&buf, 2);
    buf[2] = 0x12;
    try std.testing.expectEqual(a, checksum(&buf, 2));
    // words 1, 1, 0xFFFF, 2 folded as they are added: 1+1+0xFFFF -> 0x10001 -> 2, +2 = 4; plus the length.
    try std.testing.expectEqual(@as(u32, 4 + 12), a);
}

test "fix sets FORCE_INTEGRITY and NX_COMPAT, clears terminal-server aware, keeps the rest" {
    var image: [0x200]u8 = @splat(0);
    @memcpy(image[0..2], "MZ");
    std.mem.writeInt(u32, image[0x3C..][0..4], 0x80, .little);
    @memcpy(image[0x80..][0..4], "PE\x00\x00");
    const opt = 0x80 + 24;
    std.mem.writeInt(u16, image[opt..][0..2], 0x20B, .little);
    std.mem.writeInt(u16, image[opt + 68 ..][0..2], image_subsystem_native, .little);
    std.mem.writeInt(u16, image[opt + 70 ..][0..2], dll_terminal_server_aware | 0x0040, .little);
    try fix(&image);
    try std.testing.expectEqual(@as(u16, 0x0040 | dll_force_integrity | dll_nx_compat), std.mem.readInt(u16, image[opt + 70 ..][0..2], .little));
    try std.testing.expectEqual(checksum(&image, opt + 64), std.mem.readInt(u32, image[opt + 64 ..][0..4], .little));
}
