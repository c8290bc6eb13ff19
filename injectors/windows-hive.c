/* The hives through hivex: a host copy of the guest's file is edited,
 * and every change is one note of the plan, so --dry-run lists each key
 * and value that changes.  A change that the hive already has is not
 * made: a second run changes nothing and plans no upload.
 *
 * The hive is the guest's, so hostile: its size is bounded before it is
 * downloaded (hivex reads it whole), and its header is checked here for
 * the one thing hivex does not refuse that we must: a dirty hive.
 *
 *   0    "regf"
 *   4    sequence 1 (LE32): incremented before a write...
 *   8    sequence 2 (LE32): ...and this one after it
 *
 * They differ when Windows stopped between the two (a crash, a power
 * cut) or kept changes only in the SYSTEM.LOG1/LOG2 logs (Windows 8.1
 * and later until a clean shutdown); Windows then replays the logs at
 * boot.  hivex_commit makes them equal again, so Windows would not
 * replay the logs and the changes they hold would be lost: refuse.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "windows-internal.h"

/* Registry paths are short; deeper or longer ones are refused. */
enum { MAX_KEY_PATH = 1024 };

/* ------------------------------------------------------------------ */
/* Opening, committing. */

/* Refuse before downloading a hive larger than WIN_HIVE_MAX: is there
 * a byte at that offset?  Needs the pread of inj_fs. */
static int
check_size (struct win *w, const char *name, const char *path)
{
  struct inj_fs *fs = &w->g->fs;
  size_t len = 0;
  char *b;

  if (fs->pread == NULL)
    return 0;                   /* the size is checked after download */
  if ((b = fs->pread (fs->ctx, path, 1, WIN_HIVE_MAX, &len)) == NULL)
    return -1;
  free (b);
  if (len > 0) {
    hv_error (HV_E_TOO_LARGE, "%s hive %s: larger than %llu MiB; refusing "
              "to load it", name, path, WIN_HIVE_MAX / MiB);
    return -1;
  }
  return 0;
}

/* The header of the downloaded copy: size, signature, clean. */
static int
check_header (const char *name, const char *path, const char *host)
{
  CLEANUP_CLOSE int fd = open (host, O_RDONLY | O_CLOEXEC);
  uint8_t h[12];
  struct stat st;

  if (fd == -1 || fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s hive %s: %s: %m", name, path, host);
    return -1;
  }
  if ((uint64_t) st.st_size > WIN_HIVE_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s hive %s: larger than %llu MiB; refusing "
              "to load it", name, path, WIN_HIVE_MAX / MiB);
    return -1;
  }
  if (full_pread (fd, h, sizeof h, 0) == -1 || memcmp (h, "regf", 4) != 0) {
    hv_error (HV_E_FORMAT, "%s hive %s: not a registry hive (no \"regf\" "
              "signature)", name, path);
    return -1;
  }
  if (load_le32 (h + 4) != load_le32 (h + 8)) {
    hv_error (HV_E_UNSUPPORTED, "%s hive %s: not cleanly written "
              "(sequence numbers %u and %u differ): changes are still in "
              "its .LOG files, which would be lost; start Windows and shut "
              "it down cleanly, then convert again", name, path,
              load_le32 (h + 4), load_le32 (h + 8));
    return -1;
  }
  return 0;
}

int
win_hive_open (struct win *w, struct win_hive *hv, const char *name,
               const char *path)
{
  struct inj_fs *fs = &w->g->fs;

  hv->name = name;
  hv->plan = w->plan;
  if ((hv->guest_path = strdup (path)) == NULL ||
      asprintf (&hv->host_path, "%s/windows-%s", w->g->workdir, name) == -1) {
    hv->host_path = NULL;
    hv_error (HV_E_NOMEM, "%s hive: %m", name);
    return -1;
  }
  if (check_size (w, name, path) == -1 ||
      fs->download (fs->ctx, path, hv->host_path) == -1 ||
      check_header (name, path, hv->host_path) == -1)
    return -1;
  if ((hv->h = hivex_open (hv->host_path, HIVEX_OPEN_WRITE)) == NULL) {
    hv_error (HV_E_FORMAT, "%s hive %s: hivex cannot read it (corrupt?): %m",
              name, path);
    return -1;
  }
  return 0;
}

int
win_hive_plan (struct win *w, struct win_hive *hv, const char *what)
{
  CLEANUP_FREE char *out = NULL, *backup = NULL;

  if (hv->changes == 0)
    return 0;
  if (asprintf (&out, "%s.new", hv->host_path) == -1 ||
      asprintf (&backup, "%s.pre-hvconvert", hv->guest_path) == -1) {
    out = backup = NULL;
    hv_error (HV_E_NOMEM, "%s hive: %m", hv->name);
    return -1;
  }
  if (hivex_commit (hv->h, out, 0) == -1) {
    hv_error (HV_E_IO, "%s hive: writing the edited copy %s: %m",
              hv->name, out);
    return -1;
  }
  return plan_upload (w->plan, hv->guest_path, out, 0644, backup,
                      "the %s hive with the %u registry changes noted "
                      "above (%s)", hv->name, hv->changes, what);
}

void
win_hive_close (struct win_hive *hv)
{
  if (hv->h)
    hivex_close (hv->h);
  free (hv->guest_path);
  free (hv->host_path);
  *hv = (struct win_hive) { .h = NULL };
}

/* ------------------------------------------------------------------ */
/* Finding keys and values.  The *_at forms take the key's node (PATH
 * only names it in messages): loops over many subkeys use them, since
 * finding a key by name scans all its siblings. */

static int
hive_error (struct win_hive *hv, const char *path, const char *what)
{
  hv_error (errno == ENOMEM ? HV_E_NOMEM : HV_E_FORMAT,
            "%s hive %s: %s\\%s: %m", hv->name, hv->guest_path, path, what);
  return -1;
}

/* Walk PATH from the root; with CREATE, add the missing keys.  1 and
 * *NODE, 0 missing, -1 after reporting. */
static int
walk (struct win_hive *hv, const char *path, bool create, hive_node_h *node)
{
  char buf[MAX_KEY_PATH], *save = NULL;
  hive_node_h n = hivex_root (hv->h), child;

  if (n == 0)
    return hive_error (hv, "", "root key");
  if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
    hv_error (HV_E_FORMAT, "%s hive %s: registry path too long: %s",
              hv->name, hv->guest_path, path);
    return -1;
  }
  for (char *c = strtok_r (buf, "\\", &save); c;
       c = strtok_r (NULL, "\\", &save)) {
    errno = 0;
    child = hivex_node_get_child (hv->h, n, c);
    if (child == 0 && errno != 0)
      return hive_error (hv, path, c);
    if (child == 0 && !create)
      return 0;
    if (child == 0 && (child = hivex_node_add_child (hv->h, n, c)) == 0)
      return hive_error (hv, path, c);
    n = child;
  }
  *node = n;
  return 1;
}

int
win_node (struct win_hive *hv, const char *path, hive_node_h *node)
{
  return walk (hv, path, false, node);
}

void
win_subkeys_free (struct win_subkey *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    free (v[i].name);
  free (v);
}

int
win_subkeys (struct win_hive *hv, const char *path, struct win_subkey **out,
             size_t *n)
{
  hive_node_h node, *kids = NULL;
  int r = win_node (hv, path, &node);

  *out = NULL;
  *n = 0;
  if (r <= 0)
    return r;
  if ((kids = hivex_node_children (hv->h, node)) == NULL)
    return hive_error (hv, path, "(subkeys)");
  while (kids[*n])
    ++*n;
  if ((*out = calloc (*n + 1, sizeof **out)) == NULL) {
    free (kids);
    hv_error (HV_E_NOMEM, "%s hive: %m", hv->name);
    return -1;
  }
  for (size_t i = 0; i < *n; i++) {
    (*out)[i].node = kids[i];
    if (((*out)[i].name = hivex_node_name (hv->h, kids[i])) == NULL) {
      r = hive_error (hv, path, "(subkey name)");
      win_subkeys_free (*out, i);
      *out = NULL;
      *n = 0;
      break;
    }
  }
  free (kids);
  return r;
}

/* Value NAME of key NODE: 1 and *VAL, *TYPE, *LEN; 0 missing; -1. */
static int
find_value_at (struct win_hive *hv, hive_node_h node, const char *path,
               const char *name, hive_value_h *val, hive_type *type,
               size_t *len)
{
  errno = 0;
  *val = hivex_node_get_value (hv->h, node, name);
  if (*val == 0)
    return errno ? hive_error (hv, path, name) : 0;
  if (hivex_value_type (hv->h, *val, type, len) == -1)
    return hive_error (hv, path, name);
  return 1;
}

static int
get_dword_at (struct win_hive *hv, hive_node_h node, const char *path,
              const char *name, uint32_t *out)
{
  hive_value_h v;
  hive_type t;
  size_t len;
  int r = find_value_at (hv, node, path, name, &v, &t, &len);

  if (r <= 0 || t != hive_t_REG_DWORD || len != 4)
    return r == -1 ? -1 : 0;
  errno = 0;
  *out = (uint32_t) hivex_value_dword (hv->h, v);
  return errno ? hive_error (hv, path, name) : 1;
}

int
win_get_sz_at (struct win_hive *hv, hive_node_h node, const char *path,
               const char *name, char **out)
{
  hive_value_h v;
  hive_type t;
  size_t len;
  int r = find_value_at (hv, node, path, name, &v, &t, &len);

  if (r <= 0 || (t != hive_t_REG_SZ && t != hive_t_REG_EXPAND_SZ))
    return r == -1 ? -1 : 0;
  /* A string that is not UTF-16 counts as another type. */
  if ((*out = hivex_value_string (hv->h, v)) == NULL)
    return errno == ENOMEM ? hive_error (hv, path, name) : 0;
  return 1;
}

int
win_get_multi_sz_at (struct win_hive *hv, hive_node_h node,
                     const char *path, const char *name, char ***out)
{
  hive_value_h v;
  hive_type t;
  size_t len;
  int r = find_value_at (hv, node, path, name, &v, &t, &len);

  if (r <= 0 || t != hive_t_REG_MULTI_SZ)
    return r == -1 ? -1 : 0;
  if ((*out = hivex_value_multiple_strings (hv->h, v)) == NULL)
    return errno == ENOMEM ? hive_error (hv, path, name) : 0;
  /* The list ends at its first empty string, as Windows reads it
   * (hivex returns the empty string of the final double NUL). */
  for (size_t i = 0; (*out)[i]; i++)
    if ((*out)[i][0] == '\0') {
      for (size_t j = i; (*out)[j]; j++)
        free ((*out)[j]);
      (*out)[i] = NULL;
      break;
    }
  return 1;
}

/* The path forms: 0 also when the key is missing. */
int
win_get_dword (struct win_hive *hv, const char *path, const char *name,
               uint32_t *out)
{
  hive_node_h node;
  int r = win_node (hv, path, &node);

  return r <= 0 ? r : get_dword_at (hv, node, path, name, out);
}

int
win_get_sz (struct win_hive *hv, const char *path, const char *name,
            char **out)
{
  hive_node_h node;
  int r = win_node (hv, path, &node);

  return r <= 0 ? r : win_get_sz_at (hv, node, path, name, out);
}

int
win_get_multi_sz (struct win_hive *hv, const char *path, const char *name,
                  char ***out)
{
  hive_node_h node;
  int r = win_node (hv, path, &node);

  return r <= 0 ? r : win_get_multi_sz_at (hv, node, path, name, out);
}

/* ------------------------------------------------------------------ */
/* Changes.  The path forms create the key first when it is missing:
 * then the value is missing too, so it changes anyway. */

/* How the old value reads in a note: R is 1 (VALUE), 0 (unset) or 2
 * (a value of another type). */
static const char *
old_text (int r, const char *value)
{
  if (r == 1)
    return value;
  return r == 0 ? "(unset)" : "(other type)";
}

/* 2 value NAME exists (of another type than the caller wants), 0 not,
 * -1. */
static int
exists_value_at (struct win_hive *hv, hive_node_h node, const char *path,
                 const char *name)
{
  hive_value_h v;
  hive_type t;
  size_t len;
  int r = find_value_at (hv, node, path, name, &v, &t, &len);

  return r == 1 ? 2 : r;
}

/* Set NAME of key NODE to the raw VALUE and count it. */
static int
set_raw_at (struct win_hive *hv, hive_node_h node, const char *path,
            const char *name, hive_type t, const void *value, size_t len)
{
  hive_set_value v = {
    .key = (char *) name, .t = t, .len = len, .value = (char *) value,
  };

  if (hivex_node_set_value (hv->h, node, &v, 0) == -1)
    return hive_error (hv, path, name);
  hv->changes++;
  return 0;
}

static int
set_dword_at (struct win_hive *hv, hive_node_h node, const char *path,
              const char *name, uint32_t v, const char *why)
{
  uint32_t cur = 0;
  int r = get_dword_at (hv, node, path, name, &cur);
  uint8_t le[4];
  char old[16];

  if (r == -1 || (r == 1 && cur == v))
    return r == -1 ? -1 : 0;
  if (r == 0 && (r = exists_value_at (hv, node, path, name)) == -1)
    return -1;
  snprintf (old, sizeof old, "%" PRIu32, cur);
  store_le32 (le, v);
  if (set_raw_at (hv, node, path, name, hive_t_REG_DWORD, le, 4) == -1)
    return -1;
  return plan_note (hv->plan, INJ_NOTE_INFO, "%s\\%s: %s %s -> %" PRIu32
                    " (%s)", hv->name, path, name, old_text (r, old), v, why);
}

int
win_set_dword (struct win_hive *hv, const char *path, const char *name,
               uint32_t v, const char *why)
{
  hive_node_h node;

  if (walk (hv, path, true, &node) == -1)
    return -1;
  return set_dword_at (hv, node, path, name, v, why);
}

/* UTF-8 strings to the UTF-16LE of a REG_SZ (N == 1) or REG_MULTI_SZ,
 * each with its NUL, the list ended by one more.  NULL on error. */
static uint8_t *
utf16_list (char *const *v, size_t n, bool multi, size_t *len)
{
  size_t cap = 2, o = 0;
  uint8_t *buf;
  ssize_t r;

  for (size_t i = 0; i < n; i++)
    cap += 2 * strlen (v[i]) + 2;
  if ((buf = calloc (1, cap)) == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if ((r = utf8_to_utf16le (v[i], buf + o, cap - o)) == -1) {
      free (buf);
      return NULL;
    }
    o += r + 2;                 /* the NUL is already there */
  }
  *len = multi ? o + 2 : o;
  return buf;
}

/* Set a REG_SZ or REG_EXPAND_SZ.  The old text counts as the same
 * ignoring case: these are service names, GUIDs, groups and command
 * lines, which Windows compares that way. */
static int
set_string (struct win_hive *hv, const char *path, const char *name,
            hive_type t, const char *v, const char *why)
{
  CLEANUP_FREE char *cur = NULL;
  CLEANUP_FREE uint8_t *buf = NULL;
  hive_node_h node;
  hive_value_h val;
  hive_type cur_t = t;
  size_t len;
  int r = walk (hv, path, true, &node);

  if (r != -1)
    r = win_get_sz_at (hv, node, path, name, &cur);
  if (r == 1 && find_value_at (hv, node, path, name, &val, &cur_t, &len)
      == -1)
    return -1;
  if (r == -1 || (r == 1 && cur_t == t && strcasecmp (cur, v) == 0))
    return r == -1 ? -1 : 0;
  if (r == 0 && (r = exists_value_at (hv, node, path, name)) == -1)
    return -1;
  if ((buf = utf16_list ((char *const *) &v, 1, false, &len)) == NULL) {
    hv_error (HV_E_INTERNAL, "%s\\%s: %s: cannot encode \"%s\": %m",
              hv->name, path, name, v);
    return -1;
  }
  if (set_raw_at (hv, node, path, name, t, buf, len) == -1)
    return -1;
  return plan_note (hv->plan, INJ_NOTE_INFO, "%s\\%s: %s %s%s%s -> \"%s\" "
                    "(%s)", hv->name, path, name, r == 1 ? "\"" : "",
                    old_text (r, cur), r == 1 ? "\"" : "", v, why);
}

int
win_set_sz (struct win_hive *hv, const char *path, const char *name,
            const char *v, const char *why)
{
  return set_string (hv, path, name, hive_t_REG_SZ, v, why);
}

int
win_set_expand_sz (struct win_hive *hv, const char *path, const char *name,
                   const char *v, const char *why)
{
  return set_string (hv, path, name, hive_t_REG_EXPAND_SZ, v, why);
}

static size_t
count (char *const *v)
{
  size_t n = 0;

  while (v && v[n])
    n++;
  return n;
}

static bool
same_list (char *const *a, char *const *b)
{
  size_t n = count (a);

  if (n != count (b))
    return false;
  for (size_t i = 0; i < n; i++)
    if (strcasecmp (a[i], b[i]) != 0)
      return false;
  return true;
}

/* "a, b, c" for a note (caller frees); NULL on out of memory. */
static char *
join (char *const *v)
{
  char *s = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&s, &len);

  if (f == NULL)
    return NULL;
  for (size_t i = 0; v && v[i]; i++)
    fprintf (f, "%s%s", i ? ", " : "", v[i]);
  if (count (v) == 0)
    fputs ("(empty)", f);
  if (fclose (f) != 0) {
    free (s);
    return NULL;
  }
  return s;
}

/* Remove value NAME from key NODE: hivex sets a key's values as a
 * whole, so the others are read and written back. */
static int
delete_value_at (struct win_hive *hv, hive_node_h node, const char *path,
                 const char *name)
{
  hive_value_h *vals = hivex_node_values (hv->h, node);
  hive_set_value *keep = NULL;
  size_t n = 0, k = 0;
  int r = -1;

  if (vals == NULL)
    return hive_error (hv, path, name);
  while (vals[n])
    n++;
  if ((keep = calloc (n + 1, sizeof *keep)) == NULL)
    goto out;
  for (size_t i = 0; i < n; i++) {
    hive_set_value *s = &keep[k];
    if ((s->key = hivex_value_key (hv->h, vals[i])) == NULL ||
        (s->value = hivex_value_value (hv->h, vals[i], &s->t,
                                       &s->len)) == NULL) {
      free (s->key);
      goto out;
    }
    if (strcasecmp (s->key, name) == 0) {
      free (s->key);
      free (s->value);
      *s = (hive_set_value) { .key = NULL };
    }
    else
      k++;
  }
  r = hivex_node_set_values (hv->h, node, k, keep, 0);
 out:
  if (r == -1)
    hive_error (hv, path, name);
  for (size_t i = 0; keep && i < k; i++) {
    free (keep[i].key);
    free (keep[i].value);
  }
  free (keep);
  free (vals);
  if (r == 0)
    hv->changes++;
  return r;
}

int
win_set_multi_sz_at (struct win_hive *hv, hive_node_h node,
                     const char *path, const char *name, char *const *v,
                     const char *why)
{
  char **cur = NULL;
  CLEANUP_FREE uint8_t *buf = NULL;
  CLEANUP_FREE char *was = NULL, *now = NULL;
  int r = win_get_multi_sz_at (hv, node, path, name, &cur);
  size_t len;
  bool same = r == 1 && same_list (cur, v);

  was = r == 1 ? join (cur) : NULL;
  strings_free (cur);
  if (r == -1 || same || (r == 0 && count (v) == 0))
    return r == -1 ? -1 : 0;
  if (r == 0 && (r = exists_value_at (hv, node, path, name)) == -1)
    return -1;
  if ((now = join (v)) == NULL || (r == 1 && was == NULL)) {
    hv_error (HV_E_NOMEM, "%s hive: %m", hv->name);
    return -1;
  }
  if (count (v) == 0) {
    if (delete_value_at (hv, node, path, name) == -1)
      return -1;
    return plan_note (hv->plan, INJ_NOTE_INFO, "%s\\%s: %s %s removed (%s)",
                      hv->name, path, name, old_text (r, was), why);
  }
  if ((buf = utf16_list (v, count (v), true, &len)) == NULL) {
    hv_error (HV_E_INTERNAL, "%s\\%s: %s: cannot encode %s: %m",
              hv->name, path, name, now);
    return -1;
  }
  if (set_raw_at (hv, node, path, name, hive_t_REG_MULTI_SZ, buf, len)
      == -1)
    return -1;
  return plan_note (hv->plan, INJ_NOTE_INFO, "%s\\%s: %s %s -> %s (%s)",
                    hv->name, path, name, old_text (r, was), now, why);
}

int
win_delete_key (struct win_hive *hv, const char *path, const char *why)
{
  hive_node_h node;
  int r = win_node (hv, path, &node);

  if (r <= 0)
    return r;
  if (hivex_node_delete_child (hv->h, node) == -1)
    return hive_error (hv, path, "(delete)");
  hv->changes++;
  return plan_note (hv->plan, INJ_NOTE_INFO, "%s\\%s: key deleted (%s)",
                    hv->name, path, why);
}
