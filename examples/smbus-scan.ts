// The SMBus addresses that answer, in i2cdetect's grid, and the first byte of
// each SPD EEPROM (0x50-0x57): the PIIX4 or Intel ICH/PCH host, found through
// PCI, driven without i2c-piix4 or i2c-i801.
//   bun examples/smbus-scan.ts           (as root; refuses while a driver holds the controller)
import { open } from "ioperm";
import { i2cdetectGrid, readIoports, SmbusHost } from "ioperm/devices";

using io = open();
io.grant(0xcf8, 8); // PCI configuration mechanism #1, to find the controller
const { host, controller } = SmbusHost.open(io, { claims: readIoports() ?? [] });
const addresses = host.scan();
process.stderr.write(i2cdetectGrid(addresses));
const spd = addresses.filter((a) => a >= 0x50 && a <= 0x57).map((a) => ({ address: a, byte0: host.readByte(a, 0) }));
console.log(JSON.stringify({ controller: controller.name, base: controller.base, addresses, spd }));
