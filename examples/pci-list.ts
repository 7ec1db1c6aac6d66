// Every PCI function, through configuration mechanism #1 (0xCF8/0xCFC), printed
// the way `lspci -n` prints them.
//   bun examples/pci-list.ts
import { open } from "ioperm";
import { scanPci } from "ioperm/devices";

using io = open();
io.grant(0xcf8, 8);
const h4 = (n: number) => n.toString(16).padStart(4, "0");
for (const f of scanPci(io)) {
  const rev = f.revision ? ` (rev ${f.revision.toString(16).padStart(2, "0")})` : "";
  console.log(`${f.bdf} ${h4(f.classCode >> 8)}: ${h4(f.vendor)}:${h4(f.deviceId)}${rev}`);
}
