/* VHD on-disk structures: the footer (512 B) and the dynamic disk header
 * (1024 B), both big-endian.  This is the only place that knows their
 * byte layout (spec v1.0; offsets in ../shared/FORMATS.md 1.2 and 1.4). */
#include <config.h>

#include "vhd-internal.h"

uint32_t
vhd_checksum (const uint8_t *buf, size_t len, size_t csum_off)
{
  uint32_t sum = 0;

  for (size_t i = 0; i < len; i++)
    if (i < csum_off || i >= csum_off + 4)
      sum += buf[i];
  return ~sum;
}

void
vhd_footer_decode (const uint8_t b[VHD_FOOTER_SIZE], struct vhd_footer *f)
{
  memcpy (f->cookie, b, 8);
  f->features = load_be32 (b + 8);
  f->version = load_be32 (b + 12);
  f->data_offset = load_be64 (b + 16);
  f->timestamp = load_be32 (b + 24);
  memcpy (f->creator_app, b + 28, 4);
  f->creator_version = load_be32 (b + 32);
  f->creator_os = load_be32 (b + 36);
  f->original_size = load_be64 (b + 40);
  f->current_size = load_be64 (b + 48);
  f->cylinders = load_be16 (b + 56);
  f->heads = b[58];
  f->sectors = b[59];
  f->disk_type = load_be32 (b + 60);
  f->checksum = load_be32 (b + 64);
  memcpy (f->uuid, b + 68, 16);
  f->saved_state = b[84];
}

void
vhd_footer_encode (struct vhd_footer *f, uint8_t b[VHD_FOOTER_SIZE])
{
  memset (b, 0, VHD_FOOTER_SIZE);
  memcpy (b, f->cookie, 8);
  store_be32 (b + 8, f->features);
  store_be32 (b + 12, f->version);
  store_be64 (b + 16, f->data_offset);
  store_be32 (b + 24, f->timestamp);
  memcpy (b + 28, f->creator_app, 4);
  store_be32 (b + 32, f->creator_version);
  store_be32 (b + 36, f->creator_os);
  store_be64 (b + 40, f->original_size);
  store_be64 (b + 48, f->current_size);
  store_be16 (b + 56, f->cylinders);
  b[58] = f->heads;
  b[59] = f->sectors;
  store_be32 (b + 60, f->disk_type);
  memcpy (b + 68, f->uuid, 16);
  b[84] = f->saved_state;
  f->checksum = vhd_checksum (b, VHD_FOOTER_SIZE, 64);
  store_be32 (b + 64, f->checksum);
}

static void
locator_decode (const uint8_t *b, struct vhd_locator *l)
{
  l->code = load_be32 (b);
  l->data_space = load_be32 (b + 4);
  l->data_length = load_be32 (b + 8);
  l->data_offset = load_be64 (b + 16);
}

static void
locator_encode (const struct vhd_locator *l, uint8_t *b)
{
  store_be32 (b, l->code);
  store_be32 (b + 4, l->data_space);
  store_be32 (b + 8, l->data_length);
  store_be64 (b + 16, l->data_offset);
}

void
vhd_header_decode (const uint8_t b[VHD_HEADER_SIZE], struct vhd_header *h)
{
  memcpy (h->cookie, b, 8);
  h->data_offset = load_be64 (b + 8);
  h->table_offset = load_be64 (b + 16);
  h->version = load_be32 (b + 24);
  h->max_table_entries = load_be32 (b + 28);
  h->block_size = load_be32 (b + 32);
  h->checksum = load_be32 (b + 36);
  memcpy (h->parent_uuid, b + 40, 16);
  h->parent_timestamp = load_be32 (b + 56);
  memcpy (h->parent_name, b + 64, 512);
  for (int i = 0; i < VHD_LOCATORS; i++)
    locator_decode (b + 576 + 24 * i, &h->loc[i]);
}

void
vhd_header_encode (struct vhd_header *h, uint8_t b[VHD_HEADER_SIZE])
{
  memset (b, 0, VHD_HEADER_SIZE);
  memcpy (b, h->cookie, 8);
  store_be64 (b + 8, h->data_offset);
  store_be64 (b + 16, h->table_offset);
  store_be32 (b + 24, h->version);
  store_be32 (b + 28, h->max_table_entries);
  store_be32 (b + 32, h->block_size);
  memcpy (b + 40, h->parent_uuid, 16);
  store_be32 (b + 56, h->parent_timestamp);
  memcpy (b + 64, h->parent_name, 512);
  for (int i = 0; i < VHD_LOCATORS; i++)
    locator_encode (&h->loc[i], b + 576 + 24 * i);
  h->checksum = vhd_checksum (b, VHD_HEADER_SIZE, 36);
  store_be32 (b + 36, h->checksum);
}

const char *
vhd_type_name (uint32_t disk_type)
{
  switch (disk_type) {
  case VHD_TYPE_FIXED: return "fixed";
  case VHD_TYPE_DYNAMIC: return "dynamic";
  case VHD_TYPE_DIFF: return "differencing";
  default: return "unknown";
  }
}
