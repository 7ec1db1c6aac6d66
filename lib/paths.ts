/**
 * Where things are, written once: the package (or repo) root, the prebuilt
 * binaries an installed package carries, and the development build's outputs.
 * Everything else asks here instead of joining paths itself.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The package root: the repo checkout in development, node_modules/ioperm when installed. */
export const packageRoot = join(import.meta.dir, "..");

/** A platform-arch pair as Node names them, e.g. "linux-x64", "win32-x64". */
export type Platform = `${NodeJS.Platform}-${string}`;

/** This process's platform-arch pair. */
export const currentPlatform = (): Platform => `${process.platform}-${process.arch}`;

/** The native library's file name on a platform. */
export const libraryFile = (platform: Platform = currentPlatform()): string =>
  platform.startsWith("win32-") ? "ioperm.dll" : "libioperm.so";

/** Where a published package carries its binaries: prebuilt/<platform>-<arch>/ (scripts/pack.ts fills it). */
export const prebuiltDir = (platform: Platform = currentPlatform()): string => join(packageRoot, "prebuilt", platform);

/** The Zig build's output directory (zig/zig-out), present only in a checkout that ran `npm run build`. */
export const zigOut = join(packageRoot, "zig", "zig-out");

/** The development build of the native library for this platform. */
export const devLibrary = (platform: Platform = currentPlatform()): string =>
  join(zigOut, platform.startsWith("win32-") ? "bin" : "lib", libraryFile(platform));

/** The development build's Windows outputs for an architecture: ioperm.sys, iopermctl.exe, the x86 ioperm.dll. */
export const devWindowsDir = (arch: "x64" | "x86"): string => join(zigOut, "windows", arch);

/** A development build's helper executable (zig-out/bin), e.g. ioperm-with-iopl. */
export const devTool = (name: string): string => join(zigOut, "bin", name);

/** A helper executable the package ships for Linux (ioperm-run, ioperm-noports): the prebuilt one, else the development build's. */
export const linuxTool = (name: string): string => {
  const prebuilt = join(prebuiltDir("linux-x64"), name);
  return existsSync(prebuilt) ? prebuilt : devTool(name);
};
