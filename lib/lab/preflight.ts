/**
 * Checks a lab machine before it boots, so bad input gets a clear error and no
 * QEMU is left behind: every --device must name a device this QEMU has, and
 * QEMU, started paused with the machine's full configuration, must accept it
 * and map no two devices onto the same I/O ports (QEMU itself allows that
 * silently: the guest then talks to whichever device wins).
 */
import { LabError } from "./errors.ts";
import { type MachineProfile, machinePorts } from "./machine.ts";
import { hexLower } from "../format.ts";

/** A QEMU `-device` spec, "driver,prop=value,…", split into its driver and properties. */
export function parseDeviceSpec(spec: string): { driver: string; props: Map<string, string> } {
  const [driver = "", ...rest] = spec.split(",");
  return { driver, props: new Map(rest.map((kv) => [kv.split("=")[0] ?? "", kv.slice(kv.indexOf("=") + 1)])) };
}

/** Device names (and aliases) a QEMU binary knows, from `-device help`; cached per binary. */
const known = new Map<string, Promise<Set<string>>>();

async function deviceNames(qemu: string): Promise<Set<string>> {
  let names = known.get(qemu);
  if (names === undefined) {
    names = (async () => {
      const proc = Bun.spawn({ cmd: [qemu, "-device", "help"], stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const text = await new Response(proc.stdout).text();
      await proc.exited;
      const set = new Set<string>();
      for (const m of text.matchAll(/name "([^"]+)"(?:.*alias "([^"]+)")?/g)) {
        if (m[1]) set.add(m[1]);
        if (m[2]) set.add(m[2]);
      }
      return set;
    })();
    known.set(qemu, names);
  }
  return names;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Rejects a --device whose driver this QEMU does not have, suggesting the nearest names. */
export async function checkDeviceNames(qemu: string, specs: string[]): Promise<void> {
  const names = await deviceNames(qemu);
  if (names.size === 0) return; // an emulator that lists nothing: let QEMU itself judge
  for (const spec of specs) {
    const { driver } = parseDeviceSpec(spec);
    if (names.has(driver)) continue;
    const near = [...names]
      .map((n) => ({ n, d: distance(driver, n) }))
      .filter(({ d }) => d <= Math.max(2, Math.floor(driver.length / 4)))
      .sort((x, y) => x.d - y.d)
      .slice(0, 3)
      .map(({ n }) => n);
    const hint = near.length > 0 ? ` Did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : "";
    throw new LabError(
      `lab: unknown device "${driver}" in --device ${spec}.${hint} \`${qemu} -device help\` lists the devices this QEMU has.`,
      "unknown-device",
      "",
      "",
    );
  }
}

/** One region of QEMU's I/O address space, as `info mtree` prints it. */
export interface IoRegion {
  start: number;
  end: number;
  priority: number;
  name: string;
}

/** The regions mapped directly in QEMU's I/O address space (`info mtree`'s "address-space: I/O"). */
export function ioRegions(mtree: string): IoRegion[] {
  const lines = mtree.replace(/\r/g, "").split("\n");
  const begin = lines.findIndex((l) => l.startsWith("address-space: I/O"));
  if (begin < 0) return [];
  const regions: { indent: number; r: IoRegion }[] = [];
  for (const line of lines.slice(begin + 1)) {
    const m = /^( *)([0-9a-f]+)-([0-9a-f]+) \(prio (-?\d+), i\/o\): (.*)$/.exec(line);
    if (m === null) break;
    const [, indent = "", start = "", end = "", priority = "", name = ""] = m;
    regions.push({
      indent: indent.length,
      r: { start: Number.parseInt(start, 16), end: Number.parseInt(end, 16), priority: Number(priority), name },
    });
  }
  // The first line is the whole space ("io"); its children are one indent level deeper.
  const childIndent = regions.slice(1).reduce((min, { indent }) => Math.min(min, indent), Number.POSITIVE_INFINITY);
  return regions
    .slice(1)
    .filter(({ indent }) => indent === childIndent)
    .map(({ r }) => r);
}

/** Pairs of regions of equal priority that share a port: for each port, only one of them answers. */
export function ioClashes(regions: IoRegion[]): [IoRegion, IoRegion][] {
  const clashes: [IoRegion, IoRegion][] = [];
  regions.forEach((a, i) => {
    for (const b of regions.slice(i + 1)) {
      if (a.priority === b.priority && a.start <= b.end && b.start <= a.end) clashes.push([a, b]);
    }
  });
  return clashes;
}

const hexRange = (r: IoRegion) => `${hexLower(r.start)}-${hexLower(r.end)}`;

/** Who owns each region of a clash: a --device with that iobase (each spec used once), else the machine. */
function owners(pair: [IoRegion, IoRegion], specs: string[], machine: MachineProfile): [string, string] {
  const ports = machinePorts(machine);
  const used = new Set<string>();
  const name = (r: IoRegion) => {
    const spec = specs.findLast((s) => {
      const base = parseDeviceSpec(s).props.get("iobase");
      return !used.has(s) && base !== undefined && Number(base) === r.start;
    });
    if (spec !== undefined) {
      used.add(spec);
      return `--device ${spec} (${r.name}, ${hexRange(r)})`;
    }
    return `${ports.get(r.start) ?? `the machine's ${r.name}`} (${hexRange(r)})`;
  };
  const second = name(pair[1]);
  return [name(pair[0]), second];
}

/**
 * Starts QEMU paused (-S) with the machine's full command line, asks its
 * monitor for the memory tree and quits. Rejects with "bad-config" when QEMU
 * refuses the configuration, "io-clash" when two devices share ports.
 */
export async function checkMachine(cmd: string[], specs: string[], machine: MachineProfile): Promise<void> {
  const proc = Bun.spawn({
    cmd: [...cmd, "-S", "-monitor", "stdio"],
    stdin: new TextEncoder().encode("info mtree\nquit\n"),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err, status] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (status !== 0) {
    const [first = `status ${status}`, ...rest] = err.split("\n").filter((l) => l.trim() !== "");
    throw new LabError(`lab: QEMU refused the machine: ${first.trim()}`, "bad-config", "", rest.join("\n"));
  }
  const clash = ioClashes(ioRegions(out))[0];
  if (clash !== undefined) {
    const [a, b] = owners(clash, specs, machine);
    throw new LabError(`lab: I/O address clash: ${b} overlaps ${a}; give the device another iobase=`, "io-clash", "", "");
  }
}
