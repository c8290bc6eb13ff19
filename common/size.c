/* Sizes on the command line and in messages. */
#include <config.h>

#include <ctype.h>
#include <strings.h>
#include <stdio.h>

#include "common.h"

/* Suffix -> multiplier; binary multiples, as Hyper-V's "GB" means GiB. */
static const struct { const char *suffix; uint64_t mult; } suffixes[] = {
  { "", 1 }, { "b", 1 }, { "s", 512 },
  { "k", KiB }, { "kb", KiB }, { "kib", KiB },
  { "m", MiB }, { "mb", MiB }, { "mib", MiB },
  { "g", GiB }, { "gb", GiB }, { "gib", GiB },
  { "t", TiB }, { "tb", TiB }, { "tib", TiB },
};

int
parse_size (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long n;

  if (!isdigit ((unsigned char) s[0])) {
    errno = EINVAL;
    return -1;
  }
  errno = 0;
  n = strtoull (s, &end, 10);
  if (errno)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE (suffixes); i++) {
    if (strcasecmp (end, suffixes[i].suffix) == 0) {
      if (ckd_mul (out, (uint64_t) n, suffixes[i].mult)) {
        errno = ERANGE;
        return -1;
      }
      return 0;
    }
  }
  errno = EINVAL;
  return -1;
}

void
format_size (uint64_t n, char *out, size_t outlen)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  size_t u = 0;
  double v = n;

  while (v >= 1024 && u + 1 < ARRAY_SIZE (units)) {
    v /= 1024;
    u++;
  }
  if (u == 0 || v == (uint64_t) v)
    snprintf (out, outlen, "%.0f %s", v, units[u]);
  else
    snprintf (out, outlen, "%.2f %s", v, units[u]);
}
