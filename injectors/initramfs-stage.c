/* The staging tree of initramfs_add_modules: a private directory whose
 * stage/lib/modules/KVER holds the image's modules, the new ones and
 * the guest's module lists, where the host's depmod writes the indexes
 * (depmod -b STAGE reads STAGE/lib/modules/KVER).  And the small path
 * and string helpers of the initramfs files.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "initramfs-walk.h"
#include "hypervisor.h"

#define DEPMOD_TIMEOUT 300.0

const char *const irfs_input_lists[3] = {
  "modules.order", "modules.builtin", "modules.builtin.modinfo",
};

/* ------------------------------------------------------------------ */
/* Helpers. */

char *
irfs_join (const char *a, const char *b)
{
  char *s;

  if (asprintf (&s, "%s/%s", a, b) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  return s;
}

int
irfs_push (struct string_vector *v, const char *s)
{
  char *c = strdup (s);

  if (c == NULL || string_vector_append (v, c) == -1) {
    free (c);
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  return 0;
}

int
irfs_compare_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

void
irfs_free_strings (struct string_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i]);
  free (v->ptr);
  *v = (struct string_vector) { 0 };
}

bool
irfs_safe_relpath (const char *p)
{
  if (*p == '\0' || *p == '/')
    return false;
  for (const char *c = p; c; c = strchr (c, '/') ? strchr (c, '/') + 1 : NULL)
    if (*c == '/' || *c == '\0' || strncmp (c, "./", 2) == 0 ||
        strcmp (c, ".") == 0 || strncmp (c, "../", 3) == 0 ||
        strcmp (c, "..") == 0)
      return false;
  return true;
}

int
irfs_make_parents (const char *base, const char *file)
{
  CLEANUP_FREE char *p = strdup (file);

  if (p == NULL) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  for (char *s = p + strlen (base) + 1; (s = strchr (s, '/')); s++) {
    *s = '\0';
    if (mkdir (p, 0755) == -1 && errno != EEXIST) {
      hv_error (HV_E_IO, "%s: mkdir: %m", p);
      return -1;
    }
    *s = '/';
  }
  return 0;
}

/* Copy the host file FROM to TO (at most IRFS_MEMBER_MAX bytes). */
static int
copy_file (const char *from, const char *to)
{
  struct stat st;
  int in = open (from, O_RDONLY | O_CLOEXEC), out = -1, r = -1;

  if (in == -1 || fstat (in, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", from);
    goto out;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > (off_t) IRFS_MEMBER_MAX) {
    hv_error (HV_E_FORMAT, "%s: not a regular file of a sane size", from);
    goto out;
  }
  out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out == -1 || full_copy_range (in, 0, out, 0, st.st_size) == -1) {
    hv_error (HV_E_IO, "%s: %m", to);
    goto out;
  }
  r = 0;
 out:
  if (in >= 0)
    close (in);
  if (out >= 0)
    close (out);
  return r;
}

/* ------------------------------------------------------------------ */
/* The stage. */

int
irfs_stage_open (struct irfs_stage *s, const char *workdir, const char *kver)
{
  const char *tmp = workdir ? workdir : getenv ("TMPDIR");

  *s = (struct irfs_stage) { .kver = kver };
  if (asprintf (&s->dir, "%s/hvconvert-initramfs.XXXXXX",
                tmp && *tmp ? tmp : "/tmp") == -1) {
    s->dir = NULL;
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  if (mkdtemp (s->dir) == NULL) {
    hv_error (HV_E_IO, "%s: cannot create a private directory: %m", s->dir);
    free (s->dir);
    s->dir = NULL;
    return -1;
  }
  s->base = irfs_join (s->dir, "stage");
  if (s->base == NULL ||
      asprintf (&s->moddir, "%s/lib/modules/%s", s->base, kver) == -1) {
    s->moddir = NULL;
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  if (irfs_make_parents (s->dir, s->moddir) == -1)
    return -1;
  if (mkdir (s->moddir, 0755) == -1 && errno != EEXIST) {
    hv_error (HV_E_IO, "%s: mkdir: %m", s->moddir);
    return -1;
  }
  return 0;
}

char *
irfs_stage_path (struct irfs_stage *s, const char *rel)
{
  char *p;

  if (!irfs_safe_relpath (rel)) {
    hv_error (HV_E_UNSAFE, "%s: not a plain relative path", rel);
    return NULL;
  }
  p = irfs_join (s->moddir, rel);
  if (p && irfs_make_parents (s->moddir, p) == -1) {
    free (p);
    p = NULL;
  }
  return p;
}

static const char *
depmod_path (void)
{
  static const char *const paths[] = { "/usr/sbin/depmod", "/sbin/depmod" };

  for (size_t i = 0; i < ARRAY_SIZE (paths); i++)
    if (access (paths[i], X_OK) == 0)
      return paths[i];
  return "depmod";
}

/* depmod -b STAGE -C EMPTY KVER: the host's configuration is not the
 * guest's, so none is read. */
static int
run_depmod (struct irfs_stage *s)
{
  CLEANUP_FREE char *conf = irfs_join (s->dir, "depmod.d"), *out = NULL;
  char *argv[] = { (char *) depmod_path (), "-b", s->base, "-C", conf,
                   (char *) s->kver, NULL };
  int r;

  if (conf == NULL)
    return -1;
  if (mkdir (conf, 0755) == -1 && errno != EEXIST) {
    hv_error (HV_E_IO, "%s: mkdir: %m", conf);
    return -1;
  }
  r = hv_run (argv, DEPMOD_TIMEOUT, &out);
  if (r == -1)
    return -1;
  if (r != 0) {
    hv_error (HV_E_IO, "depmod -b %s %s failed (exit status %d): %s",
              s->base, s->kver, r, out ? out : "");
    return -1;
  }
  if (out && *out)
    hv_debug ("depmod said: %s", out);
  return 0;
}

int
irfs_stage_depmod (struct irfs_stage *s, const char *const lists[3])
{
  for (int i = 0; i < 3; i++) {
    CLEANUP_FREE char *to = NULL;
    if (lists[i] == NULL)
      continue;
    if ((to = irfs_join (s->moddir, irfs_input_lists[i])) == NULL ||
        copy_file (lists[i], to) == -1)
      return -1;
  }
  return run_depmod (s);
}

int
irfs_stage_indexes (struct irfs_stage *s, struct string_vector *v)
{
  DIR *d = opendir (s->moddir);
  struct dirent *e;
  int r = 0;

  if (d == NULL) {
    hv_error (HV_E_IO, "%s: %m", s->moddir);
    return -1;
  }
  while (r == 0 && (e = readdir (d)) != NULL)
    if (strncmp (e->d_name, "modules.", 8) == 0 && e->d_type == DT_REG)
      r = irfs_push (v, e->d_name);
  closedir (d);
  if (v->len)
    qsort (v->ptr, v->len, sizeof *v->ptr, irfs_compare_str);
  return r;
}

void
irfs_stage_close (struct irfs_stage *s)
{
  hv_remove_tree (s->dir);
  free (s->dir);
  free (s->base);
  free (s->moddir);
  *s = (struct irfs_stage) { 0 };
}
