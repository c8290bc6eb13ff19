/* A main() for the libFuzzer targets (fuzz-vhd*.c) without libFuzzer:
 * PROGRAM FILE... runs each file through LLVMFuzzerTestOneInput once and
 * prints "ok N FILE".  make check replays the committed corpora with it
 * (test-vhd-fuzz-corpus.sh), in the sanitizer build too, so every input
 * that once failed stays a regression test.  A failed invariant aborts. */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char **argv)
{
  /* Line-buffered: the "ok" lines must survive an abort. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    uint8_t *data;
    int fd = open (argv[i], O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fstat (fd, &st) == -1) {
      dprintf (STDERR_FILENO, "%s: %m\n", argv[i]);
      return 1;
    }
    data = malloc (st.st_size ? st.st_size : 1);
    if (data == NULL ||
        (st.st_size && full_pread (fd, data, st.st_size, 0) == -1)) {
      dprintf (STDERR_FILENO, "%s: reading: %m\n", argv[i]);
      return 1;
    }
    close (fd);
    LLVMFuzzerTestOneInput (data, st.st_size);
    free (data);
    printf ("ok %d %s\n", i, argv[i]);
  }
  return 0;
}
