/* What the consoles say: failure messages of firmware, bootloaders,
 * initramfs tools and kernels, and the guest's own report.
 *
 * The messages, by who prints them and where (text console: VGA text
 * memory, which verify reads through QMP; COM1: the serial console;
 * 0x402: the firmware's debug port):
 *
 *   SeaBIOS (0x402, screen)  "No bootable device."
 *   OVMF (COM1)              "No bootable option or device was found.",
 *                            or, having failed to load every disk's
 *                            boot entry, its built-in "UEFI Interactive
 *                            Shell"
 *   MBR code (screen)        "Missing operating system", "Invalid
 *                            partition table", "Error loading operating
 *                            system", "Operating system not found"
 *   SYSLINUX (screen)        "Boot error", "Could not find kernel image",
 *                            "Failed to load ldlinux.c32"
 *   GRUB (screen)            "grub rescue>", "error: no such partition"
 *   initramfs-tools (COM1)   "ALERT!  ... does not exist.  Dropping to a
 *                            shell!", "Gave up waiting for root"
 *   dracut (COM1)            "Could not boot." after "Warning: /dev/...
 *                            does not exist"
 *   kernel (COM1)            "VFS: Unable to mount root fs" (a panic, but
 *                            the root is the cause), "Kernel panic"
 *   sample server (COM1)     "root file system not found"
 *
 * The table is in priority order: a missing root ends in a panic, and
 * the root is what the user must fix.
 */
#include <config.h>

#include <ctype.h>
#include <stdio.h>

#include "hypervisor.h"

struct pattern {
  const char *text;
  enum hv_verdict verdict;
  const char *why;
};

static const struct pattern patterns[] = {
  { "No bootable device", HV_VERDICT_NO_BOOTABLE_DEVICE,
    "the firmware found no bootable disk (no boot code in any MBR)" },
  { "No bootable option or device was found", HV_VERDICT_NO_BOOTABLE_DEVICE,
    "the UEFI firmware found no boot loader on any disk" },
  { "UEFI Interactive Shell", HV_VERDICT_NO_BOOTABLE_DEVICE,
    "the UEFI firmware found no boot loader on any disk (no EFI system "
    "partition with one) and started its built-in shell" },
  { "Missing operating system", HV_VERDICT_BOOTLOADER_FAILED,
    "the MBR boot code found no active partition to boot" },
  { "Invalid partition table", HV_VERDICT_BOOTLOADER_FAILED,
    "the MBR boot code rejected the partition table" },
  { "Error loading operating system", HV_VERDICT_BOOTLOADER_FAILED,
    "the MBR boot code could not load the partition's boot sector" },
  { "Operating system not found", HV_VERDICT_BOOTLOADER_FAILED,
    "the MBR boot code found no operating system" },
  { "Boot error", HV_VERDICT_BOOTLOADER_FAILED,
    "SYSLINUX failed to load" },
  { "Could not find kernel image", HV_VERDICT_BOOTLOADER_FAILED,
    "the bootloader could not find the kernel its configuration names" },
  { "Failed to load ldlinux.c32", HV_VERDICT_BOOTLOADER_FAILED,
    "SYSLINUX could not load its core (ldlinux.c32)" },
  { "grub rescue>", HV_VERDICT_BOOTLOADER_FAILED,
    "GRUB could not find its modules or configuration (rescue prompt)" },
  { "error: no such partition", HV_VERDICT_BOOTLOADER_FAILED,
    "GRUB could not find the partition it was installed for" },
  { "Gave up waiting for root", HV_VERDICT_ROOT_NOT_FOUND,
    "the initramfs never saw the root device: its storage driver is "
    "missing (add the disk controller's driver to the initramfs)" },
  { "does not exist.  Dropping to a shell", HV_VERDICT_ROOT_NOT_FOUND,
    "the initramfs never saw the root device: its storage driver is "
    "missing (add the disk controller's driver to the initramfs)" },
  { "does not exist. Dropping to a shell", HV_VERDICT_ROOT_NOT_FOUND,
    "the initramfs never saw the root device: its storage driver is "
    "missing (add the disk controller's driver to the initramfs)" },
  { "root file system not found", HV_VERDICT_ROOT_NOT_FOUND,
    "the initramfs never saw the root device: its storage driver is "
    "missing (add the disk controller's driver to the initramfs)" },
  { "VFS: Unable to mount root fs", HV_VERDICT_ROOT_NOT_FOUND,
    "the kernel could not mount the root file system: no driver for "
    "its disk or file system, or a wrong root= device" },
  { "Kernel panic", HV_VERDICT_KERNEL_PANIC,
    "the kernel panicked (see the console log)" },
};

const char *
hv_verdict_name (enum hv_verdict v)
{
  static const char *const names[] = {
    [HV_VERDICT_BOOTED] = "booted",
    [HV_VERDICT_NO_BOOTABLE_DEVICE] = "no-bootable-device",
    [HV_VERDICT_BOOTLOADER_FAILED] = "bootloader-failed",
    [HV_VERDICT_KERNEL_PANIC] = "kernel-panic",
    [HV_VERDICT_ROOT_NOT_FOUND] = "root-not-found",
    [HV_VERDICT_STOPPED] = "stopped",
    [HV_VERDICT_TIMEOUT] = "timeout",
    [HV_VERDICT_NONE] = "none",
  };
  return (size_t) v < ARRAY_SIZE (names) ? names[v] : "?";
}

enum hv_verdict
hv_console_verdict (const char *text, const char **why)
{
  for (size_t i = 0; text && i < ARRAY_SIZE (patterns); i++)
    if (strstr (text, patterns[i].text)) {
      *why = patterns[i].why;
      return patterns[i].verdict;
    }
  return HV_VERDICT_NONE;
}

/* A BIOS jumps into the first sector of the first disk that ends with
 * 0x55 0xAA.  When that sector has a partition table but its boot code
 * (the first 440 bytes) is all zeros, nothing can boot: the firmware
 * runs the zeros and the machine hangs without a word.  Saying so
 * before the boot saves the whole timeout.  (Without the signature the
 * firmware itself says "No bootable device", and that is its verdict.) */
enum hv_verdict
hv_boot_sector_verdict (const uint8_t sector[512], const char **why)
{
  if (sector[510] == 0x55 && sector[511] == 0xaa && is_zero (sector, 440)) {
    *why = "the boot disk's MBR has a partition table but no boot code "
      "(its first 440 bytes are zeros): install a bootloader";
    return HV_VERDICT_NO_BOOTABLE_DEVICE;
  }
  return HV_VERDICT_NONE;
}

/* ---------------------------------------------------------------- */
/* The report: "HVCONVERT-REPORT NONCE KEY VALUE" lines. */

#define REPORT_TAG "HVCONVERT-REPORT "
#define REPORT_KEY_MAX 64

/* KEY is lower-case letters, digits, '-' and '_' (up to 64). */
static bool
valid_key (const char *key, size_t n)
{
  if (n == 0 || n > REPORT_KEY_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!islower ((unsigned char) key[i]) && !isdigit ((unsigned char)
        key[i]) && key[i] != '-' && key[i] != '_')
      return false;
  return true;
}

/* One line (without its newline) of the report with this nonce: adds
 * KEY VALUE to J.  Returns 1 for "begin", 2 for "end", 0 otherwise. */
static int
report_line (struct json *j, char *line, const char *nonce)
{
  const size_t nlen = strlen (nonce);
  char *key, *value, *cr;
  size_t klen;

  if ((cr = strchr (line, '\r')) != NULL)
    *cr = '\0';
  if ((line = strstr (line, REPORT_TAG)) == NULL)
    return 0;
  line += strlen (REPORT_TAG);
  if (strncmp (line, nonce, nlen) != 0 || line[nlen] != ' ')
    return 0;
  key = line + nlen + 1;
  if (strcmp (key, "begin") == 0)
    return 1;
  if (strcmp (key, "end") == 0)
    return 2;
  klen = strcspn (key, " ");
  value = key[klen] ? key + klen + 1 : key + klen;
  if (!valid_key (key, klen))
    return 0;
  key[klen] = '\0';
  json_str (j, key, value);
  return 0;
}

char *
hv_report_parse (const char *text, const char *nonce)
{
  CLEANUP_FREE char *copy = text ? strdup (text) : NULL;
  struct json *j = json_new (NULL);
  char *save = NULL, *line;
  bool begun = false, ended = false;

  if (copy == NULL || j == NULL || strlen (nonce) != HV_NONCE_LEN) {
    free (json_end (j));
    return NULL;
  }
  for (line = strtok_r (copy, "\n", &save); line && !ended;
       line = strtok_r (NULL, "\n", &save)) {
    struct json *into = begun ? j : NULL;
    switch (report_line (into, line, nonce)) {
    case 1: begun = true; break;
    case 2: ended = begun; break;
    }
  }
  if (!ended) {
    free (json_end (j));
    return NULL;
  }
  return json_end (j);
}
