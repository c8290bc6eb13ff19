/* Every installed kernel's initramfs gets the drivers.
 *
 * A kernel is a directory /lib/modules/KVER; its initramfs is found by
 * the names the distributions use (table below).  In the default
 * "append" mode the image and the kernel's module indexes are copied to
 * the host, initramfs.c writes the new image there (the original bytes
 * plus a segment with the missing modules and new indexes), and the plan
 * uploads it over the old one, which is kept beside it.  That takes
 * seconds where the guest's own tool under TCG takes minutes; "rebuild"
 * runs the guest's tool instead (after linux.c told it what to keep).
 */
#include <config.h>

#include <stdio.h>
#include <sys/stat.h>

#include "injectors.h"

/* Initramfs names by distribution family: prefix KVER suffix. */
static const struct { const char *prefix, *suffix; } image_names[] = {
  { "/boot/initrd.img-", "" },        /* Debian, Ubuntu */
  { "/boot/initramfs-", ".img" },     /* RHEL, Fedora, dracut */
  { "/boot/initrd-", "" },            /* SUSE */
  { "/boot/initrd-", ".img" },        /* RHEL 5 mkinitrd */
};

/* The kernel's module index files the new image's indexes are made
 * from; modules.dep is required, the others help depmod. */
static const char *const index_files[] = {
  "modules.dep", "modules.order", "modules.builtin",
  "modules.builtin.modinfo",
};

/* The suffix kept for the original image. */
#define BACKUP_SUFFIX ".pre-hvconvert"

/* The guest's initramfs of KVER, or NULL (not reported) if none. */
static char *
find_image (struct inj_guest *g, const char *kver)
{
  for (size_t i = 0; i < ARRAY_SIZE (image_names); i++) {
    char *p;
    if (asprintf (&p, "%s%s%s", image_names[i].prefix, kver,
                  image_names[i].suffix) == -1)
      return NULL;
    if (g->fs.exists (g->fs.ctx, p) == 1)
      return p;
    free (p);
  }
  return NULL;
}

struct fetch_ctx {
  struct inj_guest *g;
  const char *kver;
};

/* initramfs.c's way to a module file: copy it out of the guest. */
static int
fetch_module (void *ctx, const char *relpath, const char *host_dest)
{
  struct fetch_ctx *f = ctx;
  CLEANUP_FREE char *path = NULL;

  if (strstr (relpath, "..") || relpath[0] == '/') {
    hv_error (HV_E_UNSAFE, "/lib/modules/%s/modules.dep: a module path "
              "outside the kernel's directory: %s", f->kver, relpath);
    return -1;
  }
  if (asprintf (&path, "/lib/modules/%s/%s", f->kver, relpath) == -1) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  return f->g->fs.download (f->g->fs.ctx, path, host_dest);
}

/* Copy the kernel's index files into DIR on the host; HAVE[i] says
 * which exist. */
static int
fetch_indexes (struct inj_guest *g, const char *kver, const char *dir,
               bool have[])
{
  for (size_t i = 0; i < ARRAY_SIZE (index_files); i++) {
    CLEANUP_FREE char *from = NULL, *to = NULL;
    int e;
    if (asprintf (&from, "/lib/modules/%s/%s", kver, index_files[i]) == -1 ||
        asprintf (&to, "%s/%s", dir, index_files[i]) == -1) {
      hv_error (HV_E_NOMEM, "out of memory");
      return -1;
    }
    if ((e = g->fs.exists (g->fs.ctx, from)) == -1)
      return -1;
    if (e == 0 && i == 0) {
      hv_error (HV_E_FORMAT, "%s: missing: the kernel's modules were never "
                "indexed (depmod)", from);
      return -1;
    }
    if (e == 1 && g->fs.download (g->fs.ctx, from, to) == -1)
      return -1;
    have[i] = e == 1;
  }
  return 0;
}

/* DIR/NAME if HAVE, else NULL (freed by the caller). */
static char *
index_path (const char *dir, const char *name, bool have)
{
  char *p;

  if (!have || asprintf (&p, "%s/%s", dir, name) == -1)
    return NULL;
  return p;
}

/* The names in V, space-separated; module paths as their names
 * ("kernel/drivers/hv/hv_vmbus.ko" -> "hv_vmbus").  NULL on out of
 * memory (reported). */
static char *
names (const struct string_vector *v)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);

  if (f == NULL) {
    hv_error (HV_E_NOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < v->len; i++) {
    const char *s = strrchr (v->ptr[i], '/') ? strrchr (v->ptr[i], '/') + 1
      : v->ptr[i];
    const char *ko = strstr (s, ".ko");
    fprintf (f, "%s%.*s", i ? " " : "", (int) (ko ? ko - s : (int) strlen (s)),
             s);
  }
  if (fclose (f) != 0) {
    free (text);
    hv_error (HV_E_NOMEM, "out of memory");
    return NULL;
  }
  return text;
}

/* Is ENTRY (a name, or a path as modules.dep has it) module NAME?  '-'
 * and '_' are the same in module names. */
static bool
same_module (const char *entry, const char *name)
{
  const char *s = strrchr (entry, '/') ? strrchr (entry, '/') + 1 : entry;
  size_t i = 0;

  for (; s[i] && name[i]; i++)
    if (s[i] != name[i] && !(strchr ("-_", s[i]) && strchr ("-_", name[i])))
      return false;
  return name[i] == '\0' && (s[i] == '\0' || strncmp (s + i, ".ko", 3) == 0);
}

/* Does the kernel's initramfs have module NAME (or is it built in)? */
static bool
has_module (const struct initramfs_result *r, const char *name)
{
  const struct string_vector *lists[] = { &r->present, &r->builtin,
                                          &r->added };
  for (size_t l = 0; l < ARRAY_SIZE (lists); l++)
    for (size_t i = 0; i < lists[l]->len; i++)
      if (same_module (lists[l]->ptr[i], name))
        return true;
  return false;
}

/* Drivers that replace one another: a kernel needs only one of each
 * pair (hyperv_drm took over from hyperv_fb in Linux 5.14). */
static const char *const alternatives[][2] = {
  { "hyperv_fb", "hyperv_drm" },
};

/* Is missing module NAME made up for by its alternative? */
static bool
replaced (const struct initramfs_result *r, const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE (alternatives); i++)
    for (int k = 0; k < 2; k++)
      if (same_module (name, alternatives[i][k]) &&
          has_module (r, alternatives[i][1 - k]))
        return true;
  return false;
}

/* The plan's notes for what initramfs.c found: what was there already,
 * and (a warning) what this kernel does not have at all. */
static int
note_result (struct inj_plan *plan, const char *kver, const char *image,
             const struct initramfs_result *r)
{
  struct string_vector missing = { 0 };
  CLEANUP_FREE char *present = names (&r->present);
  CLEANUP_FREE char *builtin = names (&r->builtin);
  CLEANUP_FREE char *absent = NULL;
  int ret = present && builtin ? 0 : -1;

  if (ret == 0 && (r->present.len || r->builtin.len))
    ret = plan_note (plan, INJ_NOTE_INFO, "kernel %s, %s: %s%s%s%s%s", kver,
                     image, r->present.len ? "already has " : "", present,
                     r->present.len && r->builtin.len ? "; " : "",
                     r->builtin.len ? "built into the kernel: " : "",
                     builtin);
  for (size_t i = 0; ret == 0 && i < r->missing.len; i++)
    if (!replaced (r, r->missing.ptr[i]) &&
        string_vector_append (&missing, r->missing.ptr[i]) == -1)
      ret = -1;
  if (ret == 0 && missing.len)
    ret = (absent = names (&missing)) == NULL ? -1
      : plan_note (plan, INJ_NOTE_WARN, "kernel %s has no module %s: %s "
                   "cannot be added", kver, absent,
                   missing.len > 1 ? "those drivers" : "that driver");
  free (missing.ptr);   /* the strings belong to R */
  return ret;
}

static int rebuild_kernel (const char *kver, const char *image,
                           const char *tool, struct inj_plan *plan);

/* The format of the image's last segment if hvconvert cannot rewrite
 * it, else NULL; "" when the image cannot be read (reported). */
static const char *
unwritable_method (const char *copy)
{
  struct initramfs_layout layout = { 0 };
  const char *m = NULL;

  if (initramfs_scan (copy, NULL, &layout) == -1)
    return "";
  if (layout.segments.len) {
    const char *last = layout.segments.ptr[layout.segments.len - 1].method;
    if (!initramfs_method_writable (last))
      m = last;   /* a static name, not the layout's */
  }
  initramfs_layout_free (&layout);
  return m;
}

/* One kernel: copy its image and indexes to the host and see what the
 * image lacks.  The new image is made there (append mode, the default)
 * or the guest's tool rebuilds it (rebuild mode, or an image whose
 * format hvconvert cannot write). */
static int
plan_kernel (struct inj_guest *g, const struct inj_opts *o, const char *kver,
             const char *image, const char *const *mods, const char *tool,
             struct inj_plan *plan)
{
  CLEANUP_FREE char *dir = NULL, *copy = NULL, *out = NULL, *backup = NULL;
  char *idx[ARRAY_SIZE (index_files)] = { NULL };
  bool have[ARRAY_SIZE (index_files)] = { false };
  struct fetch_ctx fc = { .g = g, .kver = kver };
  struct initramfs_result res = { 0 };
  int r = -1;

  if (asprintf (&dir, "%s/%s", g->workdir, kver) == -1 ||
      asprintf (&copy, "%s/image", dir) == -1 ||
      asprintf (&out, "%s/image.new", dir) == -1 ||
      asprintf (&backup, "%s" BACKUP_SUFFIX, image) == -1) {
    hv_error (HV_E_NOMEM, "out of memory");
    return -1;
  }
  if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
    hv_error (HV_E_IO, "%s: %m", dir);
    return -1;
  }
  {
    CLEANUP_FREE char *dep = NULL;
    int e;
    if (asprintf (&dep, "/lib/modules/%s/modules.dep", kver) == -1 ||
        (e = g->fs.exists (g->fs.ctx, dep)) == -1)
      return -1;
    if (e == 0)
      return plan_note (plan, INJ_NOTE_WARN, "kernel %s: no %s (its modules "
                        "were never indexed by depmod): no driver can be "
                        "added to %s", kver, dep, image);
  }
  if (fetch_indexes (g, kver, dir, have) == -1)
    goto out;
  for (size_t i = 0; i < ARRAY_SIZE (index_files); i++)
    idx[i] = index_path (dir, index_files[i], have[i]);
  struct initramfs_request req = {
    .image = copy, .output = out, .kver = kver,
    .modules = (char *const *) mods, .modules_dep = idx[0],
    .modules_order = idx[1], .modules_builtin = idx[2],
    .modules_builtin_modinfo = idx[3], .fetch = fetch_module,
    .fetch_ctx = &fc, .workdir = dir,
  };
  const char *method = NULL;
  if (idx[0] == NULL || g->fs.download (g->fs.ctx, image, copy) == -1 ||
      (method = unwritable_method (copy)) != NULL) {
    if (method && *method &&
        (r = plan_note (plan, INJ_NOTE_INFO, "kernel %s: %s ends in a %s "
                        "archive, which hvconvert reads but cannot write: "
                        "the guest's own tool rebuilds it", kver, image,
                        method)) == 0)
      r = rebuild_kernel (kver, image, tool, plan);
    goto out;
  }
  if (initramfs_add_modules (&req, &res) == -1 ||
      note_result (plan, kver, image, &res) == -1)
    goto out;
  if (!has_module (&res, "hv_storvsc") &&
      plan_note (plan, INJ_NOTE_WARN, "kernel %s has no Hyper-V storage "
                 "driver (hv_storvsc): it cannot boot from a synthetic "
                 "SCSI disk", kver) == -1)
    goto out;
  r = 0;
  if (res.changed && o->initramfs == INJ_INITRAMFS_REBUILD)
    r = rebuild_kernel (kver, image, tool, plan);
  else if (res.changed) {
    CLEANUP_FREE char *added = names (&res.added);
    r = added == NULL ? -1
      : plan_upload (plan, image, out, 0644, backup, "add %s to the "
                     "initramfs of kernel %s", added, kver);
  }
 out:
  for (size_t i = 0; i < ARRAY_SIZE (index_files); i++)
    free (idx[i]);
  initramfs_result_free (&res);
  return r;
}

/* Rebuild one kernel's image with the guest's tool, after a backup. */
static int
rebuild_kernel (const char *kver, const char *image, const char *tool,
                struct inj_plan *plan)
{
  CLEANUP_FREE char *backup = NULL;
  /* -n: an earlier run's backup is the original and stays. */
  char *cp[] = { "cp", "-a", "-n", (char *) image, NULL, NULL };
  char *update[] = { "update-initramfs", "-u", "-k", (char *) kver, NULL };
  char *dracut[] = { "dracut", "-f", (char *) image, (char *) kver, NULL };
  char *mkinitcpio[] = { "mkinitcpio", "-k", (char *) kver, "-g",
                         (char *) image, NULL };
  CLEANUP_FREE char *vmlinuz = NULL;
  char *mkinitrd[] = { "mkinitrd", "-k", NULL, "-i", (char *) image, NULL };
  char **argv = tool == NULL ? NULL
    : strcmp (tool, "initramfs-tools") == 0 ? update
    : strcmp (tool, "dracut") == 0 ? dracut
    : strcmp (tool, "mkinitrd") == 0 ? mkinitrd : mkinitcpio;

  if (asprintf (&vmlinuz, "/boot/vmlinuz-%s", kver) == -1)
    return -1;
  mkinitrd[2] = vmlinuz;

  if (argv == NULL)
    return plan_note (plan, INJ_NOTE_WARN, "kernel %s: no initramfs tool to "
                      "rebuild %s with (try --initramfs append)", kver, image);
  if (asprintf (&backup, "%s" BACKUP_SUFFIX, image) == -1)
    return -1;
  cp[4] = backup;
  if (plan_command (plan, cp, "keep the initramfs of kernel %s as %s", kver,
                    backup) == -1)
    return -1;
  return plan_command (plan, argv, "rebuild the initramfs of kernel %s with "
                       "%s (in the appliance: slow under TCG)", kver, tool);
}

int
linux_plan_initramfs (struct inj_guest *g, const struct inj_opts *o,
                      const char *const *mods, const char *tool,
                      struct inj_plan *plan)
{
  char **kvers;
  int r = 0, dir = g->fs.is_dir (g->fs.ctx, "/lib/modules");

  if (dir == -1)
    return -1;
  if (dir == 0)
    return plan_note (plan, INJ_NOTE_WARN, "no /lib/modules: the guest has "
                      "no loadable kernel modules, so no driver can be "
                      "added to its initramfs");
  if ((kvers = g->fs.ls (g->fs.ctx, "/lib/modules")) == NULL)
    return -1;
  if (kvers[0] == NULL)
    r = plan_note (plan, INJ_NOTE_WARN, "/lib/modules is empty: no kernel "
                   "to add drivers for");
  for (size_t i = 0; r == 0 && kvers[i]; i++) {
    CLEANUP_FREE char *image = NULL;
    if (strchr (kvers[i], '/') || kvers[i][0] == '.')
      continue;
    if ((image = find_image (g, kvers[i])) == NULL)
      r = plan_note (plan, INJ_NOTE_WARN, "kernel %s has no initramfs "
                     "(looked for /boot/initrd.img-%s, "
                     "/boot/initramfs-%s.img and others)", kvers[i],
                     kvers[i], kvers[i]);
    else
      r = plan_kernel (g, o, kvers[i], image, mods, tool, plan);
  }
  strings_free (kvers);
  return r;
}
