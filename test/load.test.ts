// Host tests of locating and loading the native library: a failure names the
// path it tried and how to build the library, and importing never throws.
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

function tryOpen(env: Record<string, string>): { code: string; message: string } {
  const script = `
    import { open } from "./lib/index.ts";
    try { open(); console.log(JSON.stringify({ code: "opened", message: "" })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { cwd: root, env: { ...process.env, ...env } });
  return JSON.parse(r.stdout.toString()) as { code: string; message: string };
}

test("a missing library: LOAD_FAILED names the path tried and the build command", () => {
  const r = tryOpen({ IOPERM_LIB: "/nonexistent/libioperm.so" });
  expect(r.code).toBe("LOAD_FAILED");
  expect(r.message).toContain("/nonexistent/libioperm.so");
  expect(r.message).toContain("npm run build");
});

test("a file that is not a shared library: LOAD_FAILED with the path and the rebuild command", () => {
  const r = tryOpen({ IOPERM_LIB: join(root, "package.json") });
  expect(r.code).toBe("LOAD_FAILED");
  expect(r.message).toContain("package.json");
  expect(r.message).toContain("npm run build");
});

test("the built library loads from its predictable path", () => {
  const { IOPERM_LIB: _, ...env } = process.env;
  const r = Bun.spawnSync([process.execPath, "-e", 'import { libraryPath, open } from "./lib/index.ts"; open(); console.log(libraryPath())'], { cwd: root, env });
  expect(r.stdout.toString().trim()).toBe(join(root, "zig", "zig-out", "lib", "libioperm.so"));
});
