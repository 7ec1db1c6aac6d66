/*
 * x86 (32-bit) only, the seed article's method: open allowlisted ranges in the
 * calling process's I/O permission bitmap (Ke386SetIoAccessMap /
 * Ke386IoSetAccessProcess). On x64 this file compiles to nothing.
 *
 * Map 1 is the only access map a process can be pointed at, and there is one
 * for the machine: it holds the union of every handle's grant, and every
 * process pointed at it can use every port in that union, not only its own.
 * Grants are tracked per handle so that they can be taken back exactly.
 *
 * A handle's lifetime, all under d->iopm_lock:
 *   IRP_MJ_CREATE   allocates the IOPERM_HANDLE, unlinked, open;
 *   GRANT           links it (once) and widens map 1, unless it is closed;
 *   REVOKE          unlinks it and narrows map 1;
 *   IRP_MJ_CLEANUP  marks it closed, then revokes: a grant still in flight on
 *                   the same file object finds it closed and is refused;
 *   IRP_MJ_CLOSE    revokes whatever is still linked, then frees it.
 * Every failure fails closed: revoke never allocates (the read-back buffer is
 * allocated once, at load), detaches the process before touching the map, and
 * if map 1 cannot be set as computed, every handle is unlinked, every process
 * detached and map 1 filled closed.
 */
#include "ioperm.h"

#if IOPERM_HAS_IOPM
/* Rebuilds map 1 as the union of every linked handle's grant and reads it back. Lock held. */
static NTSTATUS ioperm_iopm_apply(IOPERM_DEVICE *d) {
  RtlFillMemory(d->map, IOPM_SIZE, 0xFF);
  for (PLIST_ENTRY e = d->handles.Flink; e != &d->handles; e = e->Flink) {
    IOPERM_HANDLE *h = CONTAINING_RECORD(e, IOPERM_HANDLE, link);
    for (ULONG i = 0; i < IOPM_SIZE; i++)
      (*d->map)[i] &= (UCHAR)~h->granted[i];
  }
  if (!Ke386SetIoAccessMap(1, d->map) || !Ke386QueryIoAccessMap(1, d->check) ||
      RtlCompareMemory(d->check, d->map, IOPM_SIZE) != IOPM_SIZE)
    return STATUS_UNSUCCESSFUL;
  return STATUS_SUCCESS;
}

static BOOLEAN ioperm_process_has_grant(IOPERM_DEVICE *d, PEPROCESS process) {
  for (PLIST_ENTRY e = d->handles.Flink; e != &d->handles; e = e->Flink)
    if (CONTAINING_RECORD(e, IOPERM_HANDLE, link)->process == process) return TRUE;
  return FALSE;
}

/* Unlinks `h` and gives up its process reference; the process leaves map 1
 * when no other handle of it holds a grant. The map itself is not rebuilt. */
static void ioperm_iopm_unlink(IOPERM_DEVICE *d, IOPERM_HANDLE *h) {
  PEPROCESS process = h->process;
  RemoveEntryList(&h->link);
  h->linked = FALSE;
  h->process = NULL;
  RtlZeroMemory(h->granted, IOPM_SIZE);
  if (!ioperm_process_has_grant(d, process)) Ke386IoSetAccessProcess(process, 0);
  ObDereferenceObject(process);
}

/* Map 1 could not be set as computed: nobody keeps any access. Lock held. */
static void ioperm_iopm_fail_closed(IOPERM_DEVICE *d) {
  DbgPrint("ioperm: I/O permission map 1 could not be set: every IOPM grant revoked\n");
  while (!IsListEmpty(&d->handles))
    ioperm_iopm_unlink(d, CONTAINING_RECORD(d->handles.Flink, IOPERM_HANDLE, link));
  RtlFillMemory(d->map, IOPM_SIZE, 0xFF);
  (void)Ke386SetIoAccessMap(1, d->map);
}

/* Gives back whatever this handle holds. Lock held. */
void ioperm_iopm_revoke_locked(IOPERM_DEVICE *d, IOPERM_HANDLE *h) {
  if (!h->linked) return;
  ioperm_iopm_unlink(d, h);
  if (!NT_SUCCESS(ioperm_iopm_apply(d))) ioperm_iopm_fail_closed(d);
}

NTSTATUS ioperm_iopm_grant(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_RANGE), out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_HANDLE *h = file->FsContext2;
  if (!h) return STATUS_INVALID_DEVICE_STATE;
  IOPERM_RANGE r = *(const IOPERM_RANGE *)buf;
  IOPERM_PORT_REPLY *reply = buf;
  LONG result = IOPERM_RESULT_OK;
  if (r.count == 0 || r.from >= IOPERM_PORT_COUNT || r.count > IOPERM_PORT_COUNT - r.from)
    result = IOPERM_RESULT_RANGE;
  else if (!ioperm_allowed(d, r.from, r.count))
    result = IOPERM_RESULT_NOT_ALLOWED;
  if (result == IOPERM_RESULT_OK) {
    PEPROCESS process = IoGetCurrentProcess();
    ExAcquireFastMutex(&d->iopm_lock);
    if (h->closed) {
      status = STATUS_FILE_CLOSED; /* cleanup has run: this grant would outlive the handle */
    } else if (h->linked && h->process != process) {
      status = STATUS_ACCESS_DENIED; /* an inherited handle cannot move another process's grant */
    } else {
      for (ULONG p = r.from; p < r.from + r.count; p++)
        h->granted[p >> 3] |= (UCHAR)(1u << (p & 7));
      if (!h->linked) {
        ObReferenceObject(process);
        h->process = process;
        h->linked = TRUE;
        InsertTailList(&d->handles, &h->link);
      }
      status = ioperm_iopm_apply(d);
      if (NT_SUCCESS(status) && !Ke386IoSetAccessProcess(process, 1)) status = STATUS_UNSUCCESSFUL;
      /* The whole handle is revoked, not only this range: the client then drops every grant it mirrors. */
      if (!NT_SUCCESS(status)) ioperm_iopm_revoke_locked(d, h);
    }
    ExReleaseFastMutex(&d->iopm_lock);
    if (!NT_SUCCESS(status)) return status;
  }
  reply->result = result;
  reply->value = 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

NTSTATUS ioperm_iopm_revoke(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_HANDLE *h = file->FsContext2;
  if (!h) return STATUS_INVALID_DEVICE_STATE;
  ExAcquireFastMutex(&d->iopm_lock);
  ioperm_iopm_revoke_locked(d, h);
  ExReleaseFastMutex(&d->iopm_lock);
  IOPERM_PORT_REPLY *reply = buf;
  reply->result = IOPERM_RESULT_OK;
  reply->value = 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

/* IRP_MJ_CLEANUP: no grant on this handle from now on, and none held. */
void ioperm_iopm_cleanup(IOPERM_DEVICE *d, IOPERM_HANDLE *h) {
  ExAcquireFastMutex(&d->iopm_lock);
  h->closed = TRUE;
  ioperm_iopm_revoke_locked(d, h);
  ExReleaseFastMutex(&d->iopm_lock);
}

/* IRP_MJ_CLOSE: the last reference is gone; unlink anything still linked, then free. */
void ioperm_iopm_close(IOPERM_DEVICE *d, IOPERM_HANDLE *h) {
  ExAcquireFastMutex(&d->iopm_lock);
  h->closed = TRUE;
  ioperm_iopm_revoke_locked(d, h);
  ExReleaseFastMutex(&d->iopm_lock);
  ioperm_free(h);
}
#endif
