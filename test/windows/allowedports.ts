// The AllowedPorts grammar as README.md ("The allowlist") and ioperm_ioctl.h
// document it, written down again independently of windows-driver/sys/allowlist.c
// so the registry fuzz (fuzz.test.ts) has something to compare the driver with;
// plus a seeded generator of values, well-formed and not.
//
//   value  := REG_MULTI_SZ, UTF-16LE (an odd byte count is not a string list)
//   list   := entry* ; ends at the first empty string or at the end of the data
//   entry  := " "* number ("-" number)? " "*     (from <= to, inclusive)
//   number := ("0x" | "0X") hexdigit+ | digit+   (at most 0xFFFF; ASCII only)
//
// A value that is there and breaks the grammar stops the driver from starting;
// an absent value means the compiled-in default. Either way the compiled-in
// denylist is subtracted afterwards.

/** Registry value types the generator writes (winnt.h). */
export const REG = { SZ: 1, EXPAND_SZ: 2, BINARY: 3, DWORD: 4, MULTI_SZ: 7 } as const;

/**
 * Largest AllowedPorts the driver reads: 64 KiB including the 12-byte
 * KEY_VALUE_PARTIAL_INFORMATION header (windows-driver/README.md); the
 * random values keep clear of this edge and `sizeEdges()` pins it exactly.
 */
export const MAX_DATA_BYTES = 0x10000 - 12;

export type Parsed = { ok: true; ranges: [number, number][] } | { ok: false; reason: string };

const number = "(?:0[xX][0-9a-fA-F]+|[0-9]+)";
const entryRe = new RegExp(`^ *(${number})(?:-(${number}))? *$`);
const value = (s: string) => (/^0[xX]/.test(s) ? Number.parseInt(s.slice(2), 16) : Number.parseInt(s, 10));

/** What the documented grammar makes of one AllowedPorts value: its ranges, or why the driver must refuse to start. */
export function parseAllowedPorts(type: number, data: Uint8Array): Parsed {
  if (type !== REG.MULTI_SZ) return { ok: false, reason: `type ${type} is not REG_MULTI_SZ` };
  if (data.length % 2 !== 0) return { ok: false, reason: "odd byte count" };
  if (data.length > MAX_DATA_BYTES) return { ok: false, reason: "over 64 KiB" };
  const text = new TextDecoder("utf-16le", { fatal: false }).decode(data);
  const ranges: [number, number][] = [];
  for (const entry of text.split("\0")) {
    if (entry === "") break;
    const m = entryRe.exec(entry);
    if (!m) return { ok: false, reason: `entry ${JSON.stringify(entry.slice(0, 40))} breaks the grammar` };
    const from = value(m[1]!);
    const to = m[2] === undefined ? from : value(m[2]);
    if (from > 0xffff || to > 0xffff) return { ok: false, reason: `entry ${JSON.stringify(entry.slice(0, 40))} passes 0xFFFF` };
    if (to < from) return { ok: false, reason: `entry ${JSON.stringify(entry)} is reversed` };
    ranges.push([from, to]);
  }
  return { ok: true, ranges };
}

/** The allowed ports of `ranges` minus `deny`, as the "a-b,c-d" hex string iopermfuzz prints. */
export function effective(ranges: [number, number][], deny: [number, number][]): string {
  const bits = new Uint8Array(0x10000);
  for (const [a, b] of ranges) bits.fill(1, a, b + 1);
  for (const [a, b] of deny) bits.fill(0, a, b + 1);
  const out: string[] = [];
  for (let p = 0; p < 0x10000; p++) {
    if (!bits[p] || (p > 0 && bits[p - 1])) continue;
    let q = p;
    while (q < 0xffff && bits[q + 1]) q++;
    out.push(`${p.toString(16)}-${q.toString(16)}`);
  }
  return out.join(",");
}

/** splitmix32-style PRNG: the same seed gives the same values. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** One value to write: its type and raw bytes, and what kind of case it is (for the counts). */
export interface Value {
  kind: string;
  type: number;
  data: Uint8Array;
}

const utf16 = (s: string) => new Uint8Array(Buffer.from(s, "utf16le"));
/** REG_MULTI_SZ bytes: strings, each NUL-terminated, then the list's terminating NUL. */
export const multiSz = (entries: string[]) => utf16(`${entries.map((e) => `${e}\0`).join("")}\0`);

/** Generates values for the registry fuzz. */
export function generator(seed: number) {
  const r = prng(seed);
  const below = (n: number) => r() % n;
  const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)]!;
  // Ports near the default list, the denylist and the edges, and anywhere.
  const hotspots = [0, 0x1f, 0x20, 0x5f, 0x60, 0x64, 0x70, 0x80, 0x92, 0xb2, 0xb3, 0xc0, 0xdf, 0x1f0, 0x378, 0x3f8, 0xcf8, 0xcff, 0xffff];
  const port = () => (below(3) ? Math.min(0xffff, pick(hotspots) + below(9)) : below(0x10000));
  const spell = (n: number): string => {
    switch (below(5)) {
      case 0:
        return String(n);
      case 1:
        return `0X${n.toString(16).toUpperCase()}`;
      case 2:
        return `0x${"0".repeat(below(4))}${n.toString(16)}`;
      default:
        return `0x${n.toString(16)}`;
    }
  };
  const pad = (s: string) => (below(4) ? s : `${" ".repeat(below(3))}${s}${" ".repeat(below(3))}`);
  const good = (): string => {
    const a = port();
    if (below(3) === 0) return pad(spell(a));
    const b = Math.min(0xffff, a + (below(2) ? below(16) : below(0x1000)));
    return pad(`${spell(a)}-${spell(b)}`);
  };
  // Each turns a good entry into one the grammar refuses.
  const breakers: ((e: string) => string)[] = [
    () => `0x${(0x10000 + below(0x10000)).toString(16)}`, // past 0xFFFF
    () => String(65536 + below(100000)),
    () => {
      const a = 1 + below(0xfffe);
      return `${spell(a)}-${spell(a - 1 - below(a))}`; // reversed
    },
    (e) => `${e}z`,
    (e) => `${e}-`,
    (e) => `-${e.trim()}`,
    (e) => `+${e.trim()}`,
    () => "0x",
    () => `0x${pick(["g", "G", "-1", " 1", "x1"])}`,
    () => `${spell(port())}--${spell(port())}`,
    () => `${spell(port())} - ${spell(port())}`, // spaces inside
    () => `${spell(port())}-${spell(port())}-${spell(port())}`,
    () => `\t${spell(port())}`,
    () => "\uff11\uff12", // fullwidth digits
    () => "0b101",
    () => "1e3",
    () => " ",
    () => `0x${"0".repeat(below(3))}${"f".repeat(5 + below(4))}`,
  ];
  const goodList = (n: number) => Array.from({ length: n }, good);

  return (): Value => {
    const roll = below(100);
    if (roll < 35) return { kind: "well-formed", type: REG.MULTI_SZ, data: multiSz(goodList(1 + below(8))) };
    if (roll < 42) {
      // Overlapping and duplicate ranges, and ranges over the denylist.
      const a = port();
      const list = [`${spell(a)}-${spell(Math.min(0xffff, a + 40))}`, spell(a), `${spell(Math.max(0, a - 5))}-${spell(a)}`];
      if (below(2)) list.push(pick(["0x0-0xFFFF", "0-65535", "0x0-0xFF", "0xC00-0xD00", "0x1E0-0x400"]));
      return { kind: "overlapping", type: REG.MULTI_SZ, data: multiSz(list) };
    }
    if (roll < 67) {
      const list = goodList(1 + below(6));
      const at = below(list.length);
      list[at] = pick(breakers)(list[at]!);
      return { kind: "malformed", type: REG.MULTI_SZ, data: multiSz(list) };
    }
    if (roll < 74) {
      const shapes: [string, Uint8Array][] = [
        ["empty: no bytes", new Uint8Array(0)],
        ["empty: one NUL", utf16("\0")],
        ["empty: two NULs", utf16("\0\0")],
        ["empty string first, entries after it", utf16(`\0${goodList(2).join("\0")}\0\0`)],
        ["empty string in the middle", utf16(`${good()}\0\0${pick(breakers)(good())}\0\0`)],
      ];
      const [kind, data] = pick(shapes);
      return { kind, type: REG.MULTI_SZ, data };
    }
    if (roll < 80) {
      const list = goodList(1 + below(3));
      const shapes: [string, Uint8Array][] = [
        ["no final NUL", utf16(list.join("\0"))],
        ["one final NUL", utf16(`${list.join("\0")}\0`)],
        ["odd byte count", new Uint8Array([...multiSz(list), 0x30])],
      ];
      const [kind, data] = pick(shapes);
      return { kind, type: REG.MULTI_SZ, data };
    }
    if (roll < 86) {
      const list = goodList(1 + below(3));
      const shapes: [string, number, Uint8Array][] = [
        ["REG_SZ", REG.SZ, utf16(`${list[0]}\0`)],
        ["REG_EXPAND_SZ", REG.EXPAND_SZ, utf16(`${list[0]}\0`)],
        ["REG_BINARY", REG.BINARY, multiSz(list)],
        ["REG_DWORD", REG.DWORD, new Uint8Array([0x78, 0x03, 0, 0])],
      ];
      const [kind, type, data] = pick(shapes);
      return { kind, type, data };
    }
    if (roll < 93) return huge(below);
    return { kind: "absent", type: -1, data: new Uint8Array(0) };
  };
}

/** Values far below the size limit (up to ~48 KiB) or far above it (80 KiB and more). */
function huge(below: (n: number) => number): Value {
  const over = below(2) === 1;
  const target = over ? 80_000 + below(40_000) : 8_000 + below(40_000);
  if (below(2)) {
    // Many small entries: "0xNNNN\0" is 14 bytes.
    const list: string[] = [];
    let bytes = 2;
    for (let i = 0; bytes + 14 <= target; i++, bytes += 14) list.push(`0x${((i * 7919) & 0xffff).toString(16).padStart(4, "0")}`);
    return { kind: over ? "huge: many entries, over 64 KiB" : "huge: many entries", type: REG.MULTI_SZ, data: multiSz(list) };
  }
  // One entry with a long run of leading zeros: still one port.
  const zeros = Math.floor((target - 16) / 2);
  return {
    kind: over ? "huge: one long entry, over 64 KiB" : "huge: one long entry",
    type: REG.MULTI_SZ,
    data: multiSz([`0x${"0".repeat(zeros)}1f`]),
  };
}

/** One valid entry (port 0x80, padded with leading zeros) in values of exactly MAX_DATA_BYTES - 2, MAX_DATA_BYTES and MAX_DATA_BYTES + 2 bytes. */
export function sizeEdges(): Value[] {
  return [-2, 0, 2].map((delta) => {
    const chars = (MAX_DATA_BYTES + delta) / 2 - 2; // the entry, then its NUL and the list's
    const data = multiSz([`0x${"0".repeat(chars - 4)}80`]);
    return {
      kind: `size edge: ${delta < 0 ? "2 bytes under" : delta > 0 ? "2 bytes over" : "exactly"} the limit`,
      type: REG.MULTI_SZ,
      data,
    };
  });
}
