/* injectors/: the plan (steps, notes, JSON), the guest device names
 * (stable-name.c) and the guest file view over a directory (fs-dir.c),
 * including links that try to leave the guest's root. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "injectors.h"
#include "hypervisor.h"

static void
test_plan_steps_and_json (void **state)
{
  struct inj_plan p = { 0 };
  char *argv[] = { "update-initramfs", "-u", NULL }, *json;

  assert_int_equal (plan_write (&p, "/etc/a", "x\"y", 3, 0644, "/etc/a.bak",
                                "because %d", 1), 0);
  assert_int_equal (plan_symlink (&p, "/dev/null", "/etc/u.service",
                                  "mask"), 0);
  assert_int_equal (plan_command (&p, argv, "rebuild"), 0);
  assert_int_equal (plan_note (&p, INJ_NOTE_WARN, "no %s", "hv"), 0);
  assert_int_equal (p.steps.len, 3);
  assert_string_equal (p.steps.ptr[0].why, "because 1");
  assert_int_equal (p.steps.ptr[0].len, 3);
  assert_memory_equal (p.steps.ptr[0].content, "x\"y", 3);
  assert_string_equal (p.steps.ptr[2].argv[1], "-u");
  json = plan_json (&p);
  assert_non_null (json);
  assert_non_null (strstr (json, "\"steps\":[{\"action\":\"write\",\"path\":"
                           "\"/etc/a\",\"why\":\"because 1\""));
  assert_non_null (strstr (json, "\"backup\":\"/etc/a.bak\""));
  assert_non_null (strstr (json, "\"argv\":[\"update-initramfs\",\"-u\"]"));
  assert_non_null (strstr (json, "\"notes\":[{\"level\":\"warning\","
                           "\"text\":\"no hv\"}]"));
  free (json);
  plan_free (&p);
  assert_int_equal (p.steps.len, 0);
  json = plan_json (&p);
  assert_string_equal (json, "{\"steps\":[],\"notes\":[]}");
  free (json);
}

struct dev_case {
  const char *name;
  int ok;
  unsigned disk, part;
};

static void
test_parse_device (void **state)
{
  static const struct dev_case cases[] = {
    { "/dev/sda", 0, 0, 0 }, { "/dev/sda1", 0, 0, 1 },
    { "/dev/hdb3", 0, 1, 3 }, { "/dev/vdc", 0, 2, 0 },
    { "/dev/xvda2", 0, 0, 2 }, { "/dev/sdaa1", 0, 26, 1 },
    { "/dev/cciss/c0d1p2", 0, 1, 2 }, { "/dev/cciss/c0d0", 0, 0, 0 },
    { "/dev/nvme0n1p3", 0, 0, 3 }, { "/dev/nvme1n1", 0, 1, 0 },
    { "/dev/sr0", -1, 0, 0 }, { "/dev/mapper/vg-root", -1, 0, 0 },
    { "/dev/md0", -1, 0, 0 }, { "UUID=1234", -1, 0, 0 },
    { "/dev/sda1x", -1, 0, 0 }, { "/dev/nvme0n1p", -1, 0, 0 },
    { "/dev/sdabcd1", -1, 0, 0 }, { "/dev/sda99999999999", -1, 0, 0 },
    { "/dev/", -1, 0, 0 }, { "/dev/sd", -1, 0, 0 },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned d = 99, p = 99;
    int r = inj_parse_device (cases[i].name, &d, &p);
    if (r != cases[i].ok)
      fail_msg ("%s: %d, expected %d", cases[i].name, r, cases[i].ok);
    if (r == 0 && (d != cases[i].disk || p != cases[i].part))
      fail_msg ("%s: disk %u part %u", cases[i].name, d, p);
  }
}

/* hv_udev_partition (hypervisor/guestfs-mounts.c, which stable-name.c
 * uses): by-id and by-path names of partitions, the number after the last
 * "-part"; whole disks, other directories and junk are refused. */
static void
test_parse_udev_part (void **state)
{
  static const struct {
    const char *name;
    int ok;
    unsigned part;
  } cases[] = {
    { "/dev/disk/by-id/ata-VBOX_HARDDISK_VB2d7c4a1e-1f9a3b62-part1", 0, 1 },
    { "/dev/disk/by-id/scsi-36000c29f1a2b3c4d5e6f708192a3b4c5-part12", 0, 12 },
    { "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part3", 0, 3 },
    { "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:0:0-part2", 0, 2 },
    { "/dev/disk/by-id/usb-a-part-b-part4", 0, 4 },
    { "/dev/disk/by-id/ata-VBOX_CD-ROM_VB2-01700376", -1, 0 },
    { "/dev/disk/by-id/ata-VBOX_HARDDISK_VB2d7c4a1e-1f9a3b62", -1, 0 },
    { "/dev/disk/by-id/x-part0", -1, 0 },
    { "/dev/disk/by-id/x-part", -1, 0 },
    { "/dev/disk/by-id/x-part1a", -1, 0 },
    { "/dev/disk/by-id/-part1", -1, 0 },
    { "/dev/disk/by-id/x-part99999999999", -1, 0 },
    { "/dev/disk/by-id/sub/x-part1", -1, 0 },
    { "/dev/disk/by-uuid/x-part1", -1, 0 },
    { "/dev/sda1", -1, 0 },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned p = 99;
    int r = hv_udev_partition (cases[i].name, &p);
    if (r != cases[i].ok)
      fail_msg ("%s: %d, expected %d", cases[i].name, r, cases[i].ok);
    if (r == 0 && p != cases[i].part)
      fail_msg ("%s: part %u", cases[i].name, p);
  }
}

static void
test_sysconfig_kernel (void **state)
{
  const char *const mods[] = { "hv_vmbus", "ata_piix", "sd_mod", NULL };
  bool nomem;
  char *t;

  /* SLES 11's file: two of the three are missing. */
  t = sysconfig_add_modules ("## Type: string\nINITRD_MODULES=\"piix "
                             "ata_piix processor\"\nDOMU=\"\"\n", mods,
                             &nomem);
  assert_non_null (t);
  assert_string_equal (t, "## Type: string\nINITRD_MODULES=\"piix ata_piix "
                       "processor hv_vmbus sd_mod\"\nDOMU=\"\"\n");
  free (t);
  /* All there (ata_piix not confused with piix): nothing to do. */
  assert_null (sysconfig_add_modules ("  INITRD_MODULES=\"hv_vmbus sd_mod\t"
                                      "ata_piix\"\n", mods, &nomem));
  assert_false (nomem);
  /* An empty value, and no line at all (no final newline either). */
  t = sysconfig_add_modules ("INITRD_MODULES=\"\"\n", mods, &nomem);
  assert_string_equal (t, "INITRD_MODULES=\"hv_vmbus ata_piix sd_mod\"\n");
  free (t);
  t = sysconfig_add_modules ("X=1", mods, &nomem);
  assert_string_equal (t, "X=1\n# Added by hvconvert inject: the Hyper-V "
                       "drivers.\nINITRD_MODULES=\"hv_vmbus ata_piix "
                       "sd_mod\"\n");
  free (t);
  /* A value that does not close on its line: left alone. */
  assert_null (sysconfig_add_modules ("INITRD_MODULES=\"a\nb\"\n", mods,
                                      &nomem));
  assert_false (nomem);
}

/* A guest tree: /etc/fstab, /lib -> usr/lib, an absolute link that
 * would leave the root on the host, and a ".." chain. */
static char root[64];

static int
setup_tree (void **state)
{
  char cmd[512];

  snprintf (root, sizeof root, "/tmp/test-injectors-plan.XXXXXX");
  if (mkdtemp (root) == NULL)
    return -1;
  snprintf (cmd, sizeof cmd,
            "cd %s && mkdir -p etc usr/lib/modules/6.1 boot && "
            "printf 'UUID=1 / ext4 defaults 0 1\\n' >etc/fstab && "
            "ln -s usr/lib lib && ln -s /etc/passwd etc/escape && "
            "echo guest >etc/passwd && ln -s ../../../../etc/passwd "
            "boot/up && ln -s loop etc/loop && ln -s loop2 etc/loop2 && "
            "ln -s loop etc/loop2b && ln -s /etc/loop2 etc/loop3",
            root);
  return system (cmd) == 0 ? 0 : -1;
}

static int
teardown_tree (void **state)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf %s", root);
  return system (cmd) == 0 ? 0 : -1;
}

static void
test_fs_dir (void **state)
{
  struct inj_fs fs;
  size_t len;
  char *s, **v;

  assert_int_equal (inj_fs_dir (root, &fs), 0);
  assert_int_equal (fs.exists (fs.ctx, "/etc/fstab"), 1);
  assert_int_equal (fs.exists (fs.ctx, "/etc/nothing"), 0);
  assert_int_equal (fs.is_dir (fs.ctx, "/lib/modules"), 1);
  assert_int_equal (fs.is_dir (fs.ctx, "/etc/fstab"), 0);
  s = fs.read (fs.ctx, "/etc/fstab", 1024, &len);
  assert_non_null (s);
  assert_int_equal (len, 27);
  free (s);
  assert_null (fs.read (fs.ctx, "/etc/fstab", 10, &len));   /* too big */
  /* Links resolve inside the guest: the guest's /etc/passwd. */
  s = fs.read (fs.ctx, "/etc/escape", 1024, &len);
  assert_non_null (s);
  assert_string_equal (s, "guest\n");
  free (s);
  s = fs.read (fs.ctx, "/boot/up", 1024, &len);
  assert_non_null (s);
  assert_string_equal (s, "guest\n");
  free (s);
  assert_null (fs.read (fs.ctx, "/etc/loop", 1024, &len));
  assert_null (fs.read (fs.ctx, "/etc/loop3", 1024, &len));
  s = fs.pread (fs.ctx, "/etc/fstab", 4, 7, &len);
  assert_non_null (s);
  assert_string_equal (s, "/ ex");
  free (s);
  v = fs.ls (fs.ctx, "/lib/modules");
  assert_non_null (v);
  assert_string_equal (v[0], "6.1");
  assert_null (v[1]);
  strings_free (v);
  s = fs.readlink (fs.ctx, "/lib");
  assert_string_equal (s, "usr/lib");
  free (s);
  inj_fs_dir_free (&fs);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plan_steps_and_json),
    cmocka_unit_test (test_parse_device),
    cmocka_unit_test (test_parse_udev_part),
    cmocka_unit_test (test_sysconfig_kernel),
    cmocka_unit_test_setup_teardown (test_fs_dir, setup_tree, teardown_tree),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
