/* VHDX: the header section.  The file identifier, the two headers (the
 * valid one with the higher sequence number is current) and the two
 * region tables (where the BAT and the metadata region are).
 *
 * Both headers and both region tables exist so that one can be torn by
 * a crash while the other stays good: one damaged copy is a warning,
 * two are an error.  Headers are never written through the log, so
 * they are read straight from the file; region tables may be, so they
 * are read through the replayed log (vhdx_read).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "vhdx-internal.h"

const uint8_t vhdx_bat_region[16] =
  VHDX_GUID (0x2DC27766, 0xF623, 0x4200,
             0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
const uint8_t vhdx_metadata_region[16] =
  VHDX_GUID (0x8B7CA206, 0x4790, 0x4B9A,
             0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);

static const uint64_t header_offsets[2] = { 64 * KiB, 128 * KiB };
static const uint64_t region_offsets[2] = { 192 * KiB, 256 * KiB };

/* ---------------------------------------------------------------- */
/* GUIDs and checksums. */

/* VHDX names GUIDs in braces (parent_linkage), common's guid_format
 * does not. */
void
vhdx_guid_format (const uint8_t g[16], char out[VHDX_GUID_TEXT])
{
  char plain[37];

  guid_format (g, plain);
  snprintf (out, VHDX_GUID_TEXT, "{%s}", plain);
}

static int
hex_byte (const char *s, uint8_t *out)
{
  unsigned v = 0;

  for (int i = 0; i < 2; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  *out = v;
  return 0;
}

/* The text form lists the bytes of the first three fields most
 * significant first; stored, they are little-endian. */
int
vhdx_guid_parse (const char *s, uint8_t g[16])
{
  static const uint8_t order[16] = {
    3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15,
  };
  const bool braces = s[0] == '{';

  s += braces;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      if (*s++ != '-')
        return -1;
    }
    if (hex_byte (s, &g[order[i]]) == -1)
      return -1;
    s += 2;
  }
  if (braces && *s++ != '}')
    return -1;
  return *s == '\0' ? 0 : -1;
}

bool
vhdx_guid_is_zero (const uint8_t g[16])
{
  return is_zero (g, 16);
}

/* CRC-32C of a structure whose checksum field (bytes 4..7) counts as
 * zero; crc32c () continues it over more bytes. */
uint32_t
vhdx_checksum (const uint8_t *buf, size_t len)
{
  static const uint8_t zero[4];
  uint32_t c = crc32c (0, buf, 4);

  c = crc32c (c, zero, 4);
  return crc32c (c, buf + 8, len - 8);
}

/* ---------------------------------------------------------------- */
/* The identifier and the headers. */

struct header {
  bool valid;
  bool bad_sum;                 /* invalid because of the checksum */
  char why[80];                 /* why it is not valid */
  uint64_t seq;
  uint8_t data_write_guid[16], log_guid[16];
  uint16_t log_version, version;
  uint32_t log_length;
  uint64_t log_offset;
};

static void
header_decode (const uint8_t *b, struct header *h)
{
  const uint32_t stored = load_le32 (b + 4);
  const uint32_t sum = vhdx_checksum (b, VHDX_HEADER_SIZE);

  memset (h, 0, sizeof *h);
  if (memcmp (b, "head", 4) != 0)
    snprintf (h->why, sizeof h->why, "no 'head' signature");
  else if (stored != sum) {
    h->bad_sum = true;
    snprintf (h->why, sizeof h->why, "checksum 0x%08" PRIx32 ", computed "
              "0x%08" PRIx32, stored, sum);
  }
  else
    h->valid = true;
  h->seq = load_le64 (b + 8);
  memcpy (h->data_write_guid, b + 32, 16);
  memcpy (h->log_guid, b + 48, 16);
  h->log_version = load_le16 (b + 64);
  h->version = load_le16 (b + 66);
  h->log_length = load_le32 (b + 68);
  h->log_offset = load_le64 (b + 72);
}

/* The signature first, so that a short file of another format given
 * as --format vhdx is called that, not a truncated VHDX. */
static int
check_identifier (struct vhdx *v)
{
  uint8_t sig[8];

  if (vhdx_read (v, sig, sizeof sig, 0, "the file identifier") == -1)
    return -1;
  if (memcmp (sig, "vhdxfile", 8) != 0) {
    hv_error (HV_E_FORMAT, "%s: not a VHDX file: no 'vhdxfile' signature "
              "at offset 0", v->d.filename);
    return -1;
  }
  if (v->file_size < VHDX_HEADER_SECTION) {
    hv_error (HV_E_FORMAT, "%s: truncated: %" PRIu64 " bytes, shorter than "
              "the 1 MiB VHDX header section", v->d.filename, v->file_size);
    return -1;
  }
  return 0;
}

/* Which header is current: the valid one, or of two valid ones the
 * one with the higher sequence number.  -1 if neither is valid. */
static int
pick_header (struct vhdx *v, const struct header h[2])
{
  const char *f = v->d.filename;

  if (!h[0].valid && !h[1].valid) {
    hv_error (h[0].bad_sum || h[1].bad_sum ? HV_E_CHECKSUM : HV_E_FORMAT,
              "%s: both headers are damaged: header 1 at offset %" PRIu64
              ": %s; header 2 at offset %" PRIu64 ": %s", f,
              header_offsets[0], h[0].why, header_offsets[1], h[1].why);
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    if (!h[i].valid)
      hv_warning (h[i].bad_sum ? HV_E_CHECKSUM : HV_E_FORMAT,
                  "%s: header %d at offset %" PRIu64 " is damaged (%s); "
                  "using header %d", f, i + 1, header_offsets[i], h[i].why,
                  2 - i);
  }
  if (!h[1].valid)
    return 0;
  if (!h[0].valid)
    return 1;
  return h[1].seq > h[0].seq ? 1 : 0;
}

static int
use_header (struct vhdx *v, const struct header *h)
{
  char guid[VHDX_GUID_TEXT];

  if (h->version != 1) {
    hv_error (HV_E_UNSUPPORTED, "%s: header %d: VHDX version %" PRIu16
              " (only version 1 is known)", v->d.filename, v->header,
              h->version);
    return -1;
  }
  if (!vhdx_guid_is_zero (h->log_guid) && h->log_version != 0) {
    vhdx_guid_format (h->log_guid, guid);
    hv_error (HV_E_UNSUPPORTED, "%s: header %d: log %s has log version %"
              PRIu16 " (only version 0 is known), so it cannot be "
              "replayed", v->d.filename, v->header, guid, h->log_version);
    return -1;
  }
  memcpy (v->data_write_guid, h->data_write_guid, 16);
  memcpy (v->log_guid, h->log_guid, 16);
  v->log_offset = h->log_offset;
  v->log_length = h->log_length;
  return 0;
}

int
vhdx_read_headers (struct vhdx *v)
{
  uint8_t buf[VHDX_HEADER_SIZE];
  struct header h[2];
  int cur;

  if (check_identifier (v) == -1)
    return -1;
  for (int i = 0; i < 2; i++) {
    if (vhdx_read (v, buf, sizeof buf, header_offsets[i], "a header") == -1)
      return -1;
    header_decode (buf, &h[i]);
  }
  if ((cur = pick_header (v, h)) == -1)
    return -1;
  v->header = cur + 1;
  return use_header (v, &h[cur]);
}

/* ---------------------------------------------------------------- */
/* The region tables. */

static bool
region_table_valid (const uint8_t *b, char *why, size_t n)
{
  const uint32_t stored = load_le32 (b + 4);
  const uint32_t sum = vhdx_checksum (b, VHDX_REGION_SIZE);

  if (memcmp (b, "regi", 4) != 0)
    snprintf (why, n, "no 'regi' signature");
  else if (stored != sum)
    snprintf (why, n, "checksum 0x%08" PRIx32 ", computed 0x%08" PRIx32,
              stored, sum);
  else if (load_le32 (b + 8) > VHDX_REGION_MAX)
    snprintf (why, n, "%" PRIu32 " entries, more than %d",
              load_le32 (b + 8), VHDX_REGION_MAX);
  else
    return true;
  return false;
}

/* Read both copies into T (2 x 64 KiB) and return the index of the one
 * to use, warning when the first is damaged; -1 if both are. */
static int
pick_region_table (struct vhdx *v, uint8_t *t)
{
  char why[2][80];
  bool ok[2];

  for (int i = 0; i < 2; i++) {
    uint8_t *b = t + i * VHDX_REGION_SIZE;
    if (vhdx_read (v, b, VHDX_REGION_SIZE, region_offsets[i],
                   "a region table") == -1)
      return -1;
    ok[i] = region_table_valid (b, why[i], sizeof why[i]);
  }
  if (!ok[0] && !ok[1]) {
    hv_error (HV_E_CHECKSUM, "%s: both region tables are damaged: at offset "
              "%" PRIu64 ": %s; at offset %" PRIu64 ": %s", v->d.filename,
              region_offsets[0], why[0], region_offsets[1], why[1]);
    return -1;
  }
  if (!ok[0] || !ok[1])
    hv_warning (HV_E_CHECKSUM, "%s: the region table at offset %" PRIu64
                " is damaged (%s); using the one at offset %" PRIu64,
                v->d.filename, region_offsets[ok[0]], why[ok[0]],
                region_offsets[!ok[0]]);
  return ok[0] ? 0 : 1;
}

static bool
overlaps (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return a < b + blen && b < a + alen;
}

/* A region must lie in the file after the header section, and not on
 * the log the file replays from. */
static int
check_region (struct vhdx *v, const char *name, uint64_t off, uint32_t len)
{
  uint64_t end;

  if (len == 0 || off < VHDX_HEADER_SECTION || ckd_add (&end, off, len) ||
      end > v->file_size) {
    hv_error (HV_E_FORMAT, "%s: the %s region at offset %" PRIu64 ", %"
              PRIu32 " bytes, is outside the file (%" PRIu64 " bytes) or "
              "in its header section", v->d.filename, name, off, len,
              v->file_size);
    return -1;
  }
  if (v->log && overlaps (off, len, v->log_offset, v->log_length)) {
    hv_error (HV_E_FORMAT, "%s: the %s region at offset %" PRIu64
              " overlaps the log", v->d.filename, name, off);
    return -1;
  }
  return 0;
}

/* One region table entry: the BAT, the metadata region, or an unknown
 * region, which is refused only if it says it is required. */
static int
region_entry (struct vhdx *v, const uint8_t *e, bool *seen_bat,
              bool *seen_meta)
{
  const uint64_t off = load_le64 (e + 16);
  const uint32_t len = load_le32 (e + 24), required = load_le32 (e + 28);
  char guid[VHDX_GUID_TEXT];
  bool is_bat = memcmp (e, vhdx_bat_region, 16) == 0;

  vhdx_guid_format (e, guid);
  if (is_bat || memcmp (e, vhdx_metadata_region, 16) == 0) {
    bool *seen = is_bat ? seen_bat : seen_meta;
    if (*seen) {
      hv_error (HV_E_FORMAT, "%s: region table: the %s region %s is listed "
                "twice", v->d.filename, is_bat ? "BAT" : "metadata", guid);
      return -1;
    }
    *seen = true;
    *(is_bat ? &v->bat_offset : &v->meta_offset) = off;
    *(is_bat ? &v->bat_length : &v->meta_length) = len;
    return check_region (v, is_bat ? "BAT" : "metadata", off, len);
  }
  if (required & 1) {
    hv_error (HV_E_UNSUPPORTED, "%s: region table: unknown required region "
              "%s at offset %" PRIu64 "; refusing a file whose content may "
              "depend on it", v->d.filename, guid, off);
    return -1;
  }
  hv_debug ("%s: ignoring optional region %s", v->d.filename, guid);
  return 0;
}

static int
parse_region_table (struct vhdx *v, const uint8_t *t)
{
  const uint32_t n = load_le32 (t + 8);
  bool seen_bat = false, seen_meta = false;

  for (uint32_t i = 0; i < n; i++) {
    if (region_entry (v, t + 16 + 32 * i, &seen_bat, &seen_meta) == -1)
      return -1;
  }
  if (!seen_bat || !seen_meta) {
    hv_error (HV_E_FORMAT, "%s: region table: no %s region", v->d.filename,
              seen_bat ? "metadata" : "BAT");
    return -1;
  }
  if (overlaps (v->bat_offset, v->bat_length, v->meta_offset,
                v->meta_length)) {
    hv_error (HV_E_FORMAT, "%s: region table: the BAT region at offset %"
              PRIu64 " overlaps the metadata region at offset %" PRIu64,
              v->d.filename, v->bat_offset, v->meta_offset);
    return -1;
  }
  return 0;
}

int
vhdx_read_regions (struct vhdx *v)
{
  uint8_t *t = malloc (2 * VHDX_REGION_SIZE);
  int i, r = -1;

  if (t == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  if ((i = pick_region_table (v, t)) != -1)
    r = parse_region_table (v, t + i * VHDX_REGION_SIZE);
  free (t);
  return r;
}
