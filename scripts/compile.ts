// Single-file executables of the probe, with the native library embedded
// (the published lib/prebuilt.ts, which every compiled import of ioperm carries): dist/ioperm-probe for linux-x64 and dist/ioperm-probe.exe for
// win32-x64. Built from the staged package (scripts/pack.ts), so they carry
// exactly what the published package carries. Bun for Windows comes from npm
// (@oven/bun-windows-x64 at the pinned Bun version, scripts/windows/bun-windows.sh).
//   bun scripts/compile.ts [--out DIR]
import { statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { packageRoot as root } from "../lib/paths.ts";
import { stage } from "./pack.ts";

/** The probe's entry in a compiled executable: the probe's main(). */
const entry = `import { main } from "./probe.ts";
process.exit(await main(process.argv.slice(2)));
`;

function compile(dir: string, outfile: string, extra: string[]): void {
  const r = Bun.spawnSync([process.execPath, "build", "--compile", ...extra, "probe-exe.ts", "--outfile", outfile], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`bun build --compile ${outfile}: ${r.stderr}${r.stdout}`);
  console.log(`${outfile}  ${(statSync(outfile).size / 1048576).toFixed(1)} MiB`);
}

/** Builds the executables into `out`; returns their paths. */
export function compileProbe(out: string, windows = true): string[] {
  const dir = stage();
  writeFileSync(join(dir, "probe-exe.ts"), entry);
  const linux = join(out, "ioperm-probe");
  compile(dir, linux, ["--target=bun-linux-x64"]);
  if (!windows) return [linux];
  const bunExe = Bun.spawnSync(["sh", join(root, "scripts/windows/bun-windows.sh")], { stdout: "pipe", stderr: "pipe" });
  if (bunExe.exitCode !== 0) throw new Error(`scripts/windows/bun-windows.sh: ${bunExe.stderr}`);
  const exe = join(out, "ioperm-probe.exe");
  compile(dir, exe, ["--target=bun-windows-x64", `--compile-executable-path=${bunExe.stdout.toString().trim()}`]);
  return [linux, exe];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { out: { type: "string", default: join(root, "dist") }, "no-windows": { type: "boolean", default: false } },
  });
  compileProbe(resolve(values.out), !values["no-windows"]);
}
