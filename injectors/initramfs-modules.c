/* The kernel's module lists, as depmod writes them in
 * /lib/modules/KVER (host copies of the guest's files):
 *
 *   modules.dep      "kernel/drivers/scsi/hv_storvsc.ko: kernel/...ko ..."
 *                    one line per module: its path, then every module
 *                    it needs (depmod lists the whole closure)
 *   modules.builtin  "kernel/drivers/hv/hv_vmbus.ko": built into the
 *                    kernel image, nothing to load
 *
 * A module's name is its file name without ".ko" and what follows
 * (".ko.xz", ".ko.zst"), with '-' read as '_', as modprobe does.
 */
#include <config.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "initramfs-walk.h"

#define LIST_MAX (64 * MiB)     /* modules.dep is about 0.5 MiB */

static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

bool
irfs_is_module_path (const char *path)
{
  size_t n = strlen (path);

  for (size_t i = 0; i < ARRAY_SIZE (suffixes); i++) {
    size_t k = strlen (suffixes[i]);
    if (n > k && strcmp (path + n - k, suffixes[i]) == 0)
      return true;
  }
  return false;
}

char *
irfs_module_name (const char *s)
{
  const char *base = strrchr (s, '/');
  size_t n;
  char *name;

  base = base ? base + 1 : s;
  n = strlen (base);
  for (size_t i = 0; i < ARRAY_SIZE (suffixes); i++) {
    size_t k = strlen (suffixes[i]);
    if (n > k && strcmp (base + n - k, suffixes[i]) == 0) {
      n -= k;
      break;
    }
  }
  name = strndup (base, n);
  if (name == NULL) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  for (char *p = name; *p; p++)
    if (*p == '-')
      *p = '_';
  return name;
}

/* The whole host file (NUL added), at most LIST_MAX bytes. */
static char *
read_list (const char *path)
{
  struct stat st;
  char *buf = NULL;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd == -1 || fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    goto out;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > (off_t) LIST_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: not a regular file of at most %llu MiB",
              path, LIST_MAX / MiB);
    goto out;
  }
  buf = malloc (st.st_size + 1);
  if (buf == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", path);
    goto out;
  }
  if (st.st_size && full_pread (fd, buf, st.st_size, 0) == -1) {
    hv_error (HV_E_IO, "%s: read: %m", path);
    free (buf);
    buf = NULL;
    goto out;
  }
  buf[st.st_size] = '\0';
 out:
  if (fd >= 0)
    close (fd);
  return buf;
}

static int
compare_modules (const void *a, const void *b)
{
  const struct irfs_module *x = a, *y = b;
  return strcmp (x->name, y->name);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
module_free (struct irfs_module *m)
{
  free (m->name);
  free (m->path);
  if (m->deps)
    for (char **d = m->deps; *d; d++)
      free (*d);
  free (m->deps);
}

/* The dependencies after the colon: names, NULL-terminated. */
static char **
parse_deps (char *s)
{
  size_t n = 0, cap = 1;
  char **v = NULL, *save = NULL;

  for (char *p = s; *p; p++)
    if (*p == ' ' || *p == '\t')
      cap++;
  v = calloc (cap + 1, sizeof *v);
  if (v == NULL)
    return NULL;
  for (char *t = strtok_r (s, " \t\r", &save); t && n < cap;
       t = strtok_r (NULL, " \t\r", &save))
    if ((v[n++] = irfs_module_name (t)) == NULL) {
      for (size_t i = 0; i < n; i++)
        free (v[i]);
      free (v);
      return NULL;
    }
  return v;
}

/* One line "PATH: DEP DEP ..." of modules.dep. */
static int
parse_dep_line (struct irfs_modules *m, char *line, const char *file,
                size_t lineno)
{
  char *colon = strchr (line, ':');
  struct irfs_module mod = { 0 };

  if (colon == NULL || colon == line) {
    hv_error (HV_E_FORMAT, "%s: line %zu: not \"path: dependencies\"",
              file, lineno);
    return -1;
  }
  *colon = '\0';
  if ((mod.path = strdup (line)) == NULL ||
      (mod.name = irfs_module_name (line)) == NULL ||
      (mod.deps = parse_deps (colon + 1)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    module_free (&mod);
    return -1;
  }
  m->v[m->n++] = mod;
  return 0;
}

static int
read_dep (struct irfs_modules *m, const char *file)
{
  CLEANUP_FREE char *text = read_list (file);
  size_t lines = 1, lineno = 0;
  char *save = NULL;

  if (text == NULL)
    return -1;
  for (char *p = text; *p; p++)
    lines += *p == '\n';
  m->v = calloc (lines, sizeof *m->v);
  if (m->v == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return -1;
  }
  for (char *l = strtok_r (text, "\n", &save); l;
       l = strtok_r (NULL, "\n", &save)) {
    lineno++;
    if (*l && *l != '#' && parse_dep_line (m, l, file, lineno) == -1)
      return -1;
  }
  qsort (m->v, m->n, sizeof *m->v, compare_modules);
  return 0;
}

static int
read_builtin (struct irfs_modules *m, const char *file)
{
  CLEANUP_FREE char *text = read_list (file);
  size_t lines = 1;
  char *save = NULL;

  if (text == NULL)
    return -1;
  for (char *p = text; *p; p++)
    lines += *p == '\n';
  m->builtin = calloc (lines, sizeof *m->builtin);
  if (m->builtin == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return -1;
  }
  for (char *l = strtok_r (text, "\n", &save); l;
       l = strtok_r (NULL, "\n", &save))
    if ((m->builtin[m->nbuiltin++] = irfs_module_name (l)) == NULL)
      return -1;
  qsort (m->builtin, m->nbuiltin, sizeof *m->builtin, compare_strings);
  return 0;
}

int
irfs_modules_read (struct irfs_modules *m, const char *dep,
                   const char *builtin)
{
  *m = (struct irfs_modules) { 0 };
  if (read_dep (m, dep) == -1 ||
      (builtin && read_builtin (m, builtin) == -1)) {
    irfs_modules_free (m);
    return -1;
  }
  return 0;
}

const struct irfs_module *
irfs_modules_find (const struct irfs_modules *m, const char *name)
{
  struct irfs_module key = { .name = (char *) name };

  if (m->n == 0)
    return NULL;
  return bsearch (&key, m->v, m->n, sizeof *m->v, compare_modules);
}

bool
irfs_modules_builtin (const struct irfs_modules *m, const char *name)
{
  if (m->nbuiltin == 0)
    return false;
  return bsearch (&name, m->builtin, m->nbuiltin, sizeof *m->builtin,
                  compare_strings) != NULL;
}

void
irfs_modules_free (struct irfs_modules *m)
{
  for (size_t i = 0; i < m->n; i++)
    module_free (&m->v[i]);
  free (m->v);
  for (size_t i = 0; i < m->nbuiltin; i++)
    free (m->builtin[i]);
  free (m->builtin);
  *m = (struct irfs_modules) { 0 };
}
