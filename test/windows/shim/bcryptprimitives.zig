//! bcryptprimitives.dll for Wine 8.0, which has no ProcessPrng: Bun for Windows
//! imports it and fails to start without it. Placed beside bun.exe (test only,
//! never shipped), it fills the buffer from RtlGenRandom (advapi32's
//! SystemFunction036), which Wine implements.
extern "advapi32" fn SystemFunction036(buffer: [*]u8, length: u32) callconv(.winapi) u8;

/// BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): documented to always succeed.
export fn ProcessPrng(data: [*]u8, len: usize) callconv(.winapi) i32 {
    var done: usize = 0;
    while (done < len) {
        const n: u32 = @intCast(@min(len - done, 1 << 30));
        // Callers cannot handle a failure (the API has none): stop rather than return non-random bytes.
        if (SystemFunction036(data + done, n) == 0) @trap();
        done += n;
    }
    return 1;
}
