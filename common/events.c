/* Machine-readable events: one JSON object per line on a descriptor.
 * Each event is written with a single write(2) so lines from threads
 * never interleave. */
#include <config.h>

#include <stdio.h>
#include <time.h>

#include "common.h"

static int event_fd = -1;

void
events_open (int fd)
{
  event_fd = fd;
}

bool
events_enabled (void)
{
  return event_fd >= 0;
}

struct json {
  char *buf;
  size_t len;
  bool failed;
};

static void
append (struct json *j, const char *s, size_t n)
{
  char *p;

  if (j->failed)
    return;
  p = realloc (j->buf, j->len + n + 1);
  if (p == NULL) {
    j->failed = true;
    return;
  }
  memcpy (p + j->len, s, n);
  j->len += n;
  p[j->len] = '\0';
  j->buf = p;
}

int
json_quote (char **buf, size_t *len, const char *s)
{
  struct json j = { .buf = *buf, .len = *len };
  char esc[8];

  append (&j, "\"", 1);
  for (; *s; s++) {
    unsigned char c = *s;
    if (c == '"' || c == '\\') {
      esc[0] = '\\'; esc[1] = c;
      append (&j, esc, 2);
    }
    else if (c < 0x20) {
      snprintf (esc, sizeof esc, "\\u%04x", c);
      append (&j, esc, 6);
    }
    else
      append (&j, (const char *) &c, 1);
  }
  append (&j, "\"", 1);
  *buf = j.buf;
  *len = j.len;
  return j.failed ? -1 : 0;
}

static void
key (struct json *j, const char *k)
{
  append (j, ",", j->len > 1);
  if (json_quote (&j->buf, &j->len, k) == -1)
    j->failed = true;
  append (j, ":", 1);
}

struct json *
json_new (const char *event)
{
  struct json *j = calloc (1, sizeof *j);

  if (j == NULL)
    return NULL;
  append (j, "{", 1);
  if (event) {
    json_str (j, "event", event);
    json_double (j, "time", (double) time (NULL));
  }
  return j;
}

void
json_str (struct json *j, const char *k, const char *value)
{
  if (j == NULL)
    return;
  key (j, k);
  if (json_quote (&j->buf, &j->len, value ? value : "") == -1)
    j->failed = true;
}

void
json_str_or_null (struct json *j, const char *k, const char *value)
{
  if (value)
    json_str (j, k, value);
  else
    json_raw (j, k, NULL);
}

void
json_u64 (struct json *j, const char *k, uint64_t value)
{
  char num[32];

  if (j == NULL)
    return;
  key (j, k);
  append (j, num, snprintf (num, sizeof num, "%llu",
                            (unsigned long long) value));
}

void
json_double (struct json *j, const char *k, double value)
{
  char num[64];

  if (j == NULL)
    return;
  key (j, k);
  append (j, num, snprintf (num, sizeof num, "%.3f", value));
}

void
json_bool (struct json *j, const char *k, bool value)
{
  if (j == NULL)
    return;
  key (j, k);
  append (j, value ? "true" : "false", value ? 4 : 5);
}

void
json_str_array (struct json *j, const char *k, char *const *items, size_t n)
{
  if (j == NULL)
    return;
  key (j, k);
  append (j, "[", 1);
  for (size_t i = 0; i < n; i++) {
    append (j, ",", i > 0);
    if (json_quote (&j->buf, &j->len, items[i]) == -1)
      j->failed = true;
  }
  append (j, "]", 1);
}

void
json_raw (struct json *j, const char *k, const char *text)
{
  if (j == NULL)
    return;
  key (j, k);
  if (text)
    append (j, text, strlen (text));
  else
    append (j, "null", 4);
}

char *
json_end (struct json *j)
{
  char *s;

  if (j == NULL)
    return NULL;
  append (j, "}", 1);
  s = j->failed ? NULL : j->buf;
  if (j->failed)
    free (j->buf);
  free (j);
  return s;
}

void
json_emit (struct json *j)
{
  char *s;

  if (j == NULL)
    return;
  if (event_fd < 0) {
    free (json_end (j));
    return;
  }
  append (j, "}\n", 2);
  s = j->failed ? NULL : j->buf;
  if (s)
    (void) full_write (event_fd, s, j->len);
  free (j->buf);
  free (j);
}
