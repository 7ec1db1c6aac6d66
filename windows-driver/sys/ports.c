/*
 * The port-access IOCTLs of ioperm.sys (VERSION, ALLOWLIST, READ, WRITE,
 * BATCH): each checks the request's lengths first, then its contents, then
 * runs it. Every port a request touches is checked against the allowlist
 * before any instruction of the request runs. ioperm.c dispatches to them.
 */
#include "ioperm.h"

C_ASSERT(sizeof(IOPERM_OP) == 8);
C_ASSERT(sizeof(IOPERM_PORT_REPLY) == 8);
C_ASSERT(sizeof(IOPERM_BATCH_HEADER) == 16);
C_ASSERT(sizeof(IOPERM_VERSION_INFO) == 24);
C_ASSERT(sizeof(IOPERM_ALLOWLIST) == IOPERM_PORT_COUNT / 8);
/* count <= IOPERM_MAX_BATCH keeps header + count * op far from ULONG overflow. */
C_ASSERT((ULONGLONG)IOPERM_MAX_BATCH * sizeof(IOPERM_OP) + sizeof(IOPERM_BATCH_HEADER) < 0x10000000ull);

/* ---- steps -------------------------------------------------------------- */

/* Slots a step takes: a WAIT or PULSE head is followed by its parameter slot. */
static ULONG ioperm_slots(UCHAR kind) {
  return kind == IOPERM_OP_WAIT || kind == IOPERM_OP_PULSE ? 2 : 1;
}

static BOOLEAN ioperm_fits(ULONG value, UCHAR width) {
  return width == 4 || (value >> (width * 8)) == 0;
}

/*
 * The checks of a step that need no allowlist, in the order of checkFields in
 * zig/src/core.zig: kind (and a parameter slot present), width, values, the
 * step cap. `next` is the slot after `op`, NULL at the end of the list; `*us`
 * receives the step's time for the call cap.
 */
static LONG ioperm_check_fields(const IOPERM_OP *op, const IOPERM_OP *next, ULONG *us) {
  *us = 0;
  switch (op->flags) {
  case IOPERM_OP_READ:
  case IOPERM_OP_WRITE:
  case IOPERM_OP_WAIT:
  case IOPERM_OP_PULSE:
    break;
  case IOPERM_OP_DELAY:
    if (op->port != 0 || op->width != 0) return IOPERM_RESULT_BAD_OP;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
    return IOPERM_RESULT_OK;
  default:
    return IOPERM_RESULT_BAD_OP;
  }
  if (ioperm_slots(op->flags) == 2 && !next) return IOPERM_RESULT_BAD_OP;
  if (op->width != 1 && op->width != 2 && op->width != 4) return IOPERM_RESULT_BAD_WIDTH;
  if (op->flags == IOPERM_OP_WRITE && !ioperm_fits(op->value, op->width)) return IOPERM_RESULT_RANGE;
  if (op->flags == IOPERM_OP_WAIT) {
    const IOPERM_WAIT_PARAM *p = (const IOPERM_WAIT_PARAM *)next;
    if (!ioperm_fits(p->mask, op->width) || !ioperm_fits(p->expect, op->width) || (p->expect & ~p->mask) != 0)
      return IOPERM_RESULT_RANGE;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
  }
  if (op->flags == IOPERM_OP_PULSE) {
    const IOPERM_PULSE_PARAM *p = (const IOPERM_PULSE_PARAM *)next;
    if (!ioperm_fits(op->value, op->width) || !ioperm_fits(p->rest, op->width)) return IOPERM_RESULT_RANGE;
    if (p->hold_us > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = p->hold_us;
  }
  return IOPERM_RESULT_OK;
}

/* Range, then the allowlist, for every port a step touches (a delay touches none). */
static LONG ioperm_check_port(const IOPERM_DEVICE *d, const IOPERM_OP *op) {
  if (op->flags == IOPERM_OP_DELAY) return IOPERM_RESULT_OK;
  if ((ULONG)op->port + op->width > IOPERM_PORT_COUNT) return IOPERM_RESULT_RANGE;
  if (!ioperm_allowed(d, op->port, op->width)) return IOPERM_RESULT_NOT_ALLOWED;
  return IOPERM_RESULT_OK;
}

static ULONG ioperm_in(USHORT port, UCHAR width) {
  PVOID p = (PVOID)(ULONG_PTR)port;
  return width == 1 ? READ_PORT_UCHAR(p) : width == 2 ? READ_PORT_USHORT(p) : READ_PORT_ULONG(p);
}

static void ioperm_out(USHORT port, UCHAR width, ULONG value) {
  PVOID p = (PVOID)(ULONG_PTR)port;
  if (width == 1)
    WRITE_PORT_UCHAR(p, (UCHAR)value);
  else if (width == 2)
    WRITE_PORT_USHORT(p, (USHORT)value);
  else
    WRITE_PORT_ULONG(p, value);
}

/*
 * The clock of timed steps: the performance counter, which Windows and Wine
 * both implement (Wine 8's KeStallExecutionProcessor is a stub that raises).
 * Polled at PASSIVE_LEVEL, where the thread stays preemptible; the caps bound
 * how long one request polls.
 */
/* `us` have passed since `start`. Compared by multiplying, not dividing: x86
 * has no 64-bit division without a runtime helper. The product stays below
 * 2^64 for half an hour of ticks at 10 GHz, far past any cap. */
static BOOLEAN ioperm_passed(LONGLONG start, ULONG us, LONGLONG frequency) {
  ULONGLONG elapsed = (ULONGLONG)(KeQueryPerformanceCounter(NULL).QuadPart - start);
  return elapsed * 1000000u >= (ULONGLONG)us * (ULONGLONG)frequency;
}

static void ioperm_spin(ULONG us) {
  LARGE_INTEGER frequency;
  LONGLONG start = KeQueryPerformanceCounter(&frequency).QuadPart;
  while (!ioperm_passed(start, us, frequency.QuadPart))
    YieldProcessor();
}

/* Runs the checked step at ops[i]; a timed-out wait stores the last value read in `*last`. */
static LONG ioperm_run_step(IOPERM_OP *ops, ULONG i, ULONG *last) {
  IOPERM_OP *op = &ops[i];
  switch (op->flags) {
  case IOPERM_OP_READ:
    op->value = ioperm_in(op->port, op->width);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_WRITE:
    ioperm_out(op->port, op->width, op->value);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_DELAY:
    ioperm_spin(op->value);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_PULSE: {
    const IOPERM_PULSE_PARAM *p = (const IOPERM_PULSE_PARAM *)&ops[i + 1];
    ioperm_out(op->port, op->width, op->value);
    ioperm_spin(p->hold_us); /* timed from the end of the first write */
    ioperm_out(op->port, op->width, p->rest);
    return IOPERM_RESULT_OK;
  }
  default: { /* IOPERM_OP_WAIT: at least one read, then until the match or the timeout */
    const IOPERM_WAIT_PARAM *p = (const IOPERM_WAIT_PARAM *)&ops[i + 1];
    LARGE_INTEGER frequency;
    LONGLONG start = KeQueryPerformanceCounter(&frequency).QuadPart;
    for (;;) {
      ULONG v = ioperm_in(op->port, op->width);
      if ((v & p->mask) == p->expect) return IOPERM_RESULT_OK;
      if (ioperm_passed(start, op->value, frequency.QuadPart)) {
        *last = v;
        return IOPERM_RESULT_TIMEOUT;
      }
      YieldProcessor();
    }
  }
  }
}

/* ---- IOCTLs: each checks lengths first, then contents ------------------ */

NTSTATUS ioperm_exact(ULONG in, ULONG want_in, ULONG out, ULONG want_out) {
  return in == want_in && out == want_out ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
}

NTSTATUS ioperm_version(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
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

NTSTATUS ioperm_allowlist(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_ALLOWLIST));
  if (!NT_SUCCESS(status)) return status;
  RtlCopyMemory(buf, &d->allowed, sizeof d->allowed);
  *info = sizeof d->allowed;
  return STATUS_SUCCESS;
}

/* READ and WRITE: one op in, one reply out; `flags` must say which of the two it is. */
NTSTATUS ioperm_single(const IOPERM_DEVICE *d, UCHAR flags, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_OP), out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP op = *(const IOPERM_OP *)buf;
  IOPERM_PORT_REPLY *reply = buf;
  ULONG us, last = 0;
  LONG result = op.flags != flags ? IOPERM_RESULT_BAD_OP : ioperm_check_fields(&op, NULL, &us);
  if (result == IOPERM_RESULT_OK) result = ioperm_check_port(d, &op);
  if (result == IOPERM_RESULT_OK) ioperm_run_step(&op, 0, &last);
  reply->result = result;
  reply->value = result == IOPERM_RESULT_OK && !(flags & IOPERM_OP_WRITE) ? op.value : 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

/*
 * Every step is checked before the first one runs, caps included, so a refusal
 * means none ran; the list is walked step by step, so a parameter slot is never
 * read as an op. A wait that times out stops the list there: the steps before
 * it ran, `index` names it and `value` carries the last value it read.
 */
NTSTATUS ioperm_batch(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  IOPERM_BATCH_HEADER *h = buf;
  if (in < sizeof *h) return STATUS_INFO_LENGTH_MISMATCH;
  ULONG count = h->count;
  if (count == 0 || count > IOPERM_MAX_BATCH || h->value != 0) return STATUS_INVALID_PARAMETER;
  ULONG size = sizeof *h + count * sizeof(IOPERM_OP);
  NTSTATUS status = ioperm_exact(in, size, out, size);
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP *ops = (IOPERM_OP *)(h + 1);
  ULONG i, us, last = 0;
  ULONGLONG total = 0;
  LONG result = IOPERM_RESULT_OK;
  for (i = 0; i < count; i += ioperm_slots(ops[i].flags)) {
    result = ioperm_check_fields(&ops[i], i + 1 < count ? &ops[i + 1] : NULL, &us);
    if (result == IOPERM_RESULT_OK && (total += us) > IOPERM_MAX_CALL_US) result = IOPERM_RESULT_TOO_LONG;
    if (result == IOPERM_RESULT_OK) result = ioperm_check_port(d, &ops[i]);
    if (result != IOPERM_RESULT_OK) break;
  }
  if (result == IOPERM_RESULT_OK)
    for (i = 0; i < count; i += ioperm_slots(ops[i].flags))
      if ((result = ioperm_run_step(ops, i, &last)) != IOPERM_RESULT_OK) break;
  h->result = result;
  h->index = i;
  h->value = last;
  *info = size;
  return STATUS_SUCCESS;
}
