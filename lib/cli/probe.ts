/** `ioperm probe`: the hardware survey (probe.ts), in this process's Bun. */
import { join } from "node:path";
import { packageRoot } from "../paths.ts";
import type { Command } from "./command.ts";

/** `ioperm probe`: probe.ts in this Bun. */
export const command: Command = {
  summary: "survey the legacy hardware that answers (probe.ts; --help for its options)",
  async run(args) {
    const p = Bun.spawnSync([process.execPath, join(packageRoot, "probe.ts"), ...args], {
      stdio: ["inherit", "inherit", "inherit"],
    });
    return p.exitCode ?? 1;
  },
};
