// Testing a parallel-port script without the hardware: the lab boots a QEMU PC,
// runs lpt-strobe.ts there as root against an emulated LPT1, and QEMU writes
// every byte the port latched to a host file, which the test then checks.
// Copy this file and lpt-strobe.ts into a project that has ioperm installed:
//   bun test lab-lpt.test.ts
// (the first run fetches the lab's kernel into ~/.cache/ioperm; QEMU must be installed)
import { expect, test } from "bun:test";
import { join } from "node:path";
import { runLab } from "ioperm/lab";

const script = join(import.meta.dir, "lpt-strobe.ts");

test("lpt-strobe.ts puts its text on LPT1, one strobed byte per character", async () => {
  const lab = await runLab({ command: ["bun", script, "0x378", "hello\n"], onOutput: () => {} });
  expect(lab.exitCode).toBe(0);
  expect(await Bun.file(lab.files.lpt1).text()).toBe("hello\n");
}, 120_000);
