/* Unit test: network adapter names (linux_plan_network) on guest trees.
 * One slot-named adapter in ifupdown, netplan, RHEL's ifcfg,
 * NetworkManager or networkd configuration gets a .link file naming
 * Hyper-V's adapter so (and a second run plans nothing); kernel names,
 * bonds, globs and words that are not names are left out; several
 * adapters, or a guest without systemd's udev, get a warning and no
 * step. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "injectors.h"
#include "injectors-tree.h"

#define LINK "/etc/systemd/network/10-hvconvert-hyperv.link"

static void
plan_net (const char *root, struct inj_plan *p)
{
  struct inj_guest g;

  tree_guest (root, &g, "debian", 12);
  *p = (struct inj_plan) { .nomem = false };
  assert_int_equal (linux_plan_network (&g, NULL, p), 0);
  inj_fs_dir_free (&g.fs);
}

/* A tree with systemd's udev (at PATH) and the file FILE holding TEXT. */
static char *
guest_with (const char *udevd, const char *file, const char *text)
{
  char *root = tree_new ();

  if (udevd)
    tree_write (root, udevd, "\177ELF");
  if (file)
    tree_write (root, file, text);
  return root;
}

/* The plan names the Hyper-V adapter NAME, and applied, a second run
 * plans nothing and says so. */
static void
check_named (char *root, const char *name)
{
  struct inj_plan p;
  const struct inj_step *s;
  char want[64];

  plan_net (root, &p);
  s = plan_step (&p, INJ_STEP_WRITE, LINK);
  if (s == NULL)
    fail_msg ("no .link file for %s", name);
  snprintf (want, sizeof want, "\nName=%s\n", name);
  assert_non_null (strstr (s->content, want));
  assert_non_null (strstr (s->content, "[Match]\nDriver=hv_netvsc\n"));
  assert_int_equal (s->mode, 0644);
  tree_apply (root, &p);
  plan_free (&p);

  plan_net (root, &p);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_INFO, name), 1);
  plan_free (&p);
  tree_free (root);
}

/* Debian's ifupdown, a VLAN on the adapter and a loopback. */
static void
test_ifupdown (void **state)
{
  check_named (guest_with ("/lib/systemd/systemd-udevd",
                           "/etc/network/interfaces",
                           "auto lo\niface lo inet loopback\n\n"
                           "# The primary network interface\n"
                           "allow-hotplug ens192\n"
                           "iface ens192 inet static\n"
                           "    address 192.0.2.10/24\n"
                           "auto ens192.100\n"
                           "iface ens192.100 inet manual\n"),
               "ens192");
}

/* The directory of the link files is made when missing; the name is in
 * interfaces.d. */
static void
test_interfaces_d (void **state)
{
  char *root = guest_with ("/lib/systemd/systemd-udevd",
                           "/etc/network/interfaces",
                           "source /etc/network/interfaces.d/*\n");
  struct inj_plan p;

  tree_write (root, "/etc/network/interfaces.d/eno1",
              "auto eno1\niface eno1 inet dhcp\n");
  plan_net (root, &p);
  assert_non_null (plan_step (&p, INJ_STEP_MKDIR, "/etc/systemd/network"));
  plan_free (&p);
  check_named (root, "eno1");
}

/* Ubuntu's netplan: the keys under ethernets, not those deeper down,
 * not a match id that is no adapter name. */
static void
test_netplan (void **state)
{
  char *root = guest_with ("/usr/lib/systemd/systemd-udevd",
                           "/etc/netplan/50-cloud-init.yaml",
                           "# written by cloud-init\n"
                           "network:\n"
                           "    ethernets:\n"
                           "        enp0s3:\n"
                           "            dhcp4: true\n"
                           "            nameservers:\n"
                           "                addresses: [192.0.2.1]\n"
                           "        lan:\n"
                           "            match:\n"
                           "                macaddress: 52:54:00:12:34:56\n"
                           "    version: 2\n");

  tree_write (root, "/etc/netplan/notes.txt", "ethernets:\n  ens7:\n");
  check_named (root, "enp0s3");
}

/* RHEL's ifcfg files (DEVICE= inside), next to the ifup scripts that
 * say DEVICE= too, and biosdevname's em1 in SUSE's directory. */
static void
test_ifcfg (void **state)
{
  char *root = guest_with ("/usr/lib/systemd/systemd-udevd",
                           "/etc/sysconfig/network-scripts/ifcfg-ens192",
                           "TYPE=Ethernet\nBOOTPROTO=dhcp\n"
                           "DEVICE=\"ens192\"\nONBOOT=yes\n");

  tree_write (root, "/etc/sysconfig/network-scripts/ifcfg-lo",
              "DEVICE=lo\n");
  tree_write (root, "/etc/sysconfig/network-scripts/ifup-eth",
              "DEVICE=${1}\nDEVICE=ens999\n");
  check_named (root, "ens192");

  root = guest_with ("/usr/lib/systemd/systemd-udevd",
                     "/etc/sysconfig/network/ifcfg-em1",
                     "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n");
  tree_write (root, "/etc/sysconfig/network/config", "DEVICE=p9p9\n");
  check_named (root, "em1");
}

/* NetworkManager keyfiles and networkd: one adapter in two files. */
static void
test_keyfile_networkd (void **state)
{
  char *root = guest_with ("/usr/lib/systemd/systemd-udevd",
                           "/etc/NetworkManager/system-connections/"
                           "Wired connection 1.nmconnection",
                           "[connection]\nid=Wired connection 1\n"
                           "type=ethernet\ninterface-name=enp1s0\n");

  tree_write (root, "/etc/systemd/network/20-wired.network",
              "[Match]\nName=enp1s0\n\n[Network]\nDHCP=yes\n");
  tree_write (root, "/etc/systemd/network/99-all.network",
              "[Match]\nName=en*\n");
  check_named (root, "enp1s0");
}

/* Nothing to do: kernel names, bonds and bridges, no configuration. */
static void
test_kernel_names (void **state)
{
  char *root = guest_with ("/lib/systemd/systemd-udevd",
                           "/etc/network/interfaces",
                           "auto eth0 bond0 br0\niface eth0 inet dhcp\n"
                           "iface bond0 inet manual\n"
                           "iface br0 inet dhcp\n  bridge_ports eth0\n"
                           "iface enterprise inet manual\n");
  struct inj_plan p;

  plan_net (root, &p);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (p.notes.len, 0);
  plan_free (&p);
  tree_free (root);

  root = guest_with ("/lib/systemd/systemd-udevd", NULL, NULL);
  plan_net (root, &p);
  assert_int_equal (p.steps.len + p.notes.len, 0);
  plan_free (&p);
  tree_free (root);
}

/* Two adapters (which is which is not known), or no systemd udev: a
 * warning naming them, nothing written. */
static void
test_warnings (void **state)
{
  char *root = guest_with ("/lib/systemd/systemd-udevd",
                           "/etc/network/interfaces",
                           "auto ens192 ens224\n"
                           "iface ens192 inet dhcp\niface ens224 inet dhcp\n");
  struct inj_plan p;

  plan_net (root, &p);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_WARN, "ens192, ens224"), 1);
  plan_free (&p);
  tree_free (root);

  root = guest_with (NULL, "/etc/sysconfig/network-scripts/ifcfg-p2p1",
                     "DEVICE=p2p1\n");
  plan_net (root, &p);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_WARN, "p2p1"), 1);
  plan_free (&p);
  tree_free (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ifupdown),
    cmocka_unit_test (test_interfaces_d),
    cmocka_unit_test (test_netplan),
    cmocka_unit_test (test_ifcfg),
    cmocka_unit_test (test_keyfile_networkd),
    cmocka_unit_test (test_kernel_names),
    cmocka_unit_test (test_warnings),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
