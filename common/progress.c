/* Progress: a bar on stderr when it is a terminal, and "progress" events
 * for scripts.  Both are throttled so that a fast copy is not slowed by
 * its own reporting, and the event format never changes between runs
 * (no carriage returns in events; the bar is for people only). */
#include <config.h>

#include <stdio.h>

#include "common.h"

struct progress {
  char *what;
  uint64_t total;
  double start, last_bar, last_event;
  bool bar;
};

static const double bar_interval = 0.2;    /* seconds between redraws */
static const double event_interval = 1.0;  /* seconds between events */

struct progress *
progress_start (const char *what, uint64_t total)
{
  struct progress *p = calloc (1, sizeof *p);

  if (p == NULL)
    return NULL;
  p->what = strdup (what);
  p->total = total;
  p->start = now_seconds ();
  /* No bar for scripts: they read the "progress" events instead. */
  p->bar = isatty (STDERR_FILENO) && !hv_verbose && !events_enabled ();
  return p;
}

static void
draw_bar (struct progress *p, uint64_t done)
{
  const int width = 40;
  double frac = p->total ? (double) done / p->total : 1.0;
  int fill = (int) (frac * width);
  char bar[64];

  memset (bar, '#', fill);
  memset (bar + fill, '-', width - fill);
  bar[width] = '\0';
  fprintf (stderr, "\r%s [%s] %5.1f%%", p->what ? p->what : "", bar,
           frac * 100);
  fflush (stderr);
}

static void
emit_event (struct progress *p, uint64_t done)
{
  struct json *j = json_new ("progress");

  json_str (j, "what", p->what);
  json_u64 (j, "done", done);
  json_u64 (j, "total", p->total);
  json_double (j, "percent", p->total ? 100.0 * done / p->total : 100.0);
  json_emit (j);
}

void
progress_update (struct progress *p, uint64_t done)
{
  double t;

  if (p == NULL)
    return;
  t = now_seconds ();
  if (p->bar && t - p->last_bar >= bar_interval) {
    draw_bar (p, done);
    p->last_bar = t;
  }
  if (events_enabled () && t - p->last_event >= event_interval) {
    emit_event (p, done);
    p->last_event = t;
  }
}

void
progress_end (struct progress *p, bool ok)
{
  if (p == NULL)
    return;
  if (ok) {
    if (p->bar)
      draw_bar (p, p->total);
    if (events_enabled ())
      emit_event (p, p->total);
  }
  if (p->bar)
    fputc ('\n', stderr);
  free (p->what);
  free (p);
}
