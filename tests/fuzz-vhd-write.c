/* libFuzzer target for the VHD writer: `make -C tests fuzz-write`.
 *
 * Every conversion writes a new VHD through vhd_create + disk_pwrite, so
 * the write path (block allocation, differencing bitmaps, unaligned
 * writes, metadata flush) is checked against a model: the input chooses
 * a disk (fixed, dynamic, or differencing over a dynamic parent), its
 * size and block size, then a list of writes, reopens and flushes; an
 * in-memory copy receives the same writes.  After each reopen and at the
 * end the disk must read exactly like the copy, its ZERO extents must be
 * zeros, and `vhd check` must find no problem in the file we wrote.
 *
 * Input: byte 0 type, byte 1 block size, bytes 2-3 size in sectors, then
 * 8-byte operations: offset (4), length (2), fill byte, flags (bit 0:
 * flush, bit 1: close and reopen).
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-vhd-fuzz-write-replay: make check replays fuzz-corpus-vhd-write/.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "vhd.h"

#define MAX_SECTORS 8192      /* 4 MiB virtual at most */
#define MAX_OPS 64                /* -max_len=516 in Makefile.am */

static char dir[] = "/tmp/fuzz-vhd-write.XXXXXX";
static char child[64], parent[64];
static uint8_t *model, *buf;

static void
cleanup (void)
{
  unlink (child);
  unlink (parent);
  rmdir (dir);
}

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-vhd-write: %s\n", what);
  cleanup ();
  abort ();
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  FILE *null;

  model = malloc (MAX_SECTORS * 512);
  buf = malloc (MAX_SECTORS * 512);
  if (model == NULL || buf == NULL || mkdtemp (dir) == NULL)
    die ("cannot set up");
  snprintf (child, sizeof child, "%s/child.vhd", dir);
  snprintf (parent, sizeof parent, "%s/parent.vhd", dir);
  atexit (cleanup);
  /* Errors are expected to be none here, but keep libFuzzer's output
   * readable if one happens (see fuzz-vhd.c). */
  if (!getenv ("FUZZ_VHD_VERBOSE") && (null = fopen ("/dev/null", "w")))
    stderr = null;
  return 0;
}

/* The whole disk must read like the model, and ZERO extents as zeros. */
static void
verify (struct disk *d, uint64_t size)
{
  struct extent_vector ev = { 0 };
  uint64_t off = 0;

  if (disk_pread (d, buf, size, 0) == -1)
    die ("reading the disk back failed");
  if (memcmp (buf, model, size) != 0)
    die ("the disk does not read like the model");
  while (off < size) {
    ev.len = 0;
    if (disk_extents (d, off, size - off, &ev) == -1 || ev.len == 0)
      die ("extents failed");
    for (size_t i = 0; i < ev.len; i++) {
      if (ev.ptr[i].offset != off)
        die ("extents are not contiguous");
      if (ev.ptr[i].type == EXTENT_ZERO &&
          !is_zero (model + off, ev.ptr[i].length))
        die ("a ZERO extent covers data");
      off += ev.ptr[i].length;
    }
  }
  free (ev.ptr);
}

static void
check_clean (const char *file)
{
  struct string_vector problems = { 0 };

  if (vhd_check (file, &problems) == -1 || problems.len != 0) {
    for (size_t i = 0; i < problems.len; i++)
      dprintf (STDERR_FILENO, "problem: %s\n", problems.ptr[i]);
    die ("vhd check finds problems in a file we wrote");
  }
  free (problems.ptr);
}

/* The parent of a differencing input: dynamic, every third sector
 * written with a pattern. */
static void
make_parent (uint64_t size, uint32_t bs)
{
  struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = size,
                               .block_size = bs };
  struct disk *p = vhd_create (parent, &o);

  if (p == NULL)
    die ("cannot create the parent");
  memset (model, 0, size);
  for (uint64_t s = 0; s < size / 512; s += 3)
    memset (model + s * 512, (int) (s % 251) + 1, 512);
  if (disk_pwrite (p, model, size, 0) == -1)
    die ("cannot write the parent");
  disk_close (p);             /* writes the metadata (no fsync: faster) */
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
  static const uint32_t block_sizes[] = { 512, 4096, 65536, 2 * MiB };
  struct vhd_create_opts o = { 0 };
  struct disk *d;
  uint64_t size;
  bool diff;

  if (len < 4)
    return 0;
  unlink (child);
  unlink (parent);
  diff = data[0] % 3 == 2;
  o.type = data[0] % 3 == 0 ? VHD_TYPE_FIXED
    : diff ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC;
  o.block_size = block_sizes[data[1] % ARRAY_SIZE (block_sizes)];
  size = (uint64_t) (1 + load_be16 (data + 2) % MAX_SECTORS) * 512;
  o.size = size;
  if (diff) {
    make_parent (size, o.block_size);
    o.parent = parent;
  }
  else
    memset (model, 0, size);

  d = vhd_create (child, &o);
  if (d == NULL)
    die ("vhd_create failed");
  for (size_t i = 4, n = 0; i + 8 <= len && n < MAX_OPS; i += 8, n++) {
    uint64_t off = load_be32 (data + i) % size;
    size_t count = MIN ((uint64_t) load_be16 (data + i + 4), size - off);
    uint8_t flags = data[i + 7];
    memset (buf, data[i + 6], count);
    if (disk_pwrite (d, buf, count, off) == -1)
      die ("a write failed");
    memcpy (model + off, buf, count);
    if ((flags & 1) && disk_flush (d) == -1)
      die ("flush failed");
    if (flags & 2) {
      disk_close (d);
      d = vhd_open (child, VHD_OPEN_WRITE);
      if (d == NULL || d->size != size)
        die ("cannot reopen what we wrote");
      verify (d, size);
    }
  }
  disk_close (d);

  d = vhd_open (child, 0);
  if (d == NULL || d->size != size)
    die ("cannot open what we wrote");
  verify (d, size);
  disk_close (d);
  check_clean (child);
  return 0;
}
