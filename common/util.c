/* Small helpers: zero test, cleanup functions, vector growth, clock. */
#include <config.h>

#include <time.h>

#include "common.h"

bool
is_zero (const void *buf, size_t len)
{
  const uint8_t *p = buf;
  const size_t head = 16;

  /* Check a short head byte by byte, then compare the buffer with itself
   * shifted by the head: memcmp is vectorised, a loop is not. */
  for (size_t i = 0; i < head; i++) {
    if (i == len)
      return true;
    if (p[i])
      return false;
  }
  return memcmp (p, p + head, len - head) == 0;
}

void
cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}

void
strings_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}

void
cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}

int
vector_grow (void **ptr, size_t *cap, size_t need, size_t elem)
{
  size_t ncap, bytes;
  void *p;

  if (need <= *cap)
    return 0;
  ncap = *cap ? *cap : 8;
  while (ncap < need) {
    if (ckd_mul (&ncap, ncap, (size_t) 2)) {
      errno = ENOMEM;
      return -1;
    }
  }
  if (ckd_mul (&bytes, ncap, elem)) {
    errno = ENOMEM;
    return -1;
  }
  p = realloc (*ptr, bytes);
  if (p == NULL)
    return -1;
  *ptr = p;
  *cap = ncap;
  return 0;
}

double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
