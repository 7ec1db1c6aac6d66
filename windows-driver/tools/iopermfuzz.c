/*
 * iopermfuzz: the fuzzing client of test/windows/fuzz.test.ts. One process sends
 * thousands of requests, so the test does not pay a Wine start per request.
 *
 *   iopermfuzz ioctl SEED N [AVOID...]
 *       N random DeviceIoControl calls: our codes, our codes with the access,
 *       method or function bits changed, and random codes; random lengths and
 *       contents; on handles opened with read, write, read-write and no access.
 *       AVOID: codes never to send (the header's codes this tool does not know
 *       how to keep from running a port instruction). Prints one JSON line of
 *       counts and the first requests whose reply broke the rules below.
 *   iopermfuzz ioctl-unsteered SEED N
 *       the same without steering, so well-formed requests do reach the ports:
 *       on the host, the test's calibration that a dead winedevice breaks the
 *       rules; in the lab VM (winedevice holds iopl), a fuzz whose allowed
 *       requests really run (e9_bytes: how many bytes went to debugcon).
 *   iopermfuzz registry FILE
 *       for each line of FILE, `TYPE HEX` (a value type and its raw bytes) or
 *       `delete`: writes Parameters\AllowedPorts, restarts the service through
 *       the SCM, and prints what the driver then reports (start error, open
 *       error, capabilities, allowed ranges) as one JSON line.
 *
 * Wine runs the driver without iopl, so a port instruction that ran would end
 * winedevice: every well-formed READ, WRITE or BATCH is steered onto ports the
 * driver's own ALLOWLIST reply refuses, and a dead winedevice shows up as
 * replies outside the rules. The rules (the reply each request calls for, down
 * to a port reply's verdict and a batch's refused index) follow ioperm_ioctl.h
 * and windows-driver/README.md; the test holds the list of documented errors
 * and checks the counts against it.
 */
#include "iopermfuzz.h"

IOPERM_ALLOWLIST allowed;

int is_allowed(uint32_t p) {
  return p < IOPERM_PORT_COUNT && (allowed.bits[p >> 3] >> (p & 7)) & 1;
}

HANDLE open_device(DWORD access) {
  return CreateFileW(IOPERM_USER_PATH, access, 0, NULL, OPEN_EXISTING, 0, NULL);
}

int main(int argc, char **argv) {
  if (argc >= 4 && (!strcmp(argv[1], "ioctl") || !strcmp(argv[1], "ioctl-unsteered"))) {
    static DWORD avoid[64];
    int n_avoid = 0;
    for (int i = 4; i < argc && n_avoid < 64; i++)
      avoid[n_avoid++] = strtoul(argv[i], NULL, 0);
    return run_ioctls(strtoull(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), avoid, n_avoid, !strcmp(argv[1], "ioctl"));
  }
  if (argc == 3 && !strcmp(argv[1], "registry")) return run_registry(argv[2]);
  fprintf(stderr, "usage: iopermfuzz ioctl|ioctl-unsteered SEED N [AVOID...] | registry FILE\n");
  return 2;
}
