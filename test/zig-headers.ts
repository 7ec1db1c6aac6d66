// The C headers Zig ships (the ones the library and the DLL are built against),
// for tests that check a value lib/ copies from Linux or Windows against its source.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";

let libDir: string | undefined;

/** The text of `rel` under Zig's libc/include, e.g. "any-linux-any/linux/capability.h". */
export function zigHeader(rel: string): string {
  if (libDir === undefined) {
    const env = Bun.spawnSync([join(root, ".cache/bin/zig"), "env"], { cwd: root, stdout: "pipe" }).stdout.toString();
    libDir = resolve(root, /\.lib_dir = "([^"]+)"/.exec(env)?.[1] ?? "");
  }
  return readFileSync(join(libDir, "libc/include", rel), "utf8");
}

/** The number a header #defines `name` as (decimal or 0x hex), or NaN when it does not. */
export const defineIn = (text: string, name: string): number =>
  Number(new RegExp(`^#define\\s+${name}\\s+(0x[0-9A-Fa-f]+|\\d+)\\b`, "m").exec(text)?.[1] ?? Number.NaN);
