/*
 * iopermfuzz registry (iopermfuzz.c has the usage): AllowedPorts values
 * written to the service's Parameters key, each followed by a restart through
 * the SCM and one JSON line of what the driver then reports.
 */
#include "iopermfuzz.h"

/* ---- registry: AllowedPorts values, each followed by a restart ----------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Waits (up to 10 s) until the service has stopped. */
static void wait_stopped(SC_HANDLE service) {
  SERVICE_STATUS st;
  for (int i = 0; i < 2000; i++) {
    if (!QueryServiceStatus(service, &st) || st.dwCurrentState == SERVICE_STOPPED) break;
    Sleep(5);
  }
}

/* Stops the service, waits until it has, starts it; the start error (0 = running).
 * Wine's service manager now and then fails a start with ERROR_INTERNAL_ERROR
 * under load, whatever the value (a driver that refuses its value fails the
 * start with another error): that start is tried once more, and `retried` says so. */
static DWORD restart(SC_HANDLE service, int *retried) {
  SERVICE_STATUS st;
  *retried = 0;
  if (ControlService(service, SERVICE_CONTROL_STOP, &st) || GetLastError() != ERROR_SERVICE_NOT_ACTIVE)
    wait_stopped(service);
  if (StartServiceW(service, 0, NULL)) return 0;
  DWORD err = GetLastError();
  if (err != ERROR_INTERNAL_ERROR) return err;
  *retried = 1;
  wait_stopped(service);
  return StartServiceW(service, 0, NULL) ? 0 : GetLastError();
}

int run_registry(const char *path) {
  static char line[1 << 20];
  static unsigned char data[1 << 19];
  const WCHAR *key_path = L"System\\CurrentControlSet\\Services\\" IOPERM_SERVICE_NAME L"\\" IOPERM_PARAMETERS_KEY;
  FILE *f = fopen(path, "r");
  HKEY key;
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  SC_HANDLE service =
      scm ? OpenServiceW(scm, IOPERM_SERVICE_NAME, SERVICE_START | SERVICE_STOP | SERVICE_QUERY_STATUS) : NULL;
  if (!f || !service ||
      RegCreateKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, NULL, 0, KEY_SET_VALUE, NULL, &key, NULL) != ERROR_SUCCESS) {
    fprintf(stderr, "iopermfuzz: cannot open %s, the service or its key (%lu)\n", path, (unsigned long)GetLastError());
    return 2;
  }
  for (unsigned long i = 0; fgets(line, sizeof line, f); i++) {
    char *type = strtok(line, " \r\n"), *hex = strtok(NULL, " \r\n");
    LONG set;
    if (type && !strcmp(type, "delete")) {
      set = RegDeleteValueW(key, IOPERM_ALLOWLIST_VALUE);
      if (set == ERROR_FILE_NOT_FOUND) set = ERROR_SUCCESS;
    } else {
      DWORD n = 0;
      for (const char *p = hex && strcmp(hex, "-") ? hex : ""; p[0] && p[1] && n < sizeof data; p += 2)
        data[n++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
      set = RegSetValueExW(key, IOPERM_ALLOWLIST_VALUE, 0, type ? strtoul(type, NULL, 0) : REG_NONE, data, n);
    }
    int retried = 0;
    DWORD start = set == ERROR_SUCCESS ? restart(service, &retried) : 0, open_err = 0, got;
    IOPERM_VERSION_INFO v = {0};
    HANDLE h = open_device(GENERIC_READ);
    if (h == INVALID_HANDLE_VALUE) open_err = GetLastError();
    BOOL ok = h != INVALID_HANDLE_VALUE &&
              DeviceIoControl(h, IOCTL_IOPERM_VERSION, NULL, 0, &v, sizeof v, &got, NULL) &&
              DeviceIoControl(h, IOCTL_IOPERM_ALLOWLIST, NULL, 0, &allowed, sizeof allowed, &got, NULL);
    printf("{\"i\":%lu,\"set\":%ld,\"start\":%lu,\"retried\":%s,\"open\":%lu,\"ok\":%s,\"caps\":%lu,\"allowed\":\"", i,
           (long)set, (unsigned long)start, retried ? "true" : "false", (unsigned long)open_err, ok ? "true" : "false",
           (unsigned long)v.capabilities);
    /* Allowed ports as hex ranges, "80-80,201-201,...": what the test compares with its reference parser. */
    for (uint32_t p = 0, first = 1; ok && p < IOPERM_PORT_COUNT; p++) {
      if (!is_allowed(p) || (p && is_allowed(p - 1))) continue;
      uint32_t q = p;
      while (is_allowed(q + 1))
        q++;
      printf("%s%x-%x", first ? "" : ",", p, q);
      first = 0;
    }
    printf("\"}\n");
    fflush(stdout);
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  }
  RegCloseKey(key);
  CloseServiceHandle(service);
  CloseServiceHandle(scm);
  fclose(f);
  return 0;
}
