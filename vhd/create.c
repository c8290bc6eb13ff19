/* Creating fixed, dynamic and differencing VHDs.
 *
 * Creator fields decide how other readers size the disk (FORMATS.md 1.6).
 * Hyper-V, VirtualBox and libvhdi use current_size; qemu uses C*H*S
 * unless the creator is one it knows to use current_size:
 *
 *   creator  qemu size     Hyper-V    Virtual PC   our choice
 *   "win "   current_size  exact      C*H*S        yes: exact everywhere
 *   "qem2"   current_size  exact      C*H*S        no: claims qemu wrote it
 *   "vpc "   C*H*S         exact      C*H*S        no: qemu truncates sizes
 *                                                  that are not CHS-exact
 *   other    C*H*S         exact      C*H*S        no: same truncation
 *
 * So we write "win " (version 10.0, host "Wi2k"), what Hyper-V on
 * Windows Server 2016+ writes, and geometry from the spec's algorithm.
 * Virtual PC still sees C*H*S, which is at most a cylinder short of a
 * size that is not CHS-exact; `vhd info` warns about that difference.
 *
 * Layout of a dynamic disk: footer copy @0, header @512, BAT @1536
 * (exactly ceil(size / block) entries, padded to a sector with 0xFF, as
 * Azure rejects a longer BAT), parent locator payloads, then blocks,
 * each placed so its data is 4 KiB-aligned, then the footer.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "vhd-internal.h"

#define CREATOR_APP      "win "
#define CREATOR_VERSION  0x000A0000u   /* 10.0 */
#define CREATOR_HOST     0x5769326Bu   /* "Wi2k" */
#define HEADER_OFFSET    512
#define BAT_OFFSET       1536

static uint32_t
vhd_now (void)
{
  time_t t = time (NULL);

  return t > VHD_EPOCH ? (uint32_t) (t - VHD_EPOCH) : 0;
}

static int
make_footer (struct vhd_footer *f, enum vhd_type type, uint64_t size)
{
  struct vhd_geometry g;

  memset (f, 0, sizeof *f);
  memcpy (f->cookie, "conectix", 8);
  f->features = 2;
  f->version = 0x00010000;
  f->data_offset = type == VHD_TYPE_FIXED ? UINT64_MAX : HEADER_OFFSET;
  f->timestamp = vhd_now ();
  memcpy (f->creator_app, CREATOR_APP, 4);
  f->creator_version = CREATOR_VERSION;
  f->creator_os = CREATOR_HOST;
  f->original_size = f->current_size = size;
  vhd_geometry (size, &g);
  f->cylinders = g.cylinders;
  f->heads = g.heads;
  f->sectors = g.sectors;
  f->disk_type = type;
  return uuid_generate_random (f->uuid);
}

static int
check_block_size (const char *file, uint64_t size, uint32_t bs)
{
  if (!IS_POWER_OF_2 (bs) || bs < VHD_MIN_BLOCK || bs > VHD_MAX_BLOCK) {
    hv_error (HV_E_USAGE, "%s: block size %" PRIu32 " is not a power of two "
              "from 512 bytes to 256 MiB", file, bs);
    return -1;
  }
  if (DIV_ROUND_UP (size, bs) * 4 > VHD_MAX_BAT_BYTES) {
    hv_error (HV_E_USAGE, "%s: block size %" PRIu32 " is too small for %"
              PRIu64 " bytes (the BAT would exceed 16 MiB); use 512K or "
              "more", file, bs, size);
    return -1;
  }
  return 0;
}

static int
write_all (int fd, const char *file, const void *buf, size_t n, uint64_t at)
{
  if (full_pwrite (fd, buf, n, at) == -1) {
    hv_error (HV_E_IO, "%s: writing %zu bytes at offset %" PRIu64 ": %m",
              file, n, at);
    return -1;
  }
  return 0;
}

static int
create_fixed (int fd, const char *file, struct vhd_footer *f)
{
  uint8_t buf[VHD_FOOTER_SIZE];

  /* A sparse file: the data reads as zeros until written. */
  if (full_ftruncate (fd, f->current_size + VHD_FOOTER_SIZE) == -1) {
    hv_error (HV_E_IO, "%s: extending to %" PRIu64 " bytes: %m", file,
              f->current_size + VHD_FOOTER_SIZE);
    return -1;
  }
  vhd_footer_encode (f, buf);
  return write_all (fd, file, buf, sizeof buf, f->current_size);
}

/* Parent facts a differencing child records: UUID, timestamp (the
 * parent file's modification time, as Virtual PC and blktap store it)
 * and size. */
static int
parent_facts (const char *parent, struct vhd_header *h, uint64_t *size)
{
  struct disk *p = vhd_open (parent, 0);
  struct stat st;
  int r = -1;

  if (p == NULL)
    return -1;
  if (stat (vhd_disk_path (p), &st) == -1)
    hv_error (HV_E_IO, "%s: %m", parent);
  else {
    memcpy (h->parent_uuid, vhd_disk_footer (p)->uuid, 16);
    h->parent_timestamp = st.st_mtime > VHD_EPOCH
      ? (uint32_t) (st.st_mtime - VHD_EPOCH) : 0;
    *size = p->size;
    r = 0;
  }
  disk_close (p);
  return r;
}

static int
write_bat (int fd, const char *file, uint32_t entries)
{
  size_t len = ROUND_UP ((size_t) entries * 4, VHD_SECTOR);
  uint8_t *bat = malloc (len);
  int r;

  if (bat == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return -1;
  }
  memset (bat, 0xFF, len);   /* unused entries and padding, like qemu */
  r = write_all (fd, file, bat, len, BAT_OFFSET);
  free (bat);
  return r;
}

static int
create_sparse (int fd, const char *file, struct vhd_footer *f,
               struct vhd_header *h, const struct vhd_create_opts *o)
{
  uint8_t fbuf[VHD_FOOTER_SIZE], hbuf[VHD_HEADER_SIZE];
  uint8_t *payload = NULL;
  size_t plen = 0;
  uint32_t entries = DIV_ROUND_UP (f->current_size, h->block_size);
  uint64_t end = BAT_OFFSET + ROUND_UP ((uint64_t) entries * 4, VHD_SECTOR);
  int r = -1;

  memcpy (h->cookie, "cxsparse", 8);
  h->data_offset = UINT64_MAX;
  h->table_offset = BAT_OFFSET;
  h->version = 0x00010000;
  h->max_table_entries = entries;
  if (o->type == VHD_TYPE_DIFF &&
      vhd_build_locators (o->final_name ? o->final_name : file, o->parent,
                          h, end, &payload, &plen) == -1)
    return -1;
  vhd_footer_encode (f, fbuf);
  vhd_header_encode (h, hbuf);
  if (write_all (fd, file, fbuf, sizeof fbuf, 0) == 0 &&
      write_all (fd, file, hbuf, sizeof hbuf, HEADER_OFFSET) == 0 &&
      write_bat (fd, file, entries) == 0 &&
      (plen == 0 || write_all (fd, file, payload, plen, end) == 0) &&
      write_all (fd, file, fbuf, sizeof fbuf, end + plen) == 0)
    r = 0;
  free (payload);
  return r;
}

static int
fill_and_write (int fd, const char *file, const struct vhd_create_opts *o)
{
  struct vhd_footer f;
  struct vhd_header h = { 0 };
  uint64_t size = o->size;

  h.block_size = o->block_size ? o->block_size : VHD_DEFAULT_BLOCK;
  if (o->type == VHD_TYPE_DIFF && parent_facts (o->parent, &h, &size) == -1)
    return -1;
  if (vhd_check_size (file, size) == -1 ||
      make_footer (&f, o->type, size) == -1)
    return -1;
  if (o->type == VHD_TYPE_FIXED)
    return create_fixed (fd, file, &f);
  if (check_block_size (file, size, h.block_size) == -1)
    return -1;
  return create_sparse (fd, file, &f, &h, o);
}

/* Messages name the file the user will see, not the temporary. */
static struct disk *
open_created (const char *filename, const char *shown, bool no_sync)
{
  struct disk *d = vhd_open (filename, VHD_OPEN_WRITE |
                             (no_sync ? VHD_OPEN_NOSYNC : 0));
  char *name;

  if (d && shown && (name = strdup (shown)) != NULL) {
    free (d->filename);
    d->filename = name;
  }
  return d;
}

struct disk *
vhd_create (const char *filename, const struct vhd_create_opts *o)
{
  const char *shown = o->final_name ? o->final_name : filename;
  int fd;

  if (o->type != VHD_TYPE_FIXED && o->type != VHD_TYPE_DYNAMIC &&
      !(o->type == VHD_TYPE_DIFF && o->parent)) {
    hv_error (HV_E_INTERNAL, "%s: bad vhd_create options", filename);
    return NULL;
  }
  fd = open (filename, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd == -1) {
    hv_error (errno == EEXIST ? HV_E_EXISTS : HV_E_IO, "%s: %m", shown);
    return NULL;
  }
  if (fill_and_write (fd, shown, o) == -1) {
    close (fd);
    unlink (filename);
    return NULL;
  }
  close (fd);
  return open_created (filename, o->final_name, o->no_sync);
}
