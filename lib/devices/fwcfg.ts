/**
 * QEMU's firmware configuration device (fw_cfg): 16-bit selector at 0x510,
 * byte data at 0x511. Present only under QEMU; its signature identifies it.
 */
import type { Ioperm } from "../index.ts";

/** fw_cfg selector register (16-bit write). */
export const FW_CFG_SELECTOR = 0x510;
/** fw_cfg data register (byte reads of the selected item). */
export const FW_CFG_DATA = 0x511;

/** One entry of fw_cfg's file directory. */
export interface FwCfgFile {
  name: string;
  size: number;
  select: number;
}

/** What readFwCfg found: the signature, the feature bits and the file directory. */
export interface FwCfg {
  signature: string;
  /** Feature bits (select 0x0001): bit 0 traditional interface, bit 1 DMA. */
  features: number;
  dma: boolean;
  files: FwCfgFile[];
}

/** Selects `key` and reads `length` bytes. Needs 0x510-0x511 granted. */
export function fwCfgRead(io: Ioperm, key: number, length: number): Uint8Array {
  io.outw(FW_CFG_SELECTOR, key);
  return io.readInto(FW_CFG_DATA, new Uint8Array(length));
}

/** Reads the signature; returns undefined unless it is "QEMU". */
export function readFwCfg(io: Ioperm): FwCfg | undefined {
  const signature = new TextDecoder().decode(fwCfgRead(io, 0x0000, 4));
  if (signature !== "QEMU") return undefined;
  const f = fwCfgRead(io, 0x0001, 4);
  const features = (f[0] ?? 0) | ((f[1] ?? 0) << 8) | ((f[2] ?? 0) << 16) | ((f[3] ?? 0) << 24);
  // The file directory (0x0019): a big-endian count, then 64-byte entries.
  io.outw(FW_CFG_SELECTOR, 0x0019);
  const head = io.readInto(FW_CFG_DATA, new Uint8Array(4));
  const count = new DataView(head.buffer).getUint32(0, false);
  const dir = io.readInto(FW_CFG_DATA, new Uint8Array(Math.min(count, 1024) * 64));
  const view = new DataView(dir.buffer);
  const files: FwCfgFile[] = [];
  for (let i = 0; i < dir.length / 64; i++) {
    const nameBytes = dir.subarray(i * 64 + 8, i * 64 + 64);
    const end = nameBytes.indexOf(0);
    files.push({
      size: view.getUint32(i * 64, false),
      select: view.getUint16(i * 64 + 4, false),
      name: new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? 56 : end)),
    });
  }
  return { signature, features, dma: (features & 2) !== 0, files };
}
