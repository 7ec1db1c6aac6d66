/**
 * Where this copy of ioperm runs, so that every message names a command that
 * works there: `bunx ioperm …` in a project that installed the package,
 * `bun lib/cli.ts …` in a checkout of the repository, and the executable's own
 * name in a `bun build --compile` single file. Messages ask here; none spells a
 * command line itself.
 */
import { isAbsolute, join, relative } from "node:path";
import { packageRoot } from "./paths.ts";

/** installed: under node_modules; checkout: the repository; compiled: inside a single-file executable. */
export type Place = "installed" | "checkout" | "compiled";

/** Bun's virtual root for the modules of a compiled executable: /$bunfs/ on POSIX, B:\~BUN\ on Windows. */
const bunfs = /^(\/\$bunfs(\/|$)|[A-Za-z]:[\\/]~BUN([\\/]|$))/;

/** The place of a package whose root is `root` (pure: tested with each kind of path). */
export function placeOf(root: string): Place {
  if (bunfs.test(root)) return "compiled";
  return /[\\/]node_modules[\\/]/.test(root) ? "installed" : "checkout";
}

/** Where this process's copy of the library runs. */
export const place: Place = placeOf(packageRoot);

/** A path as the user would type it from the current directory (quoted when a shell needs it); an executable in it gets its `./`. */
function typed(path: string, cwd: string, executable = false): string {
  const rel = relative(cwd, path);
  const shown =
    rel === "" || rel.startsWith("..") || isAbsolute(rel)
      ? path
      : executable && !rel.includes("/") && !rel.includes("\\")
        ? `./${rel}`
        : rel;
  return /^[\w@%+=:,./\\~-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", `'\\''`)}'`;
}

/** What decides a command line: the place, and what only the process knows. */
export interface Here {
  place: Place;
  cwd: string;
  /** The running executable (a compiled one's own file). */
  execPath: string;
  /** The script Bun was started with (Bun.main). */
  main: string;
  /** Whether the ioperm command line itself is what runs (lib/cli.ts, or an executable built from it). */
  cli: boolean;
}

let cliIsMain = false;

/** lib/cli.ts says it is the program, so a compiled `ioperm` names itself in its messages. */
export function markCliMain(): void {
  cliIsMain = true;
}

const here = (): Here => ({ place, cwd: process.cwd(), execPath: process.execPath, main: Bun.main, cli: cliIsMain });

/**
 * The command line that runs `ioperm <args>` here.
 * @example commandFor("lab -- bun rig.ts") // "bunx ioperm lab -- bun rig.ts" in an installed project
 */
export function commandFor(args: string, at: Here = here()): string {
  switch (at.place) {
    case "installed":
      return `bunx ioperm ${args}`;
    case "checkout":
      return `bun ${typed(join(packageRoot, "lib", "cli.ts"), at.cwd)} ${args}`;
    case "compiled":
      return at.cli ? `${typed(at.execPath, at.cwd, true)} ${args}` : `bunx ioperm ${args}`;
  }
}

/**
 * The command line that runs this program again: a compiled executable's own
 * file, `bun <script>` for a user's script, or `bun <script>` as a placeholder
 * when the program is ioperm's own (the CLI, the probe) or unknown (a REPL).
 */
export function selfCommand(at: Here = here()): string {
  if (at.place === "compiled") return typed(at.execPath, at.cwd, true);
  const ours =
    at.main.startsWith(join(packageRoot, "lib")) || at.main === join(packageRoot, "probe.ts") || !/\.[cm]?[jt]sx?$/.test(at.main);
  return ours ? "bun <script>" : `bun ${typed(at.main, at.cwd)}`;
}

/** The command line that runs this program in the lab VM, e.g. `bunx ioperm lab -- bun rig.ts`. */
export const labCommand = (at: Here = here()): string => commandFor(`lab -- ${selfCommand(at)}`, at);

/**
 * Why port I/O cannot exist on `platform`/`arch`, with what to do instead, or
 * "" where it can. The in/out instructions are x86's alone, and only Linux and
 * Windows let a program reach them; the lab VM emulates an x86 PC anywhere.
 */
export function machineProblem(platform: string, arch: string, at: Here = here()): string {
  const lab = `run it in the lab VM, an x86 PC that QEMU emulates on any machine: ${labCommand(at)}`;
  if (arch !== "x64" && arch !== "ia32")
    return `port I/O exists only on x86 CPUs (the in/out instructions), and this is ${platform}-${arch}; ${lab}`;
  if (platform !== "linux" && platform !== "win32")
    return `port I/O is reached through Linux (ioperm, /dev/port) or Windows (the ioperm driver), and this is ${platform}-${arch}; ${lab}`;
  return "";
}
