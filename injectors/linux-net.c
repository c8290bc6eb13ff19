/* Network adapter names on Hyper-V (GUESTS.md A.4).
 *
 * udev's predictable names say where an adapter sits: ens192 (PCI
 * hot-plug slot 192, VMware's vmxnet3), enp0s3 (PCI bus 0 slot 3,
 * VirtualBox), eno1 (on board), and biosdevname's em1 and p2p1 on older
 * RHEL.  Hyper-V's synthetic adapter (hv_netvsc) is a VMBus device with
 * no slot and no PCI path, so udev leaves it the kernel's name, eth0,
 * and a configuration written for the old name brings no network up.
 *
 * The names the guest's network configuration uses are collected from
 * ifupdown, netplan, the ifcfg files of RHEL and SUSE, NetworkManager's
 * keyfiles and systemd-networkd.  When they name one slot-named
 * adapter, a systemd .link file gives the synthetic adapter that name
 * (udev's net_setup_link reads them; a guest without systemd's udev
 * gets only a note).  With several, nothing here says which old adapter
 * is which new one, so a warning names them.  Kernel names (eth0) are
 * what Hyper-V's adapters get anyway and need nothing.
 */
#include <config.h>

#include <limits.h>
#include <stdio.h>

#include "injectors.h"

#define LINK_FILE "/etc/systemd/network/10-hvconvert-hyperv.link"
#define MAX_NAMES 16              /* distinct names kept, at most */
#define NAME_MAX_LEN 15           /* IFNAMSIZ - 1 */
#define CONFIG_MAX (256 * 1024)   /* a configuration file, at most */

/* The adapter names found, distinct, in the order first seen. */
struct names {
  char v[MAX_NAMES][NAME_MAX_LEN + 1];
  size_t n;
};

/* Directories of files that each configure adapters, and how to read
 * the name out of one. */
enum syntax { IFUPDOWN, NETPLAN, IFCFG, KEYFILE, NETWORKD };

static const struct {
  const char *dir;              /* every file in it, or NULL: FILE only */
  const char *file;
  enum syntax syntax;
} sources[] = {
  { NULL, "/etc/network/interfaces", IFUPDOWN },
  { "/etc/network/interfaces.d", NULL, IFUPDOWN },
  { "/etc/netplan", NULL, NETPLAN },
  { "/etc/sysconfig/network-scripts", NULL, IFCFG },     /* RHEL */
  { "/etc/sysconfig/network", NULL, IFCFG },             /* SUSE */
  { "/etc/NetworkManager/system-connections", NULL, KEYFILE },
  { "/etc/systemd/network", NULL, NETWORKD },
};

static const char *const udevd_paths[] = {
  "/lib/systemd/systemd-udevd", "/usr/lib/systemd/systemd-udevd",
};

/* ------------------------------------------------------------------ */
/* Which names change. */

static bool is_digit (char c) { return c >= '0' && c <= '9'; }
static bool is_alnum (char c)
{
  return is_digit (c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Digits from *S (at least one), then optionally "_" and digits. */
static bool
digits (const char **s)
{
  const char *p = *s;

  while (is_digit (*p))
    p++;
  if (p == *s)
    return false;
  if (*p == '_' && is_digit (p[1]))
    for (p++; is_digit (*p); p++)
      ;
  *s = p;
  return true;
}

static bool is_hex (char c)
{
  return is_digit (c) || (c >= 'a' && c <= 'f');
}

/* systemd's eno1, ens192, enp0s3, enP2p1s0 and enx<MAC> names, and
 * biosdevname's em1 and p2p1: names taken from where the adapter sat,
 * which Hyper-V's does not have. */
static bool
netname_from_slot (const char *s)
{
  const char *p;

  if (strncmp (s, "enx", 3) == 0) {
    for (p = s + 3; is_hex (*p); p++)
      ;
    return *p == '\0' && p - s == 15;
  }
  if (strncmp (s, "en", 2) == 0 && s[2] && strchr ("ospP", s[2]) &&
      is_digit (s[3])) {
    for (p = s + 3; is_alnum (*p); p++)
      ;
    return *p == '\0';
  }
  p = s + 2;
  if (strncmp (s, "em", 2) == 0)
    return digits (&p) && *p == '\0';
  p = s + 1;
  return s[0] == 'p' && digits (&p) && *p++ == 'p' && digits (&p) &&
         *p == '\0';
}

/* ------------------------------------------------------------------ */
/* Reading names out of configuration text. */

static bool
is_name_byte (char c)
{
  return is_alnum (c) || c == '-' || c == '_' || c == '.' || c == ':' ||
         c == '@';
}

/* Keep the name at P (LEN bytes) if it is a slot name: a VLAN or alias
 * suffix (".100", ":1") goes, it is the same adapter. */
static void
add_name (struct names *out, const char *p, size_t len)
{
  char name[NAME_MAX_LEN + 1];
  size_t k = strcspn (p, ".:@");

  len = MIN (len, k);
  if (len == 0 || len > NAME_MAX_LEN)
    return;
  memcpy (name, p, len);
  name[len] = '\0';
  if (!netname_from_slot (name))
    return;
  for (size_t i = 0; i < out->n; i++)
    if (strcmp (out->v[i], name) == 0)
      return;
  if (out->n < MAX_NAMES)
    strcpy (out->v[out->n++], name);
}

/* The name-like word at *P (quotes around it dropped); *P moves past. */
static void
add_word (struct names *out, const char **p)
{
  const char *s = *p + strspn (*p, " \t\"'");
  size_t len = 0;

  while (is_name_byte (s[len]))
    len++;
  add_name (out, s, len);
  *p = s + len;
}

/* The lines of TEXT: *LINE and *LEN for each, false at the end. */
static bool
next_line (const char **text, const char **line, size_t *len)
{
  const char *nl;

  if (**text == '\0')
    return false;
  *line = *text;
  nl = strchr (*text, '\n');
  *len = nl ? (size_t) (nl - *text) : strlen (*text);
  *text += *len + (nl != NULL);
  return true;
}

/* Does LINE (LEN bytes, leading blanks skipped) start with KEY?  *REST
 * gets what follows it. */
static bool
starts (const char *line, size_t len, const char *key, const char **rest)
{
  size_t b = strspn (line, " \t"), k = strlen (key);

  if (b + k > len || strncmp (line + b, key, k) != 0)
    return false;
  *rest = line + b + k;
  return true;
}

/* ifupdown: "iface NAME inet ...", "auto NAME...", "allow-hotplug ...". */
static void
scan_ifupdown (const char *text, struct names *out)
{
  static const char *const keys[] = {
    "iface ", "auto ", "allow-hotplug ", "allow-auto ",
  };
  const char *line, *rest;
  size_t len;

  while (next_line (&text, &line, &len))
    for (size_t i = 0; i < ARRAY_SIZE (keys); i++) {
      if (!starts (line, len, keys[i], &rest))
        continue;
      /* auto lists several; iface has one, then words that are not
       * names ("inet", "static"), which add_name drops. */
      while (rest < line + len && *rest != '#') {
        add_word (out, &rest);
        rest += strspn (rest, " \t");
        if (i == 0 || !is_name_byte (*rest))
          break;
      }
    }
}

/* netplan: the keys under "ethernets:" (an id that is not an adapter
 * name is dropped as not looking like one). */
static void
scan_netplan (const char *text, struct names *out)
{
  const char *line, *rest;
  size_t len, indent = 0, child = 0;
  bool in = false;

  while (next_line (&text, &line, &len)) {
    size_t b = strspn (line, " ");
    if (b >= len || line[b] == '#')
      continue;
    if (in && b <= indent)
      in = false;
    if (!in && starts (line, len, "ethernets:", &rest)) {
      in = true;
      indent = b;
      child = 0;
      continue;
    }
    if (!in)
      continue;
    if (child == 0)
      child = b;
    if (b == child) {
      rest = line + b;
      add_word (out, &rest);
    }
  }
}

/* ifcfg-NAME: DEVICE=NAME inside, else the file's NAME. */
static void
scan_ifcfg (const char *file, const char *text, struct names *out)
{
  const char *line, *rest;
  size_t len;

  while (next_line (&text, &line, &len))
    if (starts (line, len, "DEVICE=", &rest)) {
      add_word (out, &rest);
      return;
    }
  if (strncmp (file, "ifcfg-", 6) == 0)
    add_name (out, file + 6, strlen (file + 6));
}

/* NetworkManager: "interface-name=NAME"; networkd: "Name=NAME" (a glob
 * like "en*" is not a name and is dropped). */
static void
scan_key (const char *text, const char *key, struct names *out)
{
  const char *line, *rest;
  size_t len;

  while (next_line (&text, &line, &len))
    if (starts (line, len, key, &rest) && !memchr (rest, '*', line + len - rest))
      add_word (out, &rest);
}

static void
scan (enum syntax syntax, const char *file, const char *text,
      struct names *out)
{
  switch (syntax) {
  case IFUPDOWN: scan_ifupdown (text, out); break;
  case NETPLAN: scan_netplan (text, out); break;
  case IFCFG: scan_ifcfg (file, text, out); break;
  case KEYFILE: scan_key (text, "interface-name=", out); break;
  case NETWORKD: scan_key (text, "Name=", out); break;
  }
}

/* ------------------------------------------------------------------ */
/* The guest's files. */

/* Is FILE, in a directory of SYNTAX, a configuration file? */
static bool
wanted_file (enum syntax syntax, const char *file)
{
  size_t n = strlen (file);

  switch (syntax) {
  case NETPLAN: return n > 5 && strcmp (file + n - 5, ".yaml") == 0;
  case IFCFG: return strncmp (file, "ifcfg-", 6) == 0;
  case NETWORKD: return n > 8 && strcmp (file + n - 8, ".network") == 0;
  default: return file[0] != '.';
  }
}

/* Scan guest file PATH if it exists and is a regular file. */
static int
scan_file (struct inj_guest *g, enum syntax syntax, const char *path,
           struct names *out)
{
  const char *base = strrchr (path, '/') + 1;
  size_t len;
  char *text;
  int e = g->fs.exists (g->fs.ctx, path);

  if (e != 1)
    return e;
  if ((e = g->fs.is_dir (g->fs.ctx, path)) != 0)
    return e == 1 ? 0 : -1;
  if ((text = g->fs.read (g->fs.ctx, path, CONFIG_MAX, &len)) == NULL)
    return -1;
  scan (syntax, base, text, out);
  free (text);
  return 0;
}

static int
scan_dir (struct inj_guest *g, enum syntax syntax, const char *dir,
          struct names *out)
{
  char path[PATH_MAX], **files;
  int r = g->fs.is_dir (g->fs.ctx, dir);

  if (r != 1)
    return r;
  if ((files = g->fs.ls (g->fs.ctx, dir)) == NULL)
    return -1;
  r = 0;
  for (size_t i = 0; r == 0 && files[i]; i++)
    if (wanted_file (syntax, files[i]) &&
        snprintf (path, sizeof path, "%s/%s", dir, files[i]) <
        (int) sizeof path)
      r = scan_file (g, syntax, path, out);
  strings_free (files);
  return r;
}

static int
collect (struct inj_guest *g, struct names *out)
{
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (sources); i++)
    r = sources[i].dir ? scan_dir (g, sources[i].syntax, sources[i].dir, out)
                       : scan_file (g, sources[i].syntax, sources[i].file,
                                    out);
  return r;
}

/* ------------------------------------------------------------------ */
/* The plan. */

static char *
link_text (const char *name)
{
  char *s;

  if (asprintf (&s, "# Written by hvconvert.  On Hyper-V the network "
                "adapter is a VMBus\n# device (hv_netvsc) with no PCI "
                "slot, so udev would name it eth0;\n# the guest's "
                "configuration uses %s.\n[Match]\nDriver=hv_netvsc\n\n"
                "[Link]\nName=%s\n", name, name) == -1)
    return NULL;
  return s;
}

static int
has_udevd (struct inj_guest *g)
{
  int r = 0;

  for (size_t i = 0; r == 0 && i < ARRAY_SIZE (udevd_paths); i++)
    r = g->fs.exists (g->fs.ctx, udevd_paths[i]);
  return r;
}

static int
plan_link (struct inj_guest *g, struct inj_plan *plan, const char *name)
{
  CLEANUP_FREE char *text = link_text (name);
  int r;

  if (text == NULL)
    return plan_note (plan, INJ_NOTE_WARN, "out of memory");
  if ((r = linux_file_holds (g, LINK_FILE, text)) != 0)
    return r == 1 ? plan_note (plan, INJ_NOTE_INFO, "network: the Hyper-V "
                               "adapter is named %s already (%s)", name,
                               LINK_FILE) : -1;
  if ((r = g->fs.is_dir (g->fs.ctx, "/etc/systemd/network")) == -1 ||
      (r == 0 && plan_mkdir (plan, "/etc/systemd/network", "network: the "
                             "directory of udev's .link files") == -1))
    return -1;
  return plan_write (plan, LINK_FILE, text, strlen (text), 0644, NULL,
                     "network: name the Hyper-V adapter %s, as the guest's "
                     "configuration does (udev would name it eth0)", name);
}

static int
plan_names (struct inj_guest *g, struct inj_plan *plan,
            const struct names *n)
{
  char list[MAX_NAMES * (NAME_MAX_LEN + 2)] = "";
  int r;

  for (size_t i = 0; i < n->n; i++)
    snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
              i ? ", " : "", n->v[i]);
  if (n->n > 1)
    return plan_note (plan, INJ_NOTE_WARN, "network: the configuration "
                      "names adapters by their old slots (%s); on Hyper-V "
                      "they are eth0, eth1, ... in an order hvconvert "
                      "cannot tell: rename them in the configuration, or "
                      "with .link files matching their MAC addresses", list);
  if ((r = has_udevd (g)) == 1)
    return plan_link (g, plan, n->v[0]);
  return r == -1 ? -1
       : plan_note (plan, INJ_NOTE_WARN, "network: the configuration "
                    "names the adapter %s, but on Hyper-V it is eth0 and "
                    "the guest has no systemd udev to rename it: change "
                    "the configuration to eth0", list);
}

int
linux_plan_network (struct inj_guest *g, const struct inj_opts *o,
                    struct inj_plan *plan)
{
  struct names n = { .n = 0 };

  if (collect (g, &n) == -1)
    return -1;
  return n.n == 0 ? 0 : plan_names (g, plan, &n);
}
