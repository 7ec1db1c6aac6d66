/*
 * ioperm.sys: port I/O on behalf of SYSTEM and Administrators, limited to an
 * allowlist. A legacy (non-PnP) WDM driver: one control device, no hardware.
 *
 * Who may ask:  the device's DACL (SYSTEM and Administrators only) applies to
 *               every open, including opens of names below the device
 *               (FILE_DEVICE_SECURE_OPEN); every IOCTL also requires
 *               FILE_READ_DATA and/or FILE_WRITE_DATA in the handle.
 * What they may send: every request length is exact, checked before the
 *               buffer is read (see ioperm_ioctl.h).
 * PCI config:   read-only, one dword per request, done by the driver (pci.c).
 * Which ports:  the allowlist, read once from the service's Parameters key
 *               when the driver starts; a refused port is refused before any
 *               instruction of the request runs.
 *
 * On x86 (32-bit) builds only, the seed article's method is available too:
 * IOCTL_IOPERM_IOPM_GRANT opens allowlisted ranges in the calling process's
 * I/O permission bitmap (Ke386SetIoAccessMap / Ke386IoSetAccessProcess, which
 * x64 kernels do not export), tracked per handle and revoked at IRP_MJ_CLEANUP;
 * map 1 is machine-wide, the union of every handle's grant (see iopm.c).
 *
 * This file: load, unload and dispatch. The port-access IOCTLs are in ports.c.
 */
#include "ioperm.h"

C_ASSERT(sizeof(IOPERM_RANGE) == 8);

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ioperm_unload;
static DRIVER_DISPATCH ioperm_create;
static DRIVER_DISPATCH ioperm_close;
static DRIVER_DISPATCH ioperm_cleanup;
static DRIVER_DISPATCH ioperm_device_control;

/* The one completion path: every dispatch routine returns through here. */
static NTSTATUS ioperm_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = NT_SUCCESS(status) ? information : 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

/* ---- dispatch ----------------------------------------------------------- */

_Use_decl_annotations_ static NTSTATUS ioperm_device_control(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  IOPERM_DEVICE *d = device->DeviceExtension;
  ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out = sp->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buf = irp->AssociatedIrp.SystemBuffer;
  ULONG_PTR info = 0;
  NTSTATUS status;

  if ((in || out) && !buf) return ioperm_complete(irp, STATUS_INVALID_PARAMETER, 0);
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
  case IOCTL_IOPERM_VERSION:
    status = ioperm_version(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_ALLOWLIST:
    status = ioperm_allowlist(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_READ:
    status = ioperm_single(d, 0, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_WRITE:
    status = ioperm_single(d, IOPERM_OP_WRITE, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_BATCH:
    status = ioperm_batch(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_PCI_READ:
    status = ioperm_pci_read(d, buf, in, out, &info);
    break;
#if IOPERM_HAS_IOPM
  case IOCTL_IOPERM_IOPM_GRANT:
    status = ioperm_iopm_grant(d, sp->FileObject, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_IOPM_REVOKE:
    status = ioperm_iopm_revoke(d, sp->FileObject, buf, in, out, &info);
    break;
#else
  case IOCTL_IOPERM_IOPM_GRANT:
  case IOCTL_IOPERM_IOPM_REVOKE:
    status = STATUS_NOT_SUPPORTED;
    break;
#endif
  default:
    status = STATUS_INVALID_DEVICE_REQUEST;
    break;
  }
  return ioperm_complete(irp, status, info);
}

/* Opens of the device itself only: there is no namespace below it. */
_Use_decl_annotations_ static NTSTATUS ioperm_create(PDEVICE_OBJECT device, PIRP irp) {
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
  (void)device;
  if (file && file->FileName.Length != 0) return ioperm_complete(irp, STATUS_OBJECT_NAME_NOT_FOUND, 0);
#if IOPERM_HAS_IOPM
  IOPERM_HANDLE *h = ioperm_alloc(sizeof *h);
  if (!h) return ioperm_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  RtlZeroMemory(h, sizeof *h);
  file->FsContext2 = h;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

/* The last user of the handle is gone: revoke what it holds in the IOPM, and
 * refuse any grant still in flight on it (see the lifetime in iopm.c). */
_Use_decl_annotations_ static NTSTATUS ioperm_cleanup(PDEVICE_OBJECT device, PIRP irp) {
#if IOPERM_HAS_IOPM
  IOPERM_HANDLE *h = IoGetCurrentIrpStackLocation(irp)->FileObject->FsContext2;
  if (h) ioperm_iopm_cleanup(device->DeviceExtension, h);
#else
  (void)device;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_ static NTSTATUS ioperm_close(PDEVICE_OBJECT device, PIRP irp) {
#if IOPERM_HAS_IOPM
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
  if (file->FsContext2) ioperm_iopm_close(device->DeviceExtension, file->FsContext2);
  file->FsContext2 = NULL;
#else
  (void)device;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

/* ---- load and unload ---------------------------------------------------- */

/*
 * What IoCreateDeviceSecure(..., IOPERM_DEVICE_SDDL, ...) does, without
 * wdmsec.lib (a static library that only the WDK ships): create the device
 * with FILE_DEVICE_SECURE_OPEN, then replace its DACL with a protected one
 * granting GENERIC_ALL to SYSTEM (SY) and to Administrators (BA) only.
 */
/* The two SIDs of IOPERM_DEVICE_SDDL, spelled out rather than read from
 * SeExports: S-1-5-18 (SY, LocalSystem) and S-1-5-32-544 (BA, Administrators). */
static const struct {
  UCHAR revision, count, authority[6];
  ULONG sub[1];
} ioperm_sid_system = {SID_REVISION, 1, {0, 0, 0, 0, 0, 5}, {18}};
static const struct {
  UCHAR revision, count, authority[6];
  ULONG sub[2];
} ioperm_sid_admins = {SID_REVISION, 2, {0, 0, 0, 0, 0, 5}, {32, 544}};

static NTSTATUS ioperm_create_device_secure(PDRIVER_OBJECT driver, PDEVICE_OBJECT *out) {
  UNICODE_STRING name = RTL_CONSTANT_STRING(IOPERM_NT_DEVICE_NAME);
  PSID system = (PSID)&ioperm_sid_system, admins = (PSID)&ioperm_sid_admins;
  ULONG acl_size =
      sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(ULONG)) + RtlLengthSid(system) + RtlLengthSid(admins);
  SECURITY_DESCRIPTOR sd;
  PDEVICE_OBJECT device = NULL;
  HANDLE handle = NULL;
  PACL acl;
  NTSTATUS status;

  acl = ioperm_alloc(acl_size);
  if (!acl) return STATUS_INSUFFICIENT_RESOURCES;
  status = RtlCreateAcl(acl, acl_size, ACL_REVISION);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, system);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, admins);
  if (NT_SUCCESS(status)) status = RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
  if (NT_SUCCESS(status)) status = RtlSetDaclSecurityDescriptor(&sd, TRUE, acl, FALSE);
  if (NT_SUCCESS(status)) {
    sd.Control |= SE_DACL_PROTECTED;
    status = IoCreateDevice(driver, sizeof(IOPERM_DEVICE), &name, IOPERM_DEVICE_TYPE, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &device);
  }
  if (NT_SUCCESS(status))
    status = ObOpenObjectByPointer(device, OBJ_KERNEL_HANDLE, NULL, WRITE_DAC, NULL, KernelMode, &handle);
  if (NT_SUCCESS(status)) {
    status = ZwSetSecurityObject(handle, DACL_SECURITY_INFORMATION, &sd);
    ZwClose(handle);
  }
  ioperm_free(acl);
  if (!NT_SUCCESS(status)) {
    DbgPrint("ioperm: cannot create a secured device (0x%08lx)\n", status);
    if (device) IoDeleteDevice(device);
    return status;
  }
  *out = device;
  return STATUS_SUCCESS;
}

_Use_decl_annotations_ static void ioperm_unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link = RTL_CONSTANT_STRING(IOPERM_DOS_DEVICE_NAME);
  IoDeleteSymbolicLink(&link);
  if (driver->DeviceObject) {
#if IOPERM_HAS_IOPM
    IOPERM_DEVICE *d = driver->DeviceObject->DeviceExtension;
    if (d->map) ioperm_free(d->map);
    if (d->check) ioperm_free(d->check);
#endif
    IoDeleteDevice(driver->DeviceObject);
  }
}

/* Never inlined into DriverEntry: its canary must be read after the guard is seeded. */
__attribute__((noinline)) static NTSTATUS ioperm_start(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING link = RTL_CONSTANT_STRING(IOPERM_DOS_DEVICE_NAME);
  UNICODE_STRING name = RTL_CONSTANT_STRING(IOPERM_NT_DEVICE_NAME);
  PDEVICE_OBJECT device;
  IOPERM_DEVICE *d;
  NTSTATUS status = ioperm_create_device_secure(driver, &device);
  if (!NT_SUCCESS(status)) return status;
  d = device->DeviceExtension;
  RtlZeroMemory(d, sizeof *d);
  d->capabilities = IOPERM_CAP_PORT_IO | IOPERM_CAP_PCI_READ | IOPERM_CAP_TIMED_STEPS;
  KeInitializeSpinLock(&d->pci_lock);
#if IOPERM_HAS_IOPM
  d->capabilities |= IOPERM_CAP_IOPM;
  ExInitializeFastMutex(&d->iopm_lock);
  InitializeListHead(&d->handles);
  d->map = ioperm_alloc(IOPM_SIZE);
  d->check = ioperm_alloc(IOPM_SIZE);
  if (!d->map || !d->check) status = STATUS_INSUFFICIENT_RESOURCES;
#endif
  if (NT_SUCCESS(status)) status = ioperm_load_allowlist(d, registry_path);
  if (NT_SUCCESS(status)) status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
#if IOPERM_HAS_IOPM
    if (d->map) ioperm_free(d->map);
    if (d->check) ioperm_free(d->check);
#endif
    IoDeleteDevice(device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = ioperm_create;
  driver->MajorFunction[IRP_MJ_CLEANUP] = ioperm_cleanup;
  driver->MajorFunction[IRP_MJ_CLOSE] = ioperm_close;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ioperm_device_control;
  driver->DriverUnload = ioperm_unload;
  device->Flags |= DO_BUFFERED_IO;
  device->Flags &= ~DO_DEVICE_INITIALIZING;
  return STATUS_SUCCESS;
}

/* Unprotected, so that seeding the guard cannot trip its own canary check;
 * everything else runs in ioperm_start, protected with the seeded guard. */
_Use_decl_annotations_ __attribute__((no_stack_protector)) NTSTATUS DriverEntry(PDRIVER_OBJECT driver,
                                                                                PUNICODE_STRING registry_path) {
  ioperm_seed_guard(driver);
  return ioperm_start(driver, registry_path);
}
