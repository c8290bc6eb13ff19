/* vhd-write VHD RAW OFFSET LENGTH SEED|zero: write LENGTH bytes at
 * OFFSET through hvconvert's VHD writer (vhd_open for writing: for a
 * differencing disk, the path that allocates blocks and sets sector
 * bitmaps), and the same bytes into the raw model image RAW, which the
 * tests then compare the VHD with.  The bytes are a pseudo-random stream
 * from SEED, or zeros.  Offsets and lengths need not be sector-aligned. */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "vhd.h"

static int
usage (void)
{
  fprintf (stderr, "usage: vhd-write VHD RAW OFFSET LENGTH SEED|zero\n");
  return 2;
}

static void
fill (uint8_t *buf, size_t n, const char *pattern)
{
  uint64_t x = strtoull (pattern, NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;

  if (strcmp (pattern, "zero") == 0) {
    memset (buf, 0, n);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[i] = (uint8_t) (x >> 24);
  }
}

int
main (int argc, char **argv)
{
  struct disk *d;
  uint64_t offset;
  size_t length;
  uint8_t *buf;
  int fd, r = 1;

  if (argc != 6)
    return usage ();
  offset = strtoull (argv[3], NULL, 0);
  length = strtoull (argv[4], NULL, 0);
  buf = malloc (length ? length : 1);
  fd = open (argv[2], O_WRONLY);
  d = vhd_open (argv[1], VHD_OPEN_WRITE);
  if (buf == NULL || fd == -1 || d == NULL) {
    perror ("vhd-write");
    return 1;
  }
  fill (buf, length, argv[5]);
  if (disk_pwrite (d, buf, length, offset) == 0 && disk_flush (d) == 0 &&
      full_pwrite (fd, buf, length, offset) == 0)
    r = 0;
  disk_close (d);
  close (fd);
  free (buf);
  return r;
}
