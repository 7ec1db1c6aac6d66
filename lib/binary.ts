/**
 * Checks a native library file before dlopen/LoadLibrary sees it. The system
 * loader maps a file by the sizes its headers claim, so a truncated library
 * makes it touch pages past the end of the file and the process dies with
 * SIGBUS instead of getting an error. Reading the headers first turns a
 * corrupt, truncated or wrong-architecture file into a message.
 */
import { hexLower } from "./format.ts";

/** ELF e_machine / PE Machine for each Node arch this library supports. */
const machines = {
  x64: { elf: 62, elfClass: 2, pe: 0x8664 },
  ia32: { elf: 3, elfClass: 1, pe: 0x14c },
} as const;

const elfMachineNames: Record<number, string> = { 3: "x86 (32-bit)", 62: "x86-64", 40: "ARM", 183: "AArch64", 243: "RISC-V" };
const peMachineNames: Record<number, string> = { 0x14c: "x86 (32-bit)", 0x8664: "x86-64", 0xaa64: "ARM64", 0x1c4: "ARM" };

/** Why `bytes` is not a loadable library for `platform`/`arch`, or "" when its headers hold up. */
export function binaryProblem(bytes: Uint8Array, platform: NodeJS.Platform, arch: string): string {
  const want = machines[arch as keyof typeof machines];
  if (want === undefined) return `ioperm needs an x86 CPU; this is ${arch}`;
  return platform === "win32" ? peProblem(bytes, want.pe) : elfProblem(bytes, want.elf, want.elfClass);
}

function elfProblem(b: Uint8Array, machine: number, elfClass: number): string {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 64 || v.getUint32(0) !== 0x7f454c46) return "not an ELF shared library";
  if (b[5] !== 1) return "not a little-endian ELF file";
  const m = v.getUint16(18, true);
  if (m !== machine || b[4] !== elfClass)
    return `built for ${elfMachineNames[m] ?? `ELF machine ${m}`}${b[4] === 1 ? " (32-bit)" : ""}, not this CPU`;
  if (v.getUint16(16, true) !== 3) return "an ELF file that is not a shared library";
  const wide = elfClass === 2;
  const u = (at: number) => (wide ? Number(v.getBigUint64(at, true)) : v.getUint32(at, true));
  const [phoff, shoff] = wide ? [u(32), u(40)] : [u(28), u(32)];
  const at = wide ? 54 : 42;
  const [phentsize, phnum, shentsize, shnum] = [0, 2, 4, 6].map((d) => v.getUint16(at + d, true)) as [number, number, number, number];
  if (phoff + phnum * phentsize > b.length)
    return `truncated: its program headers end at byte ${phoff + phnum * phentsize}, the file has ${b.length}`;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const [offset, filesz] = wide ? [u(p + 8), u(p + 32)] : [u(p + 4), u(p + 16)];
    if (offset + filesz > b.length) return `truncated: segment ${i} ends at byte ${offset + filesz}, the file has ${b.length}`;
  }
  if (shnum > 0 && shoff + shnum * shentsize > b.length)
    return `truncated: its section headers end at byte ${shoff + shnum * shentsize}, the file has ${b.length}`;
  return "";
}

function peProblem(b: Uint8Array, machine: number): string {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 64 || v.getUint16(0) !== 0x4d5a) return "not a PE (Windows) DLL";
  const pe = v.getUint32(0x3c, true);
  if (pe + 24 > b.length || v.getUint32(pe) !== 0x50450000) return "not a PE (Windows) DLL";
  const m = v.getUint16(pe + 4, true);
  if (m !== machine) return `built for ${peMachineNames[m] ?? `PE machine ${hexLower(m)}`}, not this CPU`;
  const sections = v.getUint16(pe + 6, true);
  const table = pe + 24 + v.getUint16(pe + 20, true);
  if (table + sections * 40 > b.length)
    return `truncated: its section table ends at byte ${table + sections * 40}, the file has ${b.length}`;
  for (let i = 0; i < sections; i++) {
    const s = table + i * 40;
    const end = v.getUint32(s + 20, true) + v.getUint32(s + 16, true);
    if (end > b.length) return `truncated: section ${i} ends at byte ${end}, the file has ${b.length}`;
  }
  return "";
}
