/* libFuzzer target for the VHD reader: `make -C tests fuzz`.
 *
 * Each input is written to a file in a private, otherwise nearly empty
 * directory (vhd_open takes a path), opened read-only, read extent by
 * extent (bounded), checked with vhd_check and closed.  Besides the
 * sanitizers it asserts what the copy engine relies on: extents are
 * contiguous, in order, make progress, and EXTENT_ZERO ranges read as
 * zeros.
 *
 * Differencing inputs open parents by path.  The directory holds, besides
 * the input, one fixed VHD, good-parent.vhd, with the UUID 33333333-...
 * that the seed good-child.vhd names, so the fuzzer reaches the parent
 * read paths; every other relative locator finds nothing.  The process
 * is in that directory while an input runs, for paths relative to the
 * cwd.  Nothing can block: the open path skips anything but regular
 * files and block devices, and there are no FIFOs here.
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-vhd-fuzz-replay, which runs the committed corpus under make check.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz-util.h"
#include "vhd.h"

#define READ_BUDGET (32 * MiB)   /* bytes read per input, at most */
#define CHUNK (1 * MiB)
#define EXTENT_CALLS 100000      /* disk_extents calls per input */

static char dir[] = "/tmp/fuzz-vhd.XXXXXX";
static char input[64], parent[64];
static int dir_fd = -1, start_fd = -1;
static uint8_t *buf;

static void
cleanup (void)
{
  unlink (input);
  unlink (parent);
  rmdir (dir);
}

static void
die (const char *what)
{
  /* Descriptor 2, not the stream: see fuzz_quiet(). */
  dprintf (STDERR_FILENO, "fuzz-vhd: %s\n", what);
  cleanup ();
  abort ();
}

/* good-parent.vhd: fixed, 1 MiB, a byte pattern, UUID 33 x 16. */
static void
make_parent (void)
{
  struct vhd_create_opts o = { .type = VHD_TYPE_FIXED, .size = 1 * MiB };
  struct vhd_footer f;
  uint8_t raw[VHD_FOOTER_SIZE];
  struct disk *d;
  int fd;

  d = vhd_create (parent, &o);
  if (d == NULL)
    die ("cannot create good-parent.vhd");
  for (size_t i = 0; i < CHUNK; i++)
    buf[i] = (uint8_t) (i * 13 + i / 512);
  if (disk_pwrite (d, buf, CHUNK, 0) == -1 || disk_flush (d) == -1)
    die ("cannot write good-parent.vhd");
  disk_close (d);
  fd = open (parent, O_RDWR);
  if (fd == -1 || full_pread (fd, raw, sizeof raw, 1 * MiB) == -1)
    die ("cannot reopen good-parent.vhd");
  vhd_footer_decode (raw, &f);
  memset (f.uuid, 0x33, 16);
  vhd_footer_encode (&f, raw);
  if (full_pwrite (fd, raw, sizeof raw, 1 * MiB) == -1)
    die ("cannot patch good-parent.vhd");
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
  snprintf (input, sizeof input, "%s/input.vhd", dir);
  snprintf (parent, sizeof parent, "%s/good-parent.vhd", dir);
  atexit (cleanup);
  make_parent ();
  fuzz_quiet ();
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
      return;               /* an I/O error on bad input is fine */
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
      if (e->offset != off || e->length == 0 ||
          e->length > d->size - off)
        die ("extents are not contiguous, in order and inside the disk");
      read_range (d, e->offset, e->length, e->type == EXTENT_ZERO, &budget);
      off += e->length;
    }
  }
  free (ev.ptr);
  /* An unaligned read across the start and a read of the last byte:
   * paths the aligned walk above does not take. */
  if (d->size > 1000)
    disk_pread (d, buf, 1000, 3);
  if (d->size > 0)
    disk_pread (d, buf, 1, d->size - 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct string_vector problems = { 0 };
  struct disk *d;
  int fd;

  /* In the directory only while an input runs: libFuzzer resolves its
   * corpus and artifact paths from where it was started. */
  if (fchdir (dir_fd) == -1)
    die ("cannot chdir to the temporary directory");
  fd = open (input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || (size && full_pwrite (fd, data, size, 0) == -1))
    die ("cannot write the input file");
  close (fd);

  d = vhd_open (input, 0);
  if (d) {
    (void) vhd_disk_header (d);
    (void) vhd_disk_blocks_allocated (d);
    read_disk (d);
    disk_close (d);
  }
  d = vhd_open (input, VHD_OPEN_NOPARENT);   /* as `vhd info` opens */
  disk_close (d);

  vhd_check (input, &problems);
  for (size_t i = 0; i < problems.len; i++)
    free (problems.ptr[i]);
  free (problems.ptr);
  if (fchdir (start_fd) == -1)
    die ("cannot chdir back");
  return 0;
}
