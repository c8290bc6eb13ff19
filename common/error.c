/* Error, warning and debug reporting.  Messages go to stderr once, and to
 * the event stream as "error" / "warning" events with a stable code. */
#include <config.h>

#include <stdio.h>

#include "common.h"

bool hv_verbose;
const char *hv_program_name = "hvconvert";
volatile sig_atomic_t hv_interrupted;

static int first_error = -1;

/* Stable names: scripts match on these, so never rename one. */
static const char *const code_names[] = {
  [HV_E_IO] = "io",
  [HV_E_FORMAT] = "format",
  [HV_E_CHECKSUM] = "checksum",
  [HV_E_TOO_LARGE] = "too-large",
  [HV_E_UNSUPPORTED] = "unsupported",
  [HV_E_PARENT] = "parent",
  [HV_E_EXISTS] = "exists",
  [HV_E_USAGE] = "usage",
  [HV_E_INTERRUPTED] = "interrupted",
  [HV_E_NOMEM] = "nomem",
  [HV_E_CHECK] = "check",
  [HV_E_INTERNAL] = "internal",
  [HV_E_UNSAFE] = "unsafe",
};

const char *
hv_code_name (enum hv_code code)
{
  if ((size_t) code < ARRAY_SIZE (code_names) && code_names[code])
    return code_names[code];
  return "internal";
}

int
hv_last_error_code (void)
{
  return first_error;
}

static void
report (const char *kind, enum hv_code code, const char *fmt, va_list ap)
{
  int saved = errno;
  char *msg = NULL;
  struct json *j;

  errno = saved;
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  fprintf (stderr, "%s: %s%s\n", hv_program_name, kind,
           msg ? msg : "(out of memory formatting a message)");
  if (events_enabled ()) {
    j = json_new (strcmp (kind, "") == 0 ? "error" : "warning");
    json_str (j, "code", hv_code_name (code));
    json_str (j, "message", msg ? msg : "");
    json_emit (j);
  }
  free (msg);
  errno = saved;
}

void
hv_error (enum hv_code code, const char *fmt, ...)
{
  va_list ap;

  if (first_error == -1)
    first_error = code;
  va_start (ap, fmt);
  report ("", code, fmt, ap);
  va_end (ap);
}

void
hv_warning (enum hv_code code, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  report ("warning: ", code, fmt, ap);
  va_end (ap);
}

void
hv_debug_print (const char *file, const char *fmt, ...)
{
  va_list ap;
  int saved = errno;
  const char *base = strrchr (file, '/');

  fprintf (stderr, "%s: debug: %s: ", hv_program_name, base ? base + 1 : file);
  errno = saved;
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  errno = saved;
}

int
hv_check_interrupted (void)
{
  if (!hv_interrupted)
    return 0;
  hv_error (HV_E_INTERRUPTED, "interrupted by a signal");
  return -1;
}
