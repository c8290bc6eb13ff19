/* libFuzzer target for the QCOW2 reader: `make -C tests fuzz-qcow2`.
 *
 * Each input is written to input.qcow2 in a private directory (the
 * reader takes a path), probed, opened read-only as `hvconvert disk
 * --format qcow2` opens it, read extent by extent within a budget, and
 * closed.  Besides the sanitizers
 * it asserts what the copy engine relies on: extents are contiguous, in
 * order, make progress, and EXTENT_ZERO ranges read as zeros.
 *
 * Backing files: the directory also holds backing.raw, 64 KiB of a byte
 * pattern, which the seed backing-raw.qcow2 names, so the fuzzer reaches
 * the backing read paths; input.qcow2 naming itself reaches the loop
 * check.  Other names find nothing, and names leading outside the
 * directory are refused (the flags do not allow them).  The process is
 * in that directory while an input runs.
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-qcow2-fuzz-replay, which replays the committed corpus under make
 * check (test-qcow2-fuzz-corpus.sh).
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "importers.h"

#define READ_BUDGET (32 * MiB)   /* bytes read per input, at most */
#define CHUNK (1 * MiB)
#define EXTENT_CALLS 100000      /* disk_extents calls per input */

static char dir[] = "/tmp/fuzz-qcow2.XXXXXX";
static char input[64], backing[64];
static int dir_fd = -1, start_fd = -1;
static uint8_t *buf;

static void
cleanup (void)
{
  unlink (input);
  unlink (backing);
  rmdir (dir);
}

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-qcow2: %s\n", what);
  cleanup ();
  abort ();
}

/* The library's messages go through the stdio stream stderr: point it
 * at /dev/null so they do not drown libFuzzer's status lines (which use
 * its own copy of the stream; the sanitizers write to descriptor 2).
 * FUZZ_QCOW2_VERBOSE=1 keeps them. */
static void
quiet (void)
{
  FILE *null;

  if (getenv ("FUZZ_QCOW2_VERBOSE"))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

static void
make_backing (void)
{
  int fd = open (backing, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  for (size_t i = 0; i < 64 * KiB; i++)
    buf[i] = (uint8_t) (i * 13 + i / 512 + 1);
  if (fd == -1 || full_pwrite (fd, buf, 64 * KiB, 0) == -1)
    die ("cannot write backing.raw");
  close (fd);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  buf = malloc (CHUNK);
  if (buf == NULL || mkdtemp (dir) == NULL ||
      (dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
      (start_fd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
    die ("cannot set up a temporary directory");
  snprintf (input, sizeof input, "%s/input.qcow2", dir);
  snprintf (backing, sizeof backing, "%s/backing.raw", dir);
  atexit (cleanup);
  make_backing ();
  quiet ();
  return 0;
}

/* Read [OFF, OFF+LEN) in chunks within the budget; a ZERO extent must
 * read as zeros. */
static void
read_range (struct disk *d, uint64_t off, uint64_t len, bool zero,
            uint64_t *budget)
{
  while (len > 0 && *budget > 0) {
    size_t n = MIN (MIN (len, (uint64_t) CHUNK), *budget);
    if (disk_pread (d, buf, n, off) == -1)
      return;               /* an error on bad input is fine */
    if (zero && !is_zero (buf, n))
      die ("an EXTENT_ZERO range does not read as zeros");
    off += n;
    len -= n;
    *budget -= n;
  }
}

static void
read_disk (struct disk *d)
{
  struct extent_vector ev = { 0 };
  uint64_t off = 0, budget = READ_BUDGET;

  for (int calls = 0; off < d->size && calls < EXTENT_CALLS; calls++) {
    ev.len = 0;
    if (disk_extents (d, off, d->size - off, &ev) == -1)
      break;
    if (ev.len == 0)
      die ("disk_extents made no progress");
    for (size_t i = 0; i < ev.len; i++) {
      const struct extent *e = &ev.ptr[i];
      if (e->offset != off || e->length == 0 || e->length > d->size - off)
        die ("extents are not contiguous, in order and inside the disk");
      read_range (d, e->offset, e->length, e->type == EXTENT_ZERO, &budget);
      off += e->length;
    }
  }
  free (ev.ptr);
  /* Unaligned reads across a cluster edge and of the last byte: paths
   * the walk above does not take. */
  if (d->size > 1000)
    disk_pread (d, buf, 1000, 300);
  if (d->size > 0)
    disk_pread (d, buf, 1, d->size - 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct disk *d;
  bool magic;
  int fd;

  if (fchdir (dir_fd) == -1)
    die ("cannot chdir to the temporary directory");
  fd = open (input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || (size && full_pwrite (fd, data, size, 0) == -1))
    die ("cannot write the input file");
  close (fd);

  fd = open (input, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    die ("cannot reopen the input file");
  magic = size >= 4 && memcmp (data, "QFI\xfb", 4) == 0;
  if (qcow2_probe (fd, size) != magic)
    die ("the probe disagrees with the magic");
  close (fd);
  d = importer_open (input, "qcow2", 0);
  if (d) {
    read_disk (d);
    disk_close (d);
  }
  if (fchdir (start_fd) == -1)
    die ("cannot chdir back");
  return 0;
}
