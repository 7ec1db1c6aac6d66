// The published tarball (scripts/pack.ts, `npm run pack`): what it holds, what it
// must not hold, and that packing the same tree twice gives the same bytes.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prebuiltSources } from "../scripts/pack.ts";
import { packageRoot as root } from "../lib/paths.ts";

const out = mkdtempSync(join(tmpdir(), "ioperm-pack-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function pack(dir: string): string {
  const r = Bun.spawnSync([process.execPath, "scripts/pack.ts", "--out", dir], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`pack failed: ${r.stderr}`);
  return r.stdout.toString().split(/\s+/)[0] ?? "";
}

const tarball = pack(join(out, "a"));
const listing = Bun.spawnSync(["tar", "tzf", tarball], { stdout: "pipe" }).stdout.toString().trim().split("\n");

test("it holds every prebuilt binary, the LICENSE, the API and the probe", () => {
  for (const rel of Object.keys(prebuiltSources())) expect(listing).toContain(`package/prebuilt/${rel}`);
  for (const f of ["LICENSE", "README.md", "package.json", "lib/index.ts", "lib/cli.ts", "lib/embed.ts", "probe.ts", "probe.schema.json"]) {
    expect(listing).toContain(`package/${f}`);
  }
});

test("it holds no test, bench result, lab or build script, cache, Zig or driver source", () => {
  const forbidden = listing.filter(
    (f) =>
      /^package\/(test|bench|scripts|zig|windows-driver|\.cache|\.ci|node_modules|dist)\//.test(f) ||
      // a cache, build output or result set anywhere, e.g. lib/lab/.cache/ once the lab ships in lib/
      /\/(\.cache|\.zig-cache|zig-out|node_modules|results|runs)\//.test(f) ||
      // examples/*.test.ts are worked examples for users (README links them), not tests of the package
      (/\.(test|lab)\.ts$/.test(f) && !/^package\/examples\/[^/]+\.test\.ts$/.test(f)) ||
      /\.pdb$|\.log$|\.tmp$/.test(f),
  );
  expect(forbidden).toEqual([]);
});

test("its package.json runs nothing at install and has no dev tools", () => {
  const pkg = JSON.parse(Bun.spawnSync(["tar", "xzOf", tarball, "package/package.json"], { stdout: "pipe" }).stdout.toString());
  expect(pkg.scripts).toBeUndefined();
  expect(pkg.devDependencies).toBeUndefined();
  expect(pkg.dependencies).toBeUndefined();
  expect(pkg.bin).toEqual({ ioperm: "./lib/cli.ts", "ioperm-probe": "./probe.ts" });
});

/** Each member's SHA-256, to say which file differs when two tarballs do. */
function members(tgz: string): Record<string, string> {
  const dir = mkdtempSync(join(out, "x-"));
  Bun.spawnSync(["tar", "xzf", tgz, "-C", dir]);
  const files = Bun.spawnSync(["find", ".", "-type", "f"], { cwd: dir, stdout: "pipe" }).stdout.toString().trim().split("\n").sort();
  return Object.fromEntries(files.map((f) => [f, new Bun.CryptoHasher("sha256").update(readFileSync(join(dir, f))).digest("hex")]));
}

test("every relative link in README.md resolves to a file in the tarball (the installed package, and the registry page)", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1] ?? "").filter((l) => !/^[a-z]+:/.test(l));
  expect(links.length).toBeGreaterThan(5);
  const missing = links.filter((l) => !listing.some((f) => f === `package/${l}` || f.startsWith(`package/${l.replace(/\/?$/, "/")}`)));
  expect(missing).toEqual([]);
});

test("packing the same tree again gives the same bytes", () => {
  const again = pack(join(out, "b"));
  expect(members(again)).toEqual(members(tarball));
  const sha = (f: string) => new Bun.CryptoHasher("sha256").update(readFileSync(f)).digest("hex");
  expect(sha(again)).toBe(sha(tarball));
}, 300_000); // a second pack runs the Zig build again: slow on a loaded machine
