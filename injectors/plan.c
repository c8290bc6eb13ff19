/* The plan: the changes an injector intends, in the order they are
 * applied, and the notes that explain what was found.  Building a plan
 * never touches the guest; plan-apply.c performs it.
 */
#include <config.h>

#include <stdio.h>

#include "injectors.h"

/* The label of each step kind in the printed plan and in JSON. */
static const char *const kind_names[] = {
  [INJ_STEP_WRITE] = "write",
  [INJ_STEP_UPLOAD] = "replace",
  [INJ_STEP_MKDIR] = "mkdir",
  [INJ_STEP_SYMLINK] = "symlink",
  [INJ_STEP_REMOVE] = "remove",
  [INJ_STEP_COMMAND] = "run",
};

static const char *const level_names[] = {
  [INJ_NOTE_INFO] = "info",
  [INJ_NOTE_WARN] = "warning",
  [INJ_NOTE_RECOMMEND] = "recommend",
};

static char *
vformat (const char *fmt, va_list ap)
{
  char *s;

  if (vasprintf (&s, fmt, ap) == -1)
    return NULL;
  return s;
}

static char *
dup_or_null (const char *s, bool *failed)
{
  char *d;

  if (s == NULL)
    return NULL;
  if ((d = strdup (s)) == NULL)
    *failed = true;
  return d;
}

static void
step_free (struct inj_step *s)
{
  free (s->path);
  free (s->target);
  free (s->content);
  free (s->host_file);
  free (s->backup);
  free (s->why);
  for (size_t i = 0; s->argv && s->argv[i]; i++)
    free (s->argv[i]);
  free (s->argv);
}

/* Append S (whose strings the plan now owns) unless building it failed. */
static int
add (struct inj_plan *p, struct inj_step *s, bool failed)
{
  if (failed || s->why == NULL ||
      inj_step_vector_append (&p->steps, *s) == -1) {
    step_free (s);
    p->nomem = true;
    hv_error (HV_E_NOMEM, "out of memory while planning the guest changes");
    return -1;
  }
  return 0;
}

static int
add_step (struct inj_plan *p, enum inj_step_kind kind, const char *path,
          const char *backup, const char *fmt, va_list ap)
{
  bool failed = false;
  struct inj_step s = {
    .kind = kind,
    .path = dup_or_null (path, &failed),
    .backup = dup_or_null (backup, &failed),
    .why = vformat (fmt, ap),
  };

  return add (p, &s, failed);
}

/* The step just added, for the fields its kind adds. */
static struct inj_step *
last (struct inj_plan *p)
{
  return &p->steps.ptr[p->steps.len - 1];
}

int
plan_write (struct inj_plan *p, const char *path, const void *content,
            size_t len, mode_t mode, const char *backup, const char *why, ...)
{
  char *copy = malloc (len + 1);
  va_list ap;
  int r;

  if (copy == NULL) {
    p->nomem = true;
    hv_error (HV_E_NOMEM, "out of memory while planning the guest changes");
    return -1;
  }
  memcpy (copy, content, len);
  copy[len] = '\0';
  va_start (ap, why);
  r = add_step (p, INJ_STEP_WRITE, path, backup, why, ap);
  va_end (ap);
  if (r == -1) {
    free (copy);
    return -1;
  }
  last (p)->content = copy;
  last (p)->len = len;
  last (p)->mode = mode;
  return 0;
}

int
plan_upload (struct inj_plan *p, const char *path, const char *host_file,
             mode_t mode, const char *backup, const char *why, ...)
{
  char *copy = strdup (host_file);
  va_list ap;
  int r;

  va_start (ap, why);
  r = copy ? add_step (p, INJ_STEP_UPLOAD, path, backup, why, ap) : -1;
  va_end (ap);
  if (r == -1) {
    free (copy);
    p->nomem = true;
    return -1;
  }
  last (p)->host_file = copy;
  last (p)->mode = mode;
  return 0;
}

int
plan_mkdir (struct inj_plan *p, const char *path, const char *why, ...)
{
  va_list ap;
  int r;

  va_start (ap, why);
  r = add_step (p, INJ_STEP_MKDIR, path, NULL, why, ap);
  va_end (ap);
  return r;
}

int
plan_symlink (struct inj_plan *p, const char *target, const char *path,
              const char *why, ...)
{
  char *copy = strdup (target);
  va_list ap;
  int r;

  va_start (ap, why);
  r = copy ? add_step (p, INJ_STEP_SYMLINK, path, NULL, why, ap) : -1;
  va_end (ap);
  if (r == -1) {
    free (copy);
    p->nomem = true;
    return -1;
  }
  last (p)->target = copy;
  return 0;
}

int
plan_remove (struct inj_plan *p, const char *path, const char *backup,
             const char *why, ...)
{
  va_list ap;
  int r;

  va_start (ap, why);
  r = add_step (p, INJ_STEP_REMOVE, path, backup, why, ap);
  va_end (ap);
  return r;
}

static char **
strings_dup (char *const *v)
{
  size_t n = 0;
  char **d;

  while (v[n])
    n++;
  if ((d = calloc (n + 1, sizeof *d)) == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if ((d[i] = strdup (v[i])) == NULL) {
      strings_free (d);
      return NULL;
    }
  return d;
}

int
plan_command (struct inj_plan *p, char *const *argv, const char *why, ...)
{
  char **copy = strings_dup (argv);
  va_list ap;
  int r;

  va_start (ap, why);
  r = copy ? add_step (p, INJ_STEP_COMMAND, argv[0], NULL, why, ap) : -1;
  va_end (ap);
  if (r == -1) {
    strings_free (copy);
    p->nomem = true;
    return -1;
  }
  last (p)->argv = copy;
  return 0;
}

int
plan_note (struct inj_plan *p, enum inj_note_level level, const char *fmt, ...)
{
  struct inj_note n = { .level = level };
  va_list ap;

  va_start (ap, fmt);
  n.text = vformat (fmt, ap);
  va_end (ap);
  if (n.text == NULL || inj_note_vector_append (&p->notes, n) == -1) {
    free (n.text);
    p->nomem = true;
    hv_error (HV_E_NOMEM, "out of memory while planning the guest changes");
    return -1;
  }
  return 0;
}

void
plan_free (struct inj_plan *p)
{
  for (size_t i = 0; i < p->steps.len; i++)
    step_free (&p->steps.ptr[i]);
  for (size_t i = 0; i < p->notes.len; i++)
    free (p->notes.ptr[i].text);
  free (p->steps.ptr);
  free (p->notes.ptr);
  *p = (struct inj_plan) { .nomem = false };
}

/* ------------------------------------------------------------------ */

void
plan_print (const struct inj_plan *p, FILE *out)
{
  for (size_t i = 0; i < p->notes.len; i++)
    fprintf (out, "  %-9s %s\n", level_names[p->notes.ptr[i].level],
             p->notes.ptr[i].text);
  if (p->steps.len == 0) {
    fprintf (out, "  nothing to change: the guest is already enlightened\n");
    return;
  }
  for (size_t i = 0; i < p->steps.len; i++) {
    const struct inj_step *s = &p->steps.ptr[i];
    fprintf (out, "  %2zu. %-7s %s\n", i + 1, kind_names[s->kind], s->path);
    fprintf (out, "      %s\n", s->why);
    if (s->backup)
      fprintf (out, "      (the old file is kept as %s)\n", s->backup);
  }
}

static char *
step_json (const struct inj_step *s)
{
  struct json *j = json_new (NULL);

  json_str (j, "action", kind_names[s->kind]);
  json_str (j, "path", s->path);
  json_str (j, "why", s->why);
  if (s->target)
    json_str (j, "target", s->target);
  if (s->backup)
    json_str (j, "backup", s->backup);
  if (s->kind == INJ_STEP_WRITE)
    json_u64 (j, "bytes", s->len);
  if (s->argv) {
    size_t n = 0;
    while (s->argv[n])
      n++;
    json_str_array (j, "argv", s->argv, n);
  }
  return json_end (j);
}

static char *
note_json (const struct inj_note *n)
{
  struct json *j = json_new (NULL);

  json_str (j, "level", level_names[n->level]);
  json_str (j, "text", n->text);
  return json_end (j);
}

/* "[...]" of N items made by ITEM (I); NULL on out of memory. */
static char *
array_of (size_t n, char *(*item) (const void *v, size_t i), const void *v)
{
  char *buf = NULL, *s;
  size_t len = 0;
  bool ok = true;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  fputc ('[', f);
  for (size_t i = 0; ok && i < n; i++) {
    if ((s = item (v, i)) == NULL)
      ok = false;
    else
      fprintf (f, "%s%s", i ? "," : "", s);
    free (s);
  }
  fputc (']', f);
  if (fclose (f) != 0 || !ok) {
    free (buf);
    return NULL;
  }
  return buf;
}

static char *
step_item (const void *v, size_t i)
{
  return step_json (&((const struct inj_plan *) v)->steps.ptr[i]);
}

static char *
note_item (const void *v, size_t i)
{
  return note_json (&((const struct inj_plan *) v)->notes.ptr[i]);
}

char *
plan_json (const struct inj_plan *p)
{
  char *steps = array_of (p->steps.len, step_item, p);
  char *notes = array_of (p->notes.len, note_item, p);
  struct json *j = steps && notes ? json_new (NULL) : NULL;

  json_raw (j, "steps", steps);
  json_raw (j, "notes", notes);
  free (steps);
  free (notes);
  return json_end (j);
}
