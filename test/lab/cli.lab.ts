// The port commands (ioperm inb/outb/…, dump, watch, pci) against Debian's own
// tools on the same ports: ioport's inb/outb/inw/outw/inl/outl and pciutils' lspci.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { asNobody } from "../nobody.ts";
import { lineReader } from "./witness.ts";
import { hexLower } from "../../lib/format.ts";

const ioperm = (...args: string[]) => {
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString() };
};
/** Debian's ioport command (its own ioperm, its own in/out); prints the value in decimal. */
const debian = (...args: string[]) => {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
  return r.stdout.toString().trim();
};

test("outb then Debian's inb, and Debian's outb then inb, on LPT1 data (witness: Debian's ioport)", () => {
  expect(ioperm("outb", "0x378", "0x5a").code).toBe(0);
  expect(Number(debian("inb", "0x378"))).toBe(0x5a);
  debian("outb", "0x378", "0xa5");
  expect(ioperm("inb", "0x378")).toEqual({ code: 0, out: "0xa5", err: "" });
  expect(JSON.parse(ioperm("inb", "0x378", "--json").out)).toEqual({ port: 0x378, width: 8, value: 0xa5 });
});

test("16 and 32 bits: VBE index/data and PCI config, the same as Debian's inw/inl after its outw/outl", () => {
  expect(ioperm("outw", "0x1ce", "0").code).toBe(0);
  expect(Number.parseInt(ioperm("inw", "0x1cf").out, 16)).toBe(Number(debian("inw", "0x1cf")));
  debian("outl", "0xcf8", String(0x80000000));
  const ours = ioperm("inl", "0xcfc");
  expect(Number.parseInt(ours.out, 16)).toBe(Number(debian("inl", "0xcfc")));
  expect(ioperm("outl", "0xcf8", "0x80000008").code).toBe(0);
  expect(Number(debian("inl", "0xcfc")) >>> 8).toBe(0x060000); // 00:00.0's class: a host bridge
});

test("dump reads the same bytes Debian's inb reads, one at a time", () => {
  debian("outb", "0x378", "0x3c");
  const r = ioperm("dump", "0x378", "3", "--json");
  expect(r.code).toBe(0);
  const { from, values } = JSON.parse(r.out) as { from: number; values: number[] };
  expect(from).toBe(0x378);
  expect(values).toEqual([0x378, 0x379, 0x37a].map((p) => Number(debian("inb", String(p)))));
  expect(ioperm("dump", "0x378", "3").out.split("\n")[1]).toMatch(/^0370:( {3}){8} 3c [0-9a-f]{2} [0-9a-f]{2}/);
});

test("pci prints what lspci -n prints (witness: pciutils)", () => {
  expect(ioperm("pci").out).toBe(debian("lspci", "-n"));
});

test("watch prints the first value and each change, decoding LPT control bits (witness: Debian's outb making the changes)", async () => {
  debian("outb", "0x37a", "0x0c");
  const idle = Number(debian("inb", "0x37a")); // QEMU reads the unused top bits as 1
  const hx = (n: number) => hexLower(n, 2);
  const proc = Bun.spawn([process.execPath, "lib/cli.ts", "watch", "0x37a", "--interval", "5", "--count", "3", "--duration", "60000"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  // Each change is made only once watch has printed the line before it: no window to miss.
  const out = lineReader(proc.stdout);
  await out.next();
  debian("outb", "0x37a", "0x0d");
  await out.next();
  debian("outb", "0x37a", "0x0c");
  await out.next();
  const code = await proc.exited;
  const lines = out.seen;
  expect(code).toBe(0);
  expect(lines.map((l) => l.split(" ").slice(1, 3).join(" "))).toEqual([`0x37a ${hx(idle)}`, `0x37a ${hx(idle | 1)}`, `0x37a ${hx(idle)}`]);
  expect(lines[1]).toContain("LPT 0x378 control: strobe");
});

test("pci --json gives each function with its class name, the one lspci -mm names (witness: pciutils)", () => {
  const fns = JSON.parse(ioperm("pci", "--json").out) as { bdf: string; className: string; vendor: number; deviceId: number }[];
  expect(fns.length).toBeGreaterThanOrEqual(3);
  const lspci = Object.fromEntries(
    debian("lspci", "-mm")
      .split("\n")
      // lspci appends the code to a subclass pci.ids does not name ("Unclassified device [0002]")
      .map((l) => [l.split(" ")[0], [...l.matchAll(/"([^"]*)"/g)].map((m) => m[1])[0]?.replace(/ \[[0-9a-f]{4}\]$/, "")]),
  );
  expect(fns.map((f) => [f.bdf, f.className])).toEqual(fns.map((f) => [f.bdf, lspci[f.bdf]]));
});

test("--backend devport end to end: the same bytes as Debian's inb/outb, and a 16-bit access refused with the reason (exit 1)", () => {
  expect(ioperm("outb", "0x378", "0x6b", "--backend", "devport").code).toBe(0);
  expect(Number(debian("inb", "0x378"))).toBe(0x6b);
  debian("outb", "0x378", "0x96");
  expect(ioperm("inb", "0x378", "--backend", "devport")).toEqual({ code: 0, out: "0x96", err: "" });
  const wide = ioperm("inw", "0x1cf", "--backend", "devport");
  expect(wide.code).toBe(1);
  expect(wide.err).toContain("/dev/port performs byte accesses only");
});

test("each port command grants exactly the bytes it touches (witness: the ioperm(2) calls strace sees)", () => {
  const grants = (...args: string[]) => {
    const log = `/tmp/cli-strace-${process.pid}-${args.join("-")}.log`;
    const r = Bun.spawnSync(["strace", "-f", "-qq", "-e", "trace=ioperm,iopl", "-o", log, process.execPath, "lib/cli.ts", ...args], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(0);
    return readFileSync(log, "utf8")
      .split("\n")
      .map((l) => /(ioperm|iopl)\((.*)\)\s*=\s*0/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], ...(m[2] ?? "").split(/,\s*/).map(Number)] as const)
      .filter(([name, , , on]) => name === "iopl" || on === 1)
      .map(([name, ...args]) => `${name}(${args.map((a, i) => (i === 0 ? `0x${a.toString(16)}` : a)).join(", ")})`);
  };
  expect(grants("inb", "0x379")).toEqual(["ioperm(0x379, 1, 1)"]);
  expect(grants("outw", "0x1ce", "0")).toEqual(["ioperm(0x1ce, 2, 1)"]);
  expect(grants("inl", "0xcfc")).toEqual(["ioperm(0xcfc, 4, 1)"]);
  expect(grants("dump", "0x378", "3")).toEqual(["ioperm(0x378, 3, 1)"]);
});

test("usage errors exit 64 and a refused grant exits 1 with the reason", () => {
  expect(ioperm("inb").code).toBe(64);
  expect(ioperm("outb", "0x378", "0x100").code).toBe(64);
  expect(ioperm("inw", "0xffff").code).toBe(64);
  const refused = Bun.spawnSync([...asNobody, process.execPath, "lib/cli.ts", "inb", "0x80"], {
    env: { ...process.env, HOME: "/tmp" },
    stderr: "pipe",
  });
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr.toString()).toContain("runs as uid 65534");
});
