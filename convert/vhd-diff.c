/* hvconvert vhd diff A B (alias compare): do two disks, of any format
 * importer_open reads, hold the same guest-visible content?  Exit status
 * 0 if they do, HV_EXIT_DIFFERENT (4) if not, with the offset of the
 * first difference.  Ranges both disks report as zero are skipped
 * without reading; a zero range on one side is compared by testing the
 * other side's data for zeros. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "convert.h"
#include "importers.h"

#define CHUNK  (4 * MiB)
#define WINDOW (1 * GiB)        /* extents asked for at once */

static const char usage_text[] =
  "Usage: hvconvert vhd diff A B [--quiet] [--allow-outside-paths]\n"
  "       hvconvert vhd compare A B [...]\n"
  "Compare the guest-visible content of two disks (VHD, raw, or any\n"
  "format hvconvert reads).  Exit status 0 if identical, 4 if they\n"
  "differ (the first differing offset is printed).\n"
  "\n"
  "  --quiet                print nothing; the exit status says it\n"
  "  --allow-outside-paths  follow backing files and extents named by an\n"
  "                         image outside its directory\n"
  "  -v, --verbose          debug messages\n"
  "  --machine-readable[=FD]  JSON-lines events on FD\n"
  "  -h, --help             this help\n";

enum { OPT_QUIET = OPT_SUBCOMMAND_FIRST, OPT_ALLOW_OUTSIDE };

static const struct option long_options[] = {
  { "quiet", no_argument, NULL, OPT_QUIET },
  { "allow-outside-paths", no_argument, NULL, OPT_ALLOW_OUTSIDE },
  COMMON_LONG_OPTIONS,
  { NULL, 0, NULL, 0 },
};

struct diff_args {
  bool quiet;
  unsigned open_flags;
};

static int
diff_option (void *ctx, int c, const char *arg)
{
  struct diff_args *a = ctx;

  switch (c) {
  case OPT_QUIET: a->quiet = true; return 0;
  case OPT_ALLOW_OUTSIDE: a->open_flags |= IMPORTER_ALLOW_OUTSIDE; return 0;
  default:
    usage_error ("vhd diff", "unexpected option");
    return -1;
  }
}

static const struct command_line command = {
  "vhd diff", usage_text, long_options, diff_option, 2, "A and B",
};

/* ---------------------------------------------------------------- */
/* Walking one disk's extents. */

struct cursor {
  struct disk *d;
  struct extent_vector ev;
  size_t i;
  uint8_t *buf;
};

/* The type and end of the extent that covers POS. */
static int
cursor_at (struct cursor *c, uint64_t pos, enum extent_type *type,
           uint64_t *end)
{
  const struct extent *e;

  while (c->i < c->ev.len &&
         c->ev.ptr[c->i].offset + c->ev.ptr[c->i].length <= pos)
    c->i++;
  if (c->i == c->ev.len) {
    c->ev.len = c->i = 0;
    if (disk_extents (c->d, pos, MIN (WINDOW, c->d->size - pos),
                      &c->ev) == -1)
      return -1;
    if (c->ev.len == 0 || c->ev.ptr[0].offset > pos) {
      hv_error (HV_E_INTERNAL, "%s: no extent at offset %" PRIu64,
                c->d->filename, pos);
      return -1;
    }
  }
  e = &c->ev.ptr[c->i];
  *type = e->type;
  *end = e->offset + e->length;
  return 0;
}

/* [POS, POS+N) of the disk in c->buf, or NULL for a zero extent. */
static const uint8_t *
cursor_read (struct cursor *c, enum extent_type type, uint64_t pos, size_t n,
             bool *failed)
{
  if (type == EXTENT_ZERO)
    return NULL;
  if (disk_pread (c->d, c->buf, n, pos) == -1) {
    *failed = true;
    return NULL;
  }
  return c->buf;
}

/* The first offset in [0, N) where A and B (NULL: zeros) differ, or N. */
static size_t
first_difference (const uint8_t *a, const uint8_t *b, size_t n)
{
  const size_t piece = 4096;
  size_t i = 0;

  for (; i < n; i += piece) {
    size_t len = MIN (piece, n - i);
    if (a && b ? memcmp (a + i, b + i, len) != 0
        : !is_zero ((a ? a : b) + i, len))
      break;
  }
  for (; i < n; i++)
    if ((a ? a[i] : 0) != (b ? b[i] : 0))
      break;
  return i;
}

/* Compare [POS, END), where both sides have one extent each.  Sets
 * *DIFF to the first differing offset, or leaves it. */
static int
compare_range (struct cursor *a, struct cursor *b, enum extent_type ta,
               enum extent_type tb, uint64_t pos, uint64_t end,
               uint64_t *diff)
{
  bool failed = false;

  while (pos < end) {
    size_t n = MIN (end - pos, CHUNK - pos % CHUNK);
    const uint8_t *x = cursor_read (a, ta, pos, n, &failed);
    const uint8_t *y = cursor_read (b, tb, pos, n, &failed);
    size_t at;
    if (failed || hv_check_interrupted () == -1)
      return -1;
    at = first_difference (x, y, n);
    if (at < n) {
      *diff = pos + at;
      return 0;
    }
    pos += n;
  }
  return 0;
}

/* The first offset below both sizes where the disks differ, or
 * UINT64_MAX. */
static int
compare_disks (struct cursor *a, struct cursor *b, uint64_t *diff)
{
  const uint64_t common = MIN (a->d->size, b->d->size);
  struct progress *p = progress_start ("compare", common);
  uint64_t pos = 0, ea, eb, end;
  enum extent_type ta, tb;
  int r = 0;

  *diff = UINT64_MAX;
  while (r == 0 && pos < common && *diff == UINT64_MAX) {
    r = cursor_at (a, pos, &ta, &ea);
    if (r == 0)
      r = cursor_at (b, pos, &tb, &eb);
    if (r == -1)
      break;
    end = MIN (MIN (ea, eb), common);
    if (ta != EXTENT_ZERO || tb != EXTENT_ZERO)
      r = compare_range (a, b, ta, tb, pos, end, diff);
    pos = end;
    progress_update (p, pos);
  }
  progress_end (p, r == 0);
  return r;
}

/* ---------------------------------------------------------------- */

static void
report (const char *na, const char *nb, const struct disk *a,
        const struct disk *b, uint64_t diff, bool quiet)
{
  const bool same = diff == UINT64_MAX && a->size == b->size;
  struct json *j = json_new ("done");

  json_str (j, "command", "vhd diff");
  json_bool (j, "identical", same);
  if (diff != UINT64_MAX)
    json_u64 (j, "offset", diff);
  json_u64 (j, "size_a", a->size);
  json_u64 (j, "size_b", b->size);
  json_emit (j);
  if (quiet || events_enabled ())
    return;
  if (same)
    printf ("%s and %s are identical\n", na, nb);
  else if (diff != UINT64_MAX)
    printf ("%s and %s differ at offset %" PRIu64 " (sector %" PRIu64 ")\n",
            na, nb, diff, diff / 512);
  else
    printf ("%s and %s differ in size: %" PRIu64 " and %" PRIu64 " bytes "
            "(identical up to %" PRIu64 ")\n", na, nb, a->size, b->size,
            MIN (a->size, b->size));
}

int
vhd_diff_cmd (int argc, char **argv)
{
  struct diff_args args = { 0 };
  struct cursor a = { 0 }, b = { 0 };
  char *names[2];
  uint64_t diff = UINT64_MAX;
  int r = parse_command (&command, argc, argv, &args, names);

  if (r != 0)
    return r == 1 ? HV_EXIT_OK : HV_EXIT_USAGE;
  r = -1;
  a.d = importer_open (names[0], NULL, args.open_flags);
  b.d = a.d ? importer_open (names[1], NULL, args.open_flags) : NULL;
  a.buf = malloc (CHUNK);
  b.buf = malloc (CHUNK);
  if (a.buf == NULL || b.buf == NULL)
    hv_error (HV_E_NOMEM, "vhd diff: %m");
  else if (b.d && compare_disks (&a, &b, &diff) == 0) {
    report (names[0], names[1], a.d, b.d, diff, args.quiet);
    r = diff == UINT64_MAX && a.d->size == b.d->size ? 0 : 1;
  }
  free (a.ev.ptr);
  free (b.ev.ptr);
  free (a.buf);
  free (b.buf);
  disk_close (a.d);
  disk_close (b.d);
  return r == 1 ? HV_EXIT_DIFFERENT : exit_status (r);
}
