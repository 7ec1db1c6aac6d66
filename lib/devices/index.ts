/** Device helpers built on the core API: what hardware test scripts reach for. */
export * from "./fwcfg.ts";
export * from "./ioports.ts";
export * from "./lpt.ts";
export * from "./pci.ts";
export * from "./pciids.ts";
export * from "./rtc.ts";
export * from "./uart.ts";
export { ControllerError, type ControllerErrorCode, runSteps } from "./controller.ts";
export * from "./i8042.ts";
export * from "./kcs.ts";
export * from "./smbus.ts";
