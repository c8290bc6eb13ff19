/* libFuzzer target for the VMDK reader: `make -C tests fuzz-vmdk`.
 *
 * Each input is written to input.vmdk in a private directory (the
 * reader takes a path, and descriptors name files beside them), opened
 * with vmdk_open, read extent by extent (bounded) and closed.  Besides
 * the sanitizers it asserts what the copy engine relies on: extents are
 * contiguous, in order, make progress, and EXTENT_ZERO ranges read as
 * zeros.
 *
 * The directory also holds the files that the seed descriptors name, so
 * the fuzzer reaches the extent and parent paths: flat.raw (64 KiB of a
 * pattern), sparse.vmdk (a KDMV sparse extent of 1 MiB in 4 KiB grains,
 * grains 0 and 5 allocated, grain 2 zeroed, no descriptor) and
 * parent.vmdk (a descriptor with CID 11111111 over sparse.vmdk).  Names
 * leading out of the directory are refused by the reader (no
 * IMPORTER_ALLOW_OUTSIDE), and it opens nothing but regular files, so
 * nothing can block.
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-vmdk-fuzz-replay, which replays the committed corpus under make
 * check.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "importers.h"

#define EXTENT_CALLS 10000       /* disk_extents calls per input */
#define SPARSE_BYTES (24 * 512)

static char dir[] = "/tmp/fuzz-vmdk.XXXXXX";
static char input[64];
static const char *const helpers[] = { "flat.raw", "sparse.vmdk",
                                       "parent.vmdk" };
static int dir_fd = -1, start_fd = -1;
static uint8_t *buf;

static void
cleanup (void)
{
  char path[128];

  unlink (input);
  for (size_t i = 0; i < ARRAY_SIZE (helpers); i++) {
    snprintf (path, sizeof path, "%s/%s", dir, helpers[i]);
    unlink (path);
  }
  rmdir (dir);
}

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-vmdk: %s\n", what);
  cleanup ();
  abort ();
}

static void
write_helper (const char *name, const void *data, size_t len)
{
  char path[128];
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || full_pwrite (fd, data, len, 0) == -1)
    die ("cannot write a helper file");
  close (fd);
}

/* sparse.vmdk: header | GD (sector 1) | GT (sectors 2-5) | grain 0 at
 * sector 8 | grain 5 at sector 16. */
static void
make_sparse (void)
{
  uint8_t b[SPARSE_BYTES] = { 0 };

  memcpy (b, "KDMV", 4);
  store_le32 (b + 4, 1);                /* version */
  store_le32 (b + 8, 1 | 4);            /* newline test, zeroed GTEs */
  store_le64 (b + 12, 2048);            /* capacity */
  store_le64 (b + 20, 8);               /* grain */
  store_le32 (b + 44, 512);             /* GTEs per GT */
  store_le64 (b + 56, 1);               /* GD */
  store_le64 (b + 64, 8);               /* overhead */
  memcpy (b + 73, "\n \r\n", 4);
  store_le32 (b + 512, 2);              /* GD[0]: the GT */
  store_le32 (b + 1024 + 0 * 4, 8);
  store_le32 (b + 1024 + 2 * 4, 1);
  store_le32 (b + 1024 + 5 * 4, 16);
  for (size_t i = 8 * 512; i < sizeof b; i++)
    b[i] = (uint8_t) (i * 7 + 1);
  write_helper ("sparse.vmdk", b, sizeof b);
}

static void
make_helpers (void)
{
  static const char parent[] =
    "# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\n"
    "createType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"sparse.vmdk\"\n";

  for (size_t i = 0; i < 64 * KiB; i++)
    buf[i] = (uint8_t) (i * 13 + i / 512);
  write_helper ("flat.raw", buf, 64 * KiB);
  make_sparse ();
  write_helper ("parent.vmdk", parent, sizeof parent - 1);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  buf = malloc (FUZZ_CHUNK);
  if (buf == NULL || mkdtemp (dir) == NULL ||
      (dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
      (start_fd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
    die ("cannot set up a temporary directory");
  snprintf (input, sizeof input, "%s/input.vmdk", dir);
  atexit (cleanup);
  make_helpers ();
  fuzz_quiet ("FUZZ_VMDK_VERBOSE");
  return 0;
}

/* Read every extent; abort if the disk breaks its promises. */
static void
read_disk (struct disk *d)
{
  const char *broken = fuzz_read_disk (d, buf, EXTENT_CALLS);

  if (broken)
    die (broken);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct disk *d;
  int fd;

  if (fchdir (dir_fd) == -1)
    die ("cannot chdir to the temporary directory");
  fd = open (input, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || (size && full_pwrite (fd, data, size, 0) == -1))
    die ("cannot write the input file");
  /* The probe must not crash either; the open runs whatever it says. */
  (void) vmdk_probe (fd, size);
  close (fd);

  d = vmdk_open (input, 0);
  if (d) {
    read_disk (d);
    disk_close (d);
  }
  if (fchdir (start_fd) == -1)
    die ("cannot chdir back");
  return 0;
}
