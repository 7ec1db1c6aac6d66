/**
 * Kept for scripts written before it was needed: an executable built with
 * `bun build --compile` from an installed ioperm now carries the native library
 * without this import (lib/prebuilt.ts). Importing it still registers the same file.
 *
 * @example
 * import "ioperm/embed"; // optional
 * import { open } from "ioperm";
 */
import { useEmbeddedLibrary } from "./ffi.ts";
import { currentPlatform } from "./paths.ts";
import { prebuiltLibraries } from "./prebuilt.ts";

const library = prebuiltLibraries[currentPlatform()];
if (library !== undefined) useEmbeddedLibrary(library);
