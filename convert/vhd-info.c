/* hvconvert vhd info: what a VHD is, as text or JSON. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "convert.h"
#include "vhd.h"

/* Creator application codes seen in the wild (FORMATS.md 1.6). */
static const struct { const char code[5]; const char *name; } creators[] = {
  { "win ", "Windows (Hyper-V, Disk Management)" },
  { "vpc ", "Virtual PC" },
  { "vs  ", "Virtual Server" },
  { "d2v",  "Disk2vhd" },
  { "vbox", "VirtualBox" },
  { "qemu", "QEMU" },
  { "qem2", "QEMU (force_size)" },
  { "tap",  "XenServer blktap" },
  { "CTXS", "XenConverter" },
};

static const char *
creator_name (const uint8_t app[4])
{
  for (size_t i = 0; i < ARRAY_SIZE (creators); i++)
    if (strncmp ((const char *) app, creators[i].code, 4) == 0)
      return creators[i].name;
  return "unknown";
}

/* The 4 creator bytes, printable (NULs and controls become '.'). */
static void
creator_text (const uint8_t app[4], char out[5])
{
  for (int i = 0; i < 4; i++)
    out[i] = app[i] >= 0x20 && app[i] < 0x7F ? app[i] : '.';
  out[4] = '\0';
}

static void
host_text (uint32_t os, char out[5])
{
  uint8_t b[4];

  store_be32 (b, os);
  creator_text (b, out);
}

static void
time_text (uint32_t vhd_time, char *out, size_t len)
{
  time_t t = (time_t) vhd_time + VHD_EPOCH;
  struct tm tm;

  gmtime_r (&t, &tm);
  strftime (out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static char *
info_json (struct disk *d, const char *chain_json)
{
  const struct vhd_footer *f = vhd_disk_footer (d);
  const struct vhd_header *h = vhd_disk_header (d);
  struct vhd_geometry g = { f->cylinders, f->heads, f->sectors };
  struct json *j = json_new (NULL);
  char app[5], host[5], uuid[37], ver[16];

  creator_text (f->creator_app, app);
  host_text (f->creator_os, host);
  uuid_format (f->uuid, uuid);
  snprintf (ver, sizeof ver, "%u.%u", f->creator_version >> 16,
            f->creator_version & 0xFFFF);
  json_str (j, "file", vhd_disk_path (d));
  json_str (j, "type", vhd_type_name (f->disk_type));
  json_u64 (j, "virtual_size", f->current_size);
  json_u64 (j, "cylinders", f->cylinders);
  json_u64 (j, "heads", f->heads);
  json_u64 (j, "sectors_per_track", f->sectors);
  json_u64 (j, "chs_size", vhd_geometry_bytes (&g));
  json_str (j, "creator_app", app);
  json_str (j, "creator_version", ver);
  json_str (j, "creator_host", host);
  json_u64 (j, "timestamp", (uint64_t) f->timestamp + VHD_EPOCH);
  json_str (j, "uuid", uuid);
  json_bool (j, "saved_state", f->saved_state);
  if (h) {
    json_u64 (j, "block_size", h->block_size);
    json_u64 (j, "blocks_allocated", vhd_disk_blocks_allocated (d));
    json_u64 (j, "blocks_total", vhd_disk_blocks_total (d));
  }
  if (chain_json)
    json_raw (j, "parent", chain_json);
  return json_end (j);
}

/* A name from the file may hold terminal escapes: show them as '?'. */
static void
sanitize (char *s)
{
  for (; s && *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7F)
      *s = '?';
}

static void
print_parent_fields (const struct vhd_header *h)
{
  char uuid[37], when[64];
  char *name = utf16be_to_utf8 (h->parent_name, sizeof h->parent_name);

  sanitize (name);
  uuid_format (h->parent_uuid, uuid);
  time_text (h->parent_timestamp, when, sizeof when);
  printf ("parent name:      %s\n", name ? name : "");
  printf ("parent uuid:      %s\n", uuid);
  printf ("parent timestamp: %s\n", when);
  free (name);
}

static void
info_text (struct disk *d, int level)
{
  const struct vhd_footer *f = vhd_disk_footer (d);
  const struct vhd_header *h = vhd_disk_header (d);
  struct vhd_geometry g = { f->cylinders, f->heads, f->sectors };
  char app[5], host[5], uuid[37], size[32], when[64];

  creator_text (f->creator_app, app);
  host_text (f->creator_os, host);
  uuid_format (f->uuid, uuid);
  format_size (f->current_size, size, sizeof size);
  time_text (f->timestamp, when, sizeof when);
  if (level > 0)
    printf ("\nparent %d:\n", level);
  printf ("file:             %s\n", level ? vhd_disk_path (d) : d->filename);
  printf ("type:             %s\n", vhd_type_name (f->disk_type));
  printf ("virtual size:     %s (%" PRIu64 " bytes)\n", size,
          f->current_size);
  printf ("geometry (CHS):   %u/%u/%u (%" PRIu64 " bytes)\n", f->cylinders,
          f->heads, f->sectors, vhd_geometry_bytes (&g));
  printf ("creator:          \"%s\" %u.%u on \"%s\" (%s)\n", app,
          f->creator_version >> 16, f->creator_version & 0xFFFF, host,
          creator_name (f->creator_app));
  printf ("timestamp:        %s\n", when);
  printf ("uuid:             %s\n", uuid);
  printf ("saved state:      %s\n", f->saved_state ? "yes" : "no");
  if (h) {
    format_size (h->block_size, size, sizeof size);
    printf ("block size:       %s\n", size);
    printf ("blocks allocated: %" PRIu32 " of %" PRIu32 "\n",
            vhd_disk_blocks_allocated (d), vhd_disk_blocks_total (d));
  }
  if (f->disk_type == VHD_TYPE_DIFF)
    print_parent_fields (h);
  if (vhd_geometry_bytes (&g) != f->current_size && level == 0)
    printf ("note:             readers that size by CHS (Virtual PC, qemu "
            "for some creators) see %" PRIu64 " bytes, not %" PRIu64 "\n",
            vhd_geometry_bytes (&g), f->current_size);
}

/* JSON for the parents of D, innermost last, or NULL if none. */
static char *
parents_json (struct disk *d)
{
  struct disk *p = vhd_disk_parent (d);
  char *inner, *me;

  if (p == NULL)
    return NULL;
  inner = parents_json (p);
  me = info_json (p, inner);
  free (inner);
  return me;
}

int
vhd_info_command (const char *file, bool json)
{
  struct disk *d = vhd_open (file, VHD_OPEN_NOPARENT);
  struct disk *full = NULL;
  char *chain = NULL, *text;

  if (d == NULL)
    return HV_EXIT_FAILED;
  if (vhd_disk_footer (d)->disk_type == VHD_TYPE_DIFF) {
    full = vhd_open (file, 0);
    chain = full ? parents_json (full) : NULL;
  }
  if (json) {
    text = info_json (d, chain);
    printf ("%s\n", text ? text : "{}");
    free (text);
  }
  else {
    info_text (d, 0);
    int level = 1;
    for (struct disk *p = vhd_disk_parent (full); p;
         p = vhd_disk_parent (p))
      info_text (p, level++);
  }
  free (chain);
  disk_close (full);
  bool broken = vhd_disk_footer (d)->disk_type == VHD_TYPE_DIFF && !full;
  disk_close (d);
  return broken ? HV_EXIT_FAILED : HV_EXIT_OK;
}

int
vhd_check_command (const char *file, bool json)
{
  struct string_vector problems = { 0 };
  int r = vhd_check (file, &problems);

  if (json) {
    struct json *j = json_new (NULL);
    char *text;
    json_str (j, "file", file);
    json_bool (j, "ok", r == 0 && problems.len == 0);
    json_str_array (j, "problems", problems.ptr, problems.len);
    text = json_end (j);
    printf ("%s\n", text ? text : "{}");
    free (text);
  }
  else
    for (size_t i = 0; i < problems.len; i++)
      printf ("%s: %s\n", file, problems.ptr[i]);
  if (!json && r == 0 && problems.len == 0)
    printf ("%s: no problems found\n", file);
  for (size_t i = 0; i < problems.len; i++)
    free (problems.ptr[i]);
  free (problems.ptr);
  if (r == -1)
    return HV_EXIT_FAILED;
  return problems.len ? HV_EXIT_CHECK : HV_EXIT_OK;
}
