/* Unit test: other hypervisors' guest tools in Linux guests
 * (linux_plan_tools) on guest trees: masks, removed SysV start links,
 * the Hyper-V daemons recommendation by distribution, and nothing
 * planned the second time. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "injectors.h"
#include "injectors-tree.h"

static const char unit[] = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n";

/* Run linux_plan_tools on ROOT as DISTRO MAJOR into P. */
static void
plan_tools (const char *root, const char *distro, int major,
            struct inj_plan *p)
{
  struct inj_guest g;

  tree_guest (root, &g, distro, major);
  *p = (struct inj_plan) { .nomem = false };
  assert_int_equal (linux_plan_tools (&g, NULL, p), 0);
  inj_fs_dir_free (&g.fs);
}

static void
check_mask (const struct inj_plan *p, const char *unit_name)
{
  char path[PATH_MAX];
  const struct inj_step *s;

  snprintf (path, sizeof path, "/etc/systemd/system/%s", unit_name);
  s = plan_step (p, INJ_STEP_SYMLINK, path);
  if (s == NULL)
    fail_msg ("no mask for %s", unit_name);
  assert_string_equal (s->target, "/dev/null");
}

/* Debian 12 with open-vm-tools (desktop) and a SysV start link. */
static void
test_debian_open_vm_tools (void **state)
{
  char *root = tree_new ();
  struct inj_plan p;

  tree_write (root, "/lib/systemd/system/open-vm-tools.service", unit);
  tree_write (root, "/lib/systemd/system/vgauth.service", unit);
  tree_write (root, "/lib/systemd/system/run-vmblock\\x2dfuse.mount", unit);
  tree_write (root, "/lib/systemd/system/ssh.service", unit);
  tree_write (root, "/etc/init.d/open-vm-tools", "#!/bin/sh\n");
  tree_symlink (root, "../init.d/open-vm-tools", "/etc/rc2.d/S01open-vm-tools");
  tree_symlink (root, "../init.d/open-vm-tools", "/etc/rc5.d/S01open-vm-tools");
  tree_symlink (root, "../init.d/open-vm-tools", "/etc/rc0.d/K01open-vm-tools");
  tree_symlink (root, "../init.d/ssh", "/etc/rc2.d/S01ssh");
  tree_symlink (root, "../init.d/open-vm-tools",
                "/etc/rc2.d/S01open-vm-tools-extra");
  /* Enabled: the alias of open-vm-tools.service and a wants link. */
  tree_symlink (root, "/lib/systemd/system/open-vm-tools.service",
                "/etc/systemd/system/vmtoolsd.service");
  tree_symlink (root, "/lib/systemd/system/open-vm-tools.service",
                "/etc/systemd/system/multi-user.target.wants/"
                "open-vm-tools.service");

  plan_tools (root, "debian", 12, &p);
  assert_int_equal (p.steps.len, 6);
  check_mask (&p, "vmtoolsd.service");
  check_mask (&p, "open-vm-tools.service");
  check_mask (&p, "vgauth.service");
  check_mask (&p, "run-vmblock\\x2dfuse.mount");
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE,
                              "/etc/rc2.d/S01open-vm-tools"));
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE,
                              "/etc/rc5.d/S01open-vm-tools"));
  /* No backup of a start link: a copy in rc2.d would still start. */
  assert_null (plan_step (&p, INJ_STEP_REMOVE,
                          "/etc/rc2.d/S01open-vm-tools")->backup);
  assert_non_null (strstr (plan_step (&p, INJ_STEP_SYMLINK,
                                      "/etc/systemd/system/vgauth.service")->why,
                           "VMware Tools"));
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_RECOMMEND,
                                     "install hyperv-daemons"), 1);
  assert_int_equal (p.notes.len, 1);

  /* Applied, the second run plans nothing and says what it found. */
  tree_apply (root, &p);
  plan_free (&p);
  assert_true (tree_exists (root, "/etc/rc0.d/K01open-vm-tools"));
  assert_true (tree_exists (root, "/etc/rc2.d/S01ssh"));
  plan_tools (root, "debian", 12, &p);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_INFO, "masked already"), 4);
  plan_free (&p);
  tree_free (root);
}

/* RHEL 7: units in /usr/lib, rc directories under /etc/rc.d with the
 * /etc/rcN.d links, the daemons installed. */
static void
test_rhel7_vbox_xen (void **state)
{
  char *root = tree_new ();
  struct inj_plan p;

  tree_write (root, "/usr/lib/systemd/system/vmtoolsd.service", unit);
  tree_write (root, "/usr/lib/systemd/system/vboxadd.service", unit);
  tree_write (root, "/usr/lib/systemd/system/vboxadd-service.service", unit);
  tree_write (root, "/usr/lib/systemd/system/xe-linux-distribution.service",
              unit);
  tree_symlink (root, "../init.d/vboxadd-x11", "/etc/rc.d/rc3.d/S30vboxadd-x11");
  tree_symlink (root, "rc.d/rc3.d", "/etc/rc3.d");
  tree_write (root, "/usr/sbin/hv_kvp_daemon", "");

  plan_tools (root, "rhel", 7, &p);
  check_mask (&p, "vmtoolsd.service");
  check_mask (&p, "vboxadd.service");
  check_mask (&p, "vboxadd-service.service");
  check_mask (&p, "xe-linux-distribution.service");
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE,
                              "/etc/rc.d/rc3.d/S30vboxadd-x11"));
  /* Once, through the real directory. */
  assert_int_equal (p.steps.len, 5);
  assert_int_equal (p.notes.len, 0);
  plan_free (&p);
  tree_free (root);
}

/* A unit file of its own in /etc/systemd/system is kept as a backup and
 * replaced by the mask; a unit that is nowhere is not masked. */
static void
test_own_unit_file (void **state)
{
  char *root = tree_new ();
  struct inj_plan p;
  const struct inj_step *s;

  tree_write (root, "/etc/systemd/system/vboxadd.service", unit);
  tree_write (root, "/usr/sbin/hypervkvpd", "");
  plan_tools (root, "centos", 6, &p);
  assert_int_equal (p.steps.len, 2);
  s = &p.steps.ptr[0];
  assert_int_equal (s->kind, INJ_STEP_REMOVE);
  assert_string_equal (s->path, "/etc/systemd/system/vboxadd.service");
  assert_string_equal (s->backup,
                       "/etc/systemd/system/vboxadd.service.pre-hvconvert");
  assert_int_equal (p.steps.ptr[1].kind, INJ_STEP_SYMLINK);
  tree_apply (root, &p);
  plan_free (&p);
  plan_tools (root, "centos", 6, &p);
  assert_int_equal (p.steps.len, 0);
  plan_free (&p);
  tree_free (root);
}

/* The daemons package by distribution and version. */
static void
test_daemons_packages (void **state)
{
  static const struct {
    const char *distro;
    int major;
    const char *says;
  } cases[] = {
    { "debian", 12, "install hyperv-daemons in" },
    { "debian", 7, "wheezy-backports" },
    { "ubuntu", 22, "install linux-cloud-tools-virtual" },
    { "rhel", 9, "install hyperv-daemons" },
    { "rhel", 6, "install hypervkvpd" },
    { "centos", 6, "install hypervkvpd" },
    { "fedora", 39, "install hyperv-daemons" },
    { "sles", 15, "install hyper-v in" },
    { "opensuse", 15, "install hyper-v in" },
    { "rhel", 5, "knows no package of rhel 5" },
    { "archlinux", 0, "of archlinux 0 that" },
    { "unknown", 0, "install the distribution's Hyper-V daemons" },
  };
  char *root = tree_new ();
  struct inj_plan p;

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    plan_tools (root, cases[i].distro, cases[i].major, &p);
    assert_int_equal (p.steps.len, 0);
    if (plan_notes_with (&p, INJ_NOTE_RECOMMEND, cases[i].says) != 1)
      fail_msg ("%s %d: no recommendation with \"%s\"", cases[i].distro,
                cases[i].major, cases[i].says);
    plan_free (&p);
  }
  /* Installed: nothing to recommend. */
  tree_write (root, "/usr/sbin/hv_kvp_daemon", "");
  plan_tools (root, "debian", 12, &p);
  assert_int_equal (p.notes.len, 0);
  plan_free (&p);
  tree_free (root);
}

/* SysV names: only S, digits, the exact name. */
static void
test_sysv_names (void **state)
{
  char *root = tree_new ();
  struct inj_plan p;

  tree_write (root, "/usr/sbin/hv_kvp_daemon", "");
  tree_symlink (root, "x", "/etc/rcS.d/S10vboxadd");
  tree_symlink (root, "x", "/etc/rc3.d/S99vmware-tools");
  tree_symlink (root, "x", "/etc/rc3.d/Svmware-tools");
  tree_symlink (root, "x", "/etc/rc3.d/S1234vmware-tools");
  tree_symlink (root, "x", "/etc/rc3.d/s99vmware-tools");
  tree_symlink (root, "x", "/etc/rc3.d/S99vmware-tools.dpkg-old");
  tree_symlink (root, "x", "/etc/rc3.d/S99xe-daemon");
  tree_write (root, "/etc/rc4.d", "not a directory");
  plan_tools (root, "debian", 6, &p);
  assert_int_equal (p.steps.len, 3);
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE, "/etc/rcS.d/S10vboxadd"));
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE,
                              "/etc/rc3.d/S99vmware-tools"));
  assert_non_null (plan_step (&p, INJ_STEP_REMOVE, "/etc/rc3.d/S99xe-daemon"));
  plan_free (&p);
  tree_free (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_debian_open_vm_tools),
    cmocka_unit_test (test_rhel7_vbox_xen),
    cmocka_unit_test (test_own_unit_file),
    cmocka_unit_test (test_daemons_packages),
    cmocka_unit_test (test_sysv_names),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
