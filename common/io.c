/* Full pread/pwrite: loop over short transfers and EINTR.
 *
 * Every call that changes a file's content or makes it durable (pwrite,
 * pwritev, copy range, zero range, ftruncate, fsync, fdatasync) goes
 * through this
 * file, so that one fault injector covers them all.  With the
 * environment variable HVCONVERT_FAULT set to "write:N" the N-th such
 * call (counted from 1 over the whole process) fails with EIO without
 * doing anything; with "exit:N" the process kills itself with SIGKILL
 * just before it, as a crash would.  The crash tests (tests/
 * test-vhd-faults.sh) run an operation once for every N and check that
 * what is left on disk is consistent.  See hvconvert-hacking(1).
 */
#include <config.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/uio.h>

#include "common.h"

/* ---------------------------------------------------------------- */
/* The fault injector. */

enum fault_kind { FAULT_UNSET, FAULT_NONE, FAULT_WRITE, FAULT_EXIT };

static enum fault_kind fault_kind;
static unsigned long fault_at;
static unsigned long fault_count;

static void
fault_parse (void)
{
  const char *s = getenv ("HVCONVERT_FAULT");
  char *end;

  fault_kind = FAULT_NONE;
  if (s == NULL || *s == '\0')
    return;
  if (strncmp (s, "write:", 6) == 0)
    fault_kind = FAULT_WRITE;
  else if (strncmp (s, "exit:", 5) == 0)
    fault_kind = FAULT_EXIT;
  else {
    hv_warning (HV_E_USAGE, "HVCONVERT_FAULT=%s: expected write:N or "
                "exit:N; ignored", s);
    fault_kind = FAULT_NONE;
    return;
  }
  errno = 0;
  fault_at = strtoul (strchr (s, ':') + 1, &end, 10);
  if (errno || *end || fault_at == 0) {
    hv_warning (HV_E_USAGE, "HVCONVERT_FAULT=%s: N must be a positive "
                "number; ignored", s);
    fault_kind = FAULT_NONE;
  }
}

/* Called before each write-class operation WHAT.  Returns -1 with errno
 * EIO when this is the write that must fail; does not return when this
 * is where the process must crash. */
static int
fault_point (const char *what)
{
  unsigned long n;

  if (fault_kind == FAULT_UNSET)
    fault_parse ();
  if (fault_kind == FAULT_NONE)
    return 0;
  n = __atomic_add_fetch (&fault_count, 1, __ATOMIC_SEQ_CST);
  if (n != fault_at)
    return 0;
  fprintf (stderr, "%s: HVCONVERT_FAULT: %s %lu (%s)\n", hv_program_name,
           fault_kind == FAULT_EXIT ? "crashing before" : "failing",
           n, what);
  if (fault_kind == FAULT_EXIT)
    raise (SIGKILL);
  errno = EIO;
  return -1;
}

/* ---------------------------------------------------------------- */

int
full_pread (int fd, void *buf, size_t count, uint64_t offset)
{
  uint8_t *p = buf;

  while (count > 0) {
    ssize_t r = pread (fd, p, count, (off_t) offset);
    if (r == -1) {
      if (errno == EINTR && !hv_interrupted)
        continue;
      return -1;
    }
    if (r == 0) {
      errno = ENODATA;   /* end of file: the file is shorter than claimed */
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

static int
pwrite_loop (int fd, const uint8_t *p, size_t count, uint64_t offset)
{
  while (count > 0) {
    ssize_t r = pwrite (fd, p, count, (off_t) offset);
    if (r == -1) {
      if (errno == EINTR && !hv_interrupted)
        continue;
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

int
full_pwrite (int fd, const void *buf, size_t count, uint64_t offset)
{
  if (fault_point ("pwrite") == -1)
    return -1;
  return pwrite_loop (fd, buf, count, offset);
}

/* One vectored write of two buffers; a short one is finished with plain
 * writes.  Counts as one write for the fault injector. */
int
full_pwrite2 (int fd, const void *a, size_t alen, const void *b,
              size_t blen, uint64_t offset)
{
  struct iovec iov[2] = { { (void *) a, alen }, { (void *) b, blen } };
  ssize_t r;

  if (fault_point ("pwritev") == -1)
    return -1;
  do
    r = pwritev (fd, iov, 2, (off_t) offset);
  while (r == -1 && errno == EINTR && !hv_interrupted);
  if (r == -1)
    return -1;
  if ((size_t) r < alen)
    return pwrite_loop (fd, (const uint8_t *) a + r, alen - r, offset + r) ||
      pwrite_loop (fd, b, blen, offset + alen) ? -1 : 0;
  return pwrite_loop (fd, (const uint8_t *) b + (r - alen),
                      blen - (r - alen), offset + r);
}

/* copy_file_range where the kernel and file system allow it (no copy
 * through user space), else a bounded buffer. */
static int
copy_through_buffer (int in, uint64_t in_off, int out, uint64_t out_off,
                     uint64_t len)
{
  const size_t bufsize = MIN (len, 4 * MiB);
  uint8_t *buf = malloc (bufsize ? bufsize : 1);
  int r = 0;

  if (buf == NULL)
    return -1;
  while (len > 0 && r == 0) {
    size_t n = MIN (len, bufsize);
    r = full_pread (in, buf, n, in_off);
    if (r == 0)
      r = pwrite_loop (out, buf, n, out_off);
    in_off += n;
    out_off += n;
    len -= n;
  }
  free (buf);
  return r;
}

int
full_copy_range (int in, uint64_t in_off, int out, uint64_t out_off,
                 uint64_t len)
{
  if (fault_point ("copy") == -1)
    return -1;
  while (len > 0) {
    loff_t i = (loff_t) in_off, o = (loff_t) out_off;
    ssize_t r = copy_file_range (in, &i, out, &o, len, 0);
    if (r == -1 && errno == EINTR && !hv_interrupted)
      continue;
    if (r == -1 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                    errno == EOPNOTSUPP))
      return copy_through_buffer (in, in_off, out, out_off, len);
    if (r == -1)
      return -1;
    if (r == 0) {
      errno = ENODATA;
      return -1;
    }
    in_off += r;
    out_off += r;
    len -= r;
  }
  return 0;
}

/* Make [OFFSET, OFFSET+LEN) read as zeros: punch a hole where the file
 * system can (no data written), else write zeros. */
int
full_zero_range (int fd, uint64_t offset, uint64_t len)
{
  static const uint8_t zeros[64 * KiB];

  if (fault_point ("zero range") == -1)
    return -1;
  if (len == 0 ||
      fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 (off_t) offset, (off_t) len) == 0)
    return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
    return -1;
  while (len > 0) {
    size_t n = MIN (len, sizeof zeros);
    if (pwrite_loop (fd, zeros, n, offset) == -1)
      return -1;
    offset += n;
    len -= n;
  }
  return 0;
}

int
full_ftruncate (int fd, uint64_t size)
{
  if (fault_point ("ftruncate") == -1)
    return -1;
  return ftruncate (fd, (off_t) size);
}

int
full_fsync (int fd)
{
  if (fault_point ("fsync") == -1)
    return -1;
  return fsync (fd);
}

int
full_fdatasync (int fd)
{
  if (fault_point ("fdatasync") == -1)
    return -1;
  return fdatasync (fd);
}

int
full_write (int fd, const void *buf, size_t count)
{
  const uint8_t *p = buf;

  while (count > 0) {
    ssize_t r = write (fd, p, count);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += r;
    count -= r;
  }
  return 0;
}
