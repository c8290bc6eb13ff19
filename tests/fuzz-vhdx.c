/* libFuzzer target for the VHDX reader: `make -C tests fuzz-vhdx`.
 *
 * A VHDX keeps its structures at fixed offsets far apart (headers at 64
 * and 128 KiB, region tables at 192 and 256 KiB, everything else from
 * 1 MiB on), and checksums most of them, so raw files make a poor
 * fuzzing input.  An input that starts with "vhdxfuzz" is in a compact
 * form instead: the pieces below, concatenated, then everything from
 * 2 MiB on.  The harness puts the pieces back in place (with
 * "vhdxfile"), and as the flags in the last byte of the first piece say
 * recomputes the CRC-32C of both headers, both region tables and the
 * log entries in the log piece, so mutations get past the checksums.
 * fixtures/make-bad-vhdx.py writes the seeds (tests/fuzz-corpus-vhdx/)
 * in this form.  Any other input is used as the file as it is (the
 * fixtures of fixtures/bad-vhdx/ are replayed so).
 *
 * Each file is opened with vhdx_open, read extent by extent within a
 * budget, and closed.  Besides the sanitizers it asserts what the copy
 * engine relies on: extents contiguous, in order, making progress,
 * EXTENT_ZERO ranges reading as zeros, and a mapped range holding what
 * pread reads.  The private directory holds
 * parent.vhdx (64 KiB of a pattern, DataWriteGuid 77777777-...), the
 * parent the seed seed-diff names, so differencing reads reach a real
 * parent.
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-vhdx-fuzz-replay, which replays the corpus under make check.
 */
#include <config.h>

#include <fcntl.h>

#include "fuzz.h"
#include "vhdx-internal.h"

#define TAIL (2 * MiB)           /* where the compact form's tail goes */

enum { FIX_HEADERS = 1, FIX_REGIONS = 2, FIX_LOG = 4 };

static const struct { uint32_t off, len; } pieces[] = {
  { 0, 64 },                          /* identifier; flags in byte 63 */
  { 64 * KiB, 256 },                  /* header 1 */
  { 128 * KiB, 256 },                 /* header 2 */
  { 192 * KiB, 512 },                 /* region table 1 */
  { 256 * KiB, 512 },                 /* region table 2 */
  { MiB, 512 },                       /* metadata table */
  { MiB + 64 * KiB, 4 * KiB },        /* metadata items */
  { MiB + 128 * KiB, 16 * KiB },      /* BAT */
  { MiB + 192 * KiB, 16 * KiB },      /* log */
};

static const char *input, *parent;
static uint8_t *head;             /* the first 2 MiB of the file */

static void
seal (uint8_t *p, size_t len)
{
  store_le32 (p + 4, vhdx_checksum (p, len));
}

static void
write_file (const char *name, const uint8_t *p, size_t len, uint64_t size)
{
  int fd = open (name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd == -1 || (len && full_pwrite (fd, p, len, 0) == -1) ||
      ftruncate (fd, size) == -1)
    fuzz_die ("cannot write a file");
  close (fd);
}

/* ---------------------------------------------------------------- */
/* parent.vhdx, written here so the harness needs no other file. */

static const uint8_t meta_items[3][16] = {
  VHDX_GUID (0xCAA16737, 0xFA36, 0x4D43,            /* file parameters */
             0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B),
  VHDX_GUID (0x2FA54224, 0xCD1B, 0x4876,            /* virtual disk size */
             0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8),
  VHDX_GUID (0x8141BF1D, 0xA96F, 0x4709,            /* logical sector */
             0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F),
};

static void
region_entry (uint8_t *e, const uint8_t *guid, uint64_t off, uint32_t len)
{
  memcpy (e, guid, 16);
  store_le64 (e + 16, off);
  store_le32 (e + 24, len);
  store_le32 (e + 28, 1);
}

/* Metadata at 1 MiB, the BAT at 1 MiB + 128 KiB, block 0 at 2 MiB. */
static void
make_parent (void)
{
  static const uint32_t values[3] = { 1 * MiB, 64 * KiB, 512 };
  uint8_t *f = calloc (1, TAIL + 64 * KiB), *m = f + MiB;

  if (f == NULL)
    fuzz_die ("out of memory");
  memcpy (f, "vhdxfile", 8);
  for (int i = 0; i < 2; i++) {
    uint8_t *h = f + (64 + 64 * i) * KiB, *r = f + (192 + 64 * i) * KiB;
    memcpy (h, "head", 4);
    store_le64 (h + 8, i + 1);
    memset (h + 32, 0x77, 16);                      /* DataWriteGuid */
    store_le16 (h + 66, 1);
    seal (h, 4 * KiB);
    memcpy (r, "regi", 4);
    store_le32 (r + 8, 2);
    region_entry (r + 16, vhdx_bat_region, MiB + 128 * KiB, 64 * KiB);
    region_entry (r + 48, vhdx_metadata_region, MiB, 128 * KiB);
    seal (r, 64 * KiB);
  }
  memcpy (m, "metadata", 8);
  store_le16 (m + 10, 3);
  for (int i = 0; i < 3; i++) {
    memcpy (m + 32 + 32 * i, meta_items[i], 16);
    store_le32 (m + 48 + 32 * i, 64 * KiB + 8 * i);
    store_le32 (m + 52 + 32 * i, i == 2 ? 4 : 8);
    store_le32 (m + 56 + 32 * i, 4);
    store_le32 (m + 64 * KiB + 8 * i, values[i]);
  }
  store_le64 (f + MiB + 128 * KiB, 6 | TAIL);       /* fully present */
  for (size_t i = 0; i < 64 * KiB; i++)
    f[TAIL + i] = (uint8_t) (i * 7 + i / 4096);
  write_file (parent, f, TAIL + 64 * KiB, TAIL + 64 * KiB);
  free (f);
}

/* ---------------------------------------------------------------- */
/* The compact form. */

/* Recompute the checksum of each log entry that lies in the log piece. */
static void
fix_log (uint8_t *log, size_t len)
{
  for (size_t at = 0; at + 64 <= len; at += 4 * KiB) {
    uint32_t n = load_le32 (log + at + 8);
    if (memcmp (log + at, "loge", 4) == 0 && n && n % (4 * KiB) == 0 &&
        n <= len - at)
      seal (log + at, n);
  }
}

static void
fix_checksums (uint8_t flags)
{
  if (flags & FIX_LOG)
    fix_log (head + pieces[8].off, pieces[8].len);
  for (int i = 0; i < 2; i++) {
    if (flags & FIX_HEADERS)
      seal (head + (64 + 64 * i) * KiB, 4 * KiB);
    if (flags & FIX_REGIONS)
      seal (head + (192 + 64 * i) * KiB, 64 * KiB);
  }
}

/* Lay the pieces out in HEAD, fix what the flags say, and write them
 * and the tail; the rest of the file is a hole.  Only the pieces of
 * HEAD are ever written, so the rest of it stays zero. */
static void
write_compact (const uint8_t *data, size_t size)
{
  size_t used = 0, end = 0, n[ARRAY_SIZE (pieces)] = { 0 };
  int fd;

  for (size_t i = 0; i < ARRAY_SIZE (pieces); i++) {
    memset (head + pieces[i].off, 0, pieces[i].len);
    n[i] = MIN (pieces[i].len, size - used);
    memcpy (head + pieces[i].off, data + used, n[i]);
    used += n[i];
    end = n[i] ? pieces[i].off + n[i] : end;
  }
  memcpy (head, "vhdxfile", 8);
  if (size > 63)
    fix_checksums (data[63]);
  fd = open (input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || ftruncate (fd, used < size ? TAIL : end) == -1)
    fuzz_die ("cannot create the input file");
  for (size_t i = 0; i < ARRAY_SIZE (pieces); i++) {
    if (n[i] && full_pwrite (fd, head + pieces[i].off, n[i],
                             pieces[i].off) == -1)
      fuzz_die ("cannot write the input file");
  }
  if (used < size && full_pwrite (fd, data + used, size - used, TAIL) == -1)
    fuzz_die ("cannot write the input's tail");
  close (fd);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-vhdx", "FUZZ_VHDX_VERBOSE");
  head = calloc (1, TAIL);
  if (head == NULL)
    fuzz_die ("out of memory");
  input = fuzz_path ("input.vhdx");
  parent = fuzz_path ("parent.vhdx");
  make_parent ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct disk *d;

  fuzz_enter ();
  if (size >= 8 && memcmp (data, "vhdxfuzz", 8) == 0)
    write_compact (data, size);
  else
    write_file (input, data, size, size);
  d = vhdx_open (input, 0);
  if (d) {
    fuzz_read_disk (d);
    disk_close (d);
  }
  fuzz_leave ();
  return 0;
}
