// Runs inside Wine (bun.exe) inside the lab VM: the TypeScript API's win32
// path with real port I/O (lib/ -> bun:ffi -> ioperm.dll -> DeviceIoControl ->
// ioperm.sys -> in/out, which reach QEMU because winedevice holds iopl(3)).
// Prints one JSON object per step for test/lab/wine.lab.ts, which checks each
// against a host file QEMU wrote.
//   bun.exe wine-guest.ts DLL STEP...
//   steps: lpt=HEX,HEX…  debugcon-batch=HEX  debugcon-string=HEX  grant=PORT,COUNT  outb=PORT,VALUE
//          pci=BUS,DEV,FN,OFFSET (lib/devices pciRead32: the driver's PCI_READ on win32)
const [dllPath, ...steps] = process.argv.slice(2);
if (!dllPath) throw new Error("usage: bun.exe wine-guest.ts DLL STEP...");
process.env.IOPERM_LIB = dllPath;
export {};
const { open, ops } = await import("../../lib/index.ts");
const { pciRead32 } = await import("../../lib/devices/pci.ts");
const { out, run } = await import("../windows/guest/steps.ts");

const bytes = (hex: string) => [...Buffer.from(hex, "hex")];

using io = open({ backend: "driver" });
for (const step of steps) {
  const [name = "", arg = ""] = step.split("=");
  switch (name) {
    case "lpt":
      // Data latch, read back, then SELECT|INIT with a STROBE pulse so the byte goes out.
      run(step, () => {
        io.grant(0x378, 3);
        const data = io.port8(0x378);
        const ctrl = io.port8(0x37a);
        const readback: number[] = [];
        for (const b of arg.split(",").map(Number)) {
          data.write(b);
          readback.push(data.read());
          ctrl.write(0x0c);
          ctrl.write(0x0d);
          ctrl.write(0x0c);
        }
        return { readback, grants: io.grants() };
      });
      break;
    case "debugcon-batch":
      run(step, () => {
        io.grant(0xe9);
        io.batch(bytes(arg).map((b) => ops.outb(0xe9, b)));
      });
      break;
    case "debugcon-string":
      run(step, () => {
        io.grant(0xe9);
        io.writeFrom(0xe9, Uint8Array.from(bytes(arg)));
      });
      break;
    case "grant": {
      const [from = 0, count = 1] = arg.split(",").map(Number);
      run(step, () => {
        io.grant(from, count);
      });
      break;
    }
    case "outb": {
      const [port = 0, value = 0] = arg.split(",").map(Number);
      run(step, () => {
        io.outb(port, value);
      });
      break;
    }
    case "pci": {
      const [bus = 0, device = 0, fn = 0, offset = 0] = arg.split(",").map(Number);
      run(step, () => ({ value: pciRead32(io, bus, device, fn, offset) }));
      break;
    }
    default:
      out(step, { rc: "unknown step" });
  }
}
