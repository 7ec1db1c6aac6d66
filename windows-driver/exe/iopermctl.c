/*
 * iopermctl: sends raw IOCTLs to \\.\ioperm, byte for byte as told, so tests
 * can send what the typed API never would (short, long, malformed buffers).
 * It knows the protocol only through ioperm_ioctl.h; the expectations live in
 * the tests (test/windows/), not here.
 *
 *   iopermctl version             one VERSION round trip, printed as JSON
 *   iopermctl security            the device's DACL as SDDL, printed as JSON
 *   iopermctl script FILE         runs FILE's lines, one JSON line per request:
 *       open rw|r|w|none          (re)opens the device with that access
 *       ioctl NAME|0xCODE HEX|- OUTLEN
 *                                 DeviceIoControl with input bytes HEX
 *       close
 *
 * Output is JSON lines on stdout; the exit code is 0 unless the script itself
 * could not be read.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ioperm_ioctl.h"
#include "ioperm_ioctl_names.h"

static HANDLE device = INVALID_HANDLE_VALUE;

static void open_device(const char *mode) {
  DWORD access = 0;
  if (strchr(mode, 'r')) access |= GENERIC_READ;
  if (strchr(mode, 'w')) access |= GENERIC_WRITE;
  if (device != INVALID_HANDLE_VALUE) CloseHandle(device);
  device = CreateFileW(IOPERM_USER_PATH, access, 0, NULL, OPEN_EXISTING, 0, NULL);
  printf("{\"op\":\"open\",\"mode\":\"%s\",\"ok\":%s,\"error\":%lu}\n", mode,
         device != INVALID_HANDLE_VALUE ? "true" : "false",
         device != INVALID_HANDLE_VALUE ? 0ul : (unsigned long)GetLastError());
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void do_ioctl(const char *name, const char *hex, unsigned long out_len) {
  DWORD code = 0, in_len = 0, got = 0;
  static unsigned char in[1 << 20], out[1 << 20];
  for (size_t i = 0; i < IOPERM_IOCTL_COUNT; i++)
    if (!strcmp(name, ioperm_ioctl_names[i].name)) code = ioperm_ioctl_names[i].code;
  if (!code) code = strtoul(name, NULL, 0);
  if (strcmp(hex, "-")) {
    for (const char *p = hex; p[0] && p[1] && in_len < sizeof in; p += 2)
      in[in_len++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
  }
  if (out_len > sizeof out) out_len = sizeof out;
  memset(out, 0xCC, out_len);
  BOOL ok = DeviceIoControl(device, code, in_len ? in : NULL, in_len, out_len ? out : NULL, (DWORD)out_len, &got, NULL);
  DWORD err = ok ? 0 : GetLastError();
  printf("{\"op\":\"ioctl\",\"code\":%lu,\"in\":%lu,\"ok\":%s,\"error\":%lu,\"bytes\":%lu,\"out\":\"",
         (unsigned long)code, (unsigned long)in_len, ok ? "true" : "false", (unsigned long)err, (unsigned long)got);
  for (DWORD i = 0; ok && i < got && i < out_len; i++)
    printf("%02x", out[i]);
  printf("\"}\n");
}

static int run_script(const char *path) {
  static char line[1 << 21];
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "iopermctl: cannot read %s\n", path);
    return 2;
  }
  while (fgets(line, sizeof line, f)) {
    char *argv[4] = {0};
    int argc = 0;
    for (char *t = strtok(line, " \t\r\n"); t && argc < 4; t = strtok(NULL, " \t\r\n"))
      argv[argc++] = t;
    if (argc == 0 || argv[0][0] == '#') continue;
    if (!strcmp(argv[0], "open") && argc == 2)
      open_device(argv[1]);
    else if (!strcmp(argv[0], "close")) {
      if (device != INVALID_HANDLE_VALUE) CloseHandle(device);
      device = INVALID_HANDLE_VALUE;
      printf("{\"op\":\"close\"}\n");
    } else if (!strcmp(argv[0], "ioctl") && argc == 4)
      do_ioctl(argv[1], argv[2], strtoul(argv[3], NULL, 0));
    else
      printf("{\"op\":\"bad-line\",\"line\":\"%s\"}\n", argv[0]);
    fflush(stdout);
  }
  fclose(f);
  return 0;
}

/* What Windows says the device's DACL is, to compare with IOPERM_DEVICE_SDDL. */
static int print_security(void) {
  PSECURITY_DESCRIPTOR sd = NULL;
  LPWSTR sddl = NULL;
  HANDLE h = CreateFileW(IOPERM_USER_PATH, READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
  DWORD e = h == INVALID_HANDLE_VALUE
                ? GetLastError()
                : GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, NULL, NULL, &sd);
  if (!e && !ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &sddl,
                                                                  NULL))
    e = GetLastError();
  printf("{\"op\":\"security\",\"ok\":%s,\"error\":%lu,\"sddl\":\"%ls\"}\n", e ? "false" : "true", (unsigned long)e,
         sddl ? sddl : L"");
  if (sddl) LocalFree(sddl);
  if (sd) LocalFree(sd);
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  return e != 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "security")) return print_security();
  if (argc == 3 && !strcmp(argv[1], "script")) return run_script(argv[2]);
  if (argc == 2 && !strcmp(argv[1], "version")) {
    open_device("r");
    do_ioctl("VERSION", "-", sizeof(IOPERM_VERSION_INFO));
    return device == INVALID_HANDLE_VALUE;
  }
  fprintf(stderr, "usage: iopermctl version | security | script FILE\n");
  return 2;
}
