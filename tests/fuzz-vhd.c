/* libFuzzer target for the VHD reader: `make -C tests fuzz`.
 *
 * Each input is written to a file in the target's private, otherwise
 * nearly empty directory (see fuzz.h), opened read-only, read extent by
 * extent with fuzz_read_disk's checks (extents contiguous, in order,
 * making progress, EXTENT_ZERO ranges reading as zeros), checked with
 * vhd_check and closed.
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
 * FUZZ_VHD_VERBOSE=1 keeps the library's messages (for reproducing a
 * crash).
 */
#include <config.h>

#include <fcntl.h>

#include "fuzz.h"
#include "vhd.h"

static const char *input, *parent;

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
    fuzz_die ("cannot create good-parent.vhd");
  for (size_t i = 0; i < 1 * MiB; i++)
    fuzz_buf[i] = (uint8_t) (i * 13 + i / 512);
  if (disk_pwrite (d, fuzz_buf, 1 * MiB, 0) == -1 || disk_flush (d) == -1)
    fuzz_die ("cannot write good-parent.vhd");
  disk_close (d);
  fd = open (parent, O_RDWR);
  if (fd == -1 || full_pread (fd, raw, sizeof raw, 1 * MiB) == -1)
    fuzz_die ("cannot reopen good-parent.vhd");
  vhd_footer_decode (raw, &f);
  memset (f.uuid, 0x33, 16);
  vhd_footer_encode (&f, raw);
  if (full_pwrite (fd, raw, sizeof raw, 1 * MiB) == -1)
    fuzz_die ("cannot patch good-parent.vhd");
  close (fd);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-vhd", "FUZZ_VHD_VERBOSE");
  input = fuzz_path ("input.vhd");
  parent = fuzz_path ("good-parent.vhd");
  make_parent ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct string_vector problems = { 0 };
  struct disk *d;

  fuzz_enter ();
  fuzz_write_file (input, data, size);
  d = vhd_open (input, 0);
  if (d) {
    (void) vhd_disk_header (d);
    (void) vhd_disk_blocks_allocated (d);
    fuzz_read_disk (d);
    disk_close (d);
  }
  d = vhd_open (input, VHD_OPEN_NOPARENT);   /* as `vhd info` opens */
  disk_close (d);

  vhd_check (input, &problems);
  for (size_t i = 0; i < problems.len; i++)
    free (problems.ptr[i]);
  free (problems.ptr);
  fuzz_leave ();
  return 0;
}
