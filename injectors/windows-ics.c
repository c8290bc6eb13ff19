/* The Hyper-V integration services for Windows without in-box VMBus
 * drivers (XP/2003, Vista/2008 never run on Hyper-V), from the
 * vmguest.iso of a Hyper-V host (Windows Server 2012 R2 and older ship
 * one).
 *
 * The ISO's support/<x86|amd64>/ folder is extracted on the host with
 * libarchive and planned into the guest under Program Files\hvconvert\
 * integration-services; its setup.exe runs at the first logon of an
 * administrator (a RunOnce value).  Its switches are not documented
 * for these old versions, so it runs without any and shows its dialogs.
 *
 * The ISO is a file the user gave, but it is read as untrusted input
 * all the same: names are kept inside the staging folder, and the
 * number and size of the files are bounded.
 */
#include <config.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "windows-internal.h"

enum {
  ICS_MAX_FILES = 4096,
  ICS_MAX_NAME = 240,
};
#define ICS_MAX_BYTES (1 * GiB)     /* vmguest.iso is about 40 MiB */

#define ICS_DIR "hvconvert/integration-services"

struct ics_file {
  char *rel;                 /* "setup.exe", "amd64/x.cab" */
  char *host;                /* extracted here */
  uint64_t size;
};
DEFINE_VECTOR (ics_file_vector, struct ics_file)

struct ics {
  struct win *w;
  const char *iso;
  char prefix[32];           /* "support/x86/" */
  char *stage;               /* g->workdir/ics.XXXXXX */
  struct ics_file_vector files;
  uint64_t total;
  const char *setup;         /* the rel of setup.exe */
  struct string_vector dirs; /* guest folders already planned */
};

static void
ics_free (struct ics *x)
{
  for (size_t i = 0; i < x->files.len; i++) {
    free (x->files.ptr[i].rel);
    free (x->files.ptr[i].host);
  }
  free (x->files.ptr);
  for (size_t i = 0; i < x->dirs.len; i++)
    free (x->dirs.ptr[i]);
  free (x->dirs.ptr);
  free (x->stage);
}

/* ------------------------------------------------------------------ */
/* Extracting support/<arch>/ on the host. */

/* A relative name that stays inside the staging folder. */
static bool
safe_name (const char *rel)
{
  const char *p = rel;

  if (*rel == '\0' || strlen (rel) > ICS_MAX_NAME)
    return false;
  for (const char *c = rel; *c; c++)
    if ((unsigned char) *c < 0x20 || *c == '\\' || *c == ':')
      return false;
  while (*p) {
    size_t n = strcspn (p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
      return false;
    p += n;
    if (*p == '/' && *++p == '\0')
      return false;
  }
  return true;
}

/* mkdir -p the folders of host file PATH below the staging folder. */
static int
make_parents (const struct ics *x, char *path)
{
  for (char *s = path + strlen (x->stage) + 1; (s = strchr (s, '/'));
       s++) {
    *s = '\0';
    int r = mkdir (path, 0755);
    *s = '/';
    if (r == -1 && errno != EEXIST) {
      hv_error (HV_E_IO, "%s: %m", path);
      return -1;
    }
  }
  return 0;
}

static int
archive_fail (const struct ics *x, struct archive *a, const char *what)
{
  hv_error (HV_E_FORMAT, "drivers ISO %s: %s: %s", x->iso, what,
            archive_error_string (a) ? archive_error_string (a)
            : "unknown error");
  return -1;
}

/* Copy the current entry's data to a new host file HOST. */
static int
extract_to (struct ics *x, struct archive *a, const char *rel,
            const char *host, uint64_t *size)
{
  CLEANUP_CLOSE int fd = open (host, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                               0644);
  char buf[64 * 1024];
  la_ssize_t n;

  if (fd == -1) {
    hv_error (HV_E_IO, "%s: %m", host);
    return -1;
  }
  *size = 0;
  while ((n = archive_read_data (a, buf, sizeof buf)) > 0) {
    *size += n;
    x->total += n;
    if (x->total > ICS_MAX_BYTES) {
      hv_error (HV_E_TOO_LARGE, "drivers ISO %s: support folder larger "
                "than %llu MiB", x->iso, ICS_MAX_BYTES / MiB);
      return -1;
    }
    if (full_write (fd, buf, n) == -1) {
      hv_error (HV_E_IO, "%s: %m", host);
      return -1;
    }
  }
  return n < 0 ? archive_fail (x, a, rel) : 0;
}

/* The entry NAME, if it is a file under the prefix. */
static int
take_entry (struct ics *x, struct archive *a, struct archive_entry *e)
{
  const char *name = archive_entry_pathname (e), *rel;
  struct ics_file f = { .rel = NULL };
  size_t plen = strlen (x->prefix);

  while (name && (name[0] == '/' || strncmp (name, "./", 2) == 0))
    name += name[0] == '/' ? 1 : 2;
  if (name == NULL || strncasecmp (name, x->prefix, plen) != 0 ||
      archive_entry_filetype (e) != AE_IFREG)
    return 0;
  rel = name + plen;
  if (!safe_name (rel)) {
    hv_error (HV_E_UNSAFE, "drivers ISO %s: unsafe file name \"%s\"",
              x->iso, name);
    return -1;
  }
  if (x->files.len >= ICS_MAX_FILES) {
    hv_error (HV_E_TOO_LARGE, "drivers ISO %s: more than %d files in %s",
              x->iso, ICS_MAX_FILES, x->prefix);
    return -1;
  }
  if (asprintf (&f.host, "%s/%s", x->stage, rel) == -1)
    f.host = NULL;
  if (f.host == NULL || (f.rel = strdup (rel)) == NULL ||
      ics_file_vector_append (&x->files, f) == -1) {
    hv_error (HV_E_NOMEM, "drivers ISO %s: %m", x->iso);
    free (f.host);
    free (f.rel);
    return -1;
  }
  if (make_parents (x, f.host) == -1 ||
      extract_to (x, a, name, f.host, &x->files.ptr[x->files.len - 1].size)
      == -1)
    return -1;
  if (strcasecmp (rel, "setup.exe") == 0)
    x->setup = x->files.ptr[x->files.len - 1].rel;
  return 0;
}

static int
extract (struct ics *x)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *e;
  int r = 0, ar;

  if (a == NULL) {
    hv_error (HV_E_NOMEM, "drivers ISO %s: %m", x->iso);
    return -1;
  }
  archive_read_support_format_iso9660 (a);
  if (archive_read_open_filename (a, x->iso, 64 * 1024) != ARCHIVE_OK)
    r = archive_fail (x, a, "not an ISO 9660 image");
  while (r == 0 && (ar = archive_read_next_header (a, &e)) != ARCHIVE_EOF)
    r = ar < ARCHIVE_WARN ? archive_fail (x, a, "reading the next entry")
      : take_entry (x, a, e);
  archive_read_free (a);
  if (r == 0 && x->setup == NULL) {
    hv_error (HV_E_FORMAT, "drivers ISO %s: no %ssetup.exe: not a Hyper-V "
              "integration services ISO (vmguest.iso)", x->iso, x->prefix);
    r = -1;
  }
  return r;
}

/* ------------------------------------------------------------------ */
/* Planning the copy. */

/* Plan mkdir -p DIR unless it exists or is planned (itself or a
 * folder inside it). */
static int
ensure_dir (struct ics *x, const char *dir)
{
  struct inj_fs *fs = &x->w->g->fs;
  size_t n = strlen (dir);
  char *copy;
  int r;

  for (size_t i = 0; i < x->dirs.len; i++)
    if (strncmp (x->dirs.ptr[i], dir, n) == 0 &&
        (x->dirs.ptr[i][n] == '\0' || x->dirs.ptr[i][n] == '/'))
      return 0;
  if ((r = fs->is_dir (fs->ctx, dir)) != 0)
    return r == 1 ? 0 : -1;
  if ((copy = strdup (dir)) == NULL || string_vector_append (&x->dirs, copy)
      == -1) {
    free (copy);
    hv_error (HV_E_NOMEM, "%s: %m", dir);
    return -1;
  }
  return plan_mkdir (x->w->plan, dir, "a folder for the integration "
                     "services");
}

/* 1 the guest file GUEST has the SIZE bytes of host file HOST, 0 not,
 * -1 after reporting.  Compared a chunk at a time: a pread of inj_fs
 * may return less than asked. */
static int
same_content (struct ics *x, const char *guest, const char *host,
              uint64_t size)
{
  struct inj_fs *fs = &x->w->g->fs;
  CLEANUP_CLOSE int fd = -1;
  CLEANUP_FREE char *ours = NULL;
  const size_t chunk = 256 * 1024;
  uint64_t off = 0;
  int r;

  if ((r = fs->exists (fs->ctx, guest)) != 1)
    return r;
  if ((ours = malloc (chunk)) == NULL ||
      (fd = open (host, O_RDONLY | O_CLOEXEC)) == -1) {
    hv_error (HV_E_IO, "%s: %m", host);
    return -1;
  }
  for (r = 1; r == 1; ) {
    size_t want = MIN (chunk, size - off), len = 0;
    char *theirs = fs->pread (fs->ctx, guest, want ? want : 1, off, &len);

    if (theirs == NULL)
      return -1;
    if (want == 0)              /* at our end: theirs must end too */
      r = len == 0 ? 2 : 0;
    else if (len == 0 || len > want)
      r = 0;
    else if (full_pread (fd, ours, len, off) == -1) {
      hv_error (HV_E_IO, "%s: %m", host);
      r = -1;
    }
    else
      r = memcmp (theirs, ours, len) == 0;
    off += len;
    free (theirs);
  }
  return r == 2 ? 1 : r;
}

static int
plan_file (struct ics *x, const char *dest, const struct ics_file *f,
           unsigned *planned)
{
  CLEANUP_FREE char *guest = NULL, *dir = NULL;
  int r;

  if (asprintf (&guest, "%s/%s", dest, f->rel) == -1 ||
      (dir = strdup (guest)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", f->rel);
    return -1;
  }
  *strrchr (dir, '/') = '\0';
  if ((r = same_content (x, guest, f->host, f->size)) != 0)
    return r == 1 ? 0 : -1;
  ++*planned;
  if (ensure_dir (x, dir) == -1)
    return -1;
  return plan_upload (x->w->plan, guest, f->host, 0644, NULL,
                      "integration services from %s: %s%s", x->iso,
                      x->prefix, f->rel);
}

/* The guest folder of the payload: under Program Files as spelt. */
static char *
destination (struct win *w)
{
  CLEANUP_FREE char *pf = NULL;
  char *dest;
  int r = win_resolve (&w->g->fs, "/Program Files", &pf);

  if (r == -1)
    return NULL;
  if (asprintf (&dest, "%s/" ICS_DIR, r == 1 ? pf : "/Program Files")
      == -1) {
    hv_error (HV_E_NOMEM, "%m");
    return NULL;
  }
  return dest;
}

/* "C:\Program Files\...\setup.exe" for guest path PATH. */
static char *
windows_path (struct win *w, const char *path)
{
  char *s;

  if (asprintf (&s, "\"%s%s\"", w->drive, path) == -1)
    return NULL;
  for (char *p = s; *p; p++)
    if (*p == '/')
      *p = '\\';
  return s;
}

static int
plan_payload (struct ics *x)
{
  struct win *w = x->w;
  CLEANUP_FREE char *dest = destination (w), *setup = NULL, *cmd = NULL;
  unsigned planned = 0;

  if (dest == NULL)
    return -1;
  for (size_t i = 0; i < x->files.len; i++)
    if (plan_file (x, dest, &x->files.ptr[i], &planned) == -1)
      return -1;
  if (asprintf (&setup, "%s/%s", dest, x->setup) == -1 ||
      (cmd = windows_path (w, setup)) == NULL) {
    hv_error (HV_E_NOMEM, "%m");
    return -1;
  }
  if ((planned
       ? plan_note (w->plan, INJ_NOTE_INFO, "integration services: %u of "
                    "the %zu files of %s in %s are copied to %s", planned,
                    x->files.len, x->prefix, x->iso, dest)
       : plan_note (w->plan, INJ_NOTE_INFO, "integration services: the "
                    "%zu files of %s in %s are already in %s",
                    x->files.len, x->prefix, x->iso, dest)) == -1 ||
      win_run_once (w, "hvconvert-integration-services", cmd,
                    "install the Hyper-V integration services at first "
                    "logon") == -1)
    return -1;
  return plan_note (w->plan, INJ_NOTE_INFO, "the integration services "
                    "setup runs when an administrator first logs on (its "
                    "dialogs show; it asks to restart), and installs the "
                    "VMBus, synthetic disk and network drivers");
}

/* x86 or amd64, the folder names of vmguest.iso. */
static const char *
iso_arch (const char *arch)
{
  if (arch && (strcmp (arch, "i386") == 0 || strcmp (arch, "x86") == 0))
    return "x86";
  if (arch && (strcmp (arch, "x86_64") == 0 || strcmp (arch, "amd64") == 0))
    return "amd64";
  return NULL;
}

static int
no_iso (struct win *w)
{
  if (plan_note (w->plan, INJ_NOTE_WARN, "Windows %d.%d has no in-box "
                 "Hyper-V drivers: without the integration services it "
                 "runs on emulated devices only (IDE disk, legacy network "
                 "adapter, no VMBus)", w->g->major, w->g->minor) == -1)
    return -1;
  if (plan_note (w->plan, INJ_NOTE_RECOMMEND, "give --drivers-iso with the "
                 "integration services ISO (vmguest.iso of a Hyper-V host "
                 "up to Windows Server 2012 R2) to install them at first "
                 "logon, or install them by hand; give the machine a "
                 "legacy network adapter until then") == -1)
    return -1;
  return 0;
}

int
win_integration_services (struct win *w)
{
  struct ics x = { .w = w, .iso = w->o->drivers_iso };
  const char *arch = iso_arch (w->g->arch);
  int r = -1;

  if (x.iso == NULL)
    return no_iso (w);
  if (arch == NULL) {
    hv_error (HV_E_UNSUPPORTED, "integration services: no support folder "
              "for architecture %s", w->g->arch ? w->g->arch : "(unknown)");
    return -1;
  }
  snprintf (x.prefix, sizeof x.prefix, "support/%s/", arch);
  if (asprintf (&x.stage, "%s/ics.XXXXXX", w->g->workdir) == -1) {
    x.stage = NULL;
    hv_error (HV_E_NOMEM, "%m");
  }
  else if (mkdtemp (x.stage) == NULL)
    hv_error (HV_E_IO, "%s: %m", x.stage);
  else if (extract (&x) == 0 && plan_payload (&x) == 0)
    r = 1;
  ics_free (&x);
  return r;
}
