/* Helpers of the disk-reading fuzz targets: see fuzz.h. */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"

#define READ_BUDGET (32 * MiB)   /* bytes read per input, at most */
#define EXTENT_CALLS 100000      /* disk_extents calls per input */
#define MAX_FILES 8

uint8_t *fuzz_buf;

static char dir[64];
static char *files[MAX_FILES];
static size_t nfiles;
static int dir_fd = -1, start_fd = -1;

static void
cleanup (void)
{
  for (size_t i = 0; i < nfiles; i++)
    unlink (files[i]);
  if (dir[0])
    rmdir (dir);
}

void
fuzz_die (const char *what)
{
  /* Descriptor 2, not the stream: see fuzz_init. */
  dprintf (STDERR_FILENO, "fuzz: %s\n", what);
  cleanup ();
  abort ();
}

/* hv_error prints through the stdio stream `stderr`.  Point that stream
 * at /dev/null: the library's messages are expected for bad input and
 * would drown libFuzzer's status lines.  libFuzzer captured its own copy
 * of the stream at startup and the sanitizers write to descriptor 2, so
 * both still reach the terminal. */
static void
quiet (const char *verbose_env)
{
  FILE *null;

  if (getenv (verbose_env))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

void
fuzz_init (const char *name, const char *verbose_env)
{
  snprintf (dir, sizeof dir, "/tmp/%s.XXXXXX", name);
  fuzz_buf = malloc (FUZZ_CHUNK);
  if (fuzz_buf == NULL || mkdtemp (dir) == NULL ||
      (dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
      (start_fd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
    fuzz_die ("cannot set up a temporary directory");
  atexit (cleanup);
  quiet (verbose_env);
}

const char *
fuzz_path (const char *file)
{
  char *p;

  if (nfiles == MAX_FILES || asprintf (&p, "%s/%s", dir, file) == -1)
    fuzz_die ("fuzz_path");
  files[nfiles++] = p;
  return p;
}

void
fuzz_write_file (const char *path, const void *data, size_t size)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd == -1 || (size && full_pwrite (fd, data, size, 0) == -1))
    fuzz_die ("cannot write a file in the temporary directory");
  close (fd);
}

void
fuzz_enter (void)
{
  if (fchdir (dir_fd) == -1)
    fuzz_die ("cannot chdir to the temporary directory");
}

void
fuzz_leave (void)
{
  if (fchdir (start_fd) == -1)
    fuzz_die ("cannot chdir back");
}

/* Read [OFF, OFF+LEN) in chunks within the budget; a ZERO extent must
 * read as zeros. */
static void
read_range (struct disk *d, uint64_t off, uint64_t len, bool zero,
            uint64_t *budget)
{
  while (len > 0 && *budget > 0) {
    size_t n = MIN (MIN (len, (uint64_t) FUZZ_CHUNK), *budget);
    const uint8_t *m;
    if (disk_pread (d, fuzz_buf, n, off) == -1)
      return;               /* an I/O error on bad input is fine */
    if (zero && !is_zero (fuzz_buf, n))
      fuzz_die ("an EXTENT_ZERO range does not read as zeros");
    if ((m = disk_map (d, off, n)) != NULL && memcmp (m, fuzz_buf, n) != 0)
      fuzz_die ("the mapping and pread disagree");
    off += n;
    len -= n;
    *budget -= n;
  }
}

void
fuzz_read_disk (struct disk *d)
{
  struct extent_vector ev = { 0 };
  uint64_t off = 0, budget = READ_BUDGET;

  for (int calls = 0; off < d->size && calls < EXTENT_CALLS; calls++) {
    ev.len = 0;
    if (disk_extents (d, off, d->size - off, &ev) == -1)
      break;
    if (ev.len == 0)
      fuzz_die ("disk_extents made no progress");
    for (size_t i = 0; i < ev.len; i++) {
      const struct extent *e = &ev.ptr[i];
      if (e->offset != off || e->length == 0 ||
          e->length > d->size - off)
        fuzz_die ("extents are not contiguous, in order and inside the "
                  "disk");
      read_range (d, e->offset, e->length, e->type == EXTENT_ZERO, &budget);
      off += e->length;
    }
  }
  free (ev.ptr);
  /* An unaligned read across the start and a read of the last byte:
   * paths the aligned walk above does not take. */
  if (d->size > 1000)
    disk_pread (d, fuzz_buf, 1000, 3);
  if (d->size > 0)
    disk_pread (d, fuzz_buf, 1, d->size - 1);
}

void
fuzz_one_image (const char *input, const uint8_t *data, size_t size,
                bool (*probe) (int fd, uint64_t size),
                struct disk *(*open_image) (const char *, unsigned))
{
  struct disk *d;
  int fd;

  fuzz_enter ();
  fuzz_write_file (input, data, size);
  /* The probe must not crash either; the open runs whatever it says. */
  fd = open (input, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    fuzz_die ("cannot reopen the input file");
  (void) probe (fd, size);
  close (fd);
  d = open_image (input, 0);
  if (d) {
    fuzz_read_disk (d);
    disk_close (d);
  }
  fuzz_leave ();
}
