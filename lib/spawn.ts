/**
 * Starting a child process without the caller's port access. Linux copies a
 * thread's I/O bitmap and iopl to a child on fork and keeps them across execve,
 * so `Bun.spawn` from a thread that holds grants hands the child those ports.
 * These start the command through ioperm-noports (zig/src/tools/noports.zig),
 * which drops every I/O permission in the child only and then execs it: the
 * calling thread keeps its grants, and nothing has to be released first.
 * On Windows grants live in the driver's per-handle state, which a child does
 * not inherit, so the command is started as it is.
 */
import { existsSync } from "node:fs";
import { localError } from "./errors.ts";
import { linuxTool } from "./paths.ts";

/** The command, prefixed on Linux with the wrapper that drops I/O permissions. */
function withoutPorts(cmd: string[], op: string): string[] {
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === "string"))
    throw new TypeError(`${op}: want a non-empty array of strings, the command and its arguments`);
  if (process.platform !== "linux") return cmd;
  const tool = linuxTool("ioperm-noports");
  if (!existsSync(tool))
    throw localError("LOAD_FAILED", `${op}: ${tool} is missing: reinstall the package (or run npm run build in a checkout)`, op);
  return [tool, ...cmd];
}

/**
 * `Bun.spawn`, but the child starts with no I/O port access (no ioperm bit, iopl 0),
 * whatever this thread holds; this thread keeps its own grants. The options are
 * Bun.spawn's; on Linux `argv0` would name the wrapper, so leave it out.
 *
 * @example
 * using io = open();
 * io.grant(0x378, 3);
 * const child = spawnWithoutPorts(["some-tool"], { stdout: "pipe" }); // an `in` there is killed by SIGSEGV
 * io.inb(0x379);                                                       // still granted here
 */
export function spawnWithoutPorts<
  const In extends Bun.SpawnOptions.Writable = "ignore",
  const Out extends Bun.SpawnOptions.Readable = "pipe",
  const Err extends Bun.SpawnOptions.Readable = "inherit",
>(cmd: string[], options?: Bun.SpawnOptions.SpawnOptions<In, Out, Err>): Bun.Subprocess<In, Out, Err> {
  return Bun.spawn(withoutPorts(cmd, "spawnWithoutPorts"), options);
}

/** `Bun.spawnSync`, but the child starts with no I/O port access; see {@link spawnWithoutPorts}. */
export function spawnSyncWithoutPorts<
  const In extends Bun.SpawnOptions.Writable = "ignore",
  const Out extends Bun.SpawnOptions.Readable = "pipe",
  const Err extends Bun.SpawnOptions.Readable = "pipe",
>(cmd: string[], options?: Bun.SpawnOptions.SpawnSyncOptions<In, Out, Err>): Bun.SyncSubprocess<Out, Err> {
  return Bun.spawnSync(withoutPorts(cmd, "spawnSyncWithoutPorts"), options);
}
