/**
 * `ioperm run --grant 0x378:3 [--grant …] --user NAME [--group NAME] -- CMD…` (as root):
 * clears the I/O rights it inherited, grants exactly those ranges, drops to
 * NAME for good (groups cleared, no capabilities, securebits locked,
 * no_new_privs) and runs CMD in a new session, which inherits the I/O bitmap.
 * The library inside CMD starts with exactly those ranges; anything else is
 * NOT_GRANTED, and CMD cannot grant more. The work is done by the small
 * ioperm-run executable (zig/src/tools/run.zig), since a Bun process cannot
 * drop privileges and exec in place.
 * Group root (gid 0) is kept only when named: `--group root` (or `--group 0`).
 * Exit: CMD's own (128 + N when signal N ended it); 125 when granting or dropping failed; 64 usage.
 */
import { constants } from "node:os";
import { linuxTool } from "../paths.ts";
import type { Command } from "./command.ts";

const usage = "usage: ioperm run --grant FROM:COUNT [--grant …] --user NAME [--group NAME] -- COMMAND [ARG]…   (as root)";

/** The ioperm-run executable: the installed package's prebuilt one, else the development build's. */
export const runTool = (): string => linuxTool("ioperm-run");

/** One line of output from a lookup tool, or null when it fails; `--` keeps a name that starts with `-` a name. */
function ask(cmd: string[]): string | null {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

/** uid and primary gid of a user name (or number), from `id`, or null when there is no such user. */
function lookupUser(user: string): { uid: number; gid: number } | null {
  const uid = ask(["id", "-u", "--", user]);
  const gid = ask(["id", "-g", "--", user]);
  return uid === null || gid === null ? null : { uid: Number(uid), gid: Number(gid) };
}

/** gid of a group name (or number), from `getent group`, or null when there is no such group. */
function lookupGroup(group: string): number | null {
  const line = ask(["getent", "group", "--", group]);
  const gid = line?.split(":")[2];
  return gid === undefined || !/^\d+$/.test(gid) ? null : Number(gid);
}

export const command: Command = {
  summary: "grant port ranges as root, then run a command as an ordinary user that keeps exactly them",
  async run(args) {
    const dash = args.indexOf("--");
    const opts = dash < 0 ? args : args.slice(0, dash);
    const cmd = dash < 0 ? [] : args.slice(dash + 1);
    const grants: string[] = [];
    let user: string | undefined;
    let group: string | undefined;
    for (let i = 0; i < opts.length; i++) {
      const a = opts[i];
      const v = opts[i + 1];
      if ((a === "--grant" || a === "--user" || a === "--group") && v !== undefined) {
        if (a === "--grant") grants.push(v);
        else if (a === "--user") user = v;
        else group = v;
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
    const who = lookupUser(user);
    if (who === null) {
      console.error(`ioperm run: no user named ${user}`);
      return 64;
    }
    const gid = group === undefined ? who.gid : lookupGroup(group);
    if (gid === null) {
      console.error(`ioperm run: no group named ${group}`);
      return 64;
    }
    if (gid === 0 && group === undefined) {
      console.error(`ioperm run: ${user}'s primary group is root (gid 0): name another with --group NAME, or keep it with --group root`);
      return 64;
    }
    const flags = [...grants.flatMap((g) => ["--grant", g]), "--uid", String(who.uid), "--gid", String(gid)];
    if (gid === 0) flags.push("--allow-gid-0");
    const p = Bun.spawnSync([runTool(), ...flags, "--", ...cmd], { stdio: ["inherit", "inherit", "inherit"] });
    if (p.exitCode !== null) return p.exitCode;
    // A shell's convention for a command a signal ended (ioperm-run re-raises the command's signal).
    const sig = p.signalCode === null ? undefined : constants.signals[p.signalCode as keyof typeof constants.signals];
    return sig === undefined ? 125 : 128 + sig;
  },
};
