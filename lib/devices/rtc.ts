/**
 * The MC146818-compatible CMOS RTC at index 0x70 / data 0x71.
 * @example const t = readRtc(io); console.log(t.date.toISOString());
 */
import type { Ioperm } from "../index.ts";

/** CMOS index register (bit 7 also masks NMI: left clear). */
export const RTC_INDEX = 0x70;
/** CMOS data register. */
export const RTC_DATA = 0x71;

/** What readRtc read: the time, and how the chip encodes it. */
export interface RtcTime {
  /** The RTC's time, taken as UTC (how Linux and QEMU keep it by default). */
  date: Date;
  /** Registers hold BCD (status B bit 2 clear) rather than binary. */
  bcd: boolean;
  /** 24-hour mode (status B bit 1). */
  hour24: boolean;
  statusA: number;
  statusB: number;
  /** The century register (0x32) was used; otherwise 20xx is assumed. */
  century: boolean;
}

/** Reads CMOS register `index` (NMI stays enabled: bit 7 clear). */
export function cmosRead(io: Ioperm, index: number): number {
  io.outb(RTC_INDEX, index & 0x7f);
  return io.inb(RTC_DATA);
}

const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0x0f);

/**
 * Reads date and time the way `hwclock --directisa` does: waits out
 * update-in-progress, then reads until two snapshots agree. Needs 0x70-0x71 granted.
 */
export function readRtc(io: Ioperm): RtcTime {
  const regs = [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32];
  const snapshot = () => {
    for (let spin = 0; cmosRead(io, 0x0a) & 0x80 && spin < 1_000_000; spin++); // UIP lasts < 2 ms
    return regs.map((r) => cmosRead(io, r));
  };
  let a = snapshot();
  for (let tries = 0; tries < 10; tries++) {
    const b = snapshot();
    if (a.join() === b.join()) break;
    a = b;
  }
  const statusA = cmosRead(io, 0x0a);
  const statusB = cmosRead(io, 0x0b);
  const bcd = (statusB & 0x04) === 0;
  const dec = (v: number) => (bcd ? fromBcd(v) : v);
  const [sec = 0, min = 0, hourRaw = 0, day = 0, mon = 0, year = 0, cent = 0] = a;
  const hour24 = (statusB & 0x02) !== 0;
  let hour = dec(hourRaw & 0x7f);
  if (!hour24) hour = (hour % 12) + ((hourRaw & 0x80) !== 0 ? 12 : 0);
  const centuryValue = dec(cent);
  const century = centuryValue >= 19 && centuryValue <= 30;
  const fullYear = (century ? centuryValue : 20) * 100 + dec(year);
  return {
    date: new Date(Date.UTC(fullYear, dec(mon) - 1, dec(day), hour, dec(min), dec(sec))),
    bcd,
    hour24,
    statusA,
    statusB,
    century,
  };
}
