/* libFuzzer target for the VMDK reader: `make -C tests fuzz-vmdk`.
 *
 * Each input is written to input.vmdk in the target's directory (see
 * fuzz.h; descriptors name files beside them), opened with vmdk_open,
 * read extent by extent with fuzz_read_disk's checks, and closed.  Besides
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

#include "fuzz.h"
#include "importers.h"

#define SPARSE_BYTES (24 * 512)

static const char *input;

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
  fuzz_write_file (fuzz_path ("sparse.vmdk"), b, sizeof b);
}

static void
make_helpers (void)
{
  static const char parent[] =
    "# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\n"
    "createType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"sparse.vmdk\"\n";

  for (size_t i = 0; i < 64 * KiB; i++)
    fuzz_buf[i] = (uint8_t) (i * 13 + i / 512);
  fuzz_write_file (fuzz_path ("flat.raw"), fuzz_buf, 64 * KiB);
  make_sparse ();
  fuzz_write_file (fuzz_path ("parent.vmdk"), parent, sizeof parent - 1);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-vmdk", "FUZZ_VMDK_VERBOSE");
  input = fuzz_path ("input.vmdk");
  make_helpers ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_one_image (input, data, size, vmdk_probe, vmdk_open);
  return 0;
}
