// spawnWithoutPorts on the host, whose kernel has no I/O permissions to drop
// (ENOSYS): the wrapper passes the command, its arguments, exit status and
// environment through, minus ioperm-run's grant list. The ports themselves are
// tested in the lab (test/lab/spawn.lab.ts).
import { expect, test } from "bun:test";
import { spawnSyncWithoutPorts, spawnWithoutPorts } from "../lib/index.ts";

test("arguments, output and exit status come through", async () => {
  const r = spawnSyncWithoutPorts(["sh", "-c", 'printf "%s|" "$@"; exit 3', "sh", "a b", "-c"], { stdout: "pipe" });
  expect({ code: r.exitCode, out: r.stdout.toString() }).toEqual({ code: 3, out: "a b|-c|" });
  const p = spawnWithoutPorts(["sh", "-c", "exit 4"]);
  expect(await p.exited).toBe(4);
});

test("IOPERM_GRANTS_FD is dropped (the list would no longer be true), the rest of the environment stays", () => {
  const r = spawnSyncWithoutPorts(["sh", "-c", 'echo "[$IOPERM_GRANTS_FD] $KEEP"'], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", IOPERM_GRANTS_FD: "9", KEEP: "kept" },
    stdout: "pipe",
  });
  expect(r.stdout.toString()).toBe("[] kept\n");
});

test("a missing command is 127 with its name, as env(1) says it", () => {
  const r = spawnSyncWithoutPorts(["ioperm-no-such-command"], { stderr: "pipe" });
  expect({ code: r.exitCode, err: r.stderr.toString().trim() }).toEqual({
    code: 127,
    err: "ioperm-noports: ioperm-no-such-command: command not found",
  });
});

test("an empty command is a TypeError", () => {
  expect(() => spawnSyncWithoutPorts([])).toThrow(TypeError);
});
