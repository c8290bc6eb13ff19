/* Adding kernel modules to an initramfs image on the host, instead of
 * running the guest's update-initramfs under TCG (about 90 s).
 *
 *   1. Walk the image: its members, the modules it has, where they live
 *      (usr/lib/modules/KVER or lib/modules/KVER).
 *   2. The wanted modules and what they need (modules.dep), less the
 *      built-in ones (modules.builtin) and those already there.  Nothing
 *      left: no output (a second inject changes nothing).
 *   3. Walk again, saving the image's modules to a staging tree; fetch
 *      the new ones from the guest; the host's depmod writes indexes for
 *      old and new together (kmod reads modules.dep.bin and alias.bin:
 *      indexes of only the new modules would make the old ones
 *      unloadable).
 *   4. Write the new image:
 *      REPACK  the bytes before the last segment unchanged, then that
 *              segment re-encoded in its own method with the new members
 *              before its last trailer, old indexes dropped.  The guest's
 *              lsinitramfs reads this: the one in Debian 12 reads the
 *              early cpio archives and one compressed archive, nothing
 *              after it, and cpio stops at the first trailer.
 *      APPEND  the image unchanged, padding to 4 bytes, one more segment
 *              (cpio or gzip) with the new members.  The kernel unpacks
 *              it (later members replace earlier ones) but Debian 12's
 *              lsinitramfs shows nothing after the main archive.
 *   5. List the new image: every added module must be a member, and the
 *      member count must be what was written.
 *
 * Members we add: the parent directories the image lacks (0755; never
 * one the image has as something else: "lib" is often a link to
 * usr/lib, and a directory entry would replace it), the modules and the
 * indexes (0644), owner 0:0, mtime now.
 *
 * Measured on the build machine (2 shared cores; Debian 12, kernel
 * 6.1; the Hyper-V and gen1 IDE modules wanted; the whole call, depmod
 * included; output size):
 *
 *   image                              REPACK       APPEND      APPEND gzip
 *   MODULES=list, 10.9 MB zstd,        0.42 s       0.23 s      0.6 s
 *     519 members, 28 modules added    13.2 MB      16.6 MB     12.4 MB
 *   MODULES=most, 35.0 MB zstd,        3.0-4.3 s    1.1 s       1.0 s
 *     1510 members, 7 modules added    40.2 MB      38.7 MB     35.8 MB
 *
 * REPACK is the default: a fraction of a second more on the usual
 * image, and the guest's own tools still read the result.  (update-
 * initramfs in the appliance under TCG: about 90 s.)
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "initramfs-walk.h"

/* The index files depmod (kmod 30) writes, and the lists it reads; in
 * the re-packed segment the old ones are dropped. */
static const char *const index_files[] = {
  "modules.alias", "modules.alias.bin", "modules.builtin.alias.bin",
  "modules.builtin.bin", "modules.dep", "modules.dep.bin",
  "modules.devname", "modules.softdep", "modules.symbols",
  "modules.symbols.bin",
  "modules.order", "modules.builtin", "modules.builtin.modinfo",
};
#define FIRST_INPUT 10          /* index_files[10..]: depmod's inputs */

/* An image member by name: the last one of that name wins. */
struct entry {
  char *name;
  char *link;
  uint32_t mode;
  size_t seq;
};
DEFINE_VECTOR (entry_vector, struct entry)
DEFINE_VECTOR (module_vector, const struct irfs_module *)

struct add {
  const struct initramfs_request *r;
  struct initramfs_result *res;
  struct irfs_modules mods;
  struct entry_vector image;        /* sorted by name, unique */
  size_t image_members;             /* all members, repeats counted */
  struct initramfs_layout layout;
  struct string_vector have;        /* module names in the image, sorted */
  struct module_vector closure;     /* wanted + dependencies */
  struct module_vector adding;
  struct irfs_stage stage;
  size_t copy_segment;
  bool dropped[ARRAY_SIZE (index_files)];
  size_t ndropped;
  struct irfs_newc newc;            /* the new members go here */
  size_t emitted;                   /* members written (no trailers) */
  struct irfs_encoder *enc;
  int out_fd;
};

static bool
has_string (const struct string_vector *v, const char *s)
{
  return v->len && bsearch (&s, v->ptr, v->len, sizeof *v->ptr,
                            irfs_compare_str);
}

/* ------------------------------------------------------------------ */
/* Pass 1: what the image holds. */

static int
compare_entries (const void *a, const void *b)
{
  const struct entry *x = a, *y = b;
  int c = strcmp (x->name, y->name);

  return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
compare_entry_names (const void *a, const void *b)
{
  return strcmp (((const struct entry *) a)->name,
                 ((const struct entry *) b)->name);
}

static int
scan_member (void *ctx, const struct irfs_member *m, char **save_to)
{
  struct add *a = ctx;
  struct entry e = { .mode = m->mode, .seq = a->image_members++ };

  e.name = strdup (m->name);
  e.link = m->link ? strdup (m->link) : NULL;
  if (e.name == NULL || (m->link && e.link == NULL) ||
      entry_vector_append (&a->image, e) == -1) {
    free (e.name);
    free (e.link);
    hv_error (HV_E_NOMEM, "%s: %m", a->r->image);
    return -1;
  }
  return IRFS_KEEP;
}

/* Sort by name; of repeated names keep the last. */
static void
unique_entries (struct entry_vector *v)
{
  size_t n = 0;

  qsort (v->ptr, v->len, sizeof *v->ptr, compare_entries);
  for (size_t i = 0; i < v->len; i++) {
    if (i + 1 < v->len && strcmp (v->ptr[i].name, v->ptr[i + 1].name) == 0) {
      free (v->ptr[i].name);
      free (v->ptr[i].link);
      continue;
    }
    v->ptr[n++] = v->ptr[i];
  }
  v->len = n;
}

/* The member NAME as the kernel leaves it, or NULL. */
static const struct entry *
image_entry (const struct add *a, const char *name)
{
  struct entry key = { .name = (char *) name };

  if (a->image.len == 0)
    return NULL;
  return bsearch (&key, a->image.ptr, a->image.len, sizeof key,
                  compare_entry_names);
}

static int
scan_image (struct add *a)
{
  struct irfs_walk w = { .image = a->r->image, .member = scan_member,
    .ctx = a, .copy_segment = SIZE_MAX };
  int r = irfs_walk (&w);

  a->layout = w.layout;
  unique_entries (&a->image);
  return r;
}

/* Where the image keeps its modules: where its modules.dep is, else
 * where it has anything for KVER, else usr/lib/modules if "lib" is a
 * link to usr/lib (merged /usr), else lib/modules. */
static int
choose_modules_dir (struct add *a)
{
  static const char *const roots[] = { "usr/lib/modules", "lib/modules" };
  char *dirs[2] = { NULL, NULL };
  const struct entry *lib = image_entry (a, "lib");
  int pick = -1;

  for (int i = 0; i < 2; i++)
    if (asprintf (&dirs[i], "%s/%s", roots[i], a->r->kver) == -1) {
      hv_error (HV_E_NOMEM, "%m");
      free (dirs[0]);
      return -1;
    }
  for (int i = 0; i < 2 && pick < 0; i++) {
    CLEANUP_FREE char *dep = irfs_join (dirs[i], "modules.dep");
    if (dep && image_entry (a, dep))
      pick = i;
  }
  for (int i = 0; i < 2 && pick < 0; i++)
    for (size_t j = 0; j < a->image.len && pick < 0; j++)
      if (strncmp (a->image.ptr[j].name, dirs[i], strlen (dirs[i])) == 0 &&
          a->image.ptr[j].name[strlen (dirs[i])] == '/')
        pick = i;
  if (pick < 0)
    pick = lib && S_ISLNK (lib->mode) && lib->link &&
      (strcmp (lib->link, "usr/lib") == 0 ||
       strcmp (lib->link, "/usr/lib") == 0) ? 0 : 1;
  a->res->modules_dir = dirs[pick];
  free (dirs[1 - pick]);
  return 0;
}

/* The member's path below the modules directory, or NULL. */
static const char *
below_modules_dir (const struct add *a, const char *name)
{
  size_t n = strlen (a->res->modules_dir);

  if (strncmp (name, a->res->modules_dir, n) != 0 || name[n] != '/')
    return NULL;
  return name + n + 1;
}

/* The names of the modules the image has, sorted. */
static int
find_image_modules (struct add *a)
{
  for (size_t i = 0; i < a->image.len; i++) {
    const char *rel = below_modules_dir (a, a->image.ptr[i].name);
    CLEANUP_FREE char *name = NULL;
    if (rel == NULL || !S_ISREG (a->image.ptr[i].mode) ||
        !irfs_is_module_path (rel))
      continue;
    if ((name = irfs_module_name (rel)) == NULL ||
        irfs_push (&a->have, name) == -1)
      return -1;
  }
  if (a->have.len)
    qsort (a->have.ptr, a->have.len, sizeof *a->have.ptr, irfs_compare_str);
  return 0;
}

/* ------------------------------------------------------------------ */
/* The modules to add. */

static int
add_to_closure (struct add *a, const struct irfs_module *m)
{
  for (size_t i = 0; i < a->closure.len; i++)
    if (a->closure.ptr[i] == m)
      return 0;
  if (module_vector_append (&a->closure, m) == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  return 0;
}

/* Push NAME to V unless it is there. */
static int
note_name (struct string_vector *v, const char *name)
{
  for (size_t i = 0; i < v->len; i++)
    if (strcmp (v->ptr[i], name) == 0)
      return 0;
  return irfs_push (v, name);
}

/* A wanted module or a dependency: built in, known or missing. */
static int
want (struct add *a, const char *name_or_path)
{
  CLEANUP_FREE char *name = irfs_module_name (name_or_path);
  const struct irfs_module *m;

  if (name == NULL)
    return -1;
  if (irfs_modules_builtin (&a->mods, name))
    return note_name (&a->res->builtin, name);
  if ((m = irfs_modules_find (&a->mods, name)) == NULL)
    return note_name (&a->res->missing, name);
  return add_to_closure (a, m);
}

static int
resolve_modules (struct add *a)
{
  for (char *const *w = a->r->modules; *w; w++)
    if (want (a, *w) == -1)
      return -1;
  /* The closure grows while it is walked. */
  for (size_t i = 0; i < a->closure.len; i++)
    for (char **d = a->closure.ptr[i]->deps; *d; d++)
      if (want (a, *d) == -1)
        return -1;
  for (size_t i = 0; i < a->closure.len; i++) {
    const struct irfs_module *m = a->closure.ptr[i];
    if (has_string (&a->have, m->name)) {
      if (irfs_push (&a->res->present, m->name) == -1)
        return -1;
    }
    else if (!irfs_safe_relpath (m->path) || !irfs_is_module_path (m->path)) {
      hv_error (HV_E_UNSAFE, "%s: %s: not a plain module path",
                a->r->modules_dep, m->path);
      return -1;
    }
    else if (module_vector_append (&a->adding, m) == -1) {
      hv_error (HV_E_NOMEM, "%m");
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Staging: the image's modules, the new ones, depmod. */

/* Which of index_files REL is, or -1. */
static int
index_file (const char *rel)
{
  for (size_t i = 0; i < ARRAY_SIZE (index_files); i++)
    if (strcmp (rel, index_files[i]) == 0)
      return i;
  return -1;
}

/* Pass 2: save the image's modules and depmod's inputs to the staging
 * tree; in the re-packed segment, drop the old indexes. */
static int
stage_member (void *ctx, const struct irfs_member *m, char **save_to)
{
  struct add *a = ctx;
  const char *rel = below_modules_dir (a, m->name);
  int idx;

  if (rel == NULL)
    return IRFS_KEEP;
  idx = index_file (rel);
  if (S_ISREG (m->mode) &&
      (irfs_is_module_path (rel) || idx >= FIRST_INPUT)) {
    if (!irfs_safe_relpath (rel)) {
      hv_error (HV_E_UNSAFE, "%s: member %s: not a plain path", a->r->image,
                m->name);
      return -1;
    }
    if ((*save_to = irfs_stage_path (&a->stage, rel)) == NULL)
      return -1;
  }
  if (idx >= 0 && m->segment == a->copy_segment) {
    a->dropped[idx] = true;
    a->ndropped++;
    return IRFS_DROP;
  }
  return IRFS_KEEP;
}

static int
fetch_modules (struct add *a)
{
  for (size_t i = 0; i < a->adding.len; i++) {
    const char *rel = a->adding.ptr[i]->path;
    CLEANUP_FREE char *dest = NULL;
    struct stat st;

    if ((dest = irfs_stage_path (&a->stage, rel)) == NULL ||
        a->r->fetch (a->r->fetch_ctx, rel, dest) == -1)
      return -1;
    if (lstat (dest, &st) == -1 || !S_ISREG (st.st_mode) ||
        st.st_size > (off_t) IRFS_MEMBER_MAX) {
      hv_error (HV_E_IO, "%s: the module fetched from the guest is not a "
                "regular file of a sane size", rel);
      return -1;
    }
  }
  return 0;
}

/* depmod's modules.dep names every added module at its path, and every
 * index dropped from the image was written again. */
static int
check_stage (struct add *a)
{
  CLEANUP_FREE char *dep = irfs_join (a->stage.moddir, "modules.dep");
  struct irfs_modules m;
  int r = 0;

  if (dep == NULL || irfs_modules_read (&m, dep, NULL) == -1)
    return -1;
  for (size_t i = 0; i < a->adding.len && r == 0; i++) {
    const struct irfs_module *x =
      irfs_modules_find (&m, a->adding.ptr[i]->name);
    if (x == NULL || strcmp (x->path, a->adding.ptr[i]->path) != 0) {
      hv_error (HV_E_INTERNAL, "%s: depmod left out %s (can the host's kmod "
                "read this kernel's modules?)", dep, a->adding.ptr[i]->path);
      r = -1;
    }
  }
  irfs_modules_free (&m);
  for (size_t i = 0; i < ARRAY_SIZE (index_files) && r == 0; i++) {
    CLEANUP_FREE char *f = a->dropped[i]
      ? irfs_join (a->stage.moddir, index_files[i]) : NULL;
    if (f && access (f, R_OK) == -1) {
      hv_error (HV_E_INTERNAL, "%s: depmod did not write it, and the image "
                "had it", f);
      r = -1;
    }
  }
  return r;
}

static int
prepare_stage (struct add *a)
{
  const char *const lists[3] = { a->r->modules_order, a->r->modules_builtin,
                                 a->r->modules_builtin_modinfo };
  double t = now_seconds ();

  if (fetch_modules (a) == -1 || irfs_stage_depmod (&a->stage, lists) == -1 ||
      check_stage (a) == -1)
    return -1;
  hv_debug ("fetch and depmod took %.2f s", now_seconds () - t);
  return 0;
}

/* ------------------------------------------------------------------ */
/* The new members. */

/* The directories above NAMES the image lacks, parents first. */
static int
missing_dirs (struct add *a, const struct string_vector *names,
              struct string_vector *dirs)
{
  size_t n = 0;

  for (size_t i = 0; i < names->len; i++) {
    CLEANUP_FREE char *p = strdup (names->ptr[i]);
    if (p == NULL) {
      hv_error (HV_E_NOMEM, "%m");
      return -1;
    }
    for (char *s = p; (s = strchr (s, '/')); s++) {
      *s = '\0';
      if (!image_entry (a, p) && irfs_push (dirs, p) == -1)
        return -1;
      *s = '/';
    }
  }
  if (dirs->len)
    qsort (dirs->ptr, dirs->len, sizeof *dirs->ptr, irfs_compare_str);
  for (size_t i = 0; i < dirs->len; i++) {
    if (n && strcmp (dirs->ptr[n - 1], dirs->ptr[i]) == 0)
      free (dirs->ptr[i]);
    else
      dirs->ptr[n++] = dirs->ptr[i];
  }
  dirs->len = n;
  return 0;
}

/* Fill NAMES (in the image) and SOURCES (host files) of the members to
 * write: the new modules, then every index. */
static int
new_files (struct add *a, struct string_vector *names,
           struct string_vector *sources)
{
  struct string_vector idx = { 0 };
  int r = irfs_stage_indexes (&a->stage, &idx);

  for (size_t i = 0; r == 0 && i < a->adding.len + idx.len; i++) {
    const char *rel = i < a->adding.len ? a->adding.ptr[i]->path
      : idx.ptr[i - a->adding.len];
    char *n = irfs_join (a->res->modules_dir, rel);
    char *s = irfs_join (a->stage.moddir, rel);
    if (n == NULL || s == NULL || string_vector_append (names, n) == -1) {
      free (n);
      free (s);
      r = -1;
    }
    else if (string_vector_append (sources, s) == -1) {
      free (s);
      r = -1;
    }
    if (r == -1 && n && s)
      hv_error (HV_E_NOMEM, "%m");
  }
  irfs_free_strings (&idx);
  return r;
}

static int
write_new_members (struct add *a)
{
  struct string_vector names = { 0 }, sources = { 0 }, dirs = { 0 };
  int r = new_files (a, &names, &sources);

  if (r == 0)
    r = missing_dirs (a, &names, &dirs);
  for (size_t i = 0; r == 0 && i < dirs.len; i++, a->emitted++)
    r = irfs_newc_dir (&a->newc, dirs.ptr[i], 0755);
  for (size_t i = 0; r == 0 && i < names.len; i++, a->emitted++)
    r = irfs_newc_file (&a->newc, names.ptr[i], 0644, sources.ptr[i]);
  irfs_free_strings (&names);
  irfs_free_strings (&sources);
  irfs_free_strings (&dirs);
  return r;
}

/* ------------------------------------------------------------------ */
/* The output. */

static int
sink_encoder (void *ctx, const void *buf, size_t len)
{
  struct add *a = ctx;
  return irfs_encoder_write (a->enc, buf, len);
}

static int
finish_repack (void *ctx)
{
  struct add *a = ctx;
  return prepare_stage (a) == -1 ? -1 : write_new_members (a);
}

static int
method_by_name (const char *name)
{
  for (int m = IRFS_CPIO; m <= IRFS_ZSTD; m++)
    if (strcmp (irfs_method_name (m), name) == 0)
      return m;
  return -1;
}

/* The last segment re-encoded, everything before it as it was. */
static int
write_repack (struct add *a, int in)
{
  const struct initramfs_segment *last =
    &a->layout.segments.ptr[a->layout.segments.len - 1];
  struct irfs_walk w = { .image = a->r->image, .member = stage_member,
    .ctx = a, .copy_segment = a->layout.segments.len - 1,
    .sink = sink_encoder, .finish = finish_repack };
  uint64_t end;
  int r;

  if (full_copy_range (in, 0, a->out_fd, 0, last->offset) == -1) {
    hv_error (HV_E_IO, "%s: copying from %s: %m", a->r->output, a->r->image);
    return -1;
  }
  a->enc = irfs_encoder_new (method_by_name (last->method), a->out_fd,
                             last->offset, a->r->output);
  if (a->enc == NULL)
    return -1;
  a->copy_segment = w.copy_segment;
  r = irfs_walk (&w);
  initramfs_layout_free (&w.layout);
  if (r == 0)
    r = irfs_encoder_finish (a->enc, &end);
  else
    irfs_encoder_free (a->enc);
  a->enc = NULL;
  return r;
}

/* The image as it was, padding, one more segment. */
static int
write_append (struct add *a, int in, uint64_t size)
{
  static const uint8_t zeros[4];
  struct irfs_walk w = { .image = a->r->image, .member = stage_member,
    .ctx = a, .copy_segment = SIZE_MAX };
  uint64_t start = ROUND_UP (size, 4), end;
  int r = irfs_walk (&w);

  initramfs_layout_free (&w.layout);
  if (r == -1 || prepare_stage (a) == -1)
    return -1;
  if (full_copy_range (in, 0, a->out_fd, 0, size) == -1 ||
      full_pwrite (a->out_fd, zeros, start - size, size) == -1) {
    hv_error (HV_E_IO, "%s: copying from %s: %m", a->r->output, a->r->image);
    return -1;
  }
  a->enc = irfs_encoder_new (a->r->gzip ? IRFS_GZIP : IRFS_CPIO, a->out_fd,
                             start, a->r->output);
  if (a->enc == NULL)
    return -1;
  r = write_new_members (a);
  if (r == 0)
    r = irfs_newc_trailer (&a->newc);
  if (r == 0)
    r = irfs_encoder_finish (a->enc, &end);
  else
    irfs_encoder_free (a->enc);
  a->enc = NULL;
  return r;
}

/* Can the chosen way handle this image? */
/* The segment formats hvconvert can write (re-encode) as well as read. */
static const char *const encodable[] = { "cpio", "gzip", "lzma", "xz",
                                         "zstd" };

bool
initramfs_method_writable (const char *method)
{
  for (size_t i = 0; i < ARRAY_SIZE (encodable); i++)
    if (strcmp (method, encodable[i]) == 0)
      return true;
  return false;
}

static int
check_method (const struct add *a)
{
  const char *m = a->layout.segments.ptr[a->layout.segments.len - 1].method;

  if (a->r->how == INITRAMFS_APPEND && !a->layout.appendable) {
    hv_error (HV_E_UNSUPPORTED, "%s: its last segment is %s: a segment "
              "appended after it would not be %s", a->r->image, m,
              strcmp (m, "lz4") == 0 ? "unpacked by the kernel"
              : "found by hvconvert's check");
    return -1;
  }
  if (a->r->how == INITRAMFS_APPEND)
    return 0;
  if (initramfs_method_writable (m))
    return 0;
  hv_error (HV_E_UNSUPPORTED, "%s: its last segment is %s, which hvconvert "
            "cannot re-encode", a->r->image, m);
  return -1;
}

static int
write_output (struct add *a)
{
  struct stat st;
  int in = open (a->r->image, O_RDONLY | O_CLOEXEC), r = -1;
  double t = now_seconds ();

  if (in == -1 || fstat (in, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", a->r->image);
    goto out;
  }
  a->out_fd = open (a->r->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0644);
  if (a->out_fd == -1) {
    hv_error (HV_E_IO, "%s: %m", a->r->output);
    goto out;
  }
  a->newc = (struct irfs_newc) { .write = sink_encoder, .ctx = a,
    .ino = 0x68760000, .mtime = (uint32_t) time (NULL) };
  r = a->r->how == INITRAMFS_APPEND ? write_append (a, in, st.st_size)
    : write_repack (a, in);
  if (r == 0 && full_fsync (a->out_fd) == -1) {
    hv_error (HV_E_IO, "%s: fsync: %m", a->r->output);
    r = -1;
  }
  hv_debug ("writing %s took %.2f s", a->r->output,
            now_seconds () - t);
 out:
  if (in >= 0)
    close (in);
  return r;
}

/* The new image read back: every added module is a member, and there
 * are as many members as were kept and written. */
static int
verify_output (struct add *a)
{
  struct string_vector members = { 0 };
  size_t want = a->image_members - a->ndropped + a->emitted;
  int r = initramfs_list (a->r->output, &members);

  if (r == 0 && members.len != want) {
    hv_error (HV_E_INTERNAL, "%s: %zu members read back, %zu written",
              a->r->output, members.len, want);
    r = -1;
  }
  if (members.len)
    qsort (members.ptr, members.len, sizeof *members.ptr, irfs_compare_str);
  for (size_t i = 0; r == 0 && i < a->adding.len; i++) {
    CLEANUP_FREE char *n = irfs_join (a->res->modules_dir,
                                      a->adding.ptr[i]->path);
    if (n == NULL || !has_string (&members, n)) {
      if (n)
        hv_error (HV_E_INTERNAL, "%s: %s is not a member after all",
                  a->r->output, n);
      r = -1;
    }
  }
  irfs_free_strings (&members);
  return r;
}

/* ------------------------------------------------------------------ */

static int
check_request (const struct initramfs_request *r)
{
  const char *k = r->kver;
  struct stat a, b;

  if (!r->image || !r->output || !k || !r->modules || !r->modules_dep ||
      !r->fetch) {
    hv_error (HV_E_INTERNAL, "initramfs_add_modules: incomplete request");
    return -1;
  }
  if (!*k || strchr (k, '/') || strcmp (k, ".") == 0 ||
      strcmp (k, "..") == 0 || strlen (k) > 255) {
    hv_error (HV_E_UNSAFE, "%s: not a kernel version", k);
    return -1;
  }
  if (stat (r->image, &a) == 0 && stat (r->output, &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    hv_error (HV_E_USAGE, "%s: the output must not be the image itself",
              r->output);
    return -1;
  }
  return 0;
}

static int
added_paths (struct add *a)
{
  for (size_t i = 0; i < a->adding.len; i++)
    if (irfs_push (&a->res->added, a->adding.ptr[i]->path) == -1)
      return -1;
  return 0;
}

static void
add_free (struct add *a)
{
  irfs_modules_free (&a->mods);
  for (size_t i = 0; i < a->image.len; i++) {
    free (a->image.ptr[i].name);
    free (a->image.ptr[i].link);
  }
  free (a->image.ptr);
  initramfs_layout_free (&a->layout);
  irfs_free_strings (&a->have);
  free (a->closure.ptr);
  free (a->adding.ptr);
  if (a->out_fd >= 0)
    close (a->out_fd);
  irfs_stage_close (&a->stage);
}

int
initramfs_add_modules (const struct initramfs_request *r,
                       struct initramfs_result *res)
{
  struct add a = { .r = r, .res = res, .copy_segment = SIZE_MAX,
    .out_fd = -1 };
  double t = now_seconds ();
  int ret = -1;

  *res = (struct initramfs_result) { 0 };
  if (check_request (r) == -1 ||
      irfs_modules_read (&a.mods, r->modules_dep, r->modules_builtin) == -1 ||
      scan_image (&a) == -1 || choose_modules_dir (&a) == -1 ||
      find_image_modules (&a) == -1 || resolve_modules (&a) == -1)
    goto out;
  hv_debug ("%s: %zu members in %zu segments, modules in %s, "
            "%zu to add; read in %.2f s", r->image, a.image_members,
            a.layout.segments.len, res->modules_dir, a.adding.len,
            now_seconds () - t);
  if (a.adding.len == 0) {
    ret = 0;
    goto out;
  }
  if (check_method (&a) == -1 ||
      irfs_stage_open (&a.stage, r->workdir, r->kver) == -1 ||
      write_output (&a) == -1 || verify_output (&a) == -1 ||
      added_paths (&a) == -1)
    goto out;
  res->changed = true;
  ret = 0;
 out:
  if (ret == -1) {
    if (a.out_fd >= 0)
      unlink (r->output);
    initramfs_result_free (res);
  }
  add_free (&a);
  hv_debug ("%s: done in %.2f s", r->image, now_seconds () - t);
  return ret;
}

void
initramfs_result_free (struct initramfs_result *res)
{
  if (res == NULL)
    return;
  free (res->modules_dir);
  irfs_free_strings (&res->added);
  irfs_free_strings (&res->present);
  irfs_free_strings (&res->builtin);
  irfs_free_strings (&res->missing);
  *res = (struct initramfs_result) { 0 };
}
