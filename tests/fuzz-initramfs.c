/* libFuzzer target for the initramfs reader: `make -C tests
 * fuzz-initramfs`.
 *
 * Each input is written to input.img in the target's directory (see
 * fuzz.h) and scanned with initramfs_scan, as inject lists a guest's
 * image; the segments found must lie inside the file, in order, not
 * overlapping, and account for every member listed.  Decompression is
 * capped at 64 MiB per input here (2 GiB in hvconvert) so a bomb costs
 * little time.  Linked with fuzz-replay.c it is
 * test-initramfs-fuzz-replay, which replays the committed corpus
 * (tests/fuzz-corpus-initramfs/) under make check.
 * FUZZ_INITRAMFS_VERBOSE=1 keeps the reader's messages.
 */
#include <config.h>

#include <stdio.h>

#include "fuzz.h"
#include "initramfs-walk.h"

static const char *input;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ("fuzz-initramfs", "FUZZ_INITRAMFS_VERBOSE");
  input = fuzz_path ("input.img");
  irfs_output_limit = 64 * MiB;
  return 0;
}

static void
check_layout (const struct initramfs_layout *l, size_t members,
              uint64_t size)
{
  uint64_t end = 0;
  size_t n = 0;

  if (l->segments.len == 0)
    fuzz_die ("an image without segments was accepted");
  for (size_t i = 0; i < l->segments.len; i++) {
    const struct initramfs_segment *s = &l->segments.ptr[i];
    if (s->offset < end || s->length == 0 || s->offset > size ||
        s->length > size - s->offset)
      fuzz_die ("a segment overlaps another or leaves the file");
    end = s->offset + s->length;
    n += s->members;
  }
  if (n != members)
    fuzz_die ("the segments do not account for the members");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct string_vector members = { 0 };
  struct initramfs_layout l = { 0 };

  fuzz_write_file (input, data, size);
  fuzz_enter ();
  if (initramfs_scan (input, &members, &l) == 0)
    check_layout (&l, members.len, size);
  for (size_t i = 0; i < members.len; i++) {
    if (members.ptr[i][0] == '\0' || members.ptr[i][0] == '/')
      fuzz_die ("a member name is empty or absolute");
    free (members.ptr[i]);
  }
  free (members.ptr);
  initramfs_layout_free (&l);
  fuzz_leave ();
  return 0;
}
