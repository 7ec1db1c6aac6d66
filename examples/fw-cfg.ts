// QEMU's firmware configuration device (0x510 selector, 0x511 data): list its
// files, and dump one by name.
//   bun examples/fw-cfg.ts [NAME]
import { open } from "ioperm";
import { fwCfgRead, readFwCfg } from "ioperm/devices";

using io = open();
io.grant(0x510, 2);
const cfg = readFwCfg(io);
if (!cfg) {
  console.error("no fw_cfg here: this is not QEMU");
  process.exit(1);
}
const name = process.argv[2];
if (name === undefined) {
  for (const f of cfg.files) console.log(`${f.select.toString(16).padStart(4, "0")} ${String(f.size).padStart(8)} ${f.name}`);
} else {
  const file = cfg.files.find((f) => f.name === name);
  if (!file) {
    console.error(`no fw_cfg file named ${name}`);
    process.exit(1);
  }
  process.stdout.write(fwCfgRead(io, file.select, file.size));
}
