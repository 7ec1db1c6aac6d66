/*
 * PCI configuration reads (IOCTL_IOPERM_PCI_READ): configuration mechanism #1
 * done by the driver, so that callers never get 0xCF8-0xCFF (denylisted: a
 * write there can move a BAR, then DMA anywhere; 0xCF9 resets the machine).
 *
 * The address write and the data read happen under one spin lock, so two
 * requests cannot interleave. The lock is the driver's own: Windows' HAL keeps
 * its own lock for the same ports, which this one does not exclude
 * (HalGetBusDataByOffset would take it, but Wine, where the driver is tested,
 * exports it as a stub that reads nothing). On real Windows, where the HAL uses
 * mechanism #1 at run time, a HAL access can land between our two instructions.
 */
#include "ioperm.h"

#define PCI_ADDRESS_PORT ((PULONG)(ULONG_PTR)0xCF8)
#define PCI_DATA_PORT    ((PULONG)(ULONG_PTR)0xCFC)

NTSTATUS ioperm_pci_read(IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_PCI_ADDRESS), out, sizeof(ULONG));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_PCI_ADDRESS a = *(const IOPERM_PCI_ADDRESS *)buf;
  if (a.bus > IOPERM_PCI_MAX_BUS || a.device > IOPERM_PCI_MAX_DEVICE || a.function > IOPERM_PCI_MAX_FUNCTION ||
      a.offset > IOPERM_PCI_MAX_OFFSET || (a.offset & 3) != 0)
    return STATUS_INVALID_PARAMETER;
  ULONG address = 0x80000000u | a.bus << 16 | a.device << 11 | a.function << 8 | a.offset;
  KIRQL irql;
  KeAcquireSpinLock(&d->pci_lock, &irql);
  WRITE_PORT_ULONG(PCI_ADDRESS_PORT, address);
  ULONG value = READ_PORT_ULONG(PCI_DATA_PORT);
  KeReleaseSpinLock(&d->pci_lock, irql);
  *(ULONG *)buf = value;
  *info = sizeof value;
  return STATUS_SUCCESS;
}
