/* VHDX: the metadata region.
 *
 * A 64 KiB table ("metadata", u16 reserved, u16 EntryCount, then 32-byte
 * entries: ItemId GUID, Offset u32 from the region's start, Length u32,
 * flags u32: bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired) and
 * the items it points to.  The system items we read:
 *
 *   File Parameters     BlockSize u32 (1..256 MiB, a power of two),
 *                       flags u32: bit 0 LeaveBlockAllocated, bit 1
 *                       HasParent
 *   Virtual Disk Size   u64, a multiple of the logical sector size,
 *                       at most 64 TiB
 *   Logical Sector Size u32, 512 or 4096
 *   Parent Locator      type GUID, u16 reserved, u16 KeyValueCount, then
 *                       12-byte entries (KeyOffset u32, ValueOffset u32,
 *                       KeyLength u16, ValueLength u16) of UTF-16LE keys
 *                       and values within the item
 *
 * An item we do not know is refused if it says it is required: the
 * disk's content may depend on it.
 */
#include <config.h>

#include <inttypes.h>

#include "vhdx-internal.h"

enum item {
  FILE_PARAMETERS, VIRTUAL_DISK_SIZE, VIRTUAL_DISK_ID, LOGICAL_SECTOR_SIZE,
  PHYSICAL_SECTOR_SIZE, PARENT_LOCATOR, N_ITEMS,
};

static const struct known_item {
  uint8_t guid[16];
  const char *name;
  uint32_t min_length;
} known[N_ITEMS] = {
  [FILE_PARAMETERS] = {
    VHDX_GUID (0xCAA16737, 0xFA36, 0x4D43,
               0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B),
    "File Parameters", 8 },
  [VIRTUAL_DISK_SIZE] = {
    VHDX_GUID (0x2FA54224, 0xCD1B, 0x4876,
               0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8),
    "Virtual Disk Size", 8 },
  [VIRTUAL_DISK_ID] = {
    VHDX_GUID (0xBECA12AB, 0xB2E6, 0x4523,
               0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46),
    "Virtual Disk ID", 16 },
  [LOGICAL_SECTOR_SIZE] = {
    VHDX_GUID (0x8141BF1D, 0xA96F, 0x4709,
               0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F),
    "Logical Sector Size", 4 },
  [PHYSICAL_SECTOR_SIZE] = {
    VHDX_GUID (0xCDA348C7, 0x445D, 0x4471,
               0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56),
    "Physical Sector Size", 4 },
  [PARENT_LOCATOR] = {
    VHDX_GUID (0xA8D35F2D, 0xB30B, 0x454D,
               0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C),
    "Parent Locator", 20 },
};

/* The one parent locator type the spec defines. */
static const uint8_t vhdx_locator_type[16] =
  VHDX_GUID (0xB04AEFB7, 0xD19E, 0x4A81,
             0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13);

#define FP_HAS_PARENT 2u
#define META_IS_USER 1u
#define META_IS_REQUIRED 4u

/* Where each known item is in the region (offset 0 length 0: empty). */
struct found {
  bool present;
  uint32_t offset, length;
};

/* ---------------------------------------------------------------- */
/* The table. */

static int
lookup (const uint8_t *guid, uint32_t flags)
{
  if (flags & META_IS_USER)     /* user items share no GUIDs with ours */
    return -1;
  for (int k = 0; k < N_ITEMS; k++) {
    if (memcmp (guid, known[k].guid, 16) == 0)
      return k;
  }
  return -1;
}

static int
check_item (struct vhdx *v, int k, uint32_t off, uint32_t len)
{
  const char *f = v->d.filename, *name = known[k].name;

  if (len > VHDX_META_ITEM_MAX ||
      (len && (off < VHDX_META_TABLE_SIZE ||
               (uint64_t) off + len > v->meta_length))) {
    hv_error (HV_E_FORMAT, "%s: metadata item %s at offset %" PRIu32 ", %"
              PRIu32 " bytes, is outside the metadata region (%" PRIu32
              " bytes) or its table", f, name, off, len, v->meta_length);
    return -1;
  }
  if (len < known[k].min_length) {
    hv_error (HV_E_FORMAT, "%s: metadata item %s is %" PRIu32 " bytes, "
              "less than its %" PRIu32, f, name, len, known[k].min_length);
    return -1;
  }
  return 0;
}

static int
table_entry (struct vhdx *v, const uint8_t *e, struct found *found)
{
  const uint32_t off = load_le32 (e + 16), len = load_le32 (e + 20);
  const uint32_t flags = load_le32 (e + 24);
  const int k = lookup (e, flags);
  char guid[VHDX_GUID_TEXT];

  vhdx_guid_format (e, guid);
  if (k == -1 && (flags & META_IS_REQUIRED)) {
    hv_error (HV_E_UNSUPPORTED, "%s: unknown required metadata item %s "
              "(flags 0x%" PRIx32 "); refusing a file whose content may "
              "depend on it", v->d.filename, guid, flags);
    return -1;
  }
  if (k == -1) {
    hv_debug ("%s: ignoring metadata item %s", v->d.filename, guid);
    return 0;
  }
  if (found[k].present) {
    hv_error (HV_E_FORMAT, "%s: metadata item %s is listed twice",
              v->d.filename, known[k].name);
    return -1;
  }
  if (check_item (v, k, off, len) == -1)
    return -1;
  found[k] = (struct found) { true, off, len };
  return 0;
}

static int
read_table (struct vhdx *v, struct found *found)
{
  uint8_t *t = malloc (VHDX_META_TABLE_SIZE);
  uint16_t n;
  int r = -1;

  if (t == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  if (v->meta_length < VHDX_META_TABLE_SIZE)
    hv_error (HV_E_FORMAT, "%s: the metadata region is %" PRIu32 " bytes, "
              "smaller than its 64 KiB table", v->d.filename, v->meta_length);
  else if (vhdx_read (v, t, VHDX_META_TABLE_SIZE, v->meta_offset,
                      "the metadata table") == 0) {
    n = load_le16 (t + 10);
    if (memcmp (t, "metadata", 8) != 0 || n > VHDX_META_MAX)
      hv_error (HV_E_FORMAT, "%s: the metadata table at offset %" PRIu64
                " has no 'metadata' signature or more than %d entries (%"
                PRIu16 ")", v->d.filename, v->meta_offset, VHDX_META_MAX, n);
    else {
      r = 0;
      for (uint16_t i = 0; r == 0 && i < n; i++)
        r = table_entry (v, t + 32 + 32 * i, found);
    }
  }
  free (t);
  return r;
}

/* ---------------------------------------------------------------- */
/* The items. */

static int
read_item (struct vhdx *v, const struct found *found, int k, void *buf,
           size_t len)
{
  if (!found[k].present) {
    hv_error (HV_E_FORMAT, "%s: the required metadata item %s is missing",
              v->d.filename, known[k].name);
    return -1;
  }
  return vhdx_read (v, buf, len, v->meta_offset + found[k].offset,
                    known[k].name);
}

static int
check_parameters (struct vhdx *v, uint32_t bs, uint32_t lss, uint64_t size)
{
  const char *f = v->d.filename;

  if (!IS_POWER_OF_2 (bs) || bs < VHDX_MIN_BLOCK || bs > VHDX_MAX_BLOCK) {
    hv_error (HV_E_FORMAT, "%s: block size %" PRIu32 " is not a power of "
              "two from 1 MiB to 256 MiB", f, bs);
    return -1;
  }
  if (lss != 512 && lss != 4096) {
    hv_error (HV_E_FORMAT, "%s: logical sector size %" PRIu32 " is not 512 "
              "or 4096", f, lss);
    return -1;
  }
  if (size > VHDX_MAX_SIZE) {
    hv_error (HV_E_FORMAT, "%s: virtual size %" PRIu64 " is above the VHDX "
              "limit of 64 TiB", f, size);
    return -1;
  }
  if (size % lss) {
    hv_error (HV_E_FORMAT, "%s: virtual size %" PRIu64 " is not a multiple "
              "of the %" PRIu32 "-byte logical sector", f, size, lss);
    return -1;
  }
  return 0;
}

static int
read_parameters (struct vhdx *v, const struct found *found)
{
  uint8_t fp[8], size[8], lss[4];

  if (read_item (v, found, FILE_PARAMETERS, fp, sizeof fp) == -1 ||
      read_item (v, found, VIRTUAL_DISK_SIZE, size, sizeof size) == -1 ||
      read_item (v, found, LOGICAL_SECTOR_SIZE, lss, sizeof lss) == -1 ||
      check_parameters (v, load_le32 (fp), load_le32 (lss),
                        load_le64 (size)) == -1)
    return -1;
  v->block_size = load_le32 (fp);
  v->has_parent = load_le32 (fp + 4) & FP_HAS_PARENT;
  v->d.sector_size = load_le32 (lss);
  v->d.size = load_le64 (size);
  /* Sectors described by one 1 MiB sector bitmap block (2^23 bits),
   * in payload blocks: 2^23 * 512 / 256 MiB = 16 at the least. */
  v->chunk_ratio = ((uint64_t) 1 << 23) * v->d.sector_size / v->block_size;
  return 0;
}

/* ---------------------------------------------------------------- */
/* The parent locator. */

void
vhdx_locator_free (struct vhdx_locator *loc)
{
  free (loc->linkage);
  free (loc->linkage2);
  free (loc->relative_path);
  free (loc->volume_path);
  free (loc->absolute_win32_path);
}

static char **
locator_slot (struct vhdx_locator *loc, const char *key)
{
  if (strcmp (key, "parent_linkage") == 0) return &loc->linkage;
  if (strcmp (key, "parent_linkage2") == 0) return &loc->linkage2;
  if (strcmp (key, "relative_path") == 0) return &loc->relative_path;
  if (strcmp (key, "volume_path") == 0) return &loc->volume_path;
  if (strcmp (key, "absolute_win32_path") == 0)
    return &loc->absolute_win32_path;
  return NULL;
}

/* One key/value pair; keys we do not use are skipped. */
static int
locator_entry (struct vhdx *v, const uint8_t *item, uint32_t len,
               uint16_t i, struct vhdx_locator *loc)
{
  const uint8_t *e = item + 20 + 12 * i;
  const uint32_t ko = load_le32 (e), vo = load_le32 (e + 4);
  const uint16_t kl = load_le16 (e + 8), vl = load_le16 (e + 10);
  char *key = NULL, *value = NULL, **slot;
  int r = -1;

  if (kl == 0 || vl == 0 || (uint64_t) ko + kl > len ||
      (uint64_t) vo + vl > len)
    hv_error (HV_E_FORMAT, "%s: parent locator entry %" PRIu16 ": key or "
              "value outside the %" PRIu32 "-byte item", v->d.filename, i,
              len);
  else if ((key = utf16le_to_utf8 (item + ko, kl)) == NULL ||
           (value = utf16le_to_utf8 (item + vo, vl)) == NULL)
    hv_error (HV_E_NOMEM, "%s: parent locator: %m", v->d.filename);
  else if ((slot = locator_slot (loc, key)) != NULL && *slot != NULL)
    hv_error (HV_E_FORMAT, "%s: parent locator: key '%s' appears twice",
              v->d.filename, key);
  else {
    if (slot) {
      *slot = value;
      value = NULL;
    }
    r = 0;
  }
  free (key);
  free (value);
  return r;
}

static int
parse_locator (struct vhdx *v, const uint8_t *item, uint32_t len,
               struct vhdx_locator *loc)
{
  const uint16_t n = load_le16 (item + 18);
  char guid[VHDX_GUID_TEXT];

  if (memcmp (item, vhdx_locator_type, 16) != 0) {
    vhdx_guid_format (item, guid);
    hv_error (HV_E_UNSUPPORTED, "%s: parent locator type %s is not the VHDX "
              "parent locator; cannot find this kind of parent",
              v->d.filename, guid);
    return -1;
  }
  if (20 + 12 * (uint32_t) n > len) {
    hv_error (HV_E_FORMAT, "%s: parent locator: %" PRIu16 " entries do not "
              "fit in its %" PRIu32 " bytes", v->d.filename, n, len);
    return -1;
  }
  for (uint16_t i = 0; i < n; i++) {
    if (locator_entry (v, item, len, i, loc) == -1)
      return -1;
  }
  return 0;
}

static int
read_locator (struct vhdx *v, const struct found *found,
              struct vhdx_locator *loc)
{
  const uint32_t len = found[PARENT_LOCATOR].length;
  uint8_t *item;
  int r = -1;

  if (!found[PARENT_LOCATOR].present)
    return read_item (v, found, PARENT_LOCATOR, NULL, 0);    /* reports */
  if ((item = malloc (len)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  if (read_item (v, found, PARENT_LOCATOR, item, len) == 0)
    r = parse_locator (v, item, len, loc);
  free (item);
  return r;
}

int
vhdx_read_metadata (struct vhdx *v, struct vhdx_locator *loc)
{
  struct found found[N_ITEMS] = { { 0 } };

  if (read_table (v, found) == -1 || read_parameters (v, found) == -1)
    return -1;
  if (v->has_parent)
    return read_locator (v, found, loc);
  return 0;
}
