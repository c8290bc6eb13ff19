/* Unit test: the Windows injector (injectors/windows*.c), without an
 * appliance.  Each case grows SYSTEM and SOFTWARE hives from
 * fixtures/windows/minimal.hive with hivexregedit --merge (an
 * independent writer) into a host tree that the injector reads through
 * fs-dir, runs inject_windows, and reads the hives it planned to upload
 * with hivex.  Cases: Windows 7 from VMware, Server 2012 R2 from
 * VirtualBox, XP without and with the integration services ISO (made by
 * xorriso), and the refusals: hibernated, a hive missing, corrupt or
 * dirty hives.  Each successful case then applies its plan to the tree
 * and checks that a second run plans nothing. */
#include <config.h>

#include <fcntl.h>
#include <hivex.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "hypervisor.h"
#include "injectors.h"

#define CLASS_MOUSE "{4D36E96F-E325-11CE-BFC1-08002BE10318}"
#define CLASS_DISK "{4D36E967-E325-11CE-BFC1-08002BE10318}"
#define CDD "ControlSet001\\Control\\CriticalDeviceDatabase\\"

static char fixtures[1024];

/* One case: the guest tree, the scratch directory, the events. */
struct env {
  char *dir;                 /* private: root/, work/, events */
  char root[512];            /* the guest's files */
  struct inj_guest g;
  struct inj_opts o;
  struct inj_plan plan;
  int events;                /* error events of the injector */
};

/* The case's env, freed by the teardown if an assertion ended it. */
static struct env *current;

/* ------------------------------------------------------------------ */
/* Building the tree. */

static void
run (const char *const *argv)
{
  pid_t pid = fork ();
  int status;

  assert_true (pid != -1);
  if (pid == 0) {
    int null = open ("/dev/null", O_WRONLY);
    dup2 (null, 1);
    execvp (argv[0], (char *const *) argv);
    fprintf (stderr, "cannot run %s: %m (is it installed?)\n", argv[0]);
    _exit (127);
  }
  assert_true (waitpid (pid, &status, 0) == pid);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("%s failed (status %d)", argv[0], status);
}

static void
mkdirs (const char *path)
{
  char buf[PATH_MAX];

  snprintf (buf, sizeof buf, "%s", path);
  for (char *s = buf + 1; (s = strchr (s, '/')); s++) {
    *s = '\0';
    mkdir (buf, 0755);
    *s = '/';
  }
  mkdir (buf, 0755);
}

static void
write_file (const char *path, const void *data, size_t len)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  assert_true (fd >= 0);
  assert_int_equal (full_write (fd, data, len), 0);
  close (fd);
}

static void
copy_file (const char *from, const char *to)
{
  const char *argv[] = { "cp", from, to, NULL };
  run (argv);
}

/* Guest file PATH (under the root) as a host path. */
static void
host_path (struct env *e, const char *path, char *out)
{
  snprintf (out, PATH_MAX, "%s%s", e->root, path);
}

/* The hive NAME ("SYSTEM") at guest PATH from fixtures/windows/REG. */
static void
make_hive (struct env *e, const char *path, const char *name,
           const char *reg)
{
  char host[PATH_MAX], minimal[PATH_MAX + 16], regfile[PATH_MAX + 64],
    prefix[64];
  const char *argv[] = {
    "hivexregedit", "--merge", "--prefix", prefix, host, regfile, NULL,
  };

  host_path (e, path, host);
  snprintf (minimal, sizeof minimal, "%s/minimal.hive", fixtures);
  snprintf (regfile, sizeof regfile, "%s/%s", fixtures, reg);
  snprintf (prefix, sizeof prefix, "HKEY_LOCAL_MACHINE\\%s", name);
  copy_file (minimal, host);
  chmod (host, 0644);
  run (argv);
}

static struct env *
env_new (const char *sysroot, int major, int minor, const char *arch)
{
  struct env *e = calloc (1, sizeof *e);
  char work[PATH_MAX], events[PATH_MAX];

  assert_non_null (e);
  assert_non_null (e->dir = hv_private_dir ("test-injectors-windows"));
  snprintf (e->root, sizeof e->root, "%s/root", e->dir);
  snprintf (work, sizeof work, "%s/work", e->dir);
  snprintf (events, sizeof events, "%s/events", e->dir);
  mkdirs (e->root);
  mkdirs (work);
  assert_int_equal (inj_fs_dir (e->root, &e->g.fs), 0);
  e->g.type = strdup ("windows");
  e->g.systemroot = strdup (sysroot);
  e->g.arch = strdup (arch);
  e->g.workdir = strdup (work);
  e->g.major = major;
  e->g.minor = minor;
  e->o.profile = INJ_GEN1;
  e->events = open (events, O_RDWR | O_CREAT | O_TRUNC, 0644);
  assert_true (e->events >= 0);
  events_open (e->events);
  current = e;
  return e;
}

static void
env_free (struct env *e)
{
  events_open (-1);
  close (e->events);
  plan_free (&e->plan);
  inj_fs_dir_free (&e->g.fs);
  free (e->g.type);
  free (e->g.systemroot);
  free (e->g.arch);
  free (e->g.workdir);
  hv_remove_tree (e->dir);
  free (e->dir);
  free (e);
  current = NULL;
}

static int
teardown (void **state)
{
  if (current)
    env_free (current);
  return 0;
}

/* Windows 7 (6.1, x86_64) from VMware. */
static struct env *
win7 (void)
{
  struct env *e = env_new ("/Windows", 6, 1, "x86_64");
  char dir[PATH_MAX];

  host_path (e, "/Windows/System32/config", dir);
  mkdirs (dir);
  make_hive (e, "/Windows/System32/config/SYSTEM", "SYSTEM",
             "system-win7.reg");
  make_hive (e, "/Windows/System32/config/SOFTWARE", "SOFTWARE",
             "software-win7.reg");
  return e;
}

/* Windows XP (5.1, i386) from Virtual PC: "WINDOWS\system32\config\
 * system" spelt as XP does, the IDE driver files present. */
static struct env *
winxp (void)
{
  static const char *const drivers[] = {
    "atapi.sys", "intelide.sys", "pciide.sys", "pciidex.sys",
  };
  struct env *e = env_new ("/Windows", 5, 1, "i386");
  char dir[PATH_MAX], file[PATH_MAX + 32];

  host_path (e, "/WINDOWS/system32/config", dir);
  mkdirs (dir);
  host_path (e, "/WINDOWS/system32/drivers", dir);
  mkdirs (dir);
  for (size_t i = 0; i < ARRAY_SIZE (drivers); i++) {
    snprintf (file, sizeof file, "%s/%s", dir, drivers[i]);
    write_file (file, "MZ", 2);
  }
  host_path (e, "/Program Files", dir);
  mkdirs (dir);
  make_hive (e, "/WINDOWS/system32/config/system", "SYSTEM",
             "system-xp.reg");
  make_hive (e, "/WINDOWS/system32/config/software", "SOFTWARE",
             "software-xp.reg");
  return e;
}

/* ------------------------------------------------------------------ */
/* Reading the result. */

/* The host file of the plan's upload to a guest path ending in NAME
 * (any case), or NULL. */
static const char *
uploaded (struct env *e, const char *name)
{
  for (size_t i = 0; i < e->plan.steps.len; i++) {
    const struct inj_step *s = &e->plan.steps.ptr[i];
    size_t n = strlen (s->path), m = strlen (name);
    if (s->kind == INJ_STEP_UPLOAD && n >= m &&
        strcasecmp (s->path + n - m, name) == 0)
      return s->host_file;
  }
  return NULL;
}

static const struct inj_step *
step_for (struct env *e, const char *path)
{
  for (size_t i = 0; i < e->plan.steps.len; i++)
    if (strcmp (e->plan.steps.ptr[i].path, path) == 0)
      return &e->plan.steps.ptr[i];
  return NULL;
}

static bool
has_note (struct env *e, enum inj_note_level level, const char *text)
{
  for (size_t i = 0; i < e->plan.notes.len; i++)
    if (e->plan.notes.ptr[i].level == level &&
        strstr (e->plan.notes.ptr[i].text, text))
      return true;
  return false;
}

/* The error events reported so far contain TEXT. */
static bool
error_said (struct env *e, const char *text)
{
  char buf[16384];
  ssize_t n = pread (e->events, buf, sizeof buf - 1, 0);

  assert_true (n >= 0);
  buf[n] = '\0';
  return strstr (buf, "\"error\"") && strstr (buf, text);
}

static hive_node_h
node_at (hive_h *h, const char *path)
{
  char buf[512], *save = NULL;
  hive_node_h n = hivex_root (h);

  snprintf (buf, sizeof buf, "%s", path);
  for (char *c = strtok_r (buf, "\\", &save); c && n;
       c = strtok_r (NULL, "\\", &save))
    n = hivex_node_get_child (h, n, c);
  return n;
}

static hive_h *
open_hive (const char *file)
{
  hive_h *h;

  assert_non_null (file);
  h = hivex_open (file, 0);
  assert_non_null (h);
  return h;
}

static bool
key_exists (const char *file, const char *path)
{
  hive_h *h = open_hive (file);
  bool r = node_at (h, path) != 0;

  hivex_close (h);
  return r;
}

static hive_value_h
value_at (hive_h *h, const char *path, const char *name)
{
  hive_node_h n = node_at (h, path);

  return n ? hivex_node_get_value (h, n, name) : 0;
}

static void
assert_dword (const char *file, const char *path, const char *name,
              uint32_t want)
{
  hive_h *h = open_hive (file);
  hive_value_h v = value_at (h, path, name);

  if (v == 0)
    fail_msg ("%s\\%s missing", path, name);
  assert_int_equal ((uint32_t) hivex_value_dword (h, v), want);
  hivex_close (h);
}

/* REG_SZ (or, with EXPAND, REG_EXPAND_SZ) NAME of PATH is WANT. */
static void
assert_string (const char *file, const char *path, const char *name,
               const char *want, bool expand)
{
  hive_h *h = open_hive (file);
  hive_value_h v = value_at (h, path, name);
  hive_type t;
  size_t len;
  char *s;

  if (v == 0)
    fail_msg ("%s\\%s missing", path, name);
  assert_int_equal (hivex_value_type (h, v, &t, &len), 0);
  assert_int_equal (t, expand ? hive_t_REG_EXPAND_SZ : hive_t_REG_SZ);
  assert_non_null (s = hivex_value_string (h, v));
  assert_string_equal (s, want);
  free (s);
  hivex_close (h);
}

#define assert_sz(f, p, n, w) assert_string (f, p, n, w, false)

static bool
value_exists (const char *file, const char *path, const char *name)
{
  hive_h *h = open_hive (file);
  bool r = value_at (h, path, name) != 0;

  hivex_close (h);
  return r;
}

/* REG_MULTI_SZ NAME of PATH is "a,b,c" (joined with commas). */
static void
assert_multi (const char *file, const char *path, const char *name,
              const char *want)
{
  hive_h *h = open_hive (file);
  hive_value_h v = value_at (h, path, name);
  char **list, got[512] = "";

  if (v == 0)
    fail_msg ("%s\\%s missing", path, name);
  assert_non_null (list = hivex_value_multiple_strings (h, v));
  /* hivex returns the empty string of the final double NUL. */
  for (size_t i = 0; list[i]; i++) {
    if (list[i][0])
      snprintf (got + strlen (got), sizeof got - strlen (got), "%s%s",
                i ? "," : "", list[i]);
    free (list[i]);
  }
  free (list);
  assert_string_equal (got, want);
  hivex_close (h);
}

/* ------------------------------------------------------------------ */
/* Applying a plan to the tree, as plan-apply.c does in the guest. */

static void
apply (struct env *e)
{
  char host[PATH_MAX], backup[PATH_MAX];
  struct stat st;

  for (size_t i = 0; i < e->plan.steps.len; i++) {
    const struct inj_step *s = &e->plan.steps.ptr[i];
    host_path (e, s->path, host);
    switch (s->kind) {
    case INJ_STEP_MKDIR:
      mkdirs (host);
      break;
    case INJ_STEP_UPLOAD:
      if (s->backup) {
        host_path (e, s->backup, backup);
        if (stat (backup, &st) == -1)
          copy_file (host, backup);
      }
      copy_file (s->host_file, host);
      break;
    default:
      fail_msg ("unexpected step %d for %s", s->kind, s->path);
    }
  }
}

/* Run the injector; its plan goes to the log. */
static int
inject (struct env *e)
{
  int r = inject_windows (&e->g, &e->o, &e->plan);

  fprintf (stderr, "plan (inject_windows returned %d):\n", r);
  plan_print (&e->plan, stderr);
  return r;
}

/* Apply, run again: nothing planned, no error. */
static void
assert_second_run_plans_nothing (struct env *e)
{
  apply (e);
  plan_free (&e->plan);
  assert_int_equal (inject (e), 0);
  for (size_t i = 0; i < e->plan.steps.len; i++)
    fprintf (stderr, "second run planned: %s\n", e->plan.steps.ptr[i].path);
  for (size_t i = 0; i < e->plan.notes.len; i++)
    if (strstr (e->plan.notes.ptr[i].text, " -> "))
      fail_msg ("second run changes: %s", e->plan.notes.ptr[i].text);
  assert_int_equal (e->plan.steps.len, 0);
}

/* ------------------------------------------------------------------ */
/* The cases. */

static void
test_win7_vmware (void **state)
{
  struct env *e = win7 ();
  const struct inj_step *s;
  const char *sys, *soft;

  assert_int_equal (inject (e), 0);
  assert_int_equal (e->plan.steps.len, 2);
  s = step_for (e, "/Windows/System32/config/SYSTEM");
  assert_non_null (s);
  assert_string_equal (s->backup,
                       "/Windows/System32/config/SYSTEM.pre-hvconvert");
  sys = uploaded (e, "/SYSTEM");
  soft = uploaded (e, "/SOFTWARE");

  /* The Hyper-V and IDE boot drivers start at boot. */
  static const char *const boot[] = {
    "vmbus", "storvsc", "storflt", "atapi", "intelide", "pciide",
  };
  for (size_t i = 0; i < ARRAY_SIZE (boot); i++) {
    char path[128];
    snprintf (path, sizeof path, "ControlSet001\\Services\\%s", boot[i]);
    assert_dword (sys, path, "Start", 0);
  }
  assert_true (has_note (e, INJ_NOTE_INFO, "SYSTEM\\ControlSet001\\"
                         "Services\\vmbus: Start 3 -> 0"));
  assert_dword (sys, "ControlSet001\\Services\\disk", "Start", 0);

  /* CriticalDeviceDatabase (6.1 < 6.2). */
  /* Right already, in another case: left alone. */
  assert_sz (sys, CDD "pci#ven_8086&dev_7111", "Service", "IntelIde");
  assert_false (has_note (e, INJ_NOTE_INFO, "dev_7111"));
  assert_sz (sys, CDD "pci#ven_8086&dev_7010", "Service", "intelide");
  assert_sz (sys, CDD "pci#ven_8086&dev_7010", "ClassGUID",
             "{4D36E96A-E325-11CE-BFC1-08002BE10318}");
  assert_sz (sys, CDD "primary_ide_channel", "Service", "atapi");
  assert_sz (sys, CDD "secondary_ide_channel", "Service", "atapi");
  assert_sz (sys, CDD "*pnp0600", "Service", "atapi");
  assert_sz (sys, CDD "pci#cc_0101", "Service", "pciide");
  assert_sz (sys, CDD "gendisk", "Service", "disk");
  assert_sz (sys, CDD "gendisk", "ClassGUID", CLASS_DISK);
  assert_sz (sys, CDD "acpi#vmbus", "Service", "vmbus");
  assert_sz (sys, CDD "vmbus#{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}",
             "Service", "storvsc");
  assert_sz (sys, CDD "vmbus#{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}",
             "ClassGUID", "{4D36E97B-E325-11CE-BFC1-08002BE10318}");
  /* mergeide's extra chipsets are for XP only. */
  assert_false (key_exists (sys, CDD "pci#ven_8086&dev_2411"));
  assert_dword (sys, "ControlSet001\\Control\\CrashControl", "AutoReboot",
                0);

  /* VMware's drivers are off and out of the filter lists; Parallels'
   * storage filter too; other filters stay. */
  assert_dword (sys, "ControlSet001\\Services\\vmmouse", "Start", 4);
  assert_dword (sys, "ControlSet001\\Services\\vmci", "Start", 4);
  assert_dword (sys, "ControlSet001\\Services\\VMTools", "Start", 4);
  assert_dword (sys, "ControlSet001\\Services\\pvscsi", "Start", 4);
  assert_multi (sys, "ControlSet001\\Control\\Class\\" CLASS_MOUSE,
                "UpperFilters", "mouclass");
  assert_multi (sys, "ControlSet001\\Control\\Class\\" CLASS_DISK,
                "UpperFilters", "PartMgr");
  assert_false (value_exists (sys, "ControlSet001\\Control\\Class\\"
                              CLASS_DISK, "LowerFilters"));
  assert_sz (sys, "ControlSet001\\Control\\Class\\" CLASS_DISK, "Class",
             "DiskDrive");

  /* VMware Tools is uninstalled at first logon, silently; 7-Zip stays. */
  assert_sz (soft, "Microsoft\\Windows\\CurrentVersion\\RunOnce",
             "hvconvert-uninstall-1",
             "MsiExec.exe /X{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF} "
             "/qn /norestart");
  assert_false (value_exists (soft, "Microsoft\\Windows\\CurrentVersion\\"
                              "RunOnce", "hvconvert-uninstall-2"));
  assert_true (has_note (e, INJ_NOTE_INFO, "first logs on"));
  assert_false (has_note (e, INJ_NOTE_WARN, ""));

  assert_second_run_plans_nothing (e);
  env_free (e);
}

static void
test_win7_gen2_warns (void **state)
{
  struct env *e = win7 ();

  e->o.profile = INJ_GEN2;
  assert_int_equal (inject (e), 0);
  assert_true (has_note (e, INJ_NOTE_WARN, "generation 2 needs 64-bit "
                         "Windows 8/2012 or later"));
  env_free (e);
}

static void
test_win2012r2_virtualbox (void **state)
{
  struct env *e = env_new ("/Windows", 6, 3, "x86_64");
  char dir[PATH_MAX];
  const char *sys, *soft;

  host_path (e, "/Windows/System32/config", dir);
  mkdirs (dir);
  make_hive (e, "/Windows/System32/config/SYSTEM", "SYSTEM",
             "system-win2012r2.reg");
  make_hive (e, "/Windows/System32/config/SOFTWARE", "SOFTWARE",
             "software-win2012r2.reg");
  e->o.profile = INJ_GEN2;

  assert_int_equal (inject (e), 0);
  assert_false (has_note (e, INJ_NOTE_WARN, "generation 2"));
  sys = uploaded (e, "/SYSTEM");
  soft = uploaded (e, "/SOFTWARE");
  assert_dword (sys, "ControlSet001\\Services\\vmbus", "Start", 0);
  assert_dword (sys, "ControlSet001\\Services\\storvsc", "Start", 0);
  assert_false (key_exists (sys, "ControlSet001\\Services\\storvsc\\"
                            "StartOverride"));
  assert_true (has_note (e, INJ_NOTE_INFO, "storvsc\\StartOverride: key "
                         "deleted"));
  /* storflt was already 0: no note about it. */
  assert_false (has_note (e, INJ_NOTE_INFO, "storflt: Start"));
  /* 6.3 binds through the DriverDatabase: no CDD at all. */
  assert_false (key_exists (sys, "ControlSet001\\Control\\"
                            "CriticalDeviceDatabase"));
  assert_true (has_note (e, INJ_NOTE_INFO, "DriverDatabase"));
  assert_dword (sys, "ControlSet001\\Services\\VBoxGuest", "Start", 4);
  assert_dword (sys, "ControlSet001\\Services\\VBoxMouse", "Start", 4);
  assert_multi (sys, "ControlSet001\\Control\\Class\\" CLASS_MOUSE,
                "UpperFilters", "mouclass");
  assert_sz (soft, "Microsoft\\Windows\\CurrentVersion\\RunOnce",
             "hvconvert-uninstall-1",
             "C:\\Program Files\\Oracle\\VirtualBox Guest Additions\\"
             "uninst.exe /S");

  assert_second_run_plans_nothing (e);
  env_free (e);
}

static void
test_xp_without_iso (void **state)
{
  struct env *e = winxp ();
  const char *sys, *soft;

  assert_int_equal (inject (e), 0);
  assert_true (has_note (e, INJ_NOTE_WARN, "no in-box Hyper-V drivers"));
  assert_true (has_note (e, INJ_NOTE_RECOMMEND, "--drivers-iso"));
  assert_int_equal (e->plan.steps.len, 2);
  assert_non_null (step_for (e, "/WINDOWS/system32/config/system"));
  sys = uploaded (e, "/system");
  soft = uploaded (e, "/software");

  /* The current control set is ControlSet002; 001 is left alone. */
  assert_dword (sys, "ControlSet002\\Services\\intelide", "Start", 0);
  assert_dword (sys, "ControlSet002\\Services\\atapi", "Start", 0);
  assert_dword (sys, "ControlSet001\\Services\\intelide", "Start", 3);
  /* pciide had no service, but its driver file is there: created. */
  assert_dword (sys, "ControlSet002\\Services\\pciide", "Start", 0);
  assert_dword (sys, "ControlSet002\\Services\\pciide", "Type", 1);
  assert_dword (sys, "ControlSet002\\Services\\pciide", "ErrorControl", 1);
  assert_sz (sys, "ControlSet002\\Services\\pciide", "Group",
             "System Bus Extender");
  assert_string (sys, "ControlSet002\\Services\\pciide", "ImagePath",
                 "system32\\DRIVERS\\pciide.sys", true);
  /* mergeide: the CDD, with the extra chipsets. */
  static const char *const cdd[][2] = {
    { "pci#ven_8086&dev_7111", "intelide" },
    { "pci#ven_8086&dev_2411", "intelide" },
    { "primary_ide_channel", "atapi" },
    { "pci#cc_0101", "pciide" },
    { "gendisk", "disk" },
  };
  for (size_t i = 0; i < ARRAY_SIZE (cdd); i++) {
    char path[256];
    snprintf (path, sizeof path,
              "ControlSet002\\Control\\CriticalDeviceDatabase\\%s",
              cdd[i][0]);
    assert_sz (sys, path, "Service", cdd[i][1]);
  }
  /* No VMBus drivers here: no entries pointing at them. */
  assert_false (key_exists (sys, "ControlSet002\\Control\\"
                            "CriticalDeviceDatabase\\acpi#vmbus"));
  /* Virtual PC Additions. */
  assert_dword (sys, "ControlSet002\\Services\\vpcbus", "Start", 4);
  assert_dword (sys, "ControlSet002\\Services\\msvmmouf", "Start", 4);
  assert_multi (sys, "ControlSet002\\Control\\Class\\" CLASS_MOUSE,
                "UpperFilters", "mouclass");
  assert_sz (soft, "Microsoft\\Windows\\CurrentVersion\\RunOnce",
             "hvconvert-uninstall-1",
             "MsiExec.exe /X{AC4A7E1D-2E7C-4B8B-9F1F-1F4A6B2A0F3B} "
             "/qn /norestart");

  assert_second_run_plans_nothing (e);
  env_free (e);
}

/* An integration services ISO: support/x86 with setup.exe and a
 * driver in a subfolder, support/amd64 that must not be copied. */
static void
make_iso (struct env *e, char *iso)
{
  char tree[PATH_MAX], file[PATH_MAX + 64];
  const char *argv[] = {
    "xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-o", iso, tree, NULL,
  };

  snprintf (tree, sizeof tree, "%s/iso", e->dir);
  snprintf (iso, PATH_MAX, "%s/vmguest.iso", e->dir);
  snprintf (file, sizeof file, "%s/support/x86/drivers", tree);
  mkdirs (file);
  snprintf (file, sizeof file, "%s/support/amd64", tree);
  mkdirs (file);
  snprintf (file, sizeof file, "%s/support/x86/setup.exe", tree);
  write_file (file, "MZ fake x86 setup", 17);
  snprintf (file, sizeof file, "%s/support/x86/drivers/vmbus.sys", tree);
  write_file (file, "MZ fake vmbus", 13);
  snprintf (file, sizeof file, "%s/support/amd64/setup.exe", tree);
  write_file (file, "MZ fake amd64 setup", 19);
  run (argv);
}

static void
assert_file_is (const char *host, const char *content)
{
  char buf[64];
  int fd = open (host, O_RDONLY);
  ssize_t n;

  assert_true (fd >= 0);
  n = read (fd, buf, sizeof buf);
  close (fd);
  assert_int_equal (n, strlen (content));
  assert_memory_equal (buf, content, n);
}

static void
test_xp_with_iso (void **state)
{
  struct env *e = winxp ();
  const char *dest = "/Program Files/hvconvert/integration-services";
  char iso[PATH_MAX], path[PATH_MAX];
  const struct inj_step *s;
  const char *soft;

  make_iso (e, iso);
  e->o.drivers_iso = iso;
  assert_int_equal (inject (e), 0);
  assert_false (has_note (e, INJ_NOTE_RECOMMEND, "--drivers-iso"));
  /* One mkdir -p makes the folders. */
  snprintf (path, sizeof path, "%s/drivers", dest);
  assert_non_null (s = step_for (e, path));
  assert_int_equal (s->kind, INJ_STEP_MKDIR);
  assert_null (step_for (e, dest));
  snprintf (path, sizeof path, "%s/setup.exe", dest);
  assert_non_null (s = step_for (e, path));
  assert_int_equal (s->kind, INJ_STEP_UPLOAD);
  assert_file_is (s->host_file, "MZ fake x86 setup");
  snprintf (path, sizeof path, "%s/drivers/vmbus.sys", dest);
  assert_non_null (s = step_for (e, path));
  assert_file_is (s->host_file, "MZ fake vmbus");
  /* The folder, the two files, the two hives; nothing of amd64. */
  assert_int_equal (e->plan.steps.len, 5);
  for (size_t i = 0; i < e->plan.steps.len; i++)
    assert_null (strstr (e->plan.steps.ptr[i].why, "amd64"));
  soft = uploaded (e, "/software");
  assert_sz (soft, "Microsoft\\Windows\\CurrentVersion\\RunOnce",
             "hvconvert-integration-services",
             "\"C:\\Program Files\\hvconvert\\integration-services\\"
             "setup.exe\"");
  assert_true (has_note (e, INJ_NOTE_INFO, "VMBus drivers come with the "
                         "integration services"));

  assert_second_run_plans_nothing (e);
  env_free (e);
}

static void
test_not_an_iso (void **state)
{
  struct env *e = winxp ();
  char iso[PATH_MAX];

  snprintf (iso, sizeof iso, "%s/notaniso", e->dir);
  write_file (iso, "hello", 5);
  e->o.drivers_iso = iso;
  assert_int_equal (inject_windows (&e->g, &e->o, &e->plan), -1);
  assert_true (error_said (e, "drivers ISO"));
  env_free (e);
}

/* hiberfil.sys starting with MAGIC: refused unless it is zeros. */
static void
hibernated (const char *magic, bool refused)
{
  struct env *e = win7 ();
  char host[PATH_MAX], buf[4096] = "";

  memcpy (buf, magic, 4);
  host_path (e, "/hiberfil.sys", host);
  write_file (host, buf, sizeof buf);
  assert_int_equal (inject_windows (&e->g, &e->o, &e->plan),
                    refused ? -1 : 0);
  if (refused) {
    assert_int_equal (e->plan.steps.len, 0);
    assert_true (error_said (e, "hibernated"));
  }
  env_free (e);
}

static void
test_hibernated (void **state)
{
  hibernated ("hibr", true);
  hibernated ("HIBR", true);
  hibernated ("wake", true);
  hibernated ("WAKE", true);
  hibernated ("\0\0\0\0", false);
}

static void
test_hive_missing (void **state)
{
  struct env *e = win7 ();
  char host[PATH_MAX];

  host_path (e, "/Windows/System32/config/SOFTWARE", host);
  assert_int_equal (unlink (host), 0);
  assert_int_equal (inject_windows (&e->g, &e->o, &e->plan), -1);
  assert_true (error_said (e, "no SOFTWARE hive"));
  assert_int_equal (e->plan.steps.len, 0);
  env_free (e);
}

/* SYSTEM hive damaged by DAMAGE: an error naming it, no plan, no
 * crash.  MUST_FAIL false: hivex may not notice (random bytes inside
 * a value), but nothing may crash. */
static void
corrupt (void (*damage) (const char *file), const char *said,
         bool must_fail)
{
  struct env *e = win7 ();
  char host[PATH_MAX];
  int r;

  host_path (e, "/Windows/System32/config/SYSTEM", host);
  damage (host);
  r = inject_windows (&e->g, &e->o, &e->plan);
  if (must_fail || r == -1) {
    assert_int_equal (r, -1);
    assert_int_equal (e->plan.steps.len, 0);
    assert_true (error_said (e, said));
  }
  env_free (e);
}

static void
truncate_hive (const char *file)
{
  assert_int_equal (truncate (file, 100), 0);
}

static void
not_a_hive (const char *file)
{
  write_file (file, "this is not a registry hive", 27);
}

static void
dirty_hive (const char *file)
{
  int fd = open (file, O_RDWR);
  uint8_t seq[4];

  assert_true (fd >= 0);
  store_le32 (seq, 99);
  assert_int_equal (full_pwrite (fd, seq, 4, 4), 0);
  close (fd);
}

/* Clobber every cell header of the first bin: hivex must refuse. */
static void
bad_bin (const char *file)
{
  int fd = open (file, O_RDWR);
  uint8_t junk[4096];

  assert_true (fd >= 0);
  memset (junk, 0x41, sizeof junk);
  assert_int_equal (full_pwrite (fd, junk, sizeof junk, 4096), 0);
  close (fd);
}

/* Pseudo-random bytes over the data: may or may not be noticed. */
static void
scribble (const char *file)
{
  int fd = open (file, O_RDWR);
  struct stat st;
  uint32_t x = 12345;

  assert_true (fd >= 0 && fstat (fd, &st) == 0);
  for (int i = 0; i < 64; i++) {
    uint8_t b[8];
    x = x * 1103515245 + 12345;
    store_le32 (b, x);
    x = x * 1103515245 + 12345;
    store_le32 (b + 4, x);
    assert_int_equal (full_pwrite (fd, b, sizeof b,
                                   4096 + x % (st.st_size - 4104)), 0);
  }
  close (fd);
}

/* Select\Current names a control set that does not exist. */
static void
no_control_set (const char *file)
{
  hive_h *h = hivex_open (file, HIVEX_OPEN_WRITE);
  hive_node_h sel;
  uint8_t le[4];
  hive_set_value v = { .key = (char *) "Current", .t = hive_t_REG_DWORD,
                       .len = 4, .value = (char *) le };

  assert_non_null (h);
  assert_true ((sel = hivex_node_get_child (h, hivex_root (h), "Select")));
  store_le32 (le, 7);
  assert_int_equal (hivex_node_set_value (h, sel, &v, 0), 0);
  assert_int_equal (hivex_commit (h, NULL, 0), 0);
  hivex_close (h);
}

static void
test_hive_corrupt (void **state)
{
  corrupt (truncate_hive, "SYSTEM hive", true);
  corrupt (not_a_hive, "not a registry hive", true);
  corrupt (dirty_hive, "not cleanly written", true);
  corrupt (bad_bin, "SYSTEM hive", true);
  corrupt (no_control_set, "no ControlSet007", true);
  corrupt (scribble, "SYSTEM hive", false);
}

static void
test_old_windows_refused (void **state)
{
  struct env *e = win7 ();

  e->g.major = 4;
  e->g.minor = 0;
  assert_int_equal (inject_windows (&e->g, &e->o, &e->plan), -1);
  assert_true (error_said (e, "only Windows 2000/XP and later"));
  env_free (e);
}

int
main (void)
{
  const char *top = getenv ("top_srcdir");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (test_win7_vmware, teardown),
    cmocka_unit_test_teardown (test_win7_gen2_warns, teardown),
    cmocka_unit_test_teardown (test_win2012r2_virtualbox, teardown),
    cmocka_unit_test_teardown (test_xp_without_iso, teardown),
    cmocka_unit_test_teardown (test_xp_with_iso, teardown),
    cmocka_unit_test_teardown (test_not_an_iso, teardown),
    cmocka_unit_test_teardown (test_hibernated, teardown),
    cmocka_unit_test_teardown (test_hive_missing, teardown),
    cmocka_unit_test_teardown (test_hive_corrupt, teardown),
    cmocka_unit_test_teardown (test_old_windows_refused, teardown),
  };

  snprintf (fixtures, sizeof fixtures, "%s/fixtures/windows",
            top ? top : "..");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
