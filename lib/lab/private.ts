/**
 * The lab's files on the host, kept where only this user can change them. The
 * run dir is mounted into a guest that runs guest.sh as root with the host's
 * whole filesystem readable, and the cache holds the kernel and initramfs it
 * boots: a directory someone else can write, or a file they planted there,
 * would hand them that guest. So every directory the lab writes into must be
 * ours and closed to group and others, every file it creates is new
 * (O_EXCL|O_NOFOLLOW), and what it caches is checked by a SHA-256 recorded
 * when it was made, never trusted by its name.
 */
import { constants } from "node:fs";
import { lstat, mkdir, open, readFile, realpath, rename, stat, unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { LabError } from "./errors.ts";

const euid = () => process.geteuid?.() ?? 0;

const unsafe = (message: string) => new LabError(message, "unsafe-dir", "", "");

const remedy = "Use a directory of your own that only you can write (e.g. `mkdir -m 700 DIR`).";

/** Why `dir` is not safe for us to write into, or null when it is: ours, a directory, not writable by group or others. */
async function whyUnsafe(dir: string): Promise<string | null> {
  const s = await lstat(dir);
  if (!s.isDirectory()) return "it is not a directory";
  if (s.uid !== euid()) return `it is owned by uid ${s.uid}, not by this user (uid ${euid()})`;
  if ((s.mode & 0o022) !== 0)
    return `it is writable by ${(s.mode & 0o020) !== 0 ? "its group" : "others"} (mode ${(s.mode & 0o7777).toString(8)})`;
  return null;
}

/**
 * Why an ancestor of our directory lets someone else swap it, or null: each
 * must belong to root or us, and be closed to group and others unless sticky
 * (as /tmp is: there only the owner of an entry can rename it).
 */
async function whyUnsafeAbove(dir: string): Promise<string | null> {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const s = await stat(d);
    if (s.uid !== 0 && s.uid !== euid()) return `${d} above it is owned by uid ${s.uid}, who can replace it`;
    if ((s.mode & 0o022) !== 0 && (s.mode & 0o1000) === 0) return `${d} above it is writable by group or others without the sticky bit`;
    if (d === dirname(d)) return null;
  }
}

/**
 * Makes sure `path` is a directory only this user can write, creating it (and
 * missing parents) with mode 0700 when it does not exist, and resolves with its
 * real path. Anything else is a LabError "unsafe-dir" naming `what` and the
 * reason: owned by another user, writable by group or others, not a directory,
 * a symlink someone else planted, or below a directory someone else can change.
 */
export async function privateDir(path: string, what: string): Promise<string> {
  const given = resolve(path);
  const refuse = (why: string) => unsafe(`lab: refusing the ${what} ${given}: ${why}. ${remedy}`);
  let link = await lstat(given).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw refuse(e.message);
  });
  if (link === null) {
    await mkdir(dirname(given), { recursive: true, mode: 0o700 }).catch((e: Error) => {
      throw refuse(e.message);
    });
    // mkdir of the last component is the lock: EEXIST means someone else was first, and the checks below judge theirs.
    await mkdir(given, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw refuse(e.message);
    });
    link = await lstat(given);
  }
  if (link.isSymbolicLink() && link.uid !== 0 && link.uid !== euid()) throw refuse(`it is a symlink owned by uid ${link.uid}`);
  const real = await realpath(given).catch((e: Error) => {
    throw refuse(e.message);
  });
  const why = (await whyUnsafe(real)) ?? (await whyUnsafeAbove(real));
  if (why !== null) throw refuse(real === given ? why : `${why} (it resolves to ${real})`);
  return real;
}

const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates `path` with `data`, failing if anything (a file, a symlink) is
 * already there: O_CREAT|O_EXCL|O_NOFOLLOW never writes through a name
 * someone planted.
 */
export async function createNew(path: string, data: string | Uint8Array = "", mode = 0o600): Promise<void> {
  const fh = await open(path, createFlags, mode);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

/** A file's text, never through a symlink (O_NOFOLLOW): the guest, which writes the run dir, could have left one. */
export async function readNoFollow(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** createNew after removing what a previous run left at `path` (unlink removes a symlink, never its target). */
export async function replaceNew(path: string, data: string | Uint8Array = "", mode = 0o600): Promise<void> {
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  await createNew(path, data, mode);
}

/** Writes `path` atomically: a fresh private name beside it (createNew), then rename over it. */
export async function writeAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const temp = `${path}.${process.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await createNew(temp, data, mode);
    await rename(temp, path);
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** SHA-256 of bytes, lower-case hex. */
export const sha256 = (data: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

/** The manifest beside a cached file: its SHA-256 when the lab made or fetched it. */
export const manifestOf = (file: string) => `${file}.sha256`;

/** Records `data`'s SHA-256 as the manifest of `file` (atomically), before `file` itself is written. */
export async function recordHash(file: string, data: Uint8Array): Promise<void> {
  await writeAtomic(manifestOf(file), `${sha256(data)}\n`);
}

/** What a cached file's content says against its manifest. */
export type HashCheck = "ok" | "missing" | "no-manifest" | "mismatch";

/** Checks a cached file's content against the SHA-256 in its manifest. */
export async function checkHash(file: string): Promise<HashCheck> {
  const data = await readFile(file).catch(() => null);
  if (data === null) return "missing";
  const recorded = (await readFile(manifestOf(file), "utf8").catch(() => "")).trim();
  if (!/^[0-9a-f]{64}$/.test(recorded)) return "no-manifest";
  return sha256(data) === recorded ? "ok" : "mismatch";
}
