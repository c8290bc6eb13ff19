/* Device names in the guest's configuration (GUESTS.md A.4): the files
 * that name disks, read through the guest's inj_fs, rewritten by
 * devnames.c, and planned as writes with the old file kept beside it.
 *
 * The stable names come from g->stable_name (session.c maps the
 * guest's "/dev/hda1" to the appliance's device by disk index and
 * partition number and asks libguestfs for its UUID or label), asked
 * once per name: the same root appears in fstab, grub.cfg and
 * /etc/default/grub.
 *
 * UUID= and LABEL= on the kernel command line are resolved by the
 * initramfs (initramfs-tools, dracut, RHEL 5 nash), which every
 * distribution this targets boots with; a kernel without one would
 * need PARTUUID=.
 */
#include <config.h>

#include <stdio.h>

#include "injectors.h"

/* Configuration files are small; anything bigger is not one. */
#define MAX_CONFIG (1 * MiB)
/* Files taken from one directory (BLS entries, grub.d, EFI vendors). */
#define MAX_DIR_FILES 64
/* Changes named in the one-line reason of a write. */
#define WHY_NAMES 4

/* inj_fs cannot tell a file's mode, so the mode written is what the
 * distributions use, erring on the private side for files that may
 * hold a password hash (grub.cfg, menu.lst: RHEL ships them 0600;
 * Debian's 0444 grub.cfg loses nothing at 0600) or name key files
 * (crypttab). */
struct devfile {
  const char *path;
  enum devname_syntax syntax;
  mode_t mode;
  const char *backup;           /* NULL: PATH.pre-hvconvert */
};

static const struct devfile devfiles[] = {
  { "/etc/fstab", DEVNAME_FSTAB, 0644, NULL },
  { "/etc/crypttab", DEVNAME_CRYPTTAB, 0600, NULL },
  { "/etc/default/grub", DEVNAME_DEFAULT_GRUB, 0644, NULL },
  { "/boot/grub/grub.cfg", DEVNAME_GRUB_CFG, 0600, NULL },
  { "/boot/grub2/grub.cfg", DEVNAME_GRUB_CFG, 0600, NULL },
  /* RHEL's grub.conf is the file, menu.lst a link to it: the file
   * first (see same_file). */
  { "/boot/grub/grub.conf", DEVNAME_MENU_LST, 0600, NULL },
  { "/boot/grub/menu.lst", DEVNAME_MENU_LST, 0600, NULL },
  { "/boot/extlinux/extlinux.conf", DEVNAME_EXTLINUX, 0644, NULL },
  { "/boot/extlinux.conf", DEVNAME_EXTLINUX, 0644, NULL },
  { "/boot/syslinux/extlinux.conf", DEVNAME_EXTLINUX, 0644, NULL },
  { "/boot/syslinux/syslinux.cfg", DEVNAME_EXTLINUX, 0644, NULL },
  { "/boot/syslinux.cfg", DEVNAME_EXTLINUX, 0644, NULL },
  { "/extlinux.conf", DEVNAME_EXTLINUX, 0644, NULL },
  { "/syslinux.cfg", DEVNAME_EXTLINUX, 0644, NULL },
  /* mkinitramfs sources every conf.d file whose name is made of
   * letters, digits, '.', '_' and '-', so "resume.pre-hvconvert" there
   * would be read after "resume" and bring the old RESUME back. */
  { "/etc/initramfs-tools/conf.d/resume", DEVNAME_RESUME, 0644,
    "/etc/initramfs-tools/resume.pre-hvconvert" },
};

/* Directories of files of one syntax: DIR/NAME when NAME ends in
 * SUFFIX, or DIR/NAME/SUB (one file in each subdirectory).  The backups
 * (NAME.pre-hvconvert) do not end in the suffix the readers look for. */
struct devdir {
  const char *dir;
  const char *suffix;
  const char *sub;
  enum devname_syntax syntax;
  mode_t mode;
};

static const struct devdir devdirs[] = {
  { "/etc/default/grub.d", ".cfg", NULL, DEVNAME_DEFAULT_GRUB, 0644 },
  { "/boot/loader/entries", ".conf", NULL, DEVNAME_BLS, 0644 },
  /* UEFI: RHEL 7/8 keep the whole grub.cfg on the ESP; Debian's and
   * newer Fedora's there are stubs without linux lines. */
  { "/boot/efi/EFI", NULL, "grub.cfg", DEVNAME_GRUB_CFG, 0600 },
};

/* ------------------------------------------------------------------ */
/* Stable names, asked once each. */

struct cached {
  char *device;
  char *stable;                 /* NULL: unknown */
};
DEFINE_VECTOR (cached_vector, struct cached)

/* A file that names unstable devices, by its content. */
struct named_file {
  char *path;
  uint64_t hash;
  size_t len;
};
DEFINE_VECTOR (named_file_vector, struct named_file)

struct names {
  struct inj_guest *g;
  struct cached_vector v;
  struct named_file_vector files;
  bool nomem;
};

static const char *
lookup (void *ctx, const char *device)
{
  struct names *n = ctx;
  struct cached c;

  for (size_t i = 0; i < n->v.len; i++)
    if (strcmp (n->v.ptr[i].device, device) == 0)
      return n->v.ptr[i].stable;
  c.stable = n->g->stable_name ?
    n->g->stable_name (n->g->stable_ctx, device) : NULL;
  c.device = strdup (device);
  if (c.device == NULL || cached_vector_append (&n->v, c) == -1) {
    free (c.device);
    free (c.stable);
    n->nomem = true;
    return NULL;
  }
  hv_debug ("%s is %s", device, c.stable ? c.stable : "unknown");
  return c.stable;
}

static void
names_free (struct names *n)
{
  for (size_t i = 0; i < n->v.len; i++) {
    free (n->v.ptr[i].device);
    free (n->v.ptr[i].stable);
  }
  for (size_t i = 0; i < n->files.len; i++)
    free (n->files.ptr[i].path);
  free (n->v.ptr);
  free (n->files.ptr);
}

/* FNV-1a: telling identical files apart from different ones. */
static uint64_t
hash_of (const char *p, size_t n)
{
  uint64_t h = 14695981039346656037u;

  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t) p[i]) * 1099511628211u;
  return h;
}

/* Whether PATH (TEXT, LEN bytes) is a link to a file handled before:
 * menu.lst -> grub.conf on RHEL.  Writing through the link would
 * replace it by a copy (apply writes a sibling and renames it), which
 * the next kernel update would leave stale.  readlink is asked only
 * when an earlier file has the same content (a cheap filter).  1: the
 * same file (nothing more to do), 0: not, -1 on error.  Otherwise
 * PATH is remembered for the files after it. */
static int
same_file (struct names *n, struct inj_plan *plan, const char *path,
           const char *text, size_t len)
{
  struct named_file f = { .hash = hash_of (text, len), .len = len };
  char *target;

  for (size_t i = 0; i < n->files.len; i++) {
    if (n->files.ptr[i].hash != f.hash || n->files.ptr[i].len != len)
      continue;
    if ((target = n->g->fs.readlink (n->g->fs.ctx, path)) == NULL)
      break;
    free (target);
    return plan_note (plan, INJ_NOTE_INFO, "%s is a link to %s, whose "
                      "device names are planned there", path,
                      n->files.ptr[i].path) == -1 ? -1 : 1;
  }
  if ((f.path = strdup (path)) == NULL ||
      named_file_vector_append (&n->files, f) == -1) {
    free (f.path);
    hv_error (HV_E_NOMEM, "%s: out of memory", path);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */

/* "/dev/sda1 -> UUID=... (/), /dev/sda2 -> UUID=... (swap)", at most
 * WHY_NAMES of them and how many more; NULL on out of memory. */
static char *
why_of (const struct devname_result *res)
{
  char *buf = NULL;
  size_t len = 0, shown = 0, more = 0;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  for (size_t i = 0; i < res->changes.len; i++) {
    const struct devname_change *c = &res->changes.ptr[i];
    if (c->new == NULL)
      continue;
    if (shown == WHY_NAMES) {
      more++;
      continue;
    }
    fprintf (f, "%s%s -> %s (%s)", shown ? ", " : "", c->old, c->new,
             c->role);
    shown++;
  }
  if (more)
    fprintf (f, " and %zu more", more);
  if (fclose (f) != 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* A warning for each name that stays as it is. */
static int
warn_unknown (struct inj_plan *plan, const char *path,
              const struct devname_result *res)
{
  for (size_t i = 0; i < res->changes.len; i++) {
    const struct devname_change *c = &res->changes.ptr[i];
    if (c->new == NULL &&
        plan_note (plan, INJ_NOTE_WARN,
                   "%s: %s (%s) is left as it is: no usable UUID or label "
                   "is known for it, and the name may not exist on Hyper-V",
                   path, c->old, c->role) == -1)
      return -1;
  }
  return 0;
}

static int
plan_rewrite (struct inj_plan *plan, const char *path, mode_t mode,
              const char *backup, const struct devname_result *res)
{
  char *why, *dflt = NULL;
  int r;

  if (res->text == NULL)
    return 0;
  if ((why = why_of (res)) == NULL ||
      (backup == NULL && asprintf (&dflt, "%s.pre-hvconvert", path) == -1)) {
    free (why);
    hv_error (HV_E_NOMEM, "%s: out of memory", path);
    return -1;
  }
  r = plan_write (plan, path, res->text, res->len, mode,
                  backup ? backup : dflt, "%s", why);
  free (why);
  free (dflt);
  return r;
}

/* Rewrite the guest file PATH if it exists and names unstable devices. */
static int
plan_file (struct inj_guest *g, struct names *names, struct inj_plan *plan,
           const char *path, enum devname_syntax syntax, mode_t mode,
           const char *backup)
{
  struct devname_result res;
  size_t len;
  char *text;
  int r;

  if ((r = g->fs.exists (g->fs.ctx, path)) <= 0)
    return r;
  if ((r = g->fs.is_dir (g->fs.ctx, path)) != 0)
    return r == 1 ? 0 : -1;
  if ((text = g->fs.read (g->fs.ctx, path, MAX_CONFIG, &len)) == NULL)
    return -1;
  r = devnames_rewrite (syntax, path, text, len, lookup, names, &res);
  if (names->nomem) {
    hv_error (HV_E_NOMEM, "%s: out of memory", path);
    r = -1;
  }
  if (r == 0 && res.changes.len > 0)
    r = same_file (names, plan, path, text, len);
  if (r == 0)
    r = warn_unknown (plan, path, &res);
  if (r == 0)
    r = plan_rewrite (plan, path, mode, backup, &res);
  free (text);
  devname_result_free (&res);
  return r == 1 ? 0 : r;
}

static bool
has_suffix (const char *name, const char *suffix)
{
  size_t n = strlen (name), k = strlen (suffix);

  return n > k && strcmp (name + n - k, suffix) == 0;
}

static int
plan_dir (struct inj_guest *g, struct names *names, struct inj_plan *plan,
          const struct devdir *d)
{
  char **list;
  size_t i;
  int r = g->fs.is_dir (g->fs.ctx, d->dir);

  if (r != 1)
    return r;
  if ((list = g->fs.ls (g->fs.ctx, d->dir)) == NULL)
    return -1;
  r = 0;
  for (i = 0; r == 0 && list[i] && i < MAX_DIR_FILES; i++) {
    char *path;
    if (d->suffix && !has_suffix (list[i], d->suffix))
      continue;
    if (asprintf (&path, "%s/%s%s%s", d->dir, list[i], d->sub ? "/" : "",
                  d->sub ? d->sub : "") == -1) {
      hv_error (HV_E_NOMEM, "%s: out of memory", d->dir);
      r = -1;
      break;
    }
    r = plan_file (g, names, plan, path, d->syntax, d->mode, NULL);
    free (path);
  }
  if (r == 0 && list[i])
    r = plan_note (plan, INJ_NOTE_WARN, "%s: only the first %d entries "
                   "were searched for device names", d->dir, MAX_DIR_FILES);
  strings_free (list);
  return r;
}

int
linux_plan_devices (struct inj_guest *g, const struct inj_opts *o,
                    struct inj_plan *plan)
{
  struct names names = { .g = g };
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (devfiles); i++)
    r = plan_file (g, &names, plan, devfiles[i].path, devfiles[i].syntax,
                   devfiles[i].mode, devfiles[i].backup);
  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (devdirs); i++)
    r = plan_dir (g, &names, plan, &devdirs[i]);
  names_free (&names);
  return r;
}
