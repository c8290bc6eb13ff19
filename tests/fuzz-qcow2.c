/* libFuzzer target for the QCOW2 reader: `make -C tests fuzz-qcow2`.
 *
 * Each input is written to input.qcow2 in the target's directory (see
 * fuzz.h), probed, opened read-only as `hvconvert disk --format qcow2`
 * opens it, read extent by extent with fuzz_read_disk's checks, and
 * closed.
 *
 * Backing files: the directory also holds backing.raw, 64 KiB of a byte
 * pattern, which the seed backing-raw.qcow2 names, so the fuzzer reaches
 * the backing read paths; input.qcow2 naming itself reaches the loop
 * check.  Other names find nothing, and names leading outside the
 * directory are refused (the flags do not allow them).
 *
 * Linked with fuzz-replay.c instead of libFuzzer it is
 * test-qcow2-fuzz-replay, which replays the committed corpus under make
 * check (test-qcow2-fuzz-corpus.sh).  FUZZ_QCOW2_VERBOSE=1 keeps the
 * reader's messages.
 */
#include <config.h>

#include <fcntl.h>

#include "fuzz.h"
#include "importers.h"

#define BACKING_SIZE (64 * KiB)

static const char *input;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-qcow2", "FUZZ_QCOW2_VERBOSE");
  input = fuzz_path ("input.qcow2");
  for (size_t i = 0; i < BACKING_SIZE; i++)
    fuzz_buf[i] = (uint8_t) (i * 13 + i / 512 + 1);
  fuzz_write_file (fuzz_path ("backing.raw"), fuzz_buf, BACKING_SIZE);
  return 0;
}

/* The probe accepts exactly the files that start with the magic. */
static void
check_probe (const uint8_t *data, size_t size)
{
  const bool magic = size >= 4 && memcmp (data, "QFI\xfb", 4) == 0;
  int fd = open (input, O_RDONLY | O_CLOEXEC);

  if (fd == -1)
    fuzz_die ("cannot reopen the input file");
  if (qcow2_probe (fd, size) != magic)
    fuzz_die ("the probe disagrees with the magic");
  close (fd);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct disk *d;

  fuzz_enter ();
  fuzz_write_file (input, data, size);
  check_probe (data, size);
  d = importer_open (input, "qcow2", 0);
  if (d) {
    fuzz_read_disk (d);
    disk_close (d);
  }
  fuzz_leave ();
  return 0;
}
