import { readFileSync } from "node:fs";

/**
 * The text of `path`, or undefined when it cannot be read (missing, not
 * permitted, a directory): for the /proc and /sys facts, config files and
 * optional data that may not exist here, where absence is an answer, not an error.
 *
 * @example readText("/proc/sys/kernel/osrelease") ?? "0.0"
 */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
