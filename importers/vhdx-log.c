/* VHDX: replaying the log in memory.
 *
 * A VHDX writer changes metadata (region tables, metadata, BAT) by
 * first writing the new 4 KiB sectors to a ring buffer, the log, then
 * writing them in place.  After a crash the header still names the
 * log (LogGuid is not zero) and whatever reached the log but maybe not
 * its place must be replayed before the file is read (MS-VHDX 2.3).
 * We never write to a source, so the replay goes into an overlay: a
 * sorted list of file ranges and their new bytes that vhdx_read lays
 * over what the file holds.
 *
 * The log, all little-endian, in 4 KiB sectors:
 *
 *   entry    = descriptor sectors, then one data sector per data
 *              descriptor; CRC-32C over the whole entry
 *   header   "loge", Checksum, EntryLength, Tail (byte offset of the
 *            oldest entry still needed), SequenceNumber, DescriptorCount,
 *            LogGuid @32, FlushedFileOffset @48, LastFileOffset @56;
 *            descriptors follow at 64, 32 bytes each
 *   "desc"   TrailingBytes @4 (u32), LeadingBytes @8 (u64),
 *            FileOffset @16, SequenceNumber @24: write one 4 KiB sector
 *   "zero"   ZeroLength @8, FileOffset @16, SequenceNumber @24
 *   "data"   SequenceHigh @4, bytes 8..4091 of the sector, SequenceLow
 *            @4092; bytes 0..7 and 4092..4095 are in the descriptor
 *
 * The active sequence is found as the spec's section 2.3.3 says:
 * scanning from each possible tail, the longest run of valid entries
 * with consecutive sequence numbers whose last entry's Tail lies in the
 * run; the run with the highest sequence number wins.  Its entries are
 * replayed from that Tail in order, later writes over earlier ones.
 *
 * Bounds: the log is read whole into memory, so it is refused above
 * VHDX_MAX_LOG (Hyper-V and qemu make 1 MiB logs).  Each sector is
 * validated once, the cheap checks first: a sector that passes them
 * as part of one entry begins "desc", "zero" or "data", so it cannot
 * start another, and the checksums cover each sector about once.  But
 * an entry may be longer than its descriptors need (qemu accepts
 * that), and crafted padding could make entries overlap, so the bytes
 * checksummed are also capped at CRC_BUDGET times the log.
 */
#include <config.h>

#include <inttypes.h>

#include "vhdx-internal.h"

#define SECTOR VHDX_LOG_SECTOR
#define DESC_SIZE 32
#define ENTRY_HEADER 64
#define CRC_BUDGET 8            /* times the log's length */

/* What the scan found at one sector of the log. */
struct entry {
  bool valid;
  uint32_t sectors;             /* its length */
  uint32_t tail;                /* sector of its sequence's oldest entry */
  uint32_t desc_sectors;
  uint32_t count;               /* descriptors */
  uint64_t seq;
  uint64_t flushed, last;       /* FlushedFileOffset, LastFileOffset */
};

struct log {
  struct vhdx *v;
  uint8_t *buf;                 /* the whole log */
  uint32_t n;                   /* its length in sectors */
  struct entry *e;              /* one per sector */
  uint64_t crc_left;            /* bytes the checksums may still cover */
  bool too_much;                /* ... and they ran out */
  char guid[VHDX_GUID_TEXT];    /* LogGuid, for messages */
};

/* A run of entries with consecutive sequence numbers. */
struct run {
  bool valid;                   /* its head's Tail is in it */
  uint32_t start, head, end;    /* sectors: first, last, after the last */
  uint32_t count;
  uint64_t head_seq;
};


static uint8_t *
sector (const struct log *l, uint64_t i)
{
  return l->buf + (i % l->n) * SECTOR;
}

/* Descriptor I of the entry at sector P: descriptors never straddle a
 * sector (64 and 4096 are multiples of 32). */
static const uint8_t *
descriptor (const struct log *l, uint32_t p, uint64_t i)
{
  const uint64_t off = ENTRY_HEADER + DESC_SIZE * i;

  return sector (l, p + off / SECTOR) + off % SECTOR;
}

/* ---------------------------------------------------------------- */
/* Validating one entry. */

static bool
header_ok (const struct log *l, const uint8_t *h, struct entry *en)
{
  const uint64_t bytes = (uint64_t) l->n * SECTOR;
  const uint32_t len = load_le32 (h + 8), tail = load_le32 (h + 12);

  en->seq = load_le64 (h + 16);
  en->count = load_le32 (h + 24);
  en->sectors = len / SECTOR;
  en->tail = tail / SECTOR;
  en->desc_sectors = DIV_ROUND_UP (ENTRY_HEADER + DESC_SIZE *
                                   (uint64_t) en->count, SECTOR);
  en->flushed = load_le64 (h + 48);
  en->last = load_le64 (h + 56);
  return memcmp (h, "loge", 4) == 0 && len > 0 && len % SECTOR == 0 &&
    len <= bytes && tail % SECTOR == 0 && tail < bytes && en->seq != 0 &&
    memcmp (h + 32, l->v->log_guid, 16) == 0 &&
    en->desc_sectors <= en->sectors;
}

/* Every descriptor is "desc" or "zero" with the entry's sequence
 * number; *DATA counts the "desc" ones. */
static bool
descriptors_ok (const struct log *l, uint32_t p, const struct entry *en,
                uint64_t *data)
{
  *data = 0;
  for (uint32_t i = 0; i < en->count; i++) {
    const uint8_t *d = descriptor (l, p, i);
    if (memcmp (d, "desc", 4) == 0)
      ++*data;
    else if (memcmp (d, "zero", 4) != 0)
      return false;
    if (load_le64 (d + 24) != en->seq)
      return false;
  }
  return en->desc_sectors + *data <= en->sectors;
}

/* Data sector K of the entry carries its sequence number, split. */
static bool
data_sectors_ok (const struct log *l, uint32_t p, const struct entry *en,
                 uint64_t data)
{
  for (uint64_t k = 0; k < data; k++) {
    const uint8_t *s = sector (l, p + en->desc_sectors + k);
    uint64_t seq = (uint64_t) load_le32 (s + 4) << 32 | load_le32 (s + 4092);
    if (memcmp (s, "data", 4) != 0 || seq != en->seq)
      return false;
  }
  return true;
}

static bool
checksum_ok (struct log *l, uint32_t p, const struct entry *en)
{
  const uint8_t *h = sector (l, p);
  uint32_t c;

  if (l->crc_left < (uint64_t) en->sectors * SECTOR) {
    l->too_much = true;
    return false;
  }
  l->crc_left -= (uint64_t) en->sectors * SECTOR;
  c = vhdx_checksum (h, SECTOR);

  for (uint32_t k = 1; k < en->sectors; k++)
    c = crc32c (c, sector (l, p + k), SECTOR);
  return c == load_le32 (h + 4);
}

/* The cheap checks first, the checksum over the whole entry last. */
static void
validate (struct log *l, uint32_t p)
{
  struct entry *en = &l->e[p];
  uint64_t data;

  en->valid = header_ok (l, sector (l, p), en) &&
    descriptors_ok (l, p, en, &data) && data_sectors_ok (l, p, en, data) &&
    checksum_ok (l, p, en);
}

/* ---------------------------------------------------------------- */
/* Finding the active sequence. */

static bool
run_contains (const struct log *l, const struct run *r, uint32_t s)
{
  uint32_t p = r->start;

  for (uint32_t i = 0; i < r->count; i++) {
    if (p == s)
      return true;
    p = (p + l->e[p].sectors) % l->n;
  }
  return false;
}

/* The run starting at sector T; it never wraps onto itself. */
static void
run_from (const struct log *l, uint32_t t, struct run *r)
{
  uint64_t used = 0;
  uint32_t p = t;

  *r = (struct run) { .start = t };
  while (l->e[p].valid && used + l->e[p].sectors <= l->n &&
         (r->count == 0 || l->e[p].seq == r->head_seq + 1)) {
    r->head = p;
    r->head_seq = l->e[p].seq;
    r->count++;
    used += l->e[p].sectors;
    p = (p + l->e[p].sectors) % l->n;
  }
  r->end = p;
  r->valid = r->count > 0 && run_contains (l, r, l->e[r->head].tail);
}

/* MS-VHDX 2.3.3: try every tail, jumping over valid runs; stop when
 * the tail wraps.  Returns false if there is no valid run. */
static bool
find_active (const struct log *l, struct run *best)
{
  uint32_t t = 0, old = 0;

  *best = (struct run) { .valid = false };
  for (;;) {
    struct run r;
    run_from (l, t, &r);
    if (r.valid && (!best->valid || r.head_seq > best->head_seq))
      *best = r;
    t = r.valid ? r.end : (t + 1) % l->n;
    if (t <= old)
      return best->valid;
    old = t;
  }
}

/* ---------------------------------------------------------------- */
/* Replaying it into a list of writes. */

static int
log_error (const struct log *l, uint64_t seq, uint32_t i, const char *what,
           uint64_t off, uint64_t len)
{
  hv_error (HV_E_FORMAT, "%s: log %s: entry with sequence number %" PRIu64
            ", descriptor %" PRIu32 " writes %s (%" PRIu64 " bytes at "
            "offset %" PRIu64 "); cannot replay the log", l->v->d.filename,
            l->guid, seq, i, what, len, off);
  return -1;
}

/* A write must be 4 KiB-aligned, after the identifier and headers (the
 * log never writes those), off the log itself and inside the file as
 * the log's LastFileOffset sizes it. */
static int
check_write (const struct log *l, uint64_t seq, uint32_t i, uint64_t off,
             uint64_t len)
{
  const struct vhdx *v = l->v;
  uint64_t end;

  if (off % SECTOR || len % SECTOR)
    return log_error (l, seq, i, "to an offset or length that is not 4 KiB-aligned", off, len);
  if (ckd_add (&end, off, len) || end > v->extended_size)
    return log_error (l, seq, i, "past the end of the file", off, len);
  if (off < 192 * KiB)
    return log_error (l, seq, i, "into the file identifier or headers",
                      off, len);
  if (off < v->log_offset + v->log_length && v->log_offset < end)
    return log_error (l, seq, i, "into the log itself", off, len);
  return 0;
}

/* The descriptors of the entry at sector P, as writes.  A data sector
 * gets its first 8 and last 4 bytes back from its descriptor, in place
 * in the log buffer, which the overlay then points into. */
static int
entry_writes (struct log *l, uint32_t p, struct vhdx_write_vector *out)
{
  const struct entry *en = &l->e[p];
  uint64_t k = 0;

  for (uint32_t i = 0; i < en->count; i++) {
    const uint8_t *d = descriptor (l, p, i);
    const bool zero = memcmp (d, "zero", 4) == 0;
    struct vhdx_write w = { .start = load_le64 (d + 16), .order = out->len };
    uint64_t len = zero ? load_le64 (d + 8) : SECTOR;

    if (check_write (l, en->seq, i, w.start, len) == -1)
      return -1;
    w.end = w.start + len;
    if (!zero) {
      uint8_t *s = sector (l, p + en->desc_sectors + k++);
      memcpy (s, d + 8, 8);
      memcpy (s + 4092, d + 4, 4);
      w.data = s;
    }
    if (len && vhdx_write_vector_append (out, w) == -1) {
      hv_error (HV_E_NOMEM, "%s: log replay: %m", l->v->d.filename);
      return -1;
    }
  }
  return 0;
}

/* From the head's Tail to the head, in order. */
static int
replay (struct log *l, const struct run *r, struct vhdx_write_vector *out)
{
  uint32_t p = l->e[r->head].tail;

  for (;;) {
    if (entry_writes (l, p, out) == -1)
      return -1;
    if (p == r->head)
      return 0;
    p = (p + l->e[p].sectors) % l->n;
  }
}

/* The log must be inside the file after the header section, a whole
 * number of sectors, and small enough to hold in memory. */
static int
check_log_location (struct log *l)
{
  const struct vhdx *v = l->v;
  uint64_t end;

  if (v->log_length > VHDX_MAX_LOG) {
    hv_error (HV_E_UNSUPPORTED, "%s: log %s of %" PRIu32 " bytes needs "
              "replaying, but hvconvert replays logs of at most %llu MiB; "
              "open the file read-write once with Hyper-V or `qemu-img "
              "check -r all` to replay it", v->d.filename, l->guid,
              v->log_length, VHDX_MAX_LOG / MiB);
    return -1;
  }
  if (v->log_length % SECTOR || v->log_offset < VHDX_HEADER_SECTION ||
      ckd_add (&end, v->log_offset, v->log_length) || end > v->file_size) {
    hv_error (HV_E_FORMAT, "%s: log %s at offset %" PRIu64 ", %" PRIu32
              " bytes, is outside the file (%" PRIu64 " bytes), in its "
              "header section, or not a multiple of 4 KiB", v->d.filename,
              l->guid, v->log_offset, v->log_length, v->file_size);
    return -1;
  }
  return 0;
}

static int
read_log (struct log *l)
{
  struct vhdx *v = l->v;

  l->n = v->log_length / SECTOR;
  v->log = l->buf = malloc (v->log_length);
  l->e = calloc (l->n, sizeof *l->e);
  if (l->buf == NULL || l->e == NULL) {
    hv_error (HV_E_NOMEM, "%s: log %s: %m", v->d.filename, l->guid);
    return -1;
  }
  if (vhdx_read (v, l->buf, v->log_length, v->log_offset, "the log") == -1)
    return -1;
  l->crc_left = (uint64_t) CRC_BUDGET * v->log_length;
  for (uint32_t p = 0; p < l->n && !l->too_much; p++)
    validate (l, p);
  if (l->too_much) {
    hv_error (HV_E_FORMAT, "%s: log %s: its entries overlap more than a "
              "real log's can; refusing to replay it", v->d.filename,
              l->guid);
    return -1;
  }
  return 0;
}

/* The active sequence's head says how large the file must be: smaller
 * than FlushedFileOffset means truncated; the replay may extend it to
 * LastFileOffset. */
static int
check_file_size (struct log *l, const struct entry *head)
{
  struct vhdx *v = l->v;

  if (v->file_size < head->flushed) {
    hv_error (HV_E_FORMAT, "%s: log %s: the file is truncated: %" PRIu64
              " bytes, but the log says at least %" PRIu64 " were written",
              v->d.filename, l->guid, v->file_size, head->flushed);
    return -1;
  }
  v->extended_size = MAX (v->file_size, head->last);
  return 0;
}

static int
replay_active (struct log *l)
{
  struct vhdx *v = l->v;
  struct vhdx_write_vector writes = { 0 };
  struct run r;
  int ret = -1;

  if (!find_active (l, &r)) {
    hv_warning (HV_E_FORMAT, "%s: log %s is named by the header but holds "
                "no complete entry (a crash before anything was logged "
                "leaves this); reading the file as it is", v->d.filename,
                l->guid);
    return 0;
  }
  if (check_file_size (l, &l->e[r.head]) == 0 &&
      replay (l, &r, &writes) == 0 &&
      vhdx_overlay_build (v, &writes) == 0) {
    hv_debug ("%s: log %s: replayed %" PRIu32 " entries up to sequence "
              "number %" PRIu64 ": %zu writes, %zu ranges", v->d.filename,
              l->guid, r.count, r.head_seq, writes.len, v->n_overlay);
    ret = 0;
  }
  free (writes.ptr);
  return ret;
}

int
vhdx_replay_log (struct vhdx *v)
{
  struct log l = { .v = v };
  int r = -1;

  if (vhdx_guid_is_zero (v->log_guid))
    return 0;
  vhdx_guid_format (v->log_guid, l.guid);
  if (v->log_length == 0) {
    hv_warning (HV_E_FORMAT, "%s: log %s is named by the header but has "
                "length 0; reading the file as it is", v->d.filename, l.guid);
    return 0;
  }
  if (check_log_location (&l) == 0 && read_log (&l) == 0)
    r = replay_active (&l);
  free (l.e);
  return r;
}
