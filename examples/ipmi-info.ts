// A BMC's identity over IPMI KCS (0xCA2/0xCA3), without ipmi_si: what
// `ipmitool mc info` shows, read through the KCS state machine.
//   bun examples/ipmi-info.ts            (as root; refuses while ipmi_si holds the ports)
import { open } from "ioperm";
import { getDeviceId, portOwner, readIoports } from "ioperm/devices";

const owner = portOwner(readIoports() ?? [], 0xca2, 2);
if (owner.driver) throw new Error(`0xCA2 is held by ${owner.driver}: use ipmitool, or rmmod ipmi_si first`);
using io = open();
io.grant(0xca2, 2);
const id = getDeviceId(io);
console.log(JSON.stringify(id));
