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
 */
#include "ioperm.h"

C_ASSERT(sizeof(IOPERM_OP) == 8);
C_ASSERT(sizeof(IOPERM_PORT_REPLY) == 8);
C_ASSERT(sizeof(IOPERM_BATCH_HEADER) == 16);
C_ASSERT(sizeof(IOPERM_VERSION_INFO) == 24);
C_ASSERT(sizeof(IOPERM_ALLOWLIST) == IOPERM_PORT_COUNT / 8);
C_ASSERT(sizeof(IOPERM_RANGE) == 8);
/* count <= IOPERM_MAX_BATCH keeps header + count * op far from ULONG overflow. */
C_ASSERT((ULONGLONG)IOPERM_MAX_BATCH * sizeof(IOPERM_OP) + sizeof(IOPERM_BATCH_HEADER) < 0x10000000ull);

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

/* ---- port access -------------------------------------------------------- */

/* The same checks, in the same order, as checkOp in zig/src/core.zig. */
static LONG ioperm_check_op(const IOPERM_DEVICE *d, const IOPERM_OP *op) {
  if (op->flags & ~IOPERM_OP_WRITE) return IOPERM_RESULT_BAD_OP;
  if (op->width != 1 && op->width != 2 && op->width != 4) return IOPERM_RESULT_BAD_WIDTH;
  if ((op->flags & IOPERM_OP_WRITE) && op->width != 4 && (op->value >> (op->width * 8)) != 0)
    return IOPERM_RESULT_RANGE;
  if ((ULONG)op->port + op->width > IOPERM_PORT_COUNT) return IOPERM_RESULT_RANGE;
  if (!ioperm_allowed(d, op->port, op->width)) return IOPERM_RESULT_NOT_ALLOWED;
  return IOPERM_RESULT_OK;
}

/* Runs one op that ioperm_check_op accepted. */
static void ioperm_run_op(IOPERM_OP *op) {
  PVOID port = (PVOID)(ULONG_PTR)op->port;
  if (op->flags & IOPERM_OP_WRITE) {
    switch (op->width) {
    case 1:
      WRITE_PORT_UCHAR(port, (UCHAR)op->value);
      break;
    case 2:
      WRITE_PORT_USHORT(port, (USHORT)op->value);
      break;
    default:
      WRITE_PORT_ULONG(port, op->value);
      break;
    }
  } else {
    switch (op->width) {
    case 1:
      op->value = READ_PORT_UCHAR(port);
      break;
    case 2:
      op->value = READ_PORT_USHORT(port);
      break;
    default:
      op->value = READ_PORT_ULONG(port);
      break;
    }
  }
}

/* ---- IOCTLs: each checks lengths first, then contents ------------------ */

NTSTATUS ioperm_exact(ULONG in, ULONG want_in, ULONG out, ULONG want_out) {
  return in == want_in && out == want_out ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
}

static NTSTATUS ioperm_version(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_VERSION_INFO));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_VERSION_INFO *v = buf;
  v->protocol = IOPERM_PROTOCOL_VERSION;
  v->driver_version = IOPERM_DRIVER_VERSION;
  v->capabilities = d->capabilities;
  v->max_batch = IOPERM_MAX_BATCH;
  v->op_size = sizeof(IOPERM_OP);
  v->pointer_bits = sizeof(PVOID) * 8;
  *info = sizeof *v;
  return STATUS_SUCCESS;
}

static NTSTATUS ioperm_allowlist(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_ALLOWLIST));
  if (!NT_SUCCESS(status)) return status;
  RtlCopyMemory(buf, &d->allowed, sizeof d->allowed);
  *info = sizeof d->allowed;
  return STATUS_SUCCESS;
}

/* READ and WRITE: one op in, one reply out; `flags` must say which of the two it is. */
static NTSTATUS ioperm_single(const IOPERM_DEVICE *d, UCHAR flags, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_OP), out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP op = *(const IOPERM_OP *)buf;
  IOPERM_PORT_REPLY *reply = buf;
  LONG result = op.flags != flags ? IOPERM_RESULT_BAD_OP : ioperm_check_op(d, &op);
  if (result == IOPERM_RESULT_OK) ioperm_run_op(&op);
  reply->result = result;
  reply->value = result == IOPERM_RESULT_OK && !(flags & IOPERM_OP_WRITE) ? op.value : 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

/* Every op is checked before the first one runs, so a refusal means none ran. */
static NTSTATUS ioperm_batch(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  IOPERM_BATCH_HEADER *h = buf;
  if (in < sizeof *h) return STATUS_INFO_LENGTH_MISMATCH;
  ULONG count = h->count;
  if (count == 0 || count > IOPERM_MAX_BATCH || h->value != 0) return STATUS_INVALID_PARAMETER;
  ULONG size = sizeof *h + count * sizeof(IOPERM_OP);
  NTSTATUS status = ioperm_exact(in, size, out, size);
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP *ops = (IOPERM_OP *)(h + 1);
  ULONG i;
  LONG result = IOPERM_RESULT_OK;
  for (i = 0; i < count; i++)
    if ((result = ioperm_check_op(d, &ops[i])) != IOPERM_RESULT_OK) break;
  if (result == IOPERM_RESULT_OK)
    for (ULONG j = 0; j < count; j++)
      ioperm_run_op(&ops[j]);
  h->result = result;
  h->index = i;
  *info = size;
  return STATUS_SUCCESS;
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
  d->capabilities = IOPERM_CAP_PORT_IO | IOPERM_CAP_PCI_READ;
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
