/* UTF-16 <-> UTF-8.  VHD parent names are UTF-16BE, parent locators and
 * .vmc files UTF-16LE; both arrive from hostile files, so every code unit
 * is checked and a bad sequence becomes U+FFFD rather than an error. */
#include <config.h>

#include "common.h"

typedef uint16_t (*load16_fn) (const void *);

static uint16_t ld_le (const void *p) { return load_le16 (p); }
static uint16_t ld_be (const void *p) { return load_be16 (p); }

static size_t
put_utf8 (char *out, uint32_t c)
{
  if (c < 0x80) {
    out[0] = c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = 0xC0 | (c >> 6);
    out[1] = 0x80 | (c & 0x3F);
    return 2;
  }
  if (c < 0x10000) {
    out[0] = 0xE0 | (c >> 12);
    out[1] = 0x80 | ((c >> 6) & 0x3F);
    out[2] = 0x80 | (c & 0x3F);
    return 3;
  }
  out[0] = 0xF0 | (c >> 18);
  out[1] = 0x80 | ((c >> 12) & 0x3F);
  out[2] = 0x80 | ((c >> 6) & 0x3F);
  out[3] = 0x80 | (c & 0x3F);
  return 4;
}

static char *
utf16_to_utf8 (const uint8_t *in, size_t len, load16_fn load)
{
  size_t units = len / 2, o = 0;
  /* Each unit makes at most 3 bytes (a pair makes 4 from 2 units). */
  char *out = malloc (units * 3 + 1);

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < units; i++) {
    uint32_t c = load (in + 2 * i);
    if (c == 0)
      break;
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < units) {
      uint32_t lo = load (in + 2 * i + 2);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        i++;
      }
      else
        c = 0xFFFD;
    }
    else if (c >= 0xD800 && c <= 0xDFFF)
      c = 0xFFFD;
    o += put_utf8 (out + o, c);
  }
  out[o] = '\0';
  return out;
}

char *
utf16le_to_utf8 (const uint8_t *in, size_t len)
{
  return utf16_to_utf8 (in, len, ld_le);
}

char *
utf16be_to_utf8 (const uint8_t *in, size_t len)
{
  return utf16_to_utf8 (in, len, ld_be);
}

/* Decode one UTF-8 sequence; returns its length or -1. */
static int
get_utf8 (const unsigned char *s, uint32_t *c)
{
  int n;

  if (s[0] < 0x80) { *c = s[0]; return 1; }
  if ((s[0] & 0xE0) == 0xC0) { *c = s[0] & 0x1F; n = 2; }
  else if ((s[0] & 0xF0) == 0xE0) { *c = s[0] & 0x0F; n = 3; }
  else if ((s[0] & 0xF8) == 0xF0) { *c = s[0] & 0x07; n = 4; }
  else return -1;
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return -1;
    *c = (*c << 6) | (s[i] & 0x3F);
  }
  if (*c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF))
    return -1;
  return n;
}

typedef void (*store16_fn) (void *, uint16_t);
static void st_le (void *p, uint16_t v) { store_le16 (p, v); }
static void st_be (void *p, uint16_t v) { store_be16 (p, v); }

static ssize_t
utf8_to_utf16 (const char *in, uint8_t *out, size_t outlen, store16_fn st)
{
  const unsigned char *s = (const unsigned char *) in;
  size_t o = 0;

  while (*s) {
    uint32_t c;
    int n = get_utf8 (s, &c);
    if (n == -1) {
      errno = EINVAL;
      return -1;
    }
    s += n;
    if (o + (c >= 0x10000 ? 4 : 2) > outlen) {
      errno = ENAMETOOLONG;
      return -1;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      st (out + o, 0xD800 + (c >> 10));
      st (out + o + 2, 0xDC00 + (c & 0x3FF));
      o += 4;
    }
    else {
      st (out + o, c);
      o += 2;
    }
  }
  return o;
}

ssize_t
utf8_to_utf16le (const char *in, uint8_t *out, size_t outlen)
{
  return utf8_to_utf16 (in, out, outlen, st_le);
}

ssize_t
utf8_to_utf16be (const char *in, uint8_t *out, size_t outlen)
{
  return utf8_to_utf16 (in, out, outlen, st_be);
}
