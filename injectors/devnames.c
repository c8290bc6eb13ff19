/* Device names in Linux configuration files: the pure text half of
 * linux-devices.c.  Text in, rewritten text (or "unchanged") and the
 * list of names found out; no guest, no libguestfs, so the unit tests
 * and the fuzzer run it on samples.
 *
 * A file is handled line by line; each syntax has one function that
 * finds the device names of a line (a field, or the value of root= and
 * resume= on a kernel command line) and hands each to consider().  The
 * output is the input with those spans replaced, every other byte kept:
 * comments, spacing, CR before LF, a missing final newline, even NUL
 * bytes.  Input is whatever the guest holds, so nothing here trusts a
 * length or a terminator: lines are (pointer, length) pairs and only a
 * name of at most DEVNAME_MAX printable bytes is ever copied.
 *
 * Which names change on Hyper-V (GUESTS.md A.4):
 *
 *   /dev/sdX[N] /dev/hdX[N]    every disk becomes sd* (gen 1 IDE too),
 *   /dev/vdX[N] /dev/xvdX[N]   and the order may differ: rewritten
 *   /dev/cciss/cXdY[pN]        HP Smart Array
 *   /dev/nvmeXnY[pN]           NVMe namespaces
 *   /dev/disk/by-id/...        the model and serial change ("Msft
 *                              Virtual Disk"), except the dm-, md- and
 *                              lvm-pv-uuid- names, which do not
 *                              depend on the disk
 *   /dev/disk/by-path/...      the bus path changes
 *                              (stable-name.c can rewrite a by-id or
 *                              by-path "-partN" of a one-disk guest)
 *
 * Left alone: /dev/mapper/..., /dev/VG/LV, /dev/md*, UUID=, LABEL=,
 * PARTUUID=, /dev/disk/by-uuid and by-label, CD-ROMs and floppies
 * (/dev/sr*, /dev/fd*, /dev/cdrom, /dev/scd*), anything unrecognised.
 */
#include <config.h>

#include <strings.h>

#include "injectors.h"

/* The disks of a bus: "/dev/" PREFIX, lower-case letters, digits. */
static const char *const bus_prefixes[] = {
  "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd",
};

/* by-id names made from what is inside the disk, not from the disk. */
static const char *const stable_by_id[] = {
  "dm-name-", "dm-uuid-", "md-name-", "md-uuid-", "lvm-pv-uuid-",
};

/* A role longer than this is cut: it only goes into messages. */
enum { ROLE_MAX = 64 };

/* ------------------------------------------------------------------ */
/* Classifying names.  ASCII only: the guest's locale does not matter. */

static bool is_lower (char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit (char c) { return c >= '0' && c <= '9'; }
static bool is_hex (char c)
{
  return is_digit (c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_graph (char c) { return c > ' ' && c < 0x7f; }

/* A cursor over a name being matched. */
struct cur {
  const char *p;
  size_t n;
};

/* Consume the literal S. */
static bool
lit (struct cur *c, const char *s)
{
  size_t k = strlen (s);

  if (c->n < k || memcmp (c->p, s, k) != 0)
    return false;
  c->p += k;
  c->n -= k;
  return true;
}

/* Consume one or more bytes of class CLS. */
static bool
run (struct cur *c, bool (*cls) (char))
{
  size_t k = 0;

  while (k < c->n && cls (c->p[k]))
    k++;
  c->p += k;
  c->n -= k;
  return k > 0;
}

/* The rest is empty, or LETTER followed by digits and nothing more
 * (the partition suffix "p2" of cciss and nvme names). */
static bool
opt_partition (struct cur *c, const char *letter)
{
  if (c->n == 0)
    return true;
  return lit (c, letter) && run (c, is_digit) && c->n == 0;
}

static bool
bus_name (struct cur c)
{
  for (size_t i = 0; i < ARRAY_SIZE (bus_prefixes); i++) {
    struct cur t = c;
    if (lit (&t, bus_prefixes[i]) && run (&t, is_lower)) {
      run (&t, is_digit);
      if (t.n == 0)
        return true;
    }
  }
  return false;
}

static bool
cciss_or_nvme (struct cur c)
{
  struct cur t = c;

  if (lit (&t, "/dev/cciss/c") && run (&t, is_digit) && lit (&t, "d") &&
      run (&t, is_digit) && opt_partition (&t, "p"))
    return true;
  t = c;
  return lit (&t, "/dev/nvme") && run (&t, is_digit) && lit (&t, "n") &&
         run (&t, is_digit) && opt_partition (&t, "p");
}

/* /dev/disk/by-DIR/NAME, NAME one non-empty component. */
static bool
by_dir (struct cur c, const char *dir, struct cur *name)
{
  if (!lit (&c, dir) || c.n == 0 || memchr (c.p, '/', c.n) != NULL)
    return false;
  *name = c;
  return true;
}

static bool
by_id_or_path (struct cur c)
{
  struct cur name;

  if (by_dir (c, "/dev/disk/by-path/", &name))
    return true;
  if (!by_dir (c, "/dev/disk/by-id/", &name))
    return false;
  for (size_t i = 0; i < ARRAY_SIZE (stable_by_id); i++) {
    struct cur t = name;
    if (lit (&t, stable_by_id[i]))
      return false;
  }
  return true;
}

bool
devname_unstable (const char *name, size_t len)
{
  struct cur c = { name, len };

  if (len == 0 || len > DEVNAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!is_graph (name[i]))
      return false;
  return bus_name (c) || cciss_or_nvme (c) || by_id_or_path (c);
}

/* Bytes of a label that every syntax carries unquoted: no blanks, no
 * quotes, nothing a shell (/etc/default/grub and conf.d/resume are
 * sourced) or GRUB's script parser (grub.cfg) would interpret. */
static bool
is_label_byte (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit (c) ||
         strchr ("-_./:+@,%=", c) != NULL;
}

static bool
is_uuid_byte (char c)
{
  return is_hex (c) || c == '-';
}

bool
devname_stable_ok (const char *stable)
{
  static const struct {
    const char *prefix;
    bool (*cls) (char);
  } kinds[] = {
    { "UUID=", is_uuid_byte },
    { "PARTUUID=", is_uuid_byte },
    { "LABEL=", is_label_byte },
  };
  size_t len = strnlen (stable, DEVNAME_MAX + 1);

  if (len > DEVNAME_MAX)
    return false;
  for (size_t i = 0; i < ARRAY_SIZE (kinds); i++) {
    struct cur c = { stable, len };
    if (lit (&c, kinds[i].prefix))
      return run (&c, kinds[i].cls) && c.n == 0;
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Rewriting. */

struct scan {
  const char *file;
  const char *text;
  size_t len;
  size_t copied;                /* TEXT before this offset is in OUT */
  char *out;
  size_t out_len, out_cap;
  devname_lookup_fn lookup;
  void *ctx;
  struct devname_result *res;
  bool changed;
  bool failed;                  /* reported; stop */
};

static void
nomem (struct scan *s)
{
  if (!s->failed)
    hv_error (HV_E_NOMEM, "%s: out of memory rewriting device names",
              s->file);
  s->failed = true;
}

static void
out_add (struct scan *s, const char *p, size_t n)
{
  if (s->failed)
    return;
  if (vector_grow ((void **) &s->out, &s->out_cap, s->out_len + n + 1, 1)
      == -1) {
    nomem (s);
    return;
  }
  memcpy (s->out + s->out_len, p, n);
  s->out_len += n;
  s->out[s->out_len] = '\0';
}

/* A copy of ROLE (N bytes) fit for a message: cut, unprintable bytes
 * shown as '?'. */
static char *
role_dup (const char *role, size_t n)
{
  char *r = strndup (role, MIN (n, (size_t) ROLE_MAX));

  for (size_t i = 0; r && r[i]; i++)
    if (!is_graph (r[i]) && r[i] != ' ')
      r[i] = '?';
  return r;
}

/* The stable name for DEV (NUL-terminated), found once per file and
 * recorded in the result; NULL if none is usable. */
static const char *
stable_for (struct scan *s, const char *dev, const char *role, size_t rolen)
{
  struct devname_change_vector *v = &s->res->changes;
  struct devname_change c = { NULL };
  const char *found;
  bool usable;

  for (size_t i = 0; i < v->len; i++)
    if (strcmp (v->ptr[i].old, dev) == 0)
      return v->ptr[i].new;
  if (v->len >= DEVNAME_MAX_NAMES) {
    hv_error (HV_E_UNSUPPORTED, "%s: more than %d different device names; "
              "not rewritten", s->file, DEVNAME_MAX_NAMES);
    s->failed = true;
    return NULL;
  }
  found = s->lookup ? s->lookup (s->ctx, dev) : NULL;
  usable = found && devname_stable_ok (found);
  c.old = strdup (dev);
  c.role = role_dup (role, rolen);
  c.new = usable ? strdup (found) : NULL;
  if (c.old == NULL || c.role == NULL || (usable && c.new == NULL) ||
      devname_change_vector_append (v, c) == -1) {
    free (c.old);
    free (c.new);
    free (c.role);
    nomem (s);
    return NULL;
  }
  return c.new;
}

/* NAME (N bytes inside TEXT, after what was considered before) is
 * used as ROLE: replace it if it is unstable and has a stable name. */
static void
consider (struct scan *s, const char *name, size_t n, const char *role,
          size_t rolen)
{
  char dev[DEVNAME_MAX + 1];
  const char *stable;
  size_t at = (size_t) (name - s->text);

  if (s->failed || !devname_unstable (name, n))
    return;
  memcpy (dev, name, n);
  dev[n] = '\0';
  if ((stable = stable_for (s, dev, role, rolen)) == NULL)
    return;
  out_add (s, s->text + s->copied, at - s->copied);
  out_add (s, stable, strlen (stable));
  s->copied = at + n;
  s->changed = true;
}

/* consider() with a role that is a string. */
static void
consider_as (struct scan *s, const char *name, size_t n, const char *role)
{
  consider (s, name, n, role, strlen (role));
}

/* ------------------------------------------------------------------ */
/* Splitting lines.  A NUL counts as a blank: no tool reads past it. */

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' ||
         c == '\0';
}

/* Kernel arguments also end at a quote (GRUB_CMDLINE_LINUX="..."). */
static bool
is_arg_end (char c)
{
  return is_blank (c) || c == '"' || c == '\'';
}

/* A field of a line: offset and length. */
struct field {
  size_t at, n;
};

/* Up to MAX blank-separated fields of L (N bytes); returns how many. */
static size_t
fields (const char *l, size_t n, struct field *f, size_t max)
{
  size_t count = 0, i = 0;

  while (count < max) {
    while (i < n && is_blank (l[i]))
      i++;
    if (i == n)
      break;
    f[count].at = i;
    while (i < n && !is_blank (l[i]))
      i++;
    f[count].n = i - f[count].at;
    count++;
  }
  return count;
}

static bool
field_is (const char *l, const struct field *f, const char *word)
{
  return f->n == strlen (word) && memcmp (l + f->at, word, f->n) == 0;
}

/* The kernel arguments whose value is a block device. */
static const struct {
  const char *param;
  const char *role;
} device_params[] = {
  { "root=", "root" },
  { "resume=", "resume" },
};

/* Consider the root= and resume= values in kernel arguments P (N bytes). */
static void
cmdline (struct scan *s, const char *p, size_t n)
{
  size_t i = 0;

  while (i < n) {
    size_t start;
    while (i < n && is_arg_end (p[i]))
      i++;
    start = i;
    while (i < n && !is_arg_end (p[i]))
      i++;
    for (size_t k = 0; k < ARRAY_SIZE (device_params); k++) {
      const char *param = device_params[k].param;
      size_t plen = strlen (param);
      if (i - start > plen && memcmp (p + start, param, plen) == 0)
        consider_as (s, p + start + plen, i - start - plen,
                     device_params[k].role);
    }
  }
}

static bool
word_eq (const char *w, size_t n, const char *word, bool nocase)
{
  return n == strlen (word) &&
         (nocase ? strncasecmp (w, word, n) : strncmp (w, word, n)) == 0;
}

/* If the first word of L (N bytes; words end at a blank, or also at
 * '=' when EQUALS) is one of WORDS, consider the kernel arguments in
 * the rest of the line. */
static void
keyword_cmdline (struct scan *s, const char *l, size_t n,
                 const char *const *words, size_t nwords, bool nocase,
                 bool equals)
{
  size_t i = 0, start;

  while (i < n && is_blank (l[i]))
    i++;
  start = i;
  while (i < n && !is_blank (l[i]) && !(equals && l[i] == '='))
    i++;
  for (size_t k = 0; k < nwords; k++)
    if (word_eq (l + start, i - start, words[k], nocase)) {
      cmdline (s, l + i, n - i);
      return;
    }
}

/* ------------------------------------------------------------------ */
/* The syntaxes. */

/* fs_spec fs_file fs_vfstype ...: the spec is the device; the role is
 * the mount point, or "swap". */
static void
fstab_line (struct scan *s, const char *l, size_t n)
{
  struct field f[3];
  size_t nf = fields (l, n, f, 3);

  if (nf == 0 || l[f[0].at] == '#')
    return;
  if (nf == 3 && field_is (l, &f[2], "swap"))
    consider_as (s, l + f[0].at, f[0].n, "swap");
  else if (nf >= 2)
    consider (s, l + f[0].at, f[0].n, l + f[1].at, f[1].n);
  else
    consider_as (s, l + f[0].at, f[0].n, "an incomplete entry");
}

/* name device keyfile options: the role is the mapped name. */
static void
crypttab_line (struct scan *s, const char *l, size_t n)
{
  struct field f[2];

  if (fields (l, n, f, 2) == 2 && l[f[0].at] != '#')
    consider (s, l + f[1].at, f[1].n, l + f[0].at, f[0].n);
}

/* [export] GRUB_CMDLINE_LINUX[_DEFAULT]="...": a shell assignment; only
 * the line of the assignment is read (a value continued on the next
 * line keeps its continuation as it is). */
static void
default_grub_line (struct scan *s, const char *l, size_t n)
{
  static const char *const keys[] = {
    "GRUB_CMDLINE_LINUX=", "GRUB_CMDLINE_LINUX_DEFAULT=",
  };
  struct cur c = { l, n };

  while (c.n && is_blank (*c.p))
    c.p++, c.n--;
  if (lit (&c, "export") && !(c.n && is_blank (*c.p)))
    return;
  while (c.n && is_blank (*c.p))
    c.p++, c.n--;
  for (size_t k = 0; k < ARRAY_SIZE (keys); k++) {
    struct cur t = c;
    if (lit (&t, keys[k])) {
      cmdline (s, t.p, t.n);
      return;
    }
  }
}

/* grub.cfg is generated by grub-mkconfig from /etc/default/grub and the
 * kernels found; editing root= and resume= in its linux lines gives
 * the same file a regeneration would for these fields (the default
 * file is rewritten too, so a later update-grub agrees), without
 * running the guest's grub-mkconfig in the appliance, which is slow
 * and probes the appliance's devices instead of the guest's. */
static void
grub_cfg_line (struct scan *s, const char *l, size_t n)
{
  static const char *const words[] = { "linux", "linux16", "linuxefi" };

  keyword_cmdline (s, l, n, words, ARRAY_SIZE (words), false, false);
}

/* GRUB legacy: "kernel /vmlinuz-... ro root=/dev/hda2"; its parser
 * also accepts '=' after the command name. */
static void
menu_lst_line (struct scan *s, const char *l, size_t n)
{
  static const char *const words[] = { "kernel" };

  keyword_cmdline (s, l, n, words, ARRAY_SIZE (words), false, true);
}

/* SYSLINUX keywords are case-insensitive: APPEND, append. */
static void
extlinux_line (struct scan *s, const char *l, size_t n)
{
  static const char *const words[] = { "append" };

  keyword_cmdline (s, l, n, words, ARRAY_SIZE (words), true, false);
}

/* Boot Loader Specification entries: "options root=... ro". */
static void
bls_line (struct scan *s, const char *l, size_t n)
{
  static const char *const words[] = { "options" };

  keyword_cmdline (s, l, n, words, ARRAY_SIZE (words), false, false);
}

/* RESUME=/dev/sda2, or RESUME="..." (a sourced shell fragment). */
static void
resume_line (struct scan *s, const char *l, size_t n)
{
  struct cur c = { l, n };
  size_t k = 0;

  while (c.n && is_blank (*c.p))
    c.p++, c.n--;
  if (!lit (&c, "RESUME="))
    return;
  if (c.n && (*c.p == '"' || *c.p == '\''))
    c.p++, c.n--;
  while (k < c.n && !is_arg_end (c.p[k]))
    k++;
  consider_as (s, c.p, k, "resume");
}

typedef void line_fn (struct scan *s, const char *l, size_t n);

static line_fn *const syntaxes[] = {
  [DEVNAME_FSTAB] = fstab_line,
  [DEVNAME_CRYPTTAB] = crypttab_line,
  [DEVNAME_DEFAULT_GRUB] = default_grub_line,
  [DEVNAME_GRUB_CFG] = grub_cfg_line,
  [DEVNAME_MENU_LST] = menu_lst_line,
  [DEVNAME_EXTLINUX] = extlinux_line,
  [DEVNAME_BLS] = bls_line,
  [DEVNAME_RESUME] = resume_line,
};

int
devnames_rewrite (enum devname_syntax syntax, const char *file,
                  const char *text, size_t len, devname_lookup_fn lookup,
                  void *ctx, struct devname_result *res)
{
  struct scan s = {
    .file = file, .text = text, .len = len, .lookup = lookup, .ctx = ctx,
    .res = res,
  };
  line_fn *fn;

  *res = (struct devname_result) { .text = NULL };
  if ((size_t) syntax >= ARRAY_SIZE (syntaxes) || !syntaxes[syntax]) {
    hv_error (HV_E_INTERNAL, "%s: unknown syntax %d", file, (int) syntax);
    return -1;
  }
  fn = syntaxes[syntax];
  for (size_t at = 0; at < len && !s.failed;) {
    const char *nl = memchr (text + at, '\n', len - at);
    size_t n = nl ? (size_t) (nl - (text + at)) : len - at;
    fn (&s, text + at, n);
    at += n + 1;
  }
  if (s.changed)
    out_add (&s, text + s.copied, len - s.copied);
  if (s.failed) {
    free (s.out);
    devname_result_free (res);
    return -1;
  }
  if (s.changed) {
    res->text = s.out;
    res->len = s.out_len;
  }
  else
    free (s.out);
  return 0;
}

void
devname_result_free (struct devname_result *res)
{
  for (size_t i = 0; i < res->changes.len; i++) {
    free (res->changes.ptr[i].old);
    free (res->changes.ptr[i].new);
    free (res->changes.ptr[i].role);
  }
  free (res->changes.ptr);
  free (res->text);
  *res = (struct devname_result) { .text = NULL };
}
