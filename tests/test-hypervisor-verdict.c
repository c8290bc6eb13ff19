/* Unit test: the hypervisor's pure parts.  Console messages give their
 * verdicts (a missing root before the panic it causes); the report
 * counts only with this run's nonce, between begin and end; a boot
 * sector without code is caught; the profiles put the hardware where
 * the VM model says, refuse gen1-enlightened under TCG, and keep odd
 * file names inside their option. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "hypervisor.h"

static const char nonce[] = "0123456789abcdef0123456789abcdef";

static void
test_console (void **state)
{
  const char *why = NULL;

  assert_int_equal (hv_console_verdict ("Booting...\nNo bootable device.\n",
                                        &why),
                    HV_VERDICT_NO_BOOTABLE_DEVICE);
  assert_non_null (why);
  assert_int_equal (hv_console_verdict ("ALERT!  UUID=x does not exist.  "
                                        "Dropping to a shell!", &why),
                    HV_VERDICT_ROOT_NOT_FOUND);
  /* The panic a missing root causes is reported as the missing root. */
  assert_int_equal (hv_console_verdict ("Kernel panic - not syncing: VFS: "
                                        "Unable to mount root fs on "
                                        "unknown-block(0,0)", &why),
                    HV_VERDICT_ROOT_NOT_FOUND);
  assert_int_equal (hv_console_verdict ("Kernel panic - not syncing: "
                                        "Attempted to kill init!", &why),
                    HV_VERDICT_KERNEL_PANIC);
  assert_int_equal (hv_console_verdict ("Missing operating system.", &why),
                    HV_VERDICT_BOOTLOADER_FAILED);
  assert_int_equal (hv_console_verdict ("UEFI Interactive Shell v2.2", &why),
                    HV_VERDICT_NO_BOOTABLE_DEVICE);
  assert_int_equal (hv_console_verdict ("login: ", &why), HV_VERDICT_NONE);
  assert_int_equal (hv_console_verdict (NULL, &why), HV_VERDICT_NONE);
  assert_string_equal (hv_verdict_name (HV_VERDICT_ROOT_NOT_FOUND),
                       "root-not-found");
}

static void
test_report (void **state)
{
  char *j;

  j = hv_report_parse ("junk\r\nHVCONVERT-REPORT 0123456789abcdef0123456789"
                       "abcdef begin\r\n"
                       "HVCONVERT-REPORT 0123456789abcdef0123456789abcdef "
                       "kernel 6.1.0-56-amd64\r\n"
                       "HVCONVERT-REPORT ffffffffffffffffffffffffffffffff "
                       "root /dev/forged\n"
                       "HVCONVERT-REPORT 0123456789abcdef0123456789abcdef "
                       "Bad\"Key x\n"
                       "HVCONVERT-REPORT 0123456789abcdef0123456789abcdef "
                       "hv-modules-loaded\n"
                       "HVCONVERT-REPORT 0123456789abcdef0123456789abcdef "
                       "end\n", nonce);
  assert_non_null (j);
  assert_string_equal (j, "{\"kernel\":\"6.1.0-56-amd64\","
                       "\"hv-modules-loaded\":\"\"}");
  free (j);
  /* No end: not a report.  Another run's nonce: not ours. */
  assert_null (hv_report_parse ("HVCONVERT-REPORT 0123456789abcdef012345678"
                                "9abcdef begin\n", nonce));
  assert_null (hv_report_parse ("HVCONVERT-REPORT ffffffffffffffffffffffff"
                                "ffffffff begin\nHVCONVERT-REPORT fffffff"
                                "fffffffffffffffffffffffff end\n", nonce));
  /* An end before any begin does not count either. */
  assert_null (hv_report_parse ("HVCONVERT-REPORT 0123456789abcdef012345678"
                                "9abcdef end\n", nonce));
  assert_null (hv_report_parse ("x", "short"));
}

static void
test_boot_sector (void **state)
{
  uint8_t s[512] = { 0 };
  const char *why;

  assert_int_equal (hv_boot_sector_verdict (s, &why), HV_VERDICT_NONE);
  s[510] = 0x55;
  s[511] = 0xaa;
  s[446 + 4] = 0x83;
  assert_int_equal (hv_boot_sector_verdict (s, &why),
                    HV_VERDICT_NO_BOOTABLE_DEVICE);
  s[0] = 0xfa;
  assert_int_equal (hv_boot_sector_verdict (s, &why), HV_VERDICT_NONE);
}

/* True if ARGV has the two words A B in a row. */
static bool
has_pair (char **argv, const char *a, const char *b)
{
  for (size_t i = 0; argv[i] && argv[i + 1]; i++)
    if (strcmp (argv[i], a) == 0 && strcmp (argv[i + 1], b) == 0)
      return true;
  return false;
}

static void
test_profiles (void **state)
{
  char *paths[] = { "a.vhd", "b.vhd", "c.vhd" };
  char *drives[] = { "/w/d,0.qcow2", "/w/d\"1.qcow2", "/w/d2.qcow2" };
  char *formats[] = { "qcow2", "qcow2", "qcow2" };
  const struct vm_nic nic = { .mac = "00:15:5d:01:02:03" };
  struct vm *vm = vm_from_disks (paths, 3);
  struct hv_machine m = {
    .profile = HV_PROFILE_GEN1, .accel = HV_ACCEL_TCG, .vm = vm,
    .drives = drives, .drive_formats = formats, .console = "/l/c,1.log",
    .report = "/l/r.log", .qmp_socket = "/w/q.sock",
  };
  struct hv_argv a = { 0 };

  assert_non_null (vm);
  assert_int_equal (vm_add_nic (vm, &nic), 0);
  assert_int_equal (hv_machine_argv (&m, &a), 0);
  assert_true (has_pair (a.v.ptr, "-machine", "pc,accel=tcg,vmport=off"));
  assert_true (has_pair (a.v.ptr, "-device",
                         "ide-hd,drive=disk2,bus=ide.1,unit=0,bootindex=2"));
  assert_true (has_pair (a.v.ptr, "-device",
                         "tulip,netdev=net0,mac=00:15:5d:01:02:03"));
  /* A comma in a path is doubled; a quote is escaped inside JSON. */
  assert_true (has_pair (a.v.ptr, "-chardev", "file,id=com1,path=/l/c,,1.log"));
  assert_true (has_pair (a.v.ptr, "-blockdev",
                         "{\"driver\":\"qcow2\",\"node-name\":\"disk1\","
                         "\"read-only\":false,\"file\":{\"driver\":\"file\","
                         "\"filename\":\"/w/d\\\"1.qcow2\",\"read-only\":"
                         "false}}"));
  hv_argv_free (&a);
  m.profile = HV_PROFILE_GEN1_ENLIGHTENED;
  assert_int_equal (hv_machine_argv (&m, &a), -1);
  hv_argv_free (&a);
  m.accel = HV_ACCEL_KVM;
  assert_int_equal (hv_machine_argv (&m, &a), 0);
  assert_true (has_pair (a.v.ptr, "-device", "vmbus-bridge"));
  assert_true (has_pair (a.v.ptr, "-cpu", "host,hv-relaxed,hv-vapic,"
                         "hv-spinlocks=0x1fff,hv-vpindex,hv-synic,hv-stimer,"
                         "hv-time,hv-vendor-id=Microsoft Hv"));
  hv_argv_free (&a);
  vm_free (vm);
  assert_string_equal (hv_qemu_format ("vhd"), "vpc");
  assert_string_equal (hv_qemu_format ("vmdk"), "vmdk");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_console),
    cmocka_unit_test (test_report),
    cmocka_unit_test (test_boot_sector),
    cmocka_unit_test (test_profiles),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
