/*
 * iopermfuzz ioctl / ioctl-unsteered (iopermfuzz.c has the usage): random
 * DeviceIoControl requests on handles of every access, each reply checked
 * against the rules of ioperm_ioctl.h, one JSON line of counts at the end.
 */
#include "iopermfuzz.h"

#define HUGE_LEN    (4u << 20) /* largest buffer sent: far past any request */
#define MAX_REPORTS 20         /* rule breaks printed in full */

/* ---- seeded PRNG (splitmix64): the same seed replays the same requests ---- */

static uint64_t rng_state;
static uint32_t rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}
static uint32_t below(uint32_t n) {
  return n ? rnd() % n : 0;
}

/* ---- what the tool knows of the protocol -------------------------------- */

/* K_<NAME> indexes ioperm_ioctl_names (the header's list, in its order); K_UNKNOWN is any other code. */
#define K_ENTRY(n) K_##n,
enum { IOPERM_IOCTLS(K_ENTRY) K_COUNT, K_UNKNOWN = K_COUNT };
#undef K_ENTRY
enum { K_GRANT = K_IOPM_GRANT, K_REVOKE = K_IOPM_REVOKE, K_PCI = K_PCI_READ };
#define K_CODE(n) IOCTL_IOPERM_##n,
static const DWORD known[K_COUNT] = {IOPERM_IOCTLS(K_CODE)};
#undef K_CODE
#define K_NAME(n) #n,
static const char *const known_names[K_COUNT + 1] = {IOPERM_IOCTLS(K_NAME) "other"};
#undef K_NAME

static int kind_of(DWORD code) {
  for (int k = 0; k < K_COUNT; k++)
    if (known[k] == code) return k;
  return K_UNKNOWN;
}

static int pointer_bits;
static uint16_t refused_port; /* four ports in a row the driver refuses */

/* Slots a step takes: a WAIT or PULSE head is followed by its parameter slot. */
static uint32_t slots_of(const IOPERM_OP *op) {
  return op->flags == IOPERM_OP_WAIT || op->flags == IOPERM_OP_PULSE ? 2 : 1;
}

static int fits(uint32_t value, uint8_t width) {
  return width == 4 || (value >> (width * 8)) == 0;
}

/* The verdict the driver owes one step, and its time in `*us`: the header's
 * order (kind and a parameter slot present, width, values, step cap, then
 * range and allowlist), the order of checkList in zig/src/core.zig. `next` is
 * the slot after it, NULL at the end of the list. The call cap is the caller's. */
static int32_t step_fields(const IOPERM_OP *op, const IOPERM_OP *next, uint32_t *us) {
  *us = 0;
  if (op->flags == IOPERM_OP_DELAY) {
    if (op->port || op->width) return IOPERM_RESULT_BAD_OP;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
    return IOPERM_RESULT_OK;
  }
  if (op->flags > IOPERM_OP_PULSE) return IOPERM_RESULT_BAD_OP;
  if (slots_of(op) == 2 && !next) return IOPERM_RESULT_BAD_OP;
  if (op->width != 1 && op->width != 2 && op->width != 4) return IOPERM_RESULT_BAD_WIDTH;
  if (op->flags == IOPERM_OP_WRITE && !fits(op->value, op->width)) return IOPERM_RESULT_RANGE;
  if (op->flags == IOPERM_OP_WAIT) {
    const IOPERM_WAIT_PARAM *p = (const IOPERM_WAIT_PARAM *)next;
    if (!fits(p->mask, op->width) || !fits(p->expect, op->width) || (p->expect & ~p->mask)) return IOPERM_RESULT_RANGE;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
  }
  if (op->flags == IOPERM_OP_PULSE) {
    const IOPERM_PULSE_PARAM *p = (const IOPERM_PULSE_PARAM *)next;
    if (!fits(op->value, op->width) || !fits(p->rest, op->width)) return IOPERM_RESULT_RANGE;
    if (p->hold_us > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = p->hold_us;
  }
  return IOPERM_RESULT_OK;
}

static int32_t step_port(const IOPERM_OP *op) {
  if (op->flags == IOPERM_OP_DELAY) return IOPERM_RESULT_OK;
  if ((uint32_t)op->port + op->width > IOPERM_PORT_COUNT) return IOPERM_RESULT_RANGE;
  for (uint32_t p = op->port; p < (uint32_t)op->port + op->width; p++)
    if (!is_allowed(p)) return IOPERM_RESULT_NOT_ALLOWED;
  return IOPERM_RESULT_OK;
}

/* The verdict a list of `n` slots is owed and the slot it names (`n` when all pass). */
static int32_t list_verdict(const IOPERM_OP *ops, uint32_t n, uint32_t *index) {
  uint64_t total = 0;
  uint32_t us;
  for (uint32_t i = 0; i < n; i += slots_of(&ops[i])) {
    int32_t v = step_fields(&ops[i], i + 1 < n ? &ops[i + 1] : NULL, &us);
    if (v == IOPERM_RESULT_OK && (total += us) > IOPERM_MAX_CALL_US) v = IOPERM_RESULT_TOO_LONG;
    if (v == IOPERM_RESULT_OK) v = step_port(&ops[i]);
    if (v != IOPERM_RESULT_OK) {
      *index = i;
      return v;
    }
  }
  *index = n;
  return IOPERM_RESULT_OK;
}

static int32_t verdict_of(const IOPERM_OP *op) {
  uint32_t us;
  int32_t v = step_fields(op, NULL, &us);
  return v == IOPERM_RESULT_OK ? step_port(op) : v;
}

/* READ and WRITE also refuse an op whose kind is not the IOCTL's own. */
static int32_t single_verdict(int write, const IOPERM_OP *op) {
  return op->flags != (write ? IOPERM_OP_WRITE : IOPERM_OP_READ) ? IOPERM_RESULT_BAD_OP : verdict_of(op);
}

static int would_run(const IOPERM_OP *op) {
  return verdict_of(op) == IOPERM_RESULT_OK;
}

/* ---- handles ------------------------------------------------------------ */

enum { H_R, H_W, H_RW, H_NONE, H_COUNT };
static const char *const handle_names[H_COUNT] = {"r", "w", "rw", "none"};
static const DWORD handle_access[H_COUNT] = {GENERIC_READ, GENERIC_WRITE, GENERIC_READ | GENERIC_WRITE, 0};
/* What each handle holds in FILE_READ_DATA/FILE_WRITE_DATA terms (the code's access bits). */
static const DWORD handle_bits[H_COUNT] = {IOPERM_FILE_READ_DATA, IOPERM_FILE_WRITE_DATA,
                                           IOPERM_FILE_READ_DATA | IOPERM_FILE_WRITE_DATA, 0};
static HANDLE handles[H_COUNT];

/* ---- building one random request ---------------------------------------- */

static unsigned char *in_buf, *out_buf;

static DWORD random_code(const DWORD *avoid, int n_avoid, int *class_out) {
  for (;;) {
    DWORD code;
    int cls = (int)below(10);
    if (cls < 4) { /* ours */
      code = known[below(K_COUNT)];
      cls = 0;
    } else if (cls < 7) { /* ours with the access, method or function bits changed */
      code = known[below(K_COUNT)];
      switch (below(4)) {
      case 0:
        code = (code & ~0xC000u) | (below(4) << 14);
        break;
      case 1:
        code = (code & ~0x3u) | below(4);
        break;
      case 2:
        code = (code & ~0x3FFCu) | ((0x7F0u + below(0x60)) << 2);
        break;
      default:
        code ^= 1u << below(32);
        break;
      }
      cls = 1;
    } else { /* random: our device type, or any at all */
      code = below(2) ? (IOPERM_DEVICE_TYPE << 16) | (rnd() & 0xFFFF) : rnd();
      cls = 2;
    }
    int ok = 1;
    for (int i = 0; i < n_avoid; i++)
      if (avoid[i] == code) ok = 0;
    if (ok) {
      *class_out = cls;
      return code;
    }
  }
}

/* The exact input and output lengths of a known code (BATCH: for `count` ops). */
static void exact_lengths(int kind, uint32_t count, DWORD *in, DWORD *out) {
  static const DWORD ins[K_COUNT] = {
      0, 0, sizeof(IOPERM_OP), sizeof(IOPERM_OP), 0, sizeof(IOPERM_RANGE), 0, sizeof(IOPERM_PCI_ADDRESS)};
  static const DWORD outs[K_COUNT] = {
      sizeof(IOPERM_VERSION_INFO), sizeof(IOPERM_ALLOWLIST),  sizeof(IOPERM_PORT_REPLY), sizeof(IOPERM_PORT_REPLY), 0,
      sizeof(IOPERM_PORT_REPLY),   sizeof(IOPERM_PORT_REPLY), sizeof(uint32_t)};
  if (kind == K_BATCH) {
    *in = *out = (DWORD)(sizeof(IOPERM_BATCH_HEADER) + (uint64_t)count * sizeof(IOPERM_OP));
  } else if (kind < K_COUNT) {
    *in = ins[kind];
    *out = outs[kind];
  } else {
    *in = *out = 0;
  }
}

/* A length near `exact`: exact, one off, zero, small, large or huge. */
static DWORD random_length(DWORD exact) {
  switch (below(12)) {
  case 0:
  case 1:
  case 2:
  case 3:
    return exact;
  case 4:
    return exact + 1;
  case 5:
    return exact ? exact - 1 : 1;
  case 6:
    return 0;
  case 7:
    return below(64);
  case 8:
    return below(0x12000);
  case 9:
    return exact + 8 * (below(5) + 1);
  case 10:
    return below(2) ? 0x10000 : 0x10010;
  default:
    return below(4) ? below(HUGE_LEN) : HUGE_LEN;
  }
}

static const uint16_t interesting_ports[] = {0x0000, 0x0060, 0x0064, 0x0070, 0x0080, 0x0092, 0x00B2, 0x00E9,
                                             0x00F4, 0x0201, 0x0278, 0x027F, 0x0377, 0x0378, 0x037F, 0x0380,
                                             0x03F8, 0x03FF, 0x0CF8, 0x0CF9, 0x0CFC, 0xFFFC, 0xFFFE, 0xFFFF};

/* The ports the driver allows (its own ALLOWLIST reply), so that ops hit them often. */
static uint16_t allowed_ports[IOPERM_PORT_COUNT];
static uint32_t n_allowed;

static void random_op(IOPERM_OP *op, int write_hint) {
  static const uint8_t widths[] = {1, 2, 4, 1, 2, 4, 0, 3, 8, 255};
  static const uint32_t values[] = {0, 1, 0xFF, 0x100, 0xFFFF, 0x10000, 0xFFFFFFFFu};
  uint32_t where = below(8);
  op->port = where < 2 && n_allowed ? allowed_ports[below(n_allowed)]
             : where < 5            ? interesting_ports[below(sizeof interesting_ports / 2)] + (uint16_t)below(3)
                                    : (uint16_t)rnd();
  op->width = widths[below(sizeof widths)];
  op->flags = below(8) ? (uint8_t)(write_hint ? IOPERM_OP_WRITE : 0) : (uint8_t)rnd();
  op->value = below(2) ? values[below(sizeof values / sizeof values[0])] : rnd();
}

/* An op the driver accepts: an allowed port, one byte, a value that fits. */
static void valid_op(IOPERM_OP *op, int write) {
  op->port = n_allowed ? allowed_ports[below(n_allowed)] : 0;
  op->width = 1;
  op->flags = write ? IOPERM_OP_WRITE : 0;
  op->value = write ? below(256) : rnd();
}

/* Puts a few timed steps (WAIT, DELAY, PULSE) among `n` slots: mostly short and
 * well formed, sometimes over a cap, a head in the last slot, or an expect
 * outside its mask; a run of delays sometimes passes the call cap. */
static void timed_steps(IOPERM_OP *ops, uint32_t n) {
  for (uint32_t k = 1 + below(4); k; k--) {
    uint32_t i = below(n);
    IOPERM_OP *op = &ops[i];
    /* Short mostly; at a cap edge sometimes (at the cap itself rarely: in the lab, where
     * lists run, each such step holds the fuzz for 100 ms). */
    uint32_t us = below(8)        ? below(50)
                  : below(8) == 0 ? IOPERM_MAX_STEP_US
                                  : (uint32_t[]){IOPERM_MAX_STEP_US + 1, rnd()}[below(2)];
    switch (below(3)) {
    case 0:
      *op = (IOPERM_OP){0, 0, IOPERM_OP_DELAY, us};
      if (below(8) == 0) op->port = allowed_ports[0];
      break;
    case 1:
      op->flags = IOPERM_OP_WAIT;
      op->width = below(8) ? 1 : 2;
      op->value = us;
      if (i + 1 < n) {
        uint32_t mask = below(256);
        ops[i + 1] = (IOPERM_OP){0};
        ((IOPERM_WAIT_PARAM *)&ops[i + 1])->mask = mask;
        ((IOPERM_WAIT_PARAM *)&ops[i + 1])->expect = below(8) ? mask & rnd() : rnd();
      }
      break;
    default:
      op->flags = IOPERM_OP_PULSE;
      op->width = 1;
      op->value = below(8) ? below(256) : rnd();
      if (i + 1 < n) {
        ops[i + 1] = (IOPERM_OP){0};
        ((IOPERM_PULSE_PARAM *)&ops[i + 1])->rest = below(256);
        ((IOPERM_PULSE_PARAM *)&ops[i + 1])->hold_us = us;
      }
      break;
    }
  }
  if (n >= 11 && below(16) == 0) /* eleven delays at the step cap: over the call cap, never run */
    for (uint32_t i = 0; i < n && i < 11; i++)
      ops[i] = (IOPERM_OP){0, 0, IOPERM_OP_DELAY, IOPERM_MAX_STEP_US};
}

/* Fills `len` bytes of input: structured for our codes most of the time, else random. */
static void fill_input(int kind, DWORD len, uint32_t *batch_count) {
  DWORD fill = len < 0x20000 ? len : 0x20000; /* past that, leave the buffer as it was */
  for (DWORD i = 0; i < fill; i++)
    in_buf[i] = (unsigned char)rnd();
  if (below(5) == 0) return;
  int valid = below(3) == 0; /* a third: ops the driver accepts, a batch perhaps with one random op among them */
  if ((kind == K_READ || kind == K_WRITE) && len >= sizeof(IOPERM_OP)) {
    if (valid)
      valid_op((IOPERM_OP *)in_buf, kind == K_WRITE);
    else
      random_op((IOPERM_OP *)in_buf, kind == K_WRITE);
  } else if (kind == K_BATCH && len >= sizeof(IOPERM_BATCH_HEADER)) {
    IOPERM_BATCH_HEADER *h = (IOPERM_BATCH_HEADER *)in_buf;
    DWORD room = (DWORD)((len - sizeof *h) / sizeof(IOPERM_OP));
    h->count = *batch_count;
    h->result = (int32_t)rnd();
    h->index = rnd();
    h->value = below(10) ? 0 : rnd();
    IOPERM_OP *ops = (IOPERM_OP *)(h + 1);
    DWORD n = room < 0x2000 ? room : 0x2000;
    for (DWORD i = 0; i < n; i++)
      if (valid)
        valid_op(&ops[i], (int)below(2));
      else
        random_op(&ops[i], (int)below(2));
    if (valid && n && below(2)) random_op(&ops[below(n < h->count ? n : h->count)], (int)below(2));
    if (n >= 2 && below(2)) timed_steps(ops, n < h->count ? n : h->count);
  } else if (kind == K_PCI && len >= sizeof(IOPERM_PCI_ADDRESS)) {
    /* Each field in range most of the time, so a third or so of the addresses are valid. */
    IOPERM_PCI_ADDRESS *a = (IOPERM_PCI_ADDRESS *)in_buf;
    a->bus = below(4) ? below(IOPERM_PCI_MAX_BUS + 1) : rnd();
    a->device = below(4) ? below(IOPERM_PCI_MAX_DEVICE + 1) : IOPERM_PCI_MAX_DEVICE + 1 + below(3);
    a->function = below(4) ? below(IOPERM_PCI_MAX_FUNCTION + 1) : rnd();
    a->offset = below(4) ? 4 * below(IOPERM_PCI_MAX_OFFSET / 4 + 1) : below(2) ? 1 + 4 * below(63) : rnd();
  } else if (kind == K_GRANT && len >= sizeof(IOPERM_RANGE)) {
    IOPERM_RANGE *r = (IOPERM_RANGE *)in_buf;
    r->from = below(2) ? interesting_ports[below(sizeof interesting_ports / 2)] : rnd();
    r->count = below(2) ? below(16) : rnd();
  }
}

/* A PCI_READ address the driver accepts (and then reads with 0xCF8/0xCFC). */
static int pci_valid(const IOPERM_PCI_ADDRESS *a) {
  return a->bus <= IOPERM_PCI_MAX_BUS && a->device <= IOPERM_PCI_MAX_DEVICE && a->function <= IOPERM_PCI_MAX_FUNCTION &&
         a->offset <= IOPERM_PCI_MAX_OFFSET && (a->offset & 3) == 0;
}

/*
 * Makes sure no port instruction runs: a READ, WRITE or BATCH the driver would
 * accept gets one op moved onto refused ports (in a batch, every op is checked
 * before the first runs, so one refused op stops all of them), and a valid
 * PCI_READ address gets a bus past the limit.
 */
static int steer(int kind, DWORD in_len) {
  if (kind == K_PCI && in_len >= sizeof(IOPERM_PCI_ADDRESS) && pci_valid((IOPERM_PCI_ADDRESS *)in_buf)) {
    ((IOPERM_PCI_ADDRESS *)in_buf)->bus = IOPERM_PCI_MAX_BUS + 1;
    return 1;
  }
  if ((kind == K_READ || kind == K_WRITE) && in_len >= sizeof(IOPERM_OP)) {
    IOPERM_OP *op = (IOPERM_OP *)in_buf;
    if (would_run(op)) {
      op->port = refused_port;
      return 1;
    }
  } else if (kind == K_BATCH && in_len >= sizeof(IOPERM_BATCH_HEADER)) {
    IOPERM_BATCH_HEADER *h = (IOPERM_BATCH_HEADER *)in_buf;
    DWORD room = (DWORD)((in_len - sizeof *h) / sizeof(IOPERM_OP));
    uint32_t n = h->count < room ? h->count : room, at, heads = 0, pick, i;
    IOPERM_OP *ops = (IOPERM_OP *)(h + 1);
    /* Only a whole list the driver would accept can run; delays run no port
     * instruction but take time, so they are steered too. One head is made a
     * read of a refused port: the steps before it still pass, so that is where
     * the list is refused. */
    if (!n || n != h->count || list_verdict(ops, n, &at) != IOPERM_RESULT_OK) return 0;
    for (i = 0; i < n; i += slots_of(&ops[i]))
      heads++;
    pick = below(heads);
    for (i = 0; pick; i += slots_of(&ops[i]))
      pick--;
    ops[i] = (IOPERM_OP){refused_port, 1, IOPERM_OP_READ, 0};
    return 1;
  }
  return 0;
}

/* ---- the rules a reply must follow -------------------------------------- */

#define SET(e) (1ull << (e))
enum { E_OK, E_INVALID_FUNCTION, E_ACCESS_DENIED, E_BAD_LENGTH, E_NOT_SUPPORTED, E_INVALID_PARAMETER, E_OTHER, E_N };
static const DWORD e_codes[E_N] = {
    0, ERROR_INVALID_FUNCTION, ERROR_ACCESS_DENIED, ERROR_BAD_LENGTH, ERROR_NOT_SUPPORTED, ERROR_INVALID_PARAMETER, 0};
static const char *const e_names[E_N] = {
    "ok", "invalid_function", "access_denied", "bad_length", "not_supported", "invalid_parameter", "other"};

static int e_index(BOOL ok, DWORD err) {
  if (ok) return E_OK;
  for (int e = 1; e < E_OTHER; e++)
    if (e_codes[e] == err) return e;
  return E_OTHER;
}

/*
 * Which replies a request may get, from the header and README: missing access
 * is ERROR_ACCESS_DENIED; unknown codes are ERROR_INVALID_FUNCTION (or, for a
 * method that leaves no system buffer, ERROR_INVALID_PARAMETER); lengths are
 * exact (ERROR_BAD_LENGTH); a batch count of 0, above the maximum or a nonzero
 * reserved field is ERROR_INVALID_PARAMETER; x64 answers IOPM codes with
 * ERROR_NOT_SUPPORTED. Anything well-formed succeeds.
 */
static uint64_t expected(int h, DWORD code, int kind, DWORD in_len, DWORD out_len) {
  DWORD need = (code >> 14) & 3;
  if (need & ~handle_bits[h]) return SET(E_ACCESS_DENIED);
  if (kind == K_UNKNOWN)
    return (code & 3) == IOPERM_METHOD_BUFFERED ? SET(E_INVALID_FUNCTION)
                                                : SET(E_INVALID_FUNCTION) | SET(E_INVALID_PARAMETER);
  if ((kind == K_GRANT || kind == K_REVOKE) && pointer_bits == 64) return SET(E_NOT_SUPPORTED);
  DWORD want_in, want_out;
  if (kind == K_BATCH) {
    if (in_len < sizeof(IOPERM_BATCH_HEADER)) return SET(E_BAD_LENGTH);
    const IOPERM_BATCH_HEADER *b = (const IOPERM_BATCH_HEADER *)in_buf;
    int bad_header = b->count == 0 || b->count > IOPERM_MAX_BATCH || b->value != 0;
    exact_lengths(kind, b->count, &want_in, &want_out);
    if (bad_header) return SET(E_INVALID_PARAMETER) | SET(E_BAD_LENGTH);
    if (in_len != want_in || out_len != want_out) return SET(E_BAD_LENGTH);
    return SET(E_OK);
  }
  exact_lengths(kind, 0, &want_in, &want_out);
  if (in_len != want_in || out_len != want_out) return SET(E_BAD_LENGTH);
  if (kind == K_PCI && !pci_valid((const IOPERM_PCI_ADDRESS *)in_buf)) return SET(E_INVALID_PARAMETER);
  return SET(E_OK);
}

/*
 * A successful reply's contents: the right size, and for port requests the
 * verdict the op's fields call for (refused ones with no value and the ops
 * returned as sent; with steering, no verdict is ever OK).
 */
static unsigned long verdicts[IOPERM_RESULT_TOO_LONG + 1]; /* successful port replies, by verdict */
static unsigned long e9_bytes; /* bytes that ran as outb 0xE9: the lab's debugcon file must grow by as many */

static void count_op(int32_t verdict, const IOPERM_OP *op) {
  if (verdict != IOPERM_RESULT_OK || op->port != 0xE9 || op->width != 1) return;
  if (op->flags == IOPERM_OP_WRITE) e9_bytes++;
  if (op->flags == IOPERM_OP_PULSE) e9_bytes += 2;
}

static const char *check_reply(int kind, DWORD out_len, DWORD got) {
  if (got != out_len) return "reply size is not the output length";
  if (kind == K_VERSION) {
    const IOPERM_VERSION_INFO *v = (const IOPERM_VERSION_INFO *)out_buf;
    if (v->protocol != IOPERM_PROTOCOL_VERSION || v->max_batch != IOPERM_MAX_BATCH || v->op_size != sizeof(IOPERM_OP))
      return "VERSION reply differs from the header";
  } else if (kind == K_ALLOWLIST) {
    if (memcmp(out_buf, &allowed, sizeof allowed)) return "ALLOWLIST reply changed";
  } else if (kind == K_READ || kind == K_WRITE) {
    const IOPERM_PORT_REPLY *r = (const IOPERM_PORT_REPLY *)out_buf;
    int32_t want = single_verdict(kind == K_WRITE, (const IOPERM_OP *)in_buf);
    if (r->result != want) return "READ/WRITE verdict is not the one its op calls for";
    verdicts[want]++;
    count_op(want, (const IOPERM_OP *)in_buf);
    if ((want != IOPERM_RESULT_OK || kind == K_WRITE) && r->value != 0)
      return "READ/WRITE returned a value it should not";
  } else if (kind == K_BATCH) {
    const IOPERM_BATCH_HEADER *h = (const IOPERM_BATCH_HEADER *)out_buf;
    const IOPERM_BATCH_HEADER *sent = (const IOPERM_BATCH_HEADER *)in_buf;
    const IOPERM_OP *ops = (const IOPERM_OP *)(sent + 1), *back = (const IOPERM_OP *)(h + 1);
    uint32_t i;
    int32_t want = list_verdict(ops, sent->count, &i);
    /* A list that runs may stop at a wait that times out (only where ports run: the lab). */
    int timed_out = want == IOPERM_RESULT_OK && h->result == IOPERM_RESULT_TIMEOUT && h->index < sent->count &&
                    ops[h->index].flags == IOPERM_OP_WAIT;
    if (timed_out) {
      want = IOPERM_RESULT_TIMEOUT;
      i = h->index;
    } else if (h->value != 0)
      return "BATCH carried a value without a timeout";
    if (h->result != want || h->index != i) return "BATCH verdict or index is not the one its ops call for";
    if (h->count != sent->count) return "BATCH count changed";
    verdicts[want]++;
    uint32_t ran = want == IOPERM_RESULT_OK ? sent->count : timed_out ? i : 0;
    for (uint32_t j = 0; j < ran; j += slots_of(&ops[j]))
      count_op(IOPERM_RESULT_OK, &ops[j]);
    /* Every slot comes back as sent, but for the value of a read that ran. */
    for (uint32_t j = 0; j < sent->count; j++) {
      int read_back = j < ran && ops[j].flags == IOPERM_OP_READ;
      if (memcmp(&back[j], &ops[j], sizeof *ops) &&
          !(read_back && back[j].port == ops[j].port && back[j].width == ops[j].width && back[j].flags == ops[j].flags))
        return "BATCH changed an op it should have returned as sent";
      if (slots_of(&ops[j]) == 2 && j + 1 < sent->count && memcmp(&back[j + 1], &ops[j + 1], sizeof *ops))
        return "BATCH changed a parameter slot";
      if (slots_of(&ops[j]) == 2) j++;
    }
  }
  return NULL;
}

static void print_hex(const unsigned char *b, DWORD n) {
  for (DWORD i = 0; i < n; i++)
    printf("%02x", b[i]);
}

int run_ioctls(uint64_t seed, unsigned long n, const DWORD *avoid, int n_avoid, int steering) {
  static unsigned long counts[3][K_COUNT + 1][H_COUNT][E_N];
  static const char *const class_names[3] = {"ours", "near", "random"};
  unsigned long broken = 0, steered = 0, reopened = 0, huge = 0;
  DWORD got;
  rng_state = seed;
  in_buf = VirtualAlloc(NULL, HUGE_LEN + 16, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  out_buf = VirtualAlloc(NULL, HUGE_LEN + 16, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!in_buf || !out_buf) return 3;
  for (int h = 0; h < H_COUNT; h++)
    if ((handles[h] = open_device(handle_access[h])) == INVALID_HANDLE_VALUE) {
      printf("{\"op\":\"open\",\"mode\":\"%s\",\"error\":%lu}\n", handle_names[h], (unsigned long)GetLastError());
      return 1;
    }
  IOPERM_VERSION_INFO v;
  if (!DeviceIoControl(handles[H_R], IOCTL_IOPERM_VERSION, NULL, 0, &v, sizeof v, &got, NULL) ||
      !DeviceIoControl(handles[H_R], IOCTL_IOPERM_ALLOWLIST, NULL, 0, &allowed, sizeof allowed, &got, NULL)) {
    printf("{\"op\":\"setup\",\"error\":%lu}\n", (unsigned long)GetLastError());
    return 1;
  }
  pointer_bits = (int)v.pointer_bits;
  for (uint32_t p = 0; p < IOPERM_PORT_COUNT; p++)
    if (is_allowed(p)) allowed_ports[n_allowed++] = (uint16_t)p;
  for (refused_port = 0; is_allowed(refused_port) || is_allowed(refused_port + 1u) || is_allowed(refused_port + 2u) ||
                         is_allowed(refused_port + 3u);
       refused_port++)
    ;
  printf("{\"op\":\"start\",\"seed\":%llu,\"n\":%lu,\"pointer_bits\":%d,\"refused_port\":%u}\n",
         (unsigned long long)seed, n, pointer_bits, refused_port);
  fflush(stdout);

  for (unsigned long i = 0; i < n; i++) {
    /* The read-write handle reaches every code: give it as many requests as the other three together. */
    int cls, h = below(2) ? H_RW : (int)(uint32_t[]){H_R, H_W, H_NONE}[below(3)];
    if (below(200) == 0) { /* exercise create, cleanup and close as well */
      CloseHandle(handles[h]);
      handles[h] = open_device(handle_access[h]);
      reopened++;
    }
    DWORD code = random_code(avoid, n_avoid, &cls);
    int kind = kind_of(code);
    uint32_t count =
        below(4) ? 1 + below(64) : (uint32_t[]){0, IOPERM_MAX_BATCH, IOPERM_MAX_BATCH + 1, rnd()}[below(4)];
    DWORD want_in, want_out;
    exact_lengths(kind, count, &want_in, &want_out);
    /* Half the requests get exact lengths, so the driver reads their contents. */
    int shape = (int)below(4);
    DWORD in_len = shape < 2 || (shape == 2 && below(2)) ? want_in : random_length(want_in);
    DWORD out_len = shape < 2 || (shape == 2 && in_len != want_in) ? want_out : random_length(want_out);
    if (shape == 3 && below(3) == 0) out_len = in_len;
    if (in_len > HUGE_LEN) in_len = HUGE_LEN;
    if (out_len > HUGE_LEN) out_len = HUGE_LEN;
    fill_input(kind, in_len, &count);
    if (steering) steered += steer(kind, in_len);
    huge += in_len >= (1u << 20) || out_len >= (1u << 20);
    uint64_t allowed_replies = expected(h, code, kind, in_len, out_len);
    memset(out_buf, 0xCC, out_len < 0x20000 ? out_len : 0x20000);
    got = 0;
    BOOL ok = DeviceIoControl(handles[h], code, in_len ? in_buf : NULL, in_len, out_len ? out_buf : NULL, out_len, &got,
                              NULL);
    DWORD err = ok ? 0 : GetLastError();
    int e = e_index(ok, err);
    counts[cls][kind][h][e]++;
    const char *why = !(allowed_replies & SET(e)) ? "reply not among the expected ones"
                      : ok                        ? check_reply(kind, out_len, got)
                                                  : NULL;
    if (why && broken++ < MAX_REPORTS) {
      printf("{\"op\":\"broken\",\"i\":%lu,\"why\":\"%s\",\"handle\":\"%s\",\"code\":\"0x%08lX\",\"in_len\":%lu,"
             "\"out_len\":%lu,\"ok\":%s,\"error\":%lu,\"bytes\":%lu,\"in\":\"",
             i, why, handle_names[h], (unsigned long)code, (unsigned long)in_len, (unsigned long)out_len,
             ok ? "true" : "false", (unsigned long)err, (unsigned long)got);
      print_hex(in_buf, in_len < 64 ? in_len : 64);
      printf("\"}\n");
      fflush(stdout);
    }
  }

  /* The driver still serves after all of that: VERSION and ALLOWLIST on a fresh handle. */
  HANDLE fresh = open_device(GENERIC_READ);
  IOPERM_ALLOWLIST after;
  BOOL alive = fresh != INVALID_HANDLE_VALUE &&
               DeviceIoControl(fresh, IOCTL_IOPERM_VERSION, NULL, 0, &v, sizeof v, &got, NULL) && got == sizeof v &&
               v.protocol == IOPERM_PROTOCOL_VERSION &&
               DeviceIoControl(fresh, IOCTL_IOPERM_ALLOWLIST, NULL, 0, &after, sizeof after, &got, NULL) &&
               !memcmp(&after, &allowed, sizeof after);

  printf("{\"op\":\"counts\",\"n\":%lu,\"broken\":%lu,\"steered\":%lu,\"reopened\":%lu,\"huge\":%lu,\"alive\":%s,"
         "\"e9_bytes\":%lu,\"verdicts\":[%lu,%lu,%lu,%lu,%lu,%lu,%lu],\"rows\":[",
         n, broken, steered, reopened, huge, alive ? "true" : "false", e9_bytes, verdicts[0], verdicts[1], verdicts[2],
         verdicts[3], verdicts[4], verdicts[5], verdicts[6]);
  int first = 1;
  for (int c = 0; c < 3; c++)
    for (int k = 0; k <= K_COUNT; k++)
      for (int h = 0; h < H_COUNT; h++)
        for (int e = 0; e < E_N; e++)
          if (counts[c][k][h][e]) {
            printf("%s{\"class\":\"%s\",\"code\":\"%s\",\"handle\":\"%s\",\"reply\":\"%s\",\"error\":%lu,\"n\":%lu}",
                   first ? "" : ",", class_names[c], known_names[k], handle_names[h], e_names[e],
                   (unsigned long)e_codes[e], counts[c][k][h][e]);
            first = 0;
          }
  printf("]}\n");
  return 0;
}
