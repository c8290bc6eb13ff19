/* What the vhd maintenance commands share: the disks that depend on the
 * one they change. */
#include <config.h>

#include <stdio.h>
#include <sys/stat.h>

#include "convert.h"
#include "vhd.h"

static bool
same_file (const char *a, const char *b)
{
  struct stat x, y;

  return a && b && stat (a, &x) == 0 && stat (b, &y) == 0 &&
    x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The list as "a, b, c" (a static buffer, cut short if long). */
static const char *
join (const struct string_vector *v)
{
  static char buf[4096];
  size_t len = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < v->len && len < sizeof buf; i++)
    len += snprintf (buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                     v->ptr[i]);
  return buf;
}

int
refuse_dependents (const char *file, const uint8_t uuid[16],
                   const char *except, bool force, const char *what)
{
  struct string_vector found = { 0 }, kids = { 0 };
  int r = vhd_find_children (file, uuid, &found);

  for (size_t i = 0; i < found.len; i++)
    if (r == 0 && !same_file (found.ptr[i], except) &&
        string_vector_append (&kids, found.ptr[i]) == -1) {
      hv_error (HV_E_NOMEM, "%s: %m", file);
      r = -1;
    }
  if (r == 0 && kids.len > 0) {
    if (force)
      hv_warning (HV_E_PARENT, "%s: %s makes its differencing %s invalid: "
                  "%s", file, what, kids.len == 1 ? "child" : "children",
                  join (&kids));
    else {
      hv_error (HV_E_PARENT, "%s: %zu differencing disk%s in its directory "
                "%s it as parent, and %s would make %s invalid: %s (use "
                "--force to go ahead anyway)", file, kids.len,
                kids.len == 1 ? "" : "s", kids.len == 1 ? "has" : "have",
                what, kids.len == 1 ? "it" : "them", join (&kids));
      r = -1;
    }
  }
  for (size_t i = 0; i < found.len; i++)
    free (found.ptr[i]);
  free (found.ptr);
  free (kids.ptr);
  return r;
}
