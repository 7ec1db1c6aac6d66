/**
 * `ioperm run --grant 0x378:3 [--grant …] --user NAME -- CMD…` (as root):
 * grants exactly those ranges, drops to NAME for good (groups cleared, no
 * capabilities, no_new_privs) and runs CMD, which inherits the I/O bitmap. The
 * library inside CMD starts with exactly those ranges; anything else is
 * NOT_GRANTED, and CMD cannot grant more. The work is done by the small
 * ioperm-run executable (zig/src/tools/run.zig), since a Bun process cannot
 * drop privileges and exec in place.
 * Exit: CMD's own; 125 when granting or dropping failed; 64 usage.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { devTool, prebuiltDir } from "../paths.ts";
import type { Command } from "./command.ts";

const usage = "usage: ioperm run --grant FROM:COUNT [--grant …] --user NAME -- COMMAND [ARG]…   (as root)";

/** The ioperm-run executable: the installed package's prebuilt one, else the development build's. */
export function runTool(): string {
  const prebuilt = join(prebuiltDir("linux-x64"), "ioperm-run");
  return existsSync(prebuilt) ? prebuilt : devTool("ioperm-run");
}

/** uid and gid of a user name (or number), from `id`, or null when there is no such user. */
function lookup(user: string): { uid: number; gid: number } | null {
  const id = (flag: string) => Bun.spawnSync(["id", flag, user], { stdout: "pipe", stderr: "pipe" });
  const u = id("-u");
  const g = id("-g");
  if (u.exitCode !== 0 || g.exitCode !== 0) return null;
  return { uid: Number(u.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) };
}

export const command: Command = {
  summary: "grant port ranges as root, then run a command as an ordinary user that keeps exactly them",
  async run(args) {
    const dash = args.indexOf("--");
    const opts = dash < 0 ? args : args.slice(0, dash);
    const cmd = dash < 0 ? [] : args.slice(dash + 1);
    const grants: string[] = [];
    let user: string | undefined;
    for (let i = 0; i < opts.length; i++) {
      const a = opts[i];
      const v = opts[i + 1];
      if ((a === "--grant" || a === "--user") && v !== undefined) {
        if (a === "--grant") grants.push(v);
        else user = v;
        i++;
      } else {
        console.error(`ioperm run: unexpected ${a}\n${usage}`);
        return 64;
      }
    }
    if (cmd.length === 0 || user === undefined || process.platform !== "linux") {
      console.error(process.platform !== "linux" ? "ioperm run: Linux only" : usage);
      return 64;
    }
    const who = lookup(user);
    if (who === null) {
      console.error(`ioperm run: no user named ${user}`);
      return 64;
    }
    const tool = runTool();
    const flags = [...grants.flatMap((g) => ["--grant", g]), "--uid", String(who.uid), "--gid", String(who.gid)];
    const p = Bun.spawnSync([tool, ...flags, "--", ...cmd], { stdio: ["inherit", "inherit", "inherit"] });
    return p.exitCode ?? 125;
  },
};
