// What a new user has: a directory outside the repo, Bun and the system's
// directories on PATH (no repo tools, no Zig), and the packed tarball. Shared by
// the tests that play that user (lab-user.test.ts, newuser.test.ts).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { tarballName } from "../scripts/pack.ts";

export interface FreshProject {
  /** The scratch directory: HOME, bin/, dist/ (the tarball) and the project. */
  work: string;
  /** The user's project directory (empty until the test fills it). */
  project: string;
  /** The environment every command runs with. */
  env: Record<string, string>;
  /** The packed tarball, as `bun add` takes it. */
  tarball: string;
  /** Runs a command in `cwd` (the project by default): its exit code and output. */
  run(cmd: string[], cwd?: string): { code: number | null; stdout: string; stderr: string };
  /** Removes the scratch directory. */
  remove(): void;
}

/**
 * Makes the scratch directory and packs the tarball into it; `env` adds to
 * HOME, PATH and NO_COLOR (a function of the scratch directory, for paths inside it).
 */
export function freshProject(prefix: string, env: (work: string) => Record<string, string> = () => ({})): FreshProject {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const project = join(work, "rig");
  const bunDir = join(work, "bin");
  for (const dir of [project, bunDir]) mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(bunDir, "bun"));
  const pack = Bun.spawnSync([process.execPath, "scripts/pack.ts", "--out", join(work, "dist")], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (pack.exitCode !== 0) throw new Error(`pack failed: ${pack.stderr}`);
  const fullEnv = { HOME: work, PATH: `${bunDir}:/usr/sbin:/usr/bin:/sbin:/bin`, NO_COLOR: "1", ...env(work) };
  return {
    work,
    project,
    env: fullEnv,
    tarball: join(work, "dist", tarballName()),
    run(cmd, cwd = project) {
      const r = Bun.spawnSync(cmd, { cwd, env: fullEnv, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    remove: () => rmSync(work, { recursive: true, force: true }),
  };
}
