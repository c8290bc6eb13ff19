/* What the host offers: the CPU's flags, /dev/kvm, QEMU and its version,
 * OVMF, libguestfs; and the checks of `hvconvert doctor`.
 *
 * Hyper-V asks of its host a 64-bit CPU with hardware virtualization
 * (Intel VT-x "vmx" or AMD-V "svm") and NX; hvconvert needs QEMU, and
 * KVM only for speed: TCG (software emulation) works everywhere.
 */
#include <config.h>

#include <fcntl.h>
#include <guestfs.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hypervisor.h"

/* /proc/cpuinfo is a few KiB per CPU; the first "flags" line is all we
 * read, so the first 64 KiB are plenty. */
#define CPUINFO_MAX (64 * 1024)

const char *
hv_qemu_binary (void)
{
  const char *q = getenv ("HVCONVERT_QEMU");

  return q && *q ? q : "qemu-system-x86_64";
}

/* "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22". */
static char *
parse_qemu_version (const char *out)
{
  const char *p = out ? strstr (out, "version ") : NULL;
  size_t n;

  if (p == NULL)
    return NULL;
  p += strlen ("version ");
  n = strspn (p, "0123456789.");
  return n ? strndup (p, n) : NULL;
}

const char *
hv_qemu_version (void)
{
  static char *version;
  static bool asked;
  char *const argv[] = { (char *) hv_qemu_binary (), "--version", NULL };
  char *out = NULL;

  if (asked)
    return version;
  asked = true;
  if (hv_run (argv, 30, &out) == 0)
    version = parse_qemu_version (out);
  if (version == NULL)
    hv_error (HV_E_UNSUPPORTED, "%s --version did not say its version: "
              "%.*s", argv[0], out ? (int) strcspn (out, "\n") : 0,
              out ? out : "");
  free (out);
  return version;
}

int
hv_ovmf_paths (const char **code, const char **vars)
{
  /* Debian's ovmf package: the 4 MiB build first (the one Debian's
   * libvirt uses), then the 2 MiB one.  A code file goes with the
   * variable store of the same size. */
  static const char *const pairs[][2] = {
    { "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd" },
    { "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd" },
  };

  for (size_t i = 0; i < ARRAY_SIZE (pairs); i++)
    if (access (pairs[i][0], R_OK) == 0 && access (pairs[i][1], R_OK) == 0) {
      *code = pairs[i][0];
      *vars = pairs[i][1];
      return 0;
    }
  return -1;
}

/* ---------------------------------------------------------------- */
/* The checks. */

const char *
hv_check_status_name (enum hv_check_status s)
{
  static const char *const names[] = {
    [HV_CHECK_OK] = "ok", [HV_CHECK_WARN] = "warn", [HV_CHECK_FAIL] = "fail",
  };
  return (size_t) s < ARRAY_SIZE (names) ? names[s] : "?";
}

static int
add_check (struct hv_check_vector *out, const char *name,
           enum hv_check_status status, const char *answer,
           const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

static int
add_check (struct hv_check_vector *out, const char *name,
           enum hv_check_status status, const char *answer,
           const char *fmt, ...)
{
  struct hv_check c = { .status = status };
  va_list ap;

  va_start (ap, fmt);
  if (vasprintf (&c.why, fmt, ap) == -1)
    c.why = NULL;
  va_end (ap);
  c.name = strdup (name);
  c.answer = strdup (answer);
  if (c.why == NULL || c.name == NULL || c.answer == NULL ||
      hv_check_vector_append (out, c) == -1) {
    free (c.why);
    free (c.name);
    free (c.answer);
    hv_error (HV_E_NOMEM, "doctor: %m");
    return -1;
  }
  return 0;
}

void
hv_checks_free (struct hv_check_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    free (v->ptr[i].name);
    free (v->ptr[i].answer);
    free (v->ptr[i].why);
  }
  free (v->ptr);
  *v = (struct hv_check_vector) { 0 };
}

/* The first "flags" line of /proc/cpuinfo, with a space before and after
 * so " flag " finds a whole word; NULL if unreadable. */
static char *
cpu_flags (void)
{
  CLEANUP_CLOSE int fd = open ("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  CLEANUP_FREE char *buf = calloc (1, CPUINFO_MAX + 1);
  char *line, *colon, *end, *flags;
  ssize_t n;

  if (fd == -1 || buf == NULL || (n = read (fd, buf, CPUINFO_MAX)) <= 0)
    return NULL;
  line = strstr (buf, "\nflags");
  if (line == NULL || (colon = strchr (line, ':')) == NULL)
    return NULL;
  end = strchrnul (colon, '\n');
  if (asprintf (&flags, " %.*s ", (int) (end - colon - 1), colon + 1) == -1)
    return NULL;
  return flags;
}

static bool
has_flag (const char *flags, const char *flag)
{
  char word[32];

  snprintf (word, sizeof word, " %s ", flag);
  return flags && strstr (flags, word) != NULL;
}

static int
check_cpu (struct hv_check_vector *out)
{
  CLEANUP_FREE char *flags = cpu_flags ();
  const char *virt = has_flag (flags, "vmx") ? "vmx (Intel VT-x)"
    : has_flag (flags, "svm") ? "svm (AMD-V)" : NULL;

  if (flags == NULL)
    return add_check (out, "cpu", HV_CHECK_WARN, "unknown",
                      "/proc/cpuinfo has no flags line");
  if (add_check (out, "cpu-64bit", has_flag (flags, "lm") ? HV_CHECK_OK
                 : HV_CHECK_WARN, has_flag (flags, "lm") ? "yes" : "no",
                 "the CPU flag 'lm' (long mode): Hyper-V needs a 64-bit "
                 "CPU; QEMU emulates one either way") == -1 ||
      add_check (out, "cpu-nx", has_flag (flags, "nx") ? HV_CHECK_OK
                 : HV_CHECK_WARN, has_flag (flags, "nx") ? "yes" : "no",
                 "the CPU flag 'nx' (no-execute, NX/XD): Hyper-V requires "
                 "it") == -1)
    return -1;
  return add_check (out, "cpu-virtualization", virt ? HV_CHECK_OK
                    : HV_CHECK_WARN, virt ? virt : "no",
                    virt ? "hardware virtualization is offered to this "
                    "system" : "neither 'vmx' nor 'svm' in the CPU flags: "
                    "no hardware virtualization here (in a VM: nested "
                    "virtualization is off); QEMU uses TCG, slower");
}

/* Which KVM module the kernel has loaded, for the answer's "why". */
static const char *
kvm_module (void)
{
  static const char *const mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
  char path[64];

  for (size_t i = 0; i < ARRAY_SIZE (mods); i++) {
    snprintf (path, sizeof path, "/sys/module/%s", mods[i]);
    if (access (path, F_OK) == 0)
      return mods[i];
  }
  return NULL;
}

static int
check_dev_kvm (struct hv_check_vector *out)
{
  const char *mod = kvm_module ();
  int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);

  if (fd == -1)
    return add_check (out, "dev-kvm", HV_CHECK_WARN, "no",
                      "/dev/kvm: %m; QEMU uses TCG (software emulation)");
  close (fd);
  return add_check (out, "dev-kvm", HV_CHECK_OK, "yes",
                    "/dev/kvm opens read-write (kernel module %s)",
                    mod ? mod : "unknown");
}

static int
check_kvm (struct hv_check_vector *out)
{
  struct hv_kvm_answer a;
  char answer[64];

  if (hv_kvm_answer (&a) == -1)
    return add_check (out, "kvm", HV_CHECK_WARN, "unknown",
                      "the KVM probe could not run (see the qemu check)");
  snprintf (answer, sizeof answer, "%s", a.usable ? "usable" : "unusable");
  return add_check (out, "kvm", a.usable ? HV_CHECK_OK : HV_CHECK_WARN,
                    answer, "%s%s%s", a.why,
                    a.from_cache ? "; cached in " : "",
                    a.from_cache ? a.cache_file : "");
}

static int
check_qemu (struct hv_check_vector *out)
{
  const char *v = hv_qemu_version ();

  if (v == NULL)
    return add_check (out, "qemu", HV_CHECK_FAIL, "missing",
                      "%s cannot be run: install qemu-system-x86",
                      hv_qemu_binary ());
  return add_check (out, "qemu", HV_CHECK_OK, v, "%s runs (QEMU %s)",
                    hv_qemu_binary (), v);
}

static int
check_accel (struct hv_check_vector *out)
{
  enum hv_accel a = hv_accelerator ();

  return add_check (out, "accelerator", HV_CHECK_OK, hv_accel_name (a),
                    "hvconvert starts QEMU with accel=%s and libguestfs "
                    "with backend settings \"%s\"", hv_accel_name (a),
                    hv_guestfs_backend_settings ());
}

static int
check_ovmf (struct hv_check_vector *out)
{
  const char *code, *vars;

  if (hv_ovmf_paths (&code, &vars) == -1)
    return add_check (out, "ovmf", HV_CHECK_WARN, "missing",
                      "no OVMF firmware in /usr/share/OVMF: the gen2 "
                      "(UEFI) profile needs the ovmf package");
  return add_check (out, "ovmf", HV_CHECK_OK, code,
                    "UEFI firmware for the gen2 profile (variables "
                    "template %s)", vars);
}

guestfs_h *
hv_guestfs_new (void)
{
  const char *settings = hv_guestfs_backend_settings ();
  char *list[] = { (char *) settings, NULL };
  guestfs_h *g = guestfs_create ();

  if (g == NULL) {
    hv_error (HV_E_IO, "libguestfs: cannot create a handle: %m");
    return NULL;
  }
  if (guestfs_set_backend (g, "direct") == -1 ||
      guestfs_set_backend_settings (g, settings[0] ? list : list + 1) == -1) {
    hv_error (HV_E_IO, "libguestfs: cannot choose its backend: %s",
              guestfs_last_error (g) ? guestfs_last_error (g) : "");
    guestfs_close (g);
    return NULL;
  }
  return g;
}

/* "1.48.6": the libguestfs hvconvert is linked with. */
static const char *
guestfs_version_text (void)
{
  static char text[64];
  guestfs_h *g = guestfs_create_flags (GUESTFS_CREATE_NO_ENVIRONMENT);
  struct guestfs_version *v = g ? guestfs_version (g) : NULL;

  if (v)
    snprintf (text, sizeof text, "%lld.%lld.%lld", (long long) v->major,
              (long long) v->minor, (long long) v->release);
  guestfs_free_version (v);
  if (g)
    guestfs_close (g);
  return text[0] ? text : "(unknown version)";
}

/* libguestfs: linked in, and with --full launched for real (15 to 30 s
 * under TCG, so not by default). */
static int
check_libguestfs (struct hv_check_vector *out, bool full)
{
  char *const argv[] = { "libguestfs-test-tool", "-t", "600", NULL };
  CLEANUP_FREE char *log = NULL;
  int r;

  if (!full)
    return add_check (out, "libguestfs", HV_CHECK_OK, "not launched",
                      "libguestfs %s is linked in; launching its appliance "
                      "takes 15 to 30 s, so only 'hvconvert doctor --full' "
                      "tries it", guestfs_version_text ());
  setenv ("LIBGUESTFS_BACKEND", "direct", 0);
  setenv ("LIBGUESTFS_BACKEND_SETTINGS", hv_guestfs_backend_settings (), 1);
  r = hv_run (argv, 600, &log);
  if (r == 0 && log && strstr (log, "TEST FINISHED OK"))
    return add_check (out, "libguestfs", HV_CHECK_OK, "usable",
                      "libguestfs-test-tool launched the appliance "
                      "(backend direct, settings \"%s\")",
                      hv_guestfs_backend_settings ());
  return add_check (out, "libguestfs", HV_CHECK_WARN, "unusable",
                    "libguestfs-test-tool failed (exit %d): install "
                    "libguestfs-tools and linux-image-amd64", r);
}

int
hv_doctor (const struct hv_doctor_opts *o, struct hv_check_vector *out)
{
  if (check_cpu (out) == -1 || check_dev_kvm (out) == -1 ||
      check_qemu (out) == -1 || check_kvm (out) == -1 ||
      check_accel (out) == -1 || check_ovmf (out) == -1 ||
      check_libguestfs (out, o->full) == -1)
    return -1;
  return 0;
}
