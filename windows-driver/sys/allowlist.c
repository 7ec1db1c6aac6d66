/*
 * Which ports the driver runs: the compiled-in default list, or the
 * administrator's Parameters\\AllowedPorts (REG_MULTI_SZ of "0x378" or
 * "0x378-0x37F"), parsed strictly, read once when the driver starts.
 */
#include "ioperm.h"

BOOLEAN ioperm_allowed(const IOPERM_DEVICE *d, ULONG port, ULONG count) {
  for (ULONG p = port; p < port + count; p++)
    if (!(d->allowed.bits[p >> 3] & (1u << (p & 7)))) return FALSE;
  return TRUE;
}

static void ioperm_allow(IOPERM_DEVICE *d, ULONG from, ULONG to) {
  for (ULONG p = from; p <= to; p++)
    d->allowed.bits[p >> 3] |= (UCHAR)(1u << (p & 7));
}

/* "0x3f8", "1016": one port number, hex with 0x or decimal. */
static BOOLEAN ioperm_parse_number(const WCHAR **s, const WCHAR *end, ULONG *out) {
  const WCHAR *p = *s;
  ULONG base = 10, v = 0, digits = 0;
  if (end - p > 2 && p[0] == L'0' && (p[1] == L'x' || p[1] == L'X')) {
    base = 16;
    p += 2;
  }
  for (; p < end; p++, digits++) {
    ULONG d;
    if (*p >= L'0' && *p <= L'9')
      d = *p - L'0';
    else if (base == 16 && *p >= L'a' && *p <= L'f')
      d = *p - L'a' + 10;
    else if (base == 16 && *p >= L'A' && *p <= L'F')
      d = *p - L'A' + 10;
    else
      break;
    v = v * base + d;
    if (v > 0xFFFF) return FALSE;
  }
  if (digits == 0) return FALSE;
  *s = p;
  *out = v;
  return TRUE;
}

/* One REG_MULTI_SZ entry: "port" or "from-to", inclusive, spaces allowed around. */
static BOOLEAN ioperm_parse_entry(IOPERM_DEVICE *d, const WCHAR *s, const WCHAR *end) {
  ULONG from, to;
  while (s < end && *s == L' ')
    s++;
  while (end > s && end[-1] == L' ')
    end--;
  if (!ioperm_parse_number(&s, end, &from)) return FALSE;
  to = from;
  if (s < end && *s == L'-') {
    s++;
    if (!ioperm_parse_number(&s, end, &to)) return FALSE;
  }
  if (s != end || to < from) return FALSE;
  ioperm_allow(d, from, to);
  return TRUE;
}

static void ioperm_default_allowlist(IOPERM_DEVICE *d) {
#define IOPERM_ALLOW_RANGE(from, to) ioperm_allow(d, from, to);
  IOPERM_DEFAULT_ALLOWLIST(IOPERM_ALLOW_RANGE)
#undef IOPERM_ALLOW_RANGE
}

/*
 * Parameters\AllowedPorts replaces the default list. A value that is there but
 * cannot be read as a list stops the driver from starting: an administrator
 * who wrote one meant something, and guessing would be worse than refusing.
 */
/* Clears the compiled-in denylist from whatever the allowlist admitted. */
static void ioperm_apply_denylist(IOPERM_DEVICE *d) {
#define IOPERM_DENY_RANGE(from, to)                                                                                    \
  for (ULONG p = (from); p <= (to); p++)                                                                               \
    d->allowed.bits[p >> 3] &= (UCHAR) ~(1u << (p & 7));
  IOPERM_DENYLIST(IOPERM_DENY_RANGE)
#undef IOPERM_DENY_RANGE
}

static NTSTATUS ioperm_read_allowlist(IOPERM_DEVICE *d, PUNICODE_STRING registry_path);

/* The allowlist (the registry's, else the default), minus the denylist. */
NTSTATUS ioperm_load_allowlist(IOPERM_DEVICE *d, PUNICODE_STRING registry_path) {
  NTSTATUS status = ioperm_read_allowlist(d, registry_path);
  if (NT_SUCCESS(status)) ioperm_apply_denylist(d);
  return status;
}

static NTSTATUS ioperm_read_allowlist(IOPERM_DEVICE *d, PUNICODE_STRING registry_path) {
  UNICODE_STRING params_name = RTL_CONSTANT_STRING(IOPERM_PARAMETERS_KEY);
  UNICODE_STRING value_name = RTL_CONSTANT_STRING(IOPERM_ALLOWLIST_VALUE);
  OBJECT_ATTRIBUTES oa;
  HANDLE service = NULL, params = NULL;
  PKEY_VALUE_PARTIAL_INFORMATION info = NULL;
  ULONG size = 0;
  NTSTATUS status;

  RtlZeroMemory(&d->allowed, sizeof d->allowed);
  InitializeObjectAttributes(&oa, registry_path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  status = ZwOpenKey(&service, KEY_READ, &oa);
  if (NT_SUCCESS(status)) {
    InitializeObjectAttributes(&oa, &params_name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, service, NULL);
    status = ZwOpenKey(&params, KEY_READ, &oa);
    ZwClose(service);
  }
  if (NT_SUCCESS(status)) {
    status = ZwQueryValueKey(params, &value_name, KeyValuePartialInformation, NULL, 0, &size);
    if (status == STATUS_BUFFER_TOO_SMALL || status == STATUS_BUFFER_OVERFLOW) {
      if (size > 0x10000)
        status = STATUS_INVALID_PARAMETER;
      else if (!(info = ioperm_alloc(size)))
        status = STATUS_INSUFFICIENT_RESOURCES;
      else
        status = ZwQueryValueKey(params, &value_name, KeyValuePartialInformation, info, size, &size);
    }
    ZwClose(params);
  }
  if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
    ioperm_default_allowlist(d);
    return STATUS_SUCCESS;
  }
  if (NT_SUCCESS(status) && (info->Type != REG_MULTI_SZ || info->DataLength % sizeof(WCHAR) != 0))
    status = STATUS_INVALID_PARAMETER;
  if (NT_SUCCESS(status)) {
    const WCHAR *s = (const WCHAR *)info->Data;
    const WCHAR *end = s + info->DataLength / sizeof(WCHAR);
    while (s < end && *s != L'\0') {
      const WCHAR *e = s;
      while (e < end && *e != L'\0')
        e++;
      if (!ioperm_parse_entry(d, s, e)) {
        status = STATUS_INVALID_PARAMETER;
        break;
      }
      s = e + 1;
    }
    d->capabilities |= IOPERM_CAP_REGISTRY_LIST;
  }
  if (info) ioperm_free(info);
  if (!NT_SUCCESS(status)) DbgPrint("ioperm: Parameters\\AllowedPorts unreadable (0x%08lx); not starting\n", status);
  return status;
}
