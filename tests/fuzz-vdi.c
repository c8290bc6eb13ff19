/* libFuzzer target for the VDI reader: `make -C tests fuzz-vdi`.
 *
 * Each input is written to input.vdi in the target's directory (see
 * fuzz.h), probed, opened as `hvconvert disk --format vdi` opens it,
 * read extent by extent with fuzz_read_disk's checks, and closed.  The
 * directory also holds parent.vdi, a small good VDI with the UUID
 * 21212121-... that differencing inputs may name, so the fuzzer reaches
 * the parent search and the reads through a parent; a differencing
 * input naming its own UUID reaches the self-parent check.  Linked with
 * fuzz-replay.c it is test-vdi-fuzz-replay, which replays the committed
 * corpus and fixtures/bad-vdi/ under make check.  FUZZ_VDI_VERBOSE=1
 * keeps the reader's messages.
 */
#include <config.h>

#include <fcntl.h>

#include "fuzz.h"
#include "importers.h"

static const char *input;

/* parent.vdi: 4 blocks of 4 KiB, block 1 allocated with a pattern. */
static void
make_parent (void)
{
  uint8_t f[2 * 512 + 4096] = { 0 };

  memcpy (f, "<<< Oracle VM VirtualBox Disk Image >>>\n", 40);
  store_le32 (f + 64, 0xBEDA107F);
  store_le32 (f + 68, 0x00010001);
  store_le32 (f + 72, 0x190);
  store_le32 (f + 76, 1);
  store_le32 (f + 340, 512);                  /* block map */
  store_le32 (f + 344, 1024);                 /* data */
  store_le32 (f + 360, 512);
  store_le64 (f + 368, 4 * 4096);
  store_le32 (f + 376, 4096);
  store_le32 (f + 384, 4);
  store_le32 (f + 388, 1);
  memset (f + 392, 0x21, 16);                 /* image UUID */
  memset (f + 408, 0x22, 16);                 /* modification UUID */
  store_le32 (f + 512, 0xFFFFFFFF);
  store_le32 (f + 516, 0);
  store_le32 (f + 520, 0xFFFFFFFE);
  store_le32 (f + 524, 0xFFFFFFFF);
  for (size_t i = 0; i < 4096; i++)
    f[1024 + i] = (uint8_t) (i * 7 + 3);
  fuzz_write_file (fuzz_path ("parent.vdi"), f, sizeof f);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-vdi", "FUZZ_VDI_VERBOSE");
  input = fuzz_path ("input.vdi");
  make_parent ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_one_image (input, data, size, vdi_probe, vdi_open);
  return 0;
}
