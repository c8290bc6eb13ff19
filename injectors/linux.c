/* The Linux injector: what a Linux guest needs to boot enlightened.
 *
 *   1. every installed kernel's initramfs holds the Hyper-V drivers and
 *      the emulated boot path of the target profile (linux-initramfs.c);
 *   2. the guest's initramfs tool is told to keep them in every future
 *      image (a hook or drop-in per tool, table below), so the next
 *      kernel update does not undo 1;
 *   3. device names that will not exist any more are replaced by stable
 *      ones (linux-devices.c);
 *   4. other hypervisors' guest tools are disabled (linux-tools.c);
 *   5. an SELinux guest relabels at its first boot (files written from
 *      outside carry no labels).
 */
#include <config.h>

#include <stdio.h>

#include "injectors.h"

/* The drivers, in the order the plan lists them (GUESTS.md A.1).  The
 * kernel's own names, with underscores. */
const char *const linux_hv_modules[] = {
  "hv_vmbus", "hv_storvsc", "hv_netvsc", "hv_utils", "hv_balloon",
  "hyperv_keyboard", "hid_hyperv", "hyperv_fb", "hyperv_drm", "hv_sock",
  "pci_hyperv", NULL,
};
/* Gen1 boots from the emulated PIIX IDE controller. */
const char *const linux_gen1_modules[] = {
  "ata_piix", "ata_generic", "sd_mod", NULL,
};

/* How each initramfs tool keeps extra drivers in the images it builds.
 * The file is written only when the tool is there (its marker exists). */
struct keeper {
  const char *tool;         /* for the plan */
  const char *marker;       /* exists when the guest uses the tool */
  const char *path;         /* the file hvconvert writes */
  mode_t mode;
  const char *head;         /* text before the module list */
  const char *sep;          /* between modules */
  const char *tail;         /* text after it */
};

static const struct keeper keepers[] = {
  /* A hook adds the modules without forcing them to load (the modules
   * file would modprobe hv_vmbus on every boot, an error off Hyper-V);
   * udev loads them by modalias. */
  { "initramfs-tools", "/usr/share/initramfs-tools/hook-functions",
    "/etc/initramfs-tools/hooks/hvconvert-hyperv", 0755,
    "#!/bin/sh\n"
    "# Written by hvconvert inject: keep the Hyper-V drivers and the\n"
    "# emulated boot path in every initramfs this machine builds.\n"
    "PREREQ=\"\"\n"
    "prereqs () { echo \"$PREREQ\"; }\n"
    "case $1 in prereqs) prereqs; exit 0 ;; esac\n"
    ". /usr/share/initramfs-tools/hook-functions\n"
    "for m in ", " ", "; do\n"
    "  manual_add_modules \"$m\"\n"
    "done\n" },
  { "dracut", "/usr/lib/dracut/dracut-functions.sh",
    "/etc/dracut.conf.d/90-hvconvert-hyperv.conf", 0644,
    "# Written by hvconvert inject: the Hyper-V drivers in every image.\n"
    "add_drivers+=\" ", " ", " \"\n" },
  { "dracut", "/usr/share/dracut/dracut-functions.sh",
    "/etc/dracut.conf.d/90-hvconvert-hyperv.conf", 0644,
    "# Written by hvconvert inject: the Hyper-V drivers in every image.\n"
    "add_drivers+=\" ", " ", " \"\n" },
  { "mkinitcpio", "/etc/mkinitcpio.conf",
    "/etc/mkinitcpio.conf.d/hvconvert-hyperv.conf", 0644,
    "# Written by hvconvert inject: the Hyper-V drivers in every image.\n"
    "MODULES+=(", " ", ")\n" },
};

/* The text of keeper K for the module list MODS. */
static char *
keeper_text (const struct keeper *k, const char *const *mods)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  if (f == NULL)
    return NULL;
  fputs (k->head, f);
  for (size_t i = 0; mods[i]; i++)
    fprintf (f, "%s%s", i ? k->sep : "", mods[i]);
  fputs (k->tail, f);
  if (fclose (f) != 0) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* The modules inject wants for profile O. */
static size_t
wanted_modules (const struct inj_opts *o, const char **out, size_t max)
{
  size_t n = 0;

  for (size_t i = 0; linux_hv_modules[i] && n < max; i++)
    out[n++] = linux_hv_modules[i];
  for (size_t i = 0; o->profile == INJ_GEN1 && linux_gen1_modules[i] &&
       n < max; i++)
    out[n++] = linux_gen1_modules[i];
  out[n] = NULL;
  return n;
}

/* Is NAME one of the blank-separated words in [P, END)? */
static bool
has_word (const char *p, const char *end, const char *name)
{
  const size_t n = strlen (name);

  while (p && p < end) {
    p += strspn (p, " \t");
    if ((size_t) (end - p) >= n && strncmp (p, name, n) == 0 &&
        (p + n == end || p[n] == ' ' || p[n] == '\t'))
      return true;
    p += strcspn (p, " \t\"");
  }
  return false;
}

/* SUSE's mkinitrd (SLES 11, openSUSE 13.1 and older) builds the
 * modules named in INITRD_MODULES="..." of /etc/sysconfig/kernel into
 * every image: TEXT (that file) with the names of MODS it lacks added
 * inside the quotes, or a new line if it has none; NULL when nothing is
 * missing or on out of memory (*NOMEM). */
char *
sysconfig_add_modules (const char *text, const char *const *mods, bool *nomem)
{
  const char *line = text, *value = NULL, *end = NULL;
  char *buf = NULL;
  size_t len = 0;
  bool missing = false;
  FILE *f;

  *nomem = false;
  for (; *line; line = strchrnul (line, '\n'), line += *line == '\n') {
    const char *p = line + strspn (line, " \t");
    if (strncmp (p, "INITRD_MODULES=\"", 16) == 0) {
      value = p + 16;
      end = strchr (value, '"');
      if (end && memchr (value, '\n', (size_t) (end - value)))
        end = NULL;
    }
  }
  if (value && end == NULL)
    return NULL;   /* not a form hvconvert can edit safely: left alone */
  if ((f = open_memstream (&buf, &len)) == NULL) {
    *nomem = true;
    return NULL;
  }
  fwrite (text, 1, value ? (size_t) (end - text) : strlen (text), f);
  if (!value)
    fprintf (f, "%s# Added by hvconvert inject: the Hyper-V drivers.\n"
             "INITRD_MODULES=\"", *text && text[strlen (text) - 1] != '\n'
             ? "\n" : "");
  for (size_t i = 0; mods[i]; i++) {
    if (!has_word (value, end, mods[i])) {
      fprintf (f, "%s%s", (value && end > value) || missing ? " " : "",
               mods[i]);
      missing = true;
    }
  }
  fputs (value ? end : "\"\n", f);
  if (fclose (f) != 0) {
    free (buf);
    *nomem = true;
    return NULL;
  }
  if (!missing) {
    free (buf);
    return NULL;
  }
  return buf;
}

/* The mkinitrd keeper: 1 planned or already right, 0 not a mkinitrd
 * guest, -1 on error. */
static int
plan_sysconfig_kernel (struct inj_guest *g, const char *const *mods,
                       struct inj_plan *plan)
{
  static const char path[] = "/etc/sysconfig/kernel";
  CLEANUP_FREE char *text = NULL, *next = NULL;
  size_t len;
  bool nomem;
  int e = g->fs.exists (g->fs.ctx, "/sbin/mkinitrd");

  if (e != 1 || (e = g->fs.exists (g->fs.ctx, path)) != 1)
    return e;
  if ((text = g->fs.read (g->fs.ctx, path, 1u << 20, &len)) == NULL)
    return -1;
  if ((next = sysconfig_add_modules (text, mods, &nomem)) == NULL) {
    if (nomem) {
      hv_error (HV_E_NOMEM, "out of memory");
      return -1;
    }
    return 1;
  }
  return plan_write (plan, path, next, strlen (next), 0644,
                     "/etc/sysconfig/kernel.pre-hvconvert", "tell mkinitrd "
                     "to keep the Hyper-V drivers in every future initramfs "
                     "(INITRD_MODULES)") == -1 ? -1 : 1;
}

int
linux_file_holds (struct inj_guest *g, const char *path, const char *text)
{
  CLEANUP_FREE char *have = NULL;
  size_t len;
  int e = g->fs.exists (g->fs.ctx, path);

  if (e != 1)
    return e;
  have = g->fs.read (g->fs.ctx, path, 65536, &len);
  return have && len == strlen (text) && memcmp (have, text, len) == 0;
}

/* Plan the keeper file of the tool the guest uses (the first whose
 * marker exists), unless it already says exactly this. */
static int
plan_keeper (struct inj_guest *g, const char *const *mods,
             struct inj_plan *plan, const char **tool)
{
  *tool = NULL;
  for (size_t i = 0; i < ARRAY_SIZE (keepers); i++) {
    const struct keeper *k = &keepers[i];
    CLEANUP_FREE char *want = NULL;
    int e = g->fs.exists (g->fs.ctx, k->marker);
    if (e == -1)
      return -1;
    if (e == 0)
      continue;
    *tool = k->tool;
    if ((want = keeper_text (k, mods)) == NULL) {
      hv_error (HV_E_NOMEM, "out of memory");
      return -1;
    }
    if ((e = linux_file_holds (g, k->path, want)) != 0)
      return e == 1 ? 0 : -1;
    return plan_write (plan, k->path, want, strlen (want), k->mode, NULL,
                       "tell %s to keep the Hyper-V drivers in every "
                       "future initramfs", k->tool);
  }
  {
    int e = plan_sysconfig_kernel (g, mods, plan);
    if (e != 0) {
      *tool = e == 1 ? "mkinitrd" : NULL;
      return e == 1 ? 0 : -1;
    }
  }
  return plan_note (plan, INJ_NOTE_WARN, "no initramfs tool hvconvert knows "
                    "(initramfs-tools, dracut, mkinitcpio): a future kernel "
                    "update may build an initramfs without the Hyper-V "
                    "drivers");
}

/* SELinux labels files by policy; files written from outside have none
 * until a relabel, which /.autorelabel asks for at the next boot. */
static int
plan_relabel (struct inj_guest *g, struct inj_plan *plan)
{
  CLEANUP_FREE char *cfg = NULL;
  size_t len;
  int e = g->fs.exists (g->fs.ctx, "/etc/selinux/config");

  if (e != 1)
    return e;
  if ((cfg = g->fs.read (g->fs.ctx, "/etc/selinux/config", 65536, &len))
      == NULL)
    return -1;
  if (strstr (cfg, "\nSELINUX=disabled") || strncmp (cfg, "SELINUX=disabled",
                                                     16) == 0)
    return 0;
  if (g->fs.exists (g->fs.ctx, "/.autorelabel") == 1)
    return 0;
  return plan_write (plan, "/.autorelabel", "", 0, 0644, NULL,
                     "SELinux: relabel at the first boot (the files "
                     "written here carry no labels)");
}

int
inject_linux (struct inj_guest *g, const struct inj_opts *o,
              struct inj_plan *plan)
{
  const char *mods[32], *tool;
  char label[256];

  wanted_modules (o, mods, ARRAY_SIZE (mods) - 1);
  inj_guest_label (g, label, sizeof label);
  if (plan_note (plan, INJ_NOTE_INFO, "%s, profile %s", label,
                 o->profile == INJ_GEN1 ? "gen1 (IDE boot disk)"
                 : "gen2 (SCSI boot disk, UEFI)") == -1 ||
      plan_keeper (g, mods, plan, &tool) == -1 ||
      linux_plan_initramfs (g, o, mods, tool, plan) == -1 ||
      linux_plan_devices (g, o, plan) == -1 ||
      linux_plan_tools (g, o, plan) == -1 ||
      linux_plan_network (g, o, plan) == -1 ||
      plan_relabel (g, plan) == -1)
    return -1;
  return 0;
}
