/**
 * The probe's `--vm`: the same survey inside the lab VM, where probe.ts runs
 * again as root against the lab's standard machine (plus any `--device`).
 */
import { join } from "node:path";
import { packageRoot } from "../paths.ts";

/**
 * Runs probe.ts in the lab VM with the probe's own arguments less `--vm` and
 * its `--device`s, which go to the VM.
 * @returns the guest probe's exit code, or 125 when the lab could not run (its reason on stderr)
 */
export async function probeInVm(argv: readonly string[], devices: string[]): Promise<number> {
  const { LabError, runLab } = await import("../lab/index.ts");
  const rest = argv.filter((a, i) => a !== "--vm" && a !== "--device" && argv[i - 1] !== "--device" && !a.startsWith("--device="));
  try {
    const r = await runLab({ command: [process.execPath, join(packageRoot, "probe.ts"), ...rest], devices });
    return r.exitCode;
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    console.error(e.message);
    return 125;
  }
}
