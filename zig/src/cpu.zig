//! The x86 port instructions, one asm block per width, port pinned to DX.
//! Callers must have checked the thread's grants: these fault otherwise.
const std = @import("std");

pub fn Int(comptime width: u32) type {
    return switch (width) {
        1 => u8,
        2 => u16,
        4 => u32,
        else => @compileError("port width is 1, 2 or 4 bytes"),
    };
}

pub inline fn in(comptime width: u32, port: u16) Int(width) {
    return switch (width) {
        1 => asm volatile ("inb %[port], %[ret]"
            : [ret] "={al}" (-> u8),
            : [port] "{dx}" (port),
        ),
        2 => asm volatile ("inw %[port], %[ret]"
            : [ret] "={ax}" (-> u16),
            : [port] "{dx}" (port),
        ),
        4 => asm volatile ("inl %[port], %[ret]"
            : [ret] "={eax}" (-> u32),
            : [port] "{dx}" (port),
        ),
        else => unreachable,
    };
}

pub inline fn out(comptime width: u32, port: u16, value: Int(width)) void {
    switch (width) {
        1 => asm volatile ("outb %[val], %[port]"
            :
            : [val] "{al}" (value),
              [port] "{dx}" (port),
        ),
        2 => asm volatile ("outw %[val], %[port]"
            :
            : [val] "{ax}" (value),
              [port] "{dx}" (port),
        ),
        4 => asm volatile ("outl %[val], %[port]"
            :
            : [val] "{eax}" (value),
              [port] "{dx}" (port),
        ),
        else => unreachable,
    }
}

/// rep ins{b,w,l}: `count` reads of one port into buf.
pub inline fn ins(comptime width: u32, port: u16, buf: [*]Int(width), count: usize) void {
    const op = switch (width) {
        1 => "rep insb",
        2 => "rep insw",
        4 => "rep insl",
        else => unreachable,
    };
    asm volatile (op
        :
        : [dst] "{rdi}" (buf),
          [n] "{rcx}" (count),
          [port] "{dx}" (port),
        : .{ .rdi = true, .rcx = true, .memory = true });
}

/// rep outs{b,w,l}: `count` writes to one port from buf.
pub inline fn outs(comptime width: u32, port: u16, buf: [*]const Int(width), count: usize) void {
    const op = switch (width) {
        1 => "rep outsb",
        2 => "rep outsw",
        4 => "rep outsl",
        else => unreachable,
    };
    asm volatile (op
        :
        : [src] "{rsi}" (buf),
          [n] "{rcx}" (count),
          [port] "{dx}" (port),
        : .{ .rsi = true, .rcx = true, .memory = true });
}
