/* Unit test: the VM model.  Bare disks get Hyper-V's defaults and the
 * IDE channels in order; the model copies what it is given; warnings
 * are kept. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

static void
test_from_disks (void **state)
{
  char *paths[] = { "/srv/vms/web01.img", "data.vhd", "c", "d" };
  struct vm *vm = vm_from_disks (paths, 4);

  assert_non_null (vm);
  assert_string_equal (vm->name, "web01");
  assert_string_equal (vm->source_format, "disk");
  assert_true (vm->memory == 1 * GiB);
  assert_int_equal (vm->vcpus, 1);
  assert_int_equal (vm->firmware, VM_FIRMWARE_BIOS);
  assert_int_equal (vm->disks.len, 4);
  for (unsigned i = 0; i < 4; i++) {
    assert_int_equal (vm->disks.ptr[i].bus, VM_BUS_IDE);
    assert_int_equal (vm->disks.ptr[i].controller, i / 2);
    assert_int_equal (vm->disks.ptr[i].slot, i % 2);
    assert_string_equal (vm->disks.ptr[i].path, paths[i]);
    assert_ptr_not_equal (vm->disks.ptr[i].path, paths[i]);
  }
  vm_free (vm);
  assert_null (vm_from_disks (paths, 0));
  assert_null (vm_from_disks (paths, 5));
}

static void
test_nics_and_warnings (void **state)
{
  struct vm *vm = vm_new ("legacy", "legacy.vmc", "vmc");
  const struct vm_nic nic = { .mac = "00:03:ff:1a:2b:3c",
                              .network = "Local only" };

  assert_non_null (vm);
  assert_int_equal (vm_add_nic (vm, &nic), 0);
  assert_string_equal (vm->nics.ptr[0].mac, "00:03:ff:1a:2b:3c");
  assert_null (vm->nics.ptr[0].model);
  vm_warn (vm, HV_E_FORMAT, "%s: %d", "undo disk committed", 1);
  assert_int_equal (vm->warnings.len, 1);
  assert_string_equal (vm->warnings.ptr[0], "undo disk committed: 1");
  assert_string_equal (vm_bus_name (VM_BUS_SATA), "sata");
  assert_string_equal (vm_media_name (VM_MEDIA_CDROM), "cdrom");
  vm_free (vm);
  vm_free (NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_from_disks),
    cmocka_unit_test (test_nics_and_warnings),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
