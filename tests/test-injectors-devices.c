/* Unit test: device names in Linux configuration files.  First the
 * pure rewriter (devnames.c) on samples shaped like real guests'
 * files, and on damaged ones; then linux_plan_devices on guest trees:
 * the plan's writes, backups, warnings, and nothing planned the second
 * time. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "injectors.h"
#include "injectors-tree.h"

#define U1 "UUID=0a1b2c3d-1111-4222-8333-444455556666"
#define U2 "UUID=5e6f7a8b-aaaa-4bbb-8ccc-ddddeeeeffff"
#define U5 "UUID=9c0d1e2f-0000-4000-8000-000000000005"
#define UN1 "UUID=77777777-1111-4222-8333-000000000001"
#define UN2 "UUID=77777777-1111-4222-8333-000000000002"
#define UC1 "UUID=cccccccc-1111-4222-8333-000000000001"
#define UX "UUID=5eaf00d0-0000-4000-8000-00000000000a"
#define UID1 "UUID=1d1d1d1d-0000-4000-8000-000000000001"
#define UID2 "UUID=1d1d1d1d-0000-4000-8000-000000000002"

/* The stable names the fake appliance knows. */
static const struct {
  const char *device, *stable;
} known[] = {
  { "/dev/sda1", U1 },
  { "/dev/sda2", U2 },
  { "/dev/sda5", U5 },
  { "/dev/hda1", "LABEL=/boot" },
  { "/dev/hda2", "LABEL=/" },
  { "/dev/hda3", "LABEL=SWAP-hda3" },
  { "/dev/vda1", "UUID=ada00001-0000-4000-8000-000000000001" },
  { "/dev/xvda1", UX },
  { "/dev/nvme0n1p1", UN1 },
  { "/dev/nvme0n1p2", UN2 },
  { "/dev/cciss/c0d0p1", UC1 },
  { "/dev/disk/by-id/ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part1", UID1 },
  { "/dev/disk/by-id/ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part2", UID2 },
  { "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:0:0-part1", U1 },
  /* Unusable: a label with a space cannot be written unquoted. */
  { "/dev/sdb1", "LABEL=my data" },
};

static const char *
fake_lookup (void *ctx, const char *device)
{
  for (size_t i = 0; i < ARRAY_SIZE (known); i++)
    if (strcmp (known[i].device, device) == 0)
      return known[i].stable;
  return NULL;
}

/* As session.c's stable_name: a new string or NULL. */
static char *
fake_stable_name (void *ctx, const char *device)
{
  const char *s = fake_lookup (ctx, device);

  (*(int *) ctx)++;
  return s ? strdup (s) : NULL;
}

/* Rewrite IN; the result text, or IN itself when unchanged.  The
 * result stays in *RES for the caller to look at and free. */
static const char *
rewrite (enum devname_syntax syntax, const char *in,
         struct devname_result *res)
{
  assert_int_equal (devnames_rewrite (syntax, "test", in, strlen (in),
                                      fake_lookup, NULL, res), 0);
  if (res->text == NULL)
    return in;
  assert_int_equal (strlen (res->text), res->len);
  return res->text;
}

/* IN becomes OUT; NCHANGES names were found. */
static void
check (enum devname_syntax syntax, const char *in, const char *out,
       size_t nchanges)
{
  struct devname_result res;

  assert_string_equal (rewrite (syntax, in, &res), out);
  assert_int_equal (res.changes.len, nchanges);
  if (strcmp (in, out) == 0)
    assert_null (res.text);
  devname_result_free (&res);
}

/* ------------------------------------------------------------------ */

static void
test_classify (void **state)
{
  static const struct {
    const char *name;
    bool unstable;
  } cases[] = {
    { "/dev/sda", true }, { "/dev/sda1", true }, { "/dev/sdab12", true },
    { "/dev/hda2", true }, { "/dev/hdc", true }, { "/dev/vdb3", true },
    { "/dev/xvda1", true }, { "/dev/cciss/c0d0", true },
    { "/dev/cciss/c0d0p1", true }, { "/dev/cciss/c10d2p15", true },
    { "/dev/nvme0n1", true }, { "/dev/nvme0n1p2", true },
    { "/dev/nvme12n3p45", true },
    { "/dev/disk/by-id/ata-ST3500418AS_9VM1234-part1", true },
    { "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_drive0", true },
    { "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part2", true },
    { "/dev/disk/by-path/pci-0000:00:1f.2-ata-1-part1", true },
    /* Stable, or not a disk. */
    { "/dev/disk/by-id/dm-name-vg0-root", false },
    { "/dev/disk/by-id/dm-uuid-LVM-abc", false },
    { "/dev/disk/by-id/md-uuid-01234567:89abcdef", false },
    { "/dev/disk/by-id/lvm-pv-uuid-AbCdEf", false },
    { "/dev/disk/by-uuid/0a1b", false }, { "/dev/disk/by-label/root", false },
    { "/dev/disk/by-id/", false }, { "/dev/disk/by-id/a/b", false },
    { "/dev/mapper/vg0-root", false }, { "/dev/VolGroup00/LogVol00", false },
    { "/dev/md0", false }, { "/dev/md/root", false }, { "/dev/sr0", false },
    { "/dev/scd0", false }, { "/dev/fd0", false }, { "/dev/cdrom", false },
    { "UUID=0a1b", false }, { "LABEL=/", false }, { "PARTUUID=12-01", false },
    { "/dev/sd", false }, { "/dev/sda1x", false }, { "/dev/sdA1", false },
    { "/dev/sda-1", false }, { "/dev/nvme0", false }, { "/dev/nvme0n", false },
    { "/dev/nvme0n1p", false }, { "/dev/nvme0n1q1", false },
    { "/dev/cciss/c0", false }, { "/dev/cciss/c0d0p", false },
    { "dev/sda1", false }, { "/dev/sda1/", false }, { "", false },
    { "none", false }, { "tmpfs", false },
  };
  char longname[DEVNAME_MAX + 2];

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    bool r = devname_unstable (cases[i].name, strlen (cases[i].name));
    if (r != cases[i].unstable)
      fail_msg ("%s: unstable is %d", cases[i].name, r);
  }
  /* A NUL or a blank inside is not part of a name. */
  assert_false (devname_unstable ("/dev/sd\0a1", 10));
  assert_false (devname_unstable ("/dev/sda 1", 10));
  /* Longer than DEVNAME_MAX: not a device name. */
  memset (longname, 'a', sizeof longname);
  memcpy (longname, "/dev/sd", 7);
  assert_true (devname_unstable (longname, DEVNAME_MAX));
  assert_false (devname_unstable (longname, DEVNAME_MAX + 1));
}

static void
test_stable_ok (void **state)
{
  assert_true (devname_stable_ok (U1));
  assert_true (devname_stable_ok ("UUID=ABCD-1234"));   /* vfat */
  assert_true (devname_stable_ok ("UUID=0123456789ABCDEF"));   /* ntfs */
  assert_true (devname_stable_ok ("LABEL=/"));
  assert_true (devname_stable_ok ("LABEL=cloudimg-rootfs"));
  assert_true (devname_stable_ok ("PARTUUID=1234abcd-01"));
  assert_false (devname_stable_ok ("UUID="));
  assert_false (devname_stable_ok ("UUID=xyz"));
  assert_false (devname_stable_ok ("LABEL="));
  assert_false (devname_stable_ok ("LABEL=my data"));
  assert_false (devname_stable_ok ("LABEL=a\"b"));
  assert_false (devname_stable_ok ("LABEL=$(reboot)"));
  assert_false (devname_stable_ok ("LABEL=a\nb"));
  assert_false (devname_stable_ok ("/dev/sda1"));
  assert_false (devname_stable_ok (""));
}

/* ------------------------------------------------------------------ */
/* fstab */

static void
test_fstab_debian (void **state)
{
  static const char in[] =
    "# /etc/fstab: static file system information.\n"
    "#\n"
    "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
    "# / was on /dev/sda1 during installation\n"
    "/dev/sda1 /               ext4    errors=remount-ro 0       1\n"
    "# swap was on /dev/sda5 during installation\n"
    "/dev/sda5 none            swap    sw              0       0\n"
    "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n";
  static const char out[] =
    "# /etc/fstab: static file system information.\n"
    "#\n"
    "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
    "# / was on /dev/sda1 during installation\n"
    U1 " /               ext4    errors=remount-ro 0       1\n"
    "# swap was on /dev/sda5 during installation\n"
    U5 " none            swap    sw              0       0\n"
    "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_FSTAB, in, &res), out);
  assert_int_equal (res.changes.len, 2);
  assert_string_equal (res.changes.ptr[0].old, "/dev/sda1");
  assert_string_equal (res.changes.ptr[0].new, U1);
  assert_string_equal (res.changes.ptr[0].role, "/");
  assert_string_equal (res.changes.ptr[1].old, "/dev/sda5");
  assert_string_equal (res.changes.ptr[1].role, "swap");
  devname_result_free (&res);
}

/* RHEL 5 installs with LVM and LABEL=: nothing to do. */
static void
test_fstab_rhel5_lvm (void **state)
{
  static const char in[] =
    "/dev/VolGroup00/LogVol00 /                       ext3    defaults        1 1\n"
    "LABEL=/boot             /boot                   ext3    defaults        1 2\n"
    "tmpfs                   /dev/shm                tmpfs   defaults        0 0\n"
    "devpts                  /dev/pts                devpts  gid=5,mode=620  0 0\n"
    "sysfs                   /sys                    sysfs   defaults        0 0\n"
    "proc                    /proc                   proc    defaults        0 0\n"
    "/dev/VolGroup00/LogVol01 swap                    swap    defaults        0 0\n";

  check (DEVNAME_FSTAB, in, in, 0);
}

/* RHEL 5 on IDE without LVM: /dev/hdX, labels known; the CD-ROM /dev/hdc
 * has no stable name and stays, reported. */
static void
test_fstab_rhel5_hda (void **state)
{
  static const char in[] =
    "/dev/hda2\t\t/\t\t\text3\tdefaults\t1 1\n"
    "/dev/hda1\t\t/boot\t\t\text3\tdefaults\t1 2\n"
    "/dev/hda3\t\tswap\t\t\tswap\tdefaults\t0 0\n"
    "/dev/hdc\t\t/media/cdrom\t\tauto\tpamconsole,exec,noauto,managed 0 0\n";
  static const char out[] =
    "LABEL=/\t\t/\t\t\text3\tdefaults\t1 1\n"
    "LABEL=/boot\t\t/boot\t\t\text3\tdefaults\t1 2\n"
    "LABEL=SWAP-hda3\t\tswap\t\t\tswap\tdefaults\t0 0\n"
    "/dev/hdc\t\t/media/cdrom\t\tauto\tpamconsole,exec,noauto,managed 0 0\n";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_FSTAB, in, &res), out);
  assert_int_equal (res.changes.len, 4);
  assert_string_equal (res.changes.ptr[3].old, "/dev/hdc");
  assert_null (res.changes.ptr[3].new);
  assert_string_equal (res.changes.ptr[3].role, "/media/cdrom");
  devname_result_free (&res);
}

/* SLES 11 names disks by id; the LVM volume's by-id name stays. */
static void
test_fstab_suse_by_id (void **state)
{
  static const char in[] =
    "/dev/disk/by-id/ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part1 swap                 swap       defaults              0 0\n"
    "/dev/disk/by-id/ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part2 /                    ext3       acl,user_xattr        1 1\n"
    "/dev/disk/by-id/dm-name-system-home /home ext3 acl,user_xattr 1 2\n"
    "proc                 /proc                proc       defaults              0 0\n"
    "sysfs                /sys                 sysfs      noauto                0 0\n";
  static const char out[] =
    UID1 " swap                 swap       defaults              0 0\n"
    UID2 " /                    ext3       acl,user_xattr        1 1\n"
    "/dev/disk/by-id/dm-name-system-home /home ext3 acl,user_xattr 1 2\n"
    "proc                 /proc                proc       defaults              0 0\n"
    "sysfs                /sys                 sysfs      noauto                0 0\n";

  check (DEVNAME_FSTAB, in, out, 2);
}

static void
test_fstab_nvme_cciss_path (void **state)
{
  static const char in[] =
    "/dev/nvme0n1p2 / xfs defaults 0 0\n"
    "/dev/nvme0n1p1 /boot/efi vfat umask=0077,shortname=winnt 0 2\n"
    "/dev/cciss/c0d0p1 /data ext4 defaults,noatime 0 2\n"
    "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:0:0-part1 /srv ext4 defaults 0 2\n"
    "/dev/xvda1 /xen ext4 defaults 0 2\n"
    "/dev/md0 /raid ext4 defaults 0 2\n"
    "/dev/mapper/vg-lv /lv ext4 defaults 0 2\n";
  static const char out[] =
    UN2 " / xfs defaults 0 0\n"
    UN1 " /boot/efi vfat umask=0077,shortname=winnt 0 2\n"
    UC1 " /data ext4 defaults,noatime 0 2\n"
    U1 " /srv ext4 defaults 0 2\n"
    UX " /xen ext4 defaults 0 2\n"
    "/dev/md0 /raid ext4 defaults 0 2\n"
    "/dev/mapper/vg-lv /lv ext4 defaults 0 2\n";

  check (DEVNAME_FSTAB, in, out, 5);
}

/* Names without a usable stable name stay and are listed once each. */
static void
test_fstab_unknown (void **state)
{
  static const char in[] =
    "/dev/sdb1 /data ext4 defaults 0 2\n"       /* label with a space */
    "/dev/sdc1 /backup ext4 defaults 0 2\n"     /* unknown */
    "/dev/sdc1 /again ext4 defaults 0 2\n";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_FSTAB, in, &res), in);
  assert_null (res.text);
  assert_int_equal (res.changes.len, 2);
  assert_null (res.changes.ptr[0].new);
  assert_null (res.changes.ptr[1].new);
  assert_string_equal (res.changes.ptr[1].role, "/backup");
  devname_result_free (&res);
}

/* Spacing, CRLF, a missing final newline, comments after blanks, a
 * field-less line, a line with only the device. */
static void
test_fstab_layout (void **state)
{
  static const char in[] =
    "\t  /dev/sda1\t/  ext4 defaults 0 1\r\n"
    "   # /dev/sda2 /old ext4 defaults 0 0\n"
    "\n"
    "   \t\n"
    "/dev/sda5\n"
    "/dev/sda2 /home ext4 defaults 0 2";
  static const char out[] =
    "\t  " U1 "\t/  ext4 defaults 0 1\r\n"
    "   # /dev/sda2 /old ext4 defaults 0 0\n"
    "\n"
    "   \t\n"
    U5 "\n"
    U2 " /home ext4 defaults 0 2";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_FSTAB, in, &res), out);
  assert_string_equal (res.changes.ptr[1].role, "an incomplete entry");
  devname_result_free (&res);
}

/* NUL bytes count as blanks and are kept; binary junk around. */
static void
test_fstab_nul (void **state)
{
  static const char in[] = "/dev/sda1\0/ ext4\n\xff\xfe/dev/sda2 /x\n\0\0\n";
  static const char out[] = U1 "\0/ ext4\n\xff\xfe/dev/sda2 /x\n\0\0\n";
  struct devname_result res;

  assert_int_equal (devnames_rewrite (DEVNAME_FSTAB, "t", in, sizeof in - 1,
                                      fake_lookup, NULL, &res), 0);
  assert_non_null (res.text);
  assert_int_equal (res.len, sizeof out - 1);
  assert_memory_equal (res.text, out, res.len);
  assert_int_equal (res.changes.len, 1);
  devname_result_free (&res);
}

/* A 300 KB line is handled; a 300-byte "device" is not a device. */
static void
test_fstab_long_lines (void **state)
{
  size_t n = 300 * 1000;
  char *in = malloc (n + 1), *name = malloc (DEVNAME_MAX + 2 + 8);
  struct devname_result res;

  assert_non_null (in);
  assert_non_null (name);
  memset (in, 'x', n);
  memcpy (in, "/dev/sda1 /", 11);
  in[n] = '\0';
  assert_int_equal (devnames_rewrite (DEVNAME_FSTAB, "t", in, n, fake_lookup,
                                      NULL, &res), 0);
  assert_int_equal (res.len, n - 9 + strlen (U1));
  assert_memory_equal (res.text, U1 " /xxx", strlen (U1) + 5);
  devname_result_free (&res);

  memset (name, 'a', DEVNAME_MAX + 1);
  memcpy (name, "/dev/sd", 7);
  strcpy (name + DEVNAME_MAX + 1, " / x\n");
  check (DEVNAME_FSTAB, name, name, 0);
  free (in);
  free (name);
}

/* More different names than the rewriter keeps: refused, not cut. */
static void
test_too_many_names (void **state)
{
  char *in = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&in, &len);
  struct devname_result res;

  assert_non_null (f);
  for (int i = 0; i <= DEVNAME_MAX_NAMES; i++)
    fprintf (f, "/dev/sdz%d /m%d ext4 defaults 0 0\n", i, i);
  fclose (f);
  assert_int_equal (devnames_rewrite (DEVNAME_FSTAB, "t", in, len,
                                      fake_lookup, NULL, &res), -1);
  assert_null (res.text);
  assert_int_equal (res.changes.len, 0);
  free (in);
}

/* No lookup at all: every name is reported, nothing changes. */
static void
test_no_lookup (void **state)
{
  static const char in[] = "/dev/sda1 / ext4 defaults 0 1\n";
  struct devname_result res;

  assert_int_equal (devnames_rewrite (DEVNAME_FSTAB, "t", in, strlen (in),
                                      NULL, NULL, &res), 0);
  assert_null (res.text);
  assert_int_equal (res.changes.len, 1);
  assert_null (res.changes.ptr[0].new);
  devname_result_free (&res);
}

/* ------------------------------------------------------------------ */
/* crypttab */

static void
test_crypttab (void **state)
{
  static const char in[] =
    "# <target name>\t<source device>\t\t<key file>\t<options>\n"
    "sda2_crypt /dev/sda2 none luks,discard\n"
    "cryptswap\t/dev/disk/by-id/ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part1\t"
    "/dev/urandom\tswap,cipher=aes-xts-plain64,size=256\n"
    "home UUID=0a1b2c3d-0000-4000-8000-00000000000f none luks\n"
    "lonely\n";
  static const char out[] =
    "# <target name>\t<source device>\t\t<key file>\t<options>\n"
    "sda2_crypt " U2 " none luks,discard\n"
    "cryptswap\t" UID1 "\t/dev/urandom\tswap,cipher=aes-xts-plain64,size=256\n"
    "home UUID=0a1b2c3d-0000-4000-8000-00000000000f none luks\n"
    "lonely\n";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_CRYPTTAB, in, &res), out);
  assert_int_equal (res.changes.len, 2);
  assert_string_equal (res.changes.ptr[0].role, "sda2_crypt");
  devname_result_free (&res);
}

/* ------------------------------------------------------------------ */
/* GRUB 2 */

static void
test_default_grub (void **state)
{
  static const char in[] =
    "# If you change this file, run 'update-grub' afterwards.\n"
    "GRUB_DEFAULT=0\n"
    "GRUB_TIMEOUT=5\n"
    "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=/dev/sda5\"\n"
    "GRUB_CMDLINE_LINUX=\"root=/dev/sda1 console=ttyS0,115200n8\"\n"
    "#GRUB_CMDLINE_LINUX=\"root=/dev/sda2\"\n"
    "GRUB_CMDLINE_LINUX_RECOVERY=\"root=/dev/sda2\"\n"
    "  export GRUB_CMDLINE_LINUX_DEFAULT='resume=/dev/sda5 splash noresume=/dev/sda2'\n"
    "GRUB_DISABLE_OS_PROBER=root=/dev/sda2\n";
  static const char out[] =
    "# If you change this file, run 'update-grub' afterwards.\n"
    "GRUB_DEFAULT=0\n"
    "GRUB_TIMEOUT=5\n"
    "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet resume=" U5 "\"\n"
    "GRUB_CMDLINE_LINUX=\"root=" U1 " console=ttyS0,115200n8\"\n"
    "#GRUB_CMDLINE_LINUX=\"root=/dev/sda2\"\n"
    "GRUB_CMDLINE_LINUX_RECOVERY=\"root=/dev/sda2\"\n"
    "  export GRUB_CMDLINE_LINUX_DEFAULT='resume=" U5 " splash noresume=/dev/sda2'\n"
    "GRUB_DISABLE_OS_PROBER=root=/dev/sda2\n";
  struct devname_result res;

  assert_string_equal (rewrite (DEVNAME_DEFAULT_GRUB, in, &res), out);
  assert_int_equal (res.changes.len, 2);
  assert_string_equal (res.changes.ptr[0].role, "resume");
  assert_string_equal (res.changes.ptr[1].role, "root");
  devname_result_free (&res);
}

/* SUSE puts resume= on a by-id name in the default line. */
static void
test_default_grub_suse (void **state)
{
  static const char in[] =
    "GRUB_CMDLINE_LINUX_DEFAULT=\"resume=/dev/disk/by-id/"
    "ata-VBOX_HARDDISK_VB1234abcd-5678ef90-part1 splash=silent quiet showopts\"\n";
  static const char out[] =
    "GRUB_CMDLINE_LINUX_DEFAULT=\"resume=" UID1
    " splash=silent quiet showopts\"\n";

  check (DEVNAME_DEFAULT_GRUB, in, out, 1);
}

static void
test_grub_cfg (void **state)
{
  static const char in[] =
    "### BEGIN /etc/grub.d/10_linux ###\n"
    "menuentry 'Debian GNU/Linux' --class debian {\n"
    "\tinsmod ext2\n"
    "\tset root='hd0,msdos1'\n"
    "\tsearch --no-floppy --fs-uuid --set=root 0a1b2c3d\n"
    "\techo\t'Loading Linux 6.1.0-13-amd64 ...'\n"
    "\tlinux\t/boot/vmlinuz-6.1.0-13-amd64 root=/dev/sda1 ro  quiet resume=/dev/sda5\n"
    "\tinitrd\t/boot/initrd.img-6.1.0-13-amd64\n"
    "}\n"
    "submenu 'Advanced options' {\n"
    "\tmenuentry 'recovery' {\n"
    "\t\tlinux16 /vmlinuz root=/dev/sda1 ro single\n"
    "\t\tlinuxefi /vmlinuz root=/dev/nvme0n1p2 ro\n"
    "\t\techo 'root=/dev/sda1'\n"
    "\t\tlinuxx /vmlinuz root=/dev/sda1\n"
    "\t\t# linux /vmlinuz root=/dev/sda1\n"
    "\t}\n"
    "}\n";
  static const char out[] =
    "### BEGIN /etc/grub.d/10_linux ###\n"
    "menuentry 'Debian GNU/Linux' --class debian {\n"
    "\tinsmod ext2\n"
    "\tset root='hd0,msdos1'\n"
    "\tsearch --no-floppy --fs-uuid --set=root 0a1b2c3d\n"
    "\techo\t'Loading Linux 6.1.0-13-amd64 ...'\n"
    "\tlinux\t/boot/vmlinuz-6.1.0-13-amd64 root=" U1 " ro  quiet resume=" U5 "\n"
    "\tinitrd\t/boot/initrd.img-6.1.0-13-amd64\n"
    "}\n"
    "submenu 'Advanced options' {\n"
    "\tmenuentry 'recovery' {\n"
    "\t\tlinux16 /vmlinuz root=" U1 " ro single\n"
    "\t\tlinuxefi /vmlinuz root=" UN2 " ro\n"
    "\t\techo 'root=/dev/sda1'\n"
    "\t\tlinuxx /vmlinuz root=/dev/sda1\n"
    "\t\t# linux /vmlinuz root=/dev/sda1\n"
    "\t}\n"
    "}\n";

  check (DEVNAME_GRUB_CFG, in, out, 3);
}

/* ------------------------------------------------------------------ */
/* GRUB legacy, extlinux, BLS, RESUME */

static void
test_menu_lst_rhel5 (void **state)
{
  static const char in[] =
    "# grub.conf generated by anaconda\n"
    "default=0\n"
    "timeout=5\n"
    "splashimage=(hd0,0)/grub/splash.xpm.gz\n"
    "hiddenmenu\n"
    "title Red Hat Enterprise Linux Server (2.6.18-8.el5)\n"
    "\troot (hd0,0)\n"
    "\tkernel /vmlinuz-2.6.18-8.el5 ro root=/dev/hda2 rhgb quiet resume=/dev/hda3\n"
    "\tinitrd /initrd-2.6.18-8.el5.img\n"
    "title Other\n"
    "\tkernel=/vmlinuz-2.6.18 ro root=/dev/hda2\n"
    "\tkernel /xen.gz root=/dev/hda1";
  static const char out[] =
    "# grub.conf generated by anaconda\n"
    "default=0\n"
    "timeout=5\n"
    "splashimage=(hd0,0)/grub/splash.xpm.gz\n"
    "hiddenmenu\n"
    "title Red Hat Enterprise Linux Server (2.6.18-8.el5)\n"
    "\troot (hd0,0)\n"
    "\tkernel /vmlinuz-2.6.18-8.el5 ro root=LABEL=/ rhgb quiet resume=LABEL=SWAP-hda3\n"
    "\tinitrd /initrd-2.6.18-8.el5.img\n"
    "title Other\n"
    "\tkernel=/vmlinuz-2.6.18 ro root=LABEL=/\n"
    "\tkernel /xen.gz root=LABEL=/boot";

  check (DEVNAME_MENU_LST, in, out, 3);
}

static void
test_extlinux (void **state)
{
  static const char in[] =
    "SERIAL 0 115200\n"
    "DEFAULT linux\n"
    "LABEL linux\n"
    "  KERNEL /boot/vmlinuz\n"
    "  INITRD /boot/initrd.img\n"
    "  APPEND root=/dev/vda1 console=tty0 console=ttyS0,115200\n"
    "LABEL xen\n"
    "  append initrd=/boot/initrd.img root=/dev/xvda1 ro\n"
    "# APPEND root=/dev/sda1\n"
    "LABEL same\n"
    "  Append root=UUID=0a1b2c3d-0000-4000-8000-000000000000\n";
  static const char out[] =
    "SERIAL 0 115200\n"
    "DEFAULT linux\n"
    "LABEL linux\n"
    "  KERNEL /boot/vmlinuz\n"
    "  INITRD /boot/initrd.img\n"
    "  APPEND root=UUID=ada00001-0000-4000-8000-000000000001 console=tty0 console=ttyS0,115200\n"
    "LABEL xen\n"
    "  append initrd=/boot/initrd.img root=" UX " ro\n"
    "# APPEND root=/dev/sda1\n"
    "LABEL same\n"
    "  Append root=UUID=0a1b2c3d-0000-4000-8000-000000000000\n";

  check (DEVNAME_EXTLINUX, in, out, 2);
}

static void
test_bls (void **state)
{
  static const char in[] =
    "title Fedora Linux (6.5.6-300.fc39.x86_64) 39\n"
    "version 6.5.6-300.fc39.x86_64\n"
    "linux /vmlinuz-6.5.6-300.fc39.x86_64\n"
    "options root=/dev/sda2 ro resume=/dev/sda5 rhgb quiet\n"
    "grub_users $grub_users\n";
  static const char out[] =
    "title Fedora Linux (6.5.6-300.fc39.x86_64) 39\n"
    "version 6.5.6-300.fc39.x86_64\n"
    "linux /vmlinuz-6.5.6-300.fc39.x86_64\n"
    "options root=" U2 " ro resume=" U5 " rhgb quiet\n"
    "grub_users $grub_users\n";

  check (DEVNAME_BLS, in, out, 2);
  /* $kernelopts (RHEL 8) is left to grubenv. */
  check (DEVNAME_BLS, "options $kernelopts\n", "options $kernelopts\n", 0);
}

static void
test_resume (void **state)
{
  check (DEVNAME_RESUME, "RESUME=/dev/sda5\n", "RESUME=" U5 "\n", 1);
  check (DEVNAME_RESUME, "RESUME=\"/dev/sda5\"\n", "RESUME=\"" U5 "\"\n", 1);
  check (DEVNAME_RESUME, "  RESUME='/dev/sda5'", "  RESUME='" U5 "'", 1);
  check (DEVNAME_RESUME, "RESUME=none\n", "RESUME=none\n", 0);
  check (DEVNAME_RESUME, "RESUME=UUID=0a1b\n", "RESUME=UUID=0a1b\n", 0);
  check (DEVNAME_RESUME, "# RESUME=/dev/sda5\n", "# RESUME=/dev/sda5\n", 0);
  check (DEVNAME_RESUME, "XRESUME=/dev/sda5\n", "XRESUME=/dev/sda5\n", 0);
}

/* ------------------------------------------------------------------ */

/* Pseudo-random bytes (and bytes biased to the syntax) in every
 * syntax: no crash, and the result rewritten again does not change. */
static void
test_junk (void **state)
{
  static const char *const words[] = {
    "/dev/sda1", "/dev/sda5", "/dev/sdc1", " ", "\t", "\n", "\"", "'",
    "root=", "resume=", "linux ", "kernel=", "APPEND ", "options ",
    "RESUME=", "GRUB_CMDLINE_LINUX=\"", "#", "\0", "/dev/nvme0n1p1",
    "/dev/disk/by-id/x", "\r\n", "\xff",
  };
  uint32_t seed = 12345;
  char buf[4096];

  for (int round = 0; round < 400; round++) {
    size_t len = 0;
    while (len < sizeof buf - 64) {
      seed = seed * 1103515245 + 12345;
      const char *w = words[(seed >> 16) % ARRAY_SIZE (words)];
      size_t n = w[0] ? strlen (w) : 1;
      if ((seed >> 8) % 7 == 0) {
        buf[len++] = (char) (seed >> 3);
        continue;
      }
      memcpy (buf + len, w, n);
      len += n;
    }
    for (int syn = DEVNAME_FSTAB; syn <= DEVNAME_RESUME; syn++) {
      struct devname_result a, b;
      assert_int_equal (devnames_rewrite (syn, "t", buf, len, fake_lookup,
                                          NULL, &a), 0);
      if (a.text) {
        assert_int_equal (devnames_rewrite (syn, "t", a.text, a.len,
                                            fake_lookup, NULL, &b), 0);
        assert_null (b.text);
        devname_result_free (&b);
      }
      devname_result_free (&a);
    }
  }
}

/* ------------------------------------------------------------------ */
/* linux_plan_devices on a guest tree. */

static const char tree_fstab[] =
  "# / was on /dev/sda1 during installation\n"
  "/dev/sda1 / ext4 errors=remount-ro 0 1\n"
  "/dev/sda5 none swap sw 0 0\n"
  "/dev/sdc1 /backup ext4 defaults,nofail 0 2\n";
static const char tree_grub_cfg[] =
  "menuentry 'Debian' {\n"
  "\tlinux /vmlinuz root=/dev/sda1 ro quiet\n"
  "}\n"
  "menuentry 'Debian recovery' {\n"
  "\tlinux /vmlinuz root=/dev/sda1 ro single\n"
  "}\n";

static void
build_debian (const char *root)
{
  tree_write (root, "/etc/fstab", tree_fstab);
  tree_write (root, "/etc/default/grub",
              "GRUB_CMDLINE_LINUX=\"root=/dev/sda1\"\n");
  tree_write (root, "/boot/grub/grub.cfg", tree_grub_cfg);
  tree_write (root, "/etc/initramfs-tools/conf.d/resume",
              "RESUME=/dev/sda5\n");
  tree_write (root, "/etc/default/grub.d/50-cloud.cfg",
              "GRUB_CMDLINE_LINUX_DEFAULT=\"resume=/dev/sda5\"\n");
  tree_write (root, "/etc/default/grub.d/README", "root=/dev/sda1\n");
  tree_write (root, "/boot/loader/entries/a.conf",
              "options root=/dev/nvme0n1p2\n");
  tree_write (root, "/boot/efi/EFI/debian/grub.cfg",
              "search.fs_uuid 0a1b root\nconfigfile ($root)/boot/grub/grub.cfg\n");
  tree_write (root, "/boot/efi/EFI/redhat/grub.cfg",
              "linuxefi /vmlinuz root=/dev/sda2\n");
  tree_write (root, "/etc/crypttab", "# <target name> <source device>\n");
}

static void
test_plan_debian (void **state)
{
  char *root = tree_new ();
  struct inj_guest g;
  struct inj_plan p = { .nomem = false };
  const struct inj_step *s;
  int calls = 0;

  build_debian (root);
  tree_guest (root, &g, "debian", 12);
  g.stable_name = fake_stable_name;
  g.stable_ctx = &calls;
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);

  assert_int_equal (p.steps.len, 7);
  s = plan_step (&p, INJ_STEP_WRITE, "/etc/fstab");
  assert_non_null (s);
  assert_string_equal (s->content,
                       "# / was on /dev/sda1 during installation\n"
                       U1 " / ext4 errors=remount-ro 0 1\n"
                       U5 " none swap sw 0 0\n"
                       "/dev/sdc1 /backup ext4 defaults,nofail 0 2\n");
  assert_int_equal (s->mode, 0644);
  assert_string_equal (s->backup, "/etc/fstab.pre-hvconvert");
  assert_string_equal (s->why, "/dev/sda1 -> " U1 " (/), /dev/sda5 -> " U5
                       " (swap)");
  s = plan_step (&p, INJ_STEP_WRITE, "/boot/grub/grub.cfg");
  assert_non_null (s);
  assert_non_null (strstr (s->content, "\tlinux /vmlinuz root=" U1
                           " ro single\n"));
  assert_int_equal (s->mode, 0600);
  assert_string_equal (s->why, "/dev/sda1 -> " U1 " (root)");
  s = plan_step (&p, INJ_STEP_WRITE, "/etc/initramfs-tools/conf.d/resume");
  assert_non_null (s);
  assert_string_equal (s->content, "RESUME=" U5 "\n");
  /* Not in conf.d, where mkinitramfs would source it. */
  assert_string_equal (s->backup, "/etc/initramfs-tools/resume.pre-hvconvert");
  assert_non_null (plan_step (&p, INJ_STEP_WRITE, "/etc/default/grub"));
  assert_non_null (plan_step (&p, INJ_STEP_WRITE,
                              "/etc/default/grub.d/50-cloud.cfg"));
  assert_non_null (plan_step (&p, INJ_STEP_WRITE,
                              "/boot/loader/entries/a.conf"));
  assert_non_null (plan_step (&p, INJ_STEP_WRITE,
                              "/boot/efi/EFI/redhat/grub.cfg"));
  /* The unknown disk is a warning, once. */
  assert_int_equal (p.notes.len, 1);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_WARN,
                                     "/etc/fstab: /dev/sdc1 (/backup)"), 1);
  /* Each name asked once: sda1, sda5, sdc1, nvme0n1p2, sda2. */
  assert_int_equal (calls, 5);

  /* The second run plans nothing but the same warning. */
  tree_apply (root, &p);
  plan_free (&p);
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (p.notes.len, 1);
  plan_free (&p);
  inj_fs_dir_free (&g.fs);
  tree_free (root);
}

/* RHEL 5: menu.lst and grub.conf (the one a link to the other) and
 * LABEL= names. */
static void
test_plan_rhel5 (void **state)
{
  char *root = tree_new ();
  struct inj_guest g;
  struct inj_plan p = { .nomem = false };
  const struct inj_step *s;
  int calls = 0;

  tree_write (root, "/etc/fstab", "/dev/hda2 / ext3 defaults 1 1\n"
              "/dev/hda1 /boot ext3 defaults 1 2\n");
  tree_write (root, "/boot/grub/grub.conf",
              "title RHEL\n\troot (hd0,0)\n"
              "\tkernel /vmlinuz-2.6.18 ro root=/dev/hda2\n");
  tree_symlink (root, "./grub.conf", "/boot/grub/menu.lst");
  tree_guest (root, &g, "rhel", 5);
  g.stable_name = fake_stable_name;
  g.stable_ctx = &calls;
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  s = plan_step (&p, INJ_STEP_WRITE, "/etc/fstab");
  assert_non_null (s);
  assert_string_equal (s->content, "LABEL=/ / ext3 defaults 1 1\n"
                       "LABEL=/boot /boot ext3 defaults 1 2\n");
  s = plan_step (&p, INJ_STEP_WRITE, "/boot/grub/grub.conf");
  assert_non_null (s);
  assert_non_null (strstr (s->content, "ro root=LABEL=/\n"));
  /* Not through the link: apply would replace it by a copy. */
  assert_null (plan_step (&p, INJ_STEP_WRITE, "/boot/grub/menu.lst"));
  assert_int_equal (p.steps.len, 2);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_INFO, "/boot/grub/menu.lst "
                                     "is a link to /boot/grub/grub.conf"), 1);
  plan_free (&p);

  /* Debian's GRUB legacy: menu.lst is the file; a grub.conf copy with
   * other content is a file of its own. */
  tree_write (root, "/boot/grub/menu.lst",
              "title Debian\nkernel /vmlinuz root=/dev/hda2 ro\n");
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  assert_non_null (plan_step (&p, INJ_STEP_WRITE, "/boot/grub/menu.lst"));
  assert_non_null (plan_step (&p, INJ_STEP_WRITE, "/boot/grub/grub.conf"));
  assert_int_equal (p.notes.len, 0);
  plan_free (&p);
  inj_fs_dir_free (&g.fs);
  tree_free (root);
}

/* Without stable names, every unstable name is a warning and nothing
 * is written; a guest without the files has nothing to do. */
static void
test_plan_no_names (void **state)
{
  char *root = tree_new ();
  struct inj_guest g;
  struct inj_plan p = { .nomem = false };

  tree_guest (root, &g, "debian", 12);
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (p.notes.len, 0);

  build_debian (root);
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  assert_int_equal (p.steps.len, 0);
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_WARN, "/dev/sda1 (/)"), 1);
  /* fstab 3, default/grub, grub.d, grub.cfg, resume, BLS, EFI: 1 each. */
  assert_int_equal (plan_notes_with (&p, INJ_NOTE_WARN, "is left as it is"),
                    9);
  plan_free (&p);
  inj_fs_dir_free (&g.fs);
  tree_free (root);
}

/* A configuration file too big to be one, or not a file, is an error. */
static void
test_plan_bad_files (void **state)
{
  char *root = tree_new ();
  struct inj_guest g;
  struct inj_plan p = { .nomem = false };
  size_t big = 1024 * 1024 + 1;
  char *junk = calloc (1, big);

  assert_non_null (junk);
  tree_write_n (root, "/etc/fstab", junk, big);
  tree_guest (root, &g, "debian", 12);
  assert_int_equal (linux_plan_devices (&g, NULL, &p), -1);
  plan_free (&p);
  /* Binary junk of a legal size is read and left alone. */
  for (size_t i = 0; i < 65536; i++)
    junk[i] = (char) (i * 7919 >> 3);
  tree_write_n (root, "/etc/fstab", junk, 65536);
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  plan_free (&p);
  /* A directory where a file should be is skipped. */
  tree_write (root, "/etc/fstab", "");
  tree_mkdir (root, "/etc/crypttab");
  assert_int_equal (linux_plan_devices (&g, NULL, &p), 0);
  assert_int_equal (p.steps.len, 0);
  plan_free (&p);
  free (junk);
  inj_fs_dir_free (&g.fs);
  tree_free (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_classify),
    cmocka_unit_test (test_stable_ok),
    cmocka_unit_test (test_fstab_debian),
    cmocka_unit_test (test_fstab_rhel5_lvm),
    cmocka_unit_test (test_fstab_rhel5_hda),
    cmocka_unit_test (test_fstab_suse_by_id),
    cmocka_unit_test (test_fstab_nvme_cciss_path),
    cmocka_unit_test (test_fstab_unknown),
    cmocka_unit_test (test_fstab_layout),
    cmocka_unit_test (test_fstab_nul),
    cmocka_unit_test (test_fstab_long_lines),
    cmocka_unit_test (test_too_many_names),
    cmocka_unit_test (test_no_lookup),
    cmocka_unit_test (test_crypttab),
    cmocka_unit_test (test_default_grub),
    cmocka_unit_test (test_default_grub_suse),
    cmocka_unit_test (test_grub_cfg),
    cmocka_unit_test (test_menu_lst_rhel5),
    cmocka_unit_test (test_extlinux),
    cmocka_unit_test (test_bls),
    cmocka_unit_test (test_resume),
    cmocka_unit_test (test_junk),
    cmocka_unit_test (test_plan_debian),
    cmocka_unit_test (test_plan_rhel5),
    cmocka_unit_test (test_plan_no_names),
    cmocka_unit_test (test_plan_bad_files),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
