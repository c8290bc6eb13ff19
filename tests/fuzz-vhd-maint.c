/* libFuzzer target for the in-place VHD maintenance: `make -C tests
 * fuzz-maint`.
 *
 * Each input is written to a file and, if it opens as a VHD, compacted
 * and then expanded by 1 MiB (vhd_compact, vhd_expand: they may refuse,
 * which is fine).  The invariants, besides the sanitizers:
 *   - what the disk reads as does not change (compared as a digest of
 *     its non-zero sectors and their offsets, so that unallocated and
 *     zero blocks count the same), and after expand the size is the new
 *     one;
 *   - a file vhd_check found no problem in before still has none.
 * A differencing input has no parent here, so it cannot be read: for
 * those only the check invariant applies.
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-vhd-fuzz-maint-replay, which runs the committed corpus under
 * make check.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz-util.h"
#include "vhd.h"

#define READ_BUDGET (64 * MiB)   /* bytes read per digest, at most */
#define CHUNK (1 * MiB)

static char dir[] = "/tmp/fuzz-vhd-maint.XXXXXX";
static char input[64];
static uint8_t *buf;

static void
cleanup (void)
{
  unlink (input);
  rmdir (dir);
}

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-vhd-maint: %s\n", what);
  cleanup ();
  abort ();
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  buf = malloc (CHUNK);
  if (buf == NULL || mkdtemp (dir) == NULL)
    die ("cannot set up a temporary directory");
  snprintf (input, sizeof input, "%s/input.vhd", dir);
  atexit (cleanup);
  fuzz_quiet ();
  return 0;
}

/* FNV-1a over the offsets and bytes of the non-zero sectors. */
static uint64_t
mix (uint64_t h, const void *p, size_t n)
{
  const uint8_t *b = p;

  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001B3ULL;
  return h;
}

/* The digest of a (non-differencing) disk's content, its size in *SIZE;
 * false if it cannot be read within the budget. */
static bool
digest (uint64_t *h, uint64_t *size)
{
  struct disk *d = vhd_open (input, VHD_OPEN_NOPARENT);
  struct extent_vector ev = { 0 };
  uint64_t budget = READ_BUDGET, off = 0;
  bool ok = d && vhd_disk_footer (d)->disk_type != VHD_TYPE_DIFF;

  *h = 0xCBF29CE484222325ULL;
  *size = d ? d->size : 0;
  while (ok && off < d->size) {
    ev.len = 0;
    ok = disk_extents (d, off, d->size - off, &ev) == 0 && ev.len > 0;
    for (size_t i = 0; ok && i < ev.len; i++) {
      const struct extent *e = &ev.ptr[i];
      for (uint64_t at = e->offset; ok && e->type == EXTENT_DATA &&
             at < e->offset + e->length; at += CHUNK) {
        size_t n = MIN ((uint64_t) CHUNK, e->offset + e->length - at);
        ok = n <= budget && disk_pread (d, buf, n, at) == 0;
        budget -= ok ? n : 0;
        for (size_t s = 0; ok && s < n; s += VHD_SECTOR)
          if (!is_zero (buf + s, MIN ((size_t) VHD_SECTOR, n - s))) {
            uint64_t where = at + s;
            *h = mix (mix (*h, &where, sizeof where), buf + s,
                      MIN ((size_t) VHD_SECTOR, n - s));
          }
      }
      off = e->offset + e->length;
    }
  }
  free (ev.ptr);
  disk_close (d);
  return ok;
}

static size_t
problems (void)
{
  struct string_vector p = { 0 };
  size_t n;

  if (vhd_check (input, &p) == -1)
    n = SIZE_MAX;
  else
    n = p.len;
  for (size_t i = 0; i < p.len; i++)
    free (p.ptr[i]);
  free (p.ptr);
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vhd_compact_stats st;
  uint64_t h0, h1, s0, s1;
  bool readable;
  size_t before;
  int fd;

  fd = open (input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || (size && full_pwrite (fd, data, size, 0) == -1))
    die ("cannot write the input file");
  close (fd);

  before = problems ();
  readable = digest (&h0, &s0);
  if (vhd_compact (input, &st) == 0) {
    if (before == 0 && problems () != 0)
      die ("vhd compact made a sound file unsound");
    if (readable && (!digest (&h1, &s1) || h1 != h0 || s1 != s0))
      die ("vhd compact changed the content");
  }
  before = problems ();
  readable = digest (&h0, &s0);
  if (s0 && s0 + MiB <= VHD_MAX_SIZE && vhd_expand (input, s0 + MiB) == 0) {
    if (before == 0 && problems () != 0)
      die ("vhd expand made a sound file unsound");
    if (readable && (!digest (&h1, &s1) || h1 != h0 || s1 != s0 + MiB))
      die ("vhd expand changed the content");
  }
  return 0;
}
