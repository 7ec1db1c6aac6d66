/**
 * The one hex formatter, in the three forms the package prints. Every module
 * that shows a port, a value or an ID uses these rather than its own
 * `toString(16)` (probe.ts and lib/probe/ are on their way over).
 */

/** Lower-case hex digits, no prefix, zero-padded to `digits`: as lspci, i2cdetect and cpio write them (`03f8`). */
export const hexDigits = (n: number, digits = 0): string => n.toString(16).padStart(digits, "0");

/** `0x` and upper-case digits, zero-padded to `digits`: how messages and reports show a port or value (`0x3F8`). */
export const hex = (n: number, digits = 0): string => `0x${hexDigits(n, digits).toUpperCase()}`;

/** `0x` and lower-case digits, zero-padded to `digits`: the form QEMU's arguments and the CLI's values use (`0x3f8`). */
export const hexLower = (n: number, digits = 0): string => `0x${hexDigits(n, digits)}`;
