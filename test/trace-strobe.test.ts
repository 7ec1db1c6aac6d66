// examples/trace-strobe.ts in the lab VM with a port trace on, exported to VCD
// here. Witnesses: QEMU's LPT1 file on the host (what the parallel port
// latched) and sigrok (sigrok-cli's VCD input and its `parallel` decoder), which
// must both see the bytes the example sent.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLab } from "../lib/lab/index.ts";
import { packageRoot as root } from "../lib/paths.ts";

const out = mkdtempSync(join(tmpdir(), "ioperm-trace-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const text = "ioperm";
const sent = [...new TextEncoder().encode(text)];
const data = Array.from({ length: 8 }, (_, i) => `d${i}=D${i}`).join(":");

/**
 * sigrok-cli 0.7.2 on Python 3.11 aborts at exit ("Fatal Python error:
 * bool_dealloc … Python runtime state: finalizing") after writing its output;
 * that abort, and only that one, is taken as success.
 */
function sigrok(args: string[]) {
  const r = Bun.spawnSync(["sigrok-cli", ...args], { stdout: "pipe", stderr: "pipe" });
  const stderr = r.stderr.toString();
  const finalizing = r.signalCode === "SIGABRT" && stderr.includes("Python runtime state: finalizing");
  return { ok: r.exitCode === 0 || finalizing, stdout: r.stdout.toString(), stderr };
}

const cli = (args: string[]) => Bun.spawnSync([process.execPath, "lib/cli.ts", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });

test("a traced LPT strobe exports to a VCD that sigrok reads and decodes into the bytes the port latched", async () => {
  const lab = await runLab({
    cwd: root,
    outDir: join(out, "run"),
    command: ["sh", "-c", `bun examples/trace-strobe.ts "$IOPERM_LAB_RUN/strobe.trace" 0x378 ${text}`],
    onOutput: () => {},
  });
  expect(lab.exitCode).toBe(0);
  expect([...readFileSync(lab.files.lpt1)]).toEqual(sent);

  const trace = join(lab.runDir, "strobe.trace");
  const vcd = join(out, "strobe.vcd");
  const wires = join(out, "wires.vcd");
  expect(cli(["trace", "export", trace, "--vcd", "-o", vcd]).exitCode).toBe(0);
  expect(cli(["trace", "export", trace, "--vcd", "--wires", "-o", wires]).exitCode).toBe(0);

  // The full file (buses too) opens; sigrok lists the pin wires as its channels.
  const show = sigrok(["-I", "vcd", "-i", vcd, "--show"]);
  expect(show.ok).toBe(true);
  for (const pin of ["D0", "D7", "STROBE", "BUSY", "ACK", "SELECTIN"]) expect(show.stdout).toContain(`- ${pin}: logic`);

  // The parallel decoder samples D0-D7 when STROBE falls (the device latches
  // then); it puts each item out at the next clock edge, so never the last one.
  const decoded = sigrok(["-I", "vcd", "-i", wires, "-P", `parallel:clk=STROBE:${data}:clock_edge=falling`, "-A", "parallel=items"]);
  expect(decoded.ok).toBe(true);
  const items = [...decoded.stdout.matchAll(/^parallel-1: ([0-9a-f]+)$/gm)].map((m) => Number.parseInt(m[1] ?? "", 16));
  expect(items).toEqual(sent.slice(0, -1));
  // The last byte: the data wires' levels in sigrok's last sample (nothing changes after it).
  const csv = sigrok(["-I", "vcd:downsample=1000", "-i", wires, "-O", "csv", "-C", "D0,D1,D2,D3,D4,D5,D6,D7"]);
  expect(csv.ok).toBe(true);
  const lastRow = csv.stdout.trim().split("\n").at(-1)?.split(",").map(Number) ?? [];
  expect(lastRow.reduce((byte, b, i) => byte | (b << i), 0)).toBe(sent.at(-1) ?? -1);
}, 180_000);
