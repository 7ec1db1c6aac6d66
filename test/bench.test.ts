// The benchmark harness (host part): it runs in --quick mode and writes a
// well-formed result that names the library it measured (witness: the built
// library's own SHA-256). No timing is asserted: a benchmark is not a test.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunResult } from "../bench/model.ts";
import { addRatios, type CaseResult } from "../bench/model.ts";
import { formatNs, formatRatio, svgChart, table } from "../bench/report.ts";
import { devLibrary, packageRoot as root } from "../lib/paths.ts";

test("bun bench/run.ts --quick writes valid host JSON and an SVG chart", () => {
  const out = mkdtempSync(join(tmpdir(), "ioperm-bench-test-"));
  try {
    const r = Bun.spawnSync({
      cmd: [process.execPath, "bench/run.ts", "--quick", "--out", out],
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toContain("| port");

    const run = JSON.parse(readFileSync(join(out, "host.json"), "utf8")) as RunResult;
    expect(run.schema).toBe(1);
    expect(run.kind).toBe("host");
    expect(run.quick).toBe(true);
    expect(run.bun.version).toBe(Bun.version);
    expect(Number.isNaN(Date.parse(run.date))).toBe(false);
    expect(run.machine.cpu.length).toBeGreaterThan(0);
    expect(run.machine.kernel.length).toBeGreaterThan(0);
    expect(typeof run.machine.virtualization).toBe("string");
    const lib = readFileSync(devLibrary());
    expect(run.library).toEqual({
      sha256_12: new Bun.CryptoHasher("sha256").update(lib).digest("hex").slice(0, 12),
      bytes: lib.length,
    });

    const paths = run.cases.map((c) => c.path);
    for (const p of ["ffi-nop", "ts-api"]) expect(paths).toContain(p);
    for (const c of run.cases) {
      for (const v of [c.ops_per_s, c.p50_ns, c.p99_ns]) expect(Number.isFinite(v) && v > 0).toBe(true);
      expect(c.p99_ns).toBeGreaterThanOrEqual(c.p50_ns);
      expect(c.port).toBe(0x80);
      expect(c.width).toBe(8);
      expect(c.ratio_to_floor).not.toBeNull();
    }
    expect(run.cases.find((c) => c.path === "ffi-nop")?.ratio_to_floor).toBe(1);

    const svg = readFileSync(join(out, "host.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("ts-api");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);

const fake = (path: string, p50: number, floor = "floor"): CaseResult => ({
  name: path,
  path,
  port: 0x80,
  width: 8,
  op: "read",
  accesses_per_call: 1,
  calls_per_sample: 1,
  samples: 12,
  ops_per_s: 1e9 / p50,
  p50_ns: p50,
  p99_ns: p50 * 2,
  avg_ns: p50,
  min_ns: p50,
  max_ns: p50 * 3,
  ratio_to_floor: null,
  floor,
});

test("ratios divide by the floor of the same port, width and op", () => {
  const cases = [fake("floor", 40), fake("ts", 200), { ...fake("ts", 90), width: 16 }];
  addRatios(cases);
  expect(cases.map((c) => c.ratio_to_floor)).toEqual([1, 5, null]);
});

test("formatting and chart of a synthetic run", () => {
  expect(formatNs(3.456)).toBe("3.46 ns");
  expect(formatNs(1234)).toBe("1.23 µs");
  expect(formatNs(28.5e6)).toBe("28.5 ms");
  expect(formatRatio(632_412)).toBe("632,000×");
  expect(formatRatio(null)).toBe("–");
  const cases = [fake("floor", 40), fake("ioport-cmd", 3e7)];
  addRatios(cases);
  expect(table(cases)).toContain("750,000×");
  const svg = svgChart("t", "s<&>", [{ title: "g", cases }]);
  expect(svg).toContain("s&lt;&amp;&gt;");
  expect(svg).toContain("100 ms"); // the log axis reaches past the slowest p99
  expect(existsSync(join(root, "bench", "run.ts"))).toBe(true);
});
