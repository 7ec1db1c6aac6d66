/**
 * For `bun build --compile`: import this module first and the executable
 * carries the native library inside it, so one file runs on a machine with
 * nothing installed. Bun embeds files imported `with { type: "file" }` and
 * gives their path back at run time.
 *
 * @example
 * // my-rig.ts
 * import "ioperm/embed";
 * import { open } from "ioperm";
 * // bun build --compile my-rig.ts --outfile my-rig
 */
import linux from "../prebuilt/linux-x64/libioperm.so" with { type: "file" };
import windows from "../prebuilt/win32-x64/ioperm.dll" with { type: "file" };
import { useEmbeddedLibrary } from "./ffi.ts";

useEmbeddedLibrary(process.platform === "win32" ? windows : linux);
