/**
 * The native libraries of the published package, for `bun build --compile`:
 * Bun embeds a file imported `with { type: "file" }` and gives its path back at
 * run time, so an executable built from an installed ioperm carries its library
 * with no import of its own. A checkout has no prebuilt/ (it loads zig/zig-out),
 * so this copy is empty; scripts/pack.ts writes the published one (see packedPrebuilt).
 */
import type { Platform } from "./paths.ts";

/** Platform -> the library's path (inside the executable when compiled). */
export const prebuiltLibraries: Partial<Record<Platform, string>> = {};
