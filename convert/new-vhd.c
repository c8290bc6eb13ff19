/* A disk copied into a new VHD: the output of hvconvert disk, vhd convert
 * and vhd merge --output; and the --type option that chooses its type. */
#include <config.h>

#include "convert.h"
#include "vhd.h"

/* --type keywords and the VHD type each means, index for index. */
static const char *const type_names[] = { "dynamic", "fixed", NULL };
static const enum vhd_type type_values[] = {
  VHD_TYPE_DYNAMIC, VHD_TYPE_FIXED,
};

int
option_vhd_type (const char *arg, int *type)
{
  int i = option_keyword ("type", arg, type_names);

  if (i == -1)
    return -1;
  *type = type_values[i];
  return 0;
}

int
copy_to_new_vhd (struct disk *src, struct output *out, int type,
                 uint32_t block_size, struct copy_stats *st)
{
  const uint32_t bs = block_size ? block_size : VHD_DEFAULT_BLOCK;
  const struct vhd_create_opts vo = {
    .type = type, .size = src->size, .block_size = bs,
    .final_name = out->final, .no_sync = out->no_sync,
  };
  struct copy_opts co = {
    .alloc_unit = type == VHD_TYPE_DYNAMIC ? bs : 0,
    .what = "copy",
  };
  struct disk *dst = vhd_create (out->tmp, &vo);
  int r = -1;

  co.writeback_fd = vhd_disk_sync_fd (dst);
  if (dst)
    r = copy_disk (src, dst, &co, st);
  if (r == 0)
    r = disk_flush (dst);
  disk_close (dst);
  return r;
}
