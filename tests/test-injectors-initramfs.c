/* Unit test: initramfs images read as the kernel reads them
 * (injectors/initramfs-walk.c, initramfs-codec.c), the module lists
 * (initramfs-modules.c) and the paths of initramfs_add_modules that
 * need no depmod (test-initramfs-add.sh runs the rest on the host's
 * real kernel).
 *
 * The images are built here with libarchive (an independent cpio
 * writer and its compression filters) and, for the LZ4 legacy format
 * the kernel reads, the lz4 command: an early uncompressed archive, a
 * compressed main one, a tail; then crafted bad ones (truncated data,
 * huge sizes, a name without its NUL, junk after the end, a
 * decompression bomb), which must fail with the right code and a
 * message naming the file and the segment, never crash.
 */
#include <config.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "initramfs-walk.h"

static char dir[256];
static int events_fd = -1;

/* DIR/NAME, valid for the next 64 calls. */
static const char *
path (const char *name)
{
  static char buf[64][400];
  static int i;

  i = (i + 1) % 64;
  snprintf (buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

/* ------------------------------------------------------------------ */
/* Building images. */

struct m {
  const char *name;
  mode_t type;              /* S_IFREG, S_IFDIR, S_IFLNK */
  const char *data;         /* contents or link target */
};

/* FILE's size padded with NULs to a multiple of 4 (where the kernel
 * wants an uncompressed archive to start). */
static void
pad4 (const char *file)
{
  struct stat st;
  int fd = open (file, O_WRONLY | O_CREAT | O_APPEND, 0644);

  assert_true (fd >= 0);
  assert_int_equal (fstat (fd, &st), 0);
  if (st.st_size % 4)
    assert_int_equal (write (fd, "\0\0\0", 4 - st.st_size % 4),
                      4 - st.st_size % 4);
  close (fd);
}

static void
append_bytes (const char *file, const void *buf, size_t len)
{
  int fd = open (file, O_WRONLY | O_CREAT | O_APPEND, 0644);

  assert_true (fd >= 0);
  assert_int_equal (full_write (fd, buf, len), 0);
  close (fd);
}

/* A newc archive of the N members, compressed with FILTER (a libarchive
 * filter name, NULL: none), in a new buffer; its length in *LEN. */
static uint8_t *
archive_bytes (const char *filter, const struct m *ms, size_t n, size_t *len)
{
  size_t cap = 64 * MiB;
  uint8_t *buf = malloc (cap);
  struct archive *a = archive_write_new ();

  assert_non_null (buf);
  assert_int_equal (archive_write_set_format_cpio_newc (a), ARCHIVE_OK);
  if (filter)
    assert_int_equal (archive_write_add_filter_by_name (a, filter),
                      ARCHIVE_OK);
  assert_int_equal (archive_write_set_bytes_in_last_block (a, 1), ARCHIVE_OK);
  assert_int_equal (archive_write_open_memory (a, buf, cap, len), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new ();
    size_t dlen = ms[i].data ? strlen (ms[i].data) : 0;
    archive_entry_set_pathname (e, ms[i].name);
    archive_entry_set_filetype (e, ms[i].type);
    archive_entry_set_perm (e, ms[i].type == S_IFDIR ? 0755 : 0644);
    archive_entry_set_ino (e, i + 1);
    archive_entry_set_nlink (e, 1);
    archive_entry_set_size (e, ms[i].type == S_IFDIR ? 0 : dlen);
    if (ms[i].type == S_IFLNK)
      archive_entry_set_symlink (e, ms[i].data);
    if (archive_write_header (a, e) != ARCHIVE_OK)
      fail_msg ("%s: %s", ms[i].name, archive_error_string (a));
    if (ms[i].type == S_IFREG && dlen)
      assert_int_equal (archive_write_data (a, ms[i].data, dlen), dlen);
    archive_entry_free (e);
  }
  assert_int_equal (archive_write_close (a), ARCHIVE_OK);
  archive_write_free (a);
  return buf;
}

/* Append the archive to FILE (uncompressed ones at an aligned offset). */
static void
append_archive (const char *file, const char *filter, const struct m *ms,
                size_t n)
{
  size_t len;
  uint8_t *buf = archive_bytes (filter, ms, n, &len);

  if (filter == NULL)
    pad4 (file);
  append_bytes (file, buf, len);
  free (buf);
}

static const struct m early[] = {
  { "kernel", S_IFDIR, NULL },
  { "kernel/x86", S_IFDIR, NULL },
  { "kernel/x86/microcode", S_IFDIR, NULL },
  { "kernel/x86/microcode/GenuineIntel.bin", S_IFREG, "microcode" },
};

static const struct m main_members[] = {
  { ".", S_IFDIR, NULL },
  { "./init", S_IFREG, "#!/bin/sh\necho hello\n" },
  { "./usr", S_IFDIR, NULL },
  { "./usr/lib", S_IFDIR, NULL },
  { "./lib", S_IFLNK, "usr/lib" },
  { "./usr/lib/modules/6.1.0-test/kernel/drivers/hv/hv_vmbus.ko", S_IFREG,
    "not really a module" },
};

static const struct m tail[] = {
  { "etc/hvconvert", S_IFREG, "tail" },
};

/* The names of main_members as listed: "./" gone, "." the root. */
static const char *const main_names[] = {
  ".", "init", "usr", "usr/lib", "lib",
  "usr/lib/modules/6.1.0-test/kernel/drivers/hv/hv_vmbus.ko",
};

/* early + main (compressed with FILTER) + tail. */
static const char *
make_image (const char *name, const char *filter)
{
  const char *file = path (name);

  unlink (file);
  append_archive (file, NULL, early, ARRAY_SIZE (early));
  append_archive (file, filter, main_members, ARRAY_SIZE (main_members));
  append_archive (file, NULL, tail, ARRAY_SIZE (tail));
  return file;
}

/* ------------------------------------------------------------------ */
/* Scanning, with the error events caught. */

struct scan {
  int r;
  struct string_vector members;
  struct initramfs_layout layout;
  char events[8192];          /* the JSON events written meanwhile */
};

static void
scan (const char *image, struct scan *s)
{
  ssize_t n;

  memset (s, 0, sizeof *s);
  assert_int_equal (ftruncate (events_fd, 0), 0);
  assert_int_equal (lseek (events_fd, 0, SEEK_SET), 0);
  s->r = initramfs_scan (image, &s->members, &s->layout);
  n = pread (events_fd, s->events, sizeof s->events - 1, 0);
  assert_true (n >= 0);
  s->events[n] = '\0';
}

static void
scan_free (struct scan *s)
{
  for (size_t i = 0; i < s->members.len; i++)
    free (s->members.ptr[i]);
  free (s->members.ptr);
  initramfs_layout_free (&s->layout);
}

/* The scan failed with CODE, and a message holding TEXT. */
static void
assert_fails (const char *image, const char *code, const char *text)
{
  struct scan s;
  char want[64];

  scan (image, &s);
  snprintf (want, sizeof want, "\"code\":\"%s\"", code);
  if (s.r != -1 || !strstr (s.events, want) || !strstr (s.events, text) ||
      !strstr (s.events, image))
    fail_msg ("%s: want %s with \"%s\"; got r=%d events %s", image, code,
              text, s.r, s.events);
  scan_free (&s);
}

static void
assert_segment (const struct scan *s, size_t i, const char *method,
                size_t members)
{
  assert_true (i < s->layout.segments.len);
  assert_string_equal (s->layout.segments.ptr[i].method, method);
  assert_int_equal (s->layout.segments.ptr[i].members, members);
}

/* early + main + tail with the main archive compressed by FILTER. */
static void
check_three_segments (const char *filter, const char *method, bool appendable)
{
  char name[64];
  struct scan s;
  size_t k = 0;

  snprintf (name, sizeof name, "three-%s.img", method);
  scan (make_image (name, filter), &s);
  assert_int_equal (s.r, 0);
  for (size_t i = 0; i < ARRAY_SIZE (early); i++)
    assert_string_equal (s.members.ptr[k++], early[i].name);
  for (size_t i = 0; i < ARRAY_SIZE (main_names); i++)
    assert_string_equal (s.members.ptr[k++], main_names[i]);
  assert_segment (&s, 0, "cpio", ARRAY_SIZE (early));
  assert_segment (&s, 1, method, ARRAY_SIZE (main_members));
  if (appendable) {
    assert_string_equal (s.members.ptr[k++], "etc/hvconvert");
    assert_int_equal (s.layout.segments.len, 3);
    assert_segment (&s, 2, "cpio", 1);
    /* Segments follow each other; the tail starts aligned. */
    assert_true (s.layout.segments.ptr[1].offset ==
                 s.layout.segments.ptr[0].offset +
                 s.layout.segments.ptr[0].length);
    assert_true (s.layout.segments.ptr[2].offset % 4 == 0);
  }
  else
    /* bzip2: libarchive cannot say where it ends; the segment is taken
     * to the end of the file (the tail is not seen). */
    assert_int_equal (s.layout.segments.len, 2);
  assert_int_equal (s.members.len, k);
  assert_true (s.layout.appendable == appendable);
  scan_free (&s);
}

static void
test_three_segments (void **state)
{
  check_three_segments ("gzip", "gzip", true);
  check_three_segments ("xz", "xz", true);
  check_three_segments ("zstd", "zstd", true);
  check_three_segments ("lzma", "lzma", true);
  check_three_segments ("bzip2", "bzip2", false);
  check_three_segments (NULL, "cpio", true);
}

/* Run a command line (the lz4 tool); it must succeed. */
static void
run (const char *cmd)
{
  int status = system (cmd);

  if (status == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("%s: failed (is lz4 installed? setup.sh installs it)", cmd);
}

/* LZ4 legacy, as mkinitramfs writes it (lz4 -l): listed, and nothing
 * may follow it. */
static const char *
make_lz4_image (void)
{
  char cmd[1024];
  const char *img = path ("lz4.img");

  unlink (path ("main.cpio"));
  append_archive (path ("main.cpio"), NULL, main_members,
                  ARRAY_SIZE (main_members));
  unlink (img);
  append_archive (img, NULL, early, ARRAY_SIZE (early));
  snprintf (cmd, sizeof cmd, "lz4 -q -l -c '%s' >> '%s'", path ("main.cpio"),
            img);
  run (cmd);
  return img;
}

static void
test_lz4_legacy (void **state)
{
  struct scan s;

  scan (make_lz4_image (), &s);
  assert_int_equal (s.r, 0);
  assert_int_equal (s.layout.segments.len, 2);
  assert_segment (&s, 1, "lz4", ARRAY_SIZE (main_members));
  assert_false (s.layout.appendable);
  assert_int_equal (s.members.len,
                    ARRAY_SIZE (early) + ARRAY_SIZE (main_names));
  scan_free (&s);
}

/* Two archives in one compressed stream, NUL runs between segments,
 * a later member of the same name listed again. */
static void
test_archives_in_one_stream (void **state)
{
  static const struct m second[] = { { "init", S_IFREG, "newer" } };
  static const uint8_t nuls[513];
  const char *img = path ("two.img");
  size_t l1, l2;
  uint8_t *a = archive_bytes (NULL, main_members, ARRAY_SIZE (main_members),
                              &l1);
  uint8_t *b = archive_bytes (NULL, second, 1, &l2);
  struct scan s;

  /* Concatenate, gzip as one stream with libarchive's raw writer. */
  unlink (path ("two.cpio"));
  append_bytes (path ("two.cpio"), a, l1);
  append_bytes (path ("two.cpio"), b, l2);
  free (a);
  free (b);
  unlink (img);
  append_bytes (img, nuls, 512);
  {
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "gzip -c '%s' >> '%s'", path ("two.cpio"), img);
    run (cmd);
  }
  append_bytes (img, nuls, 513);
  append_archive (img, NULL, tail, 1);
  scan (img, &s);
  assert_int_equal (s.r, 0);
  assert_int_equal (s.layout.segments.len, 2);
  assert_true (s.layout.segments.ptr[0].offset == 512);
  assert_segment (&s, 0, "gzip", ARRAY_SIZE (main_members) + 1);
  assert_string_equal (s.members.ptr[ARRAY_SIZE (main_members)], "init");
  assert_string_equal (s.members.ptr[ARRAY_SIZE (main_members) + 1],
                       "etc/hvconvert");
  scan_free (&s);
}

/* ------------------------------------------------------------------ */
/* Bad images. */

/* The file FROM cut to LEN bytes as TO. */
static const char *
cut (const char *from, const char *to, off_t len)
{
  char cmd[1024];

  snprintf (cmd, sizeof cmd, "head -c %lld '%s' > '%s'", (long long) len,
            from, to);
  run (cmd);
  return to;
}

static void
test_truncated (void **state)
{
  static const char *const filters[] = { "gzip", "xz", "zstd", "lzma" };
  struct scan s;

  for (size_t i = 0; i < ARRAY_SIZE (filters); i++) {
    char name[64];
    const char *img;
    snprintf (name, sizeof name, "cut-%s.img", filters[i]);
    img = make_image (name, filters[i]);
    scan (img, &s);
    assert_int_equal (s.r, 0);
    off_t half = s.layout.segments.ptr[1].offset +
      s.layout.segments.ptr[1].length / 2;
    scan_free (&s);
    snprintf (name, sizeof name, "cut-%s-half.img", filters[i]);
    assert_fails (cut (img, path (name), half), "format", "segment 2");
  }
  /* Inside the early archive: inside a member's data. */
  assert_fails (cut (make_image ("cut-early.img", "gzip"),
                     path ("cut-early-half.img"), 300),
                "format", "segment 1 (cpio at offset 0): truncated");
}

/* A raw newc header: name NAME (NAMESIZE as given), FILESIZE. */
static size_t
header (char *buf, const char *magic, uint32_t namesize, uint32_t filesize,
        const char *name, size_t namelen)
{
  size_t n = sprintf (buf, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X"
                      "%08X%08X", magic, 1, 0100644, 0, 0, 1, 0, filesize,
                      0, 0, 0, 0, namesize, 0);
  memcpy (buf + n, name, namelen);
  n += namelen;
  while (n % 4)
    buf[n++] = '\0';
  return n;
}

static const char *
raw_image (const char *name, const void *buf, size_t len)
{
  const char *file = path (name);

  unlink (file);
  append_bytes (file, buf, len);
  return file;
}

static void
test_bad_headers (void **state)
{
  char buf[8192] = { 0 };
  size_t n;

  /* 4 GiB - 1 bytes of data: over the member limit. */
  n = header (buf, "070701", 2, 0xFFFFFFFF, "a", 2);
  assert_fails (raw_image ("huge.img", buf, n), "too-large", "segment 1");
  /* 1 GiB - 1: allowed, but the file ends. */
  n = header (buf, "070701", 2, 0x3FFFFFFF, "a", 2);
  assert_fails (raw_image ("big.img", buf, n + 100), "format",
                "truncated inside a");
  /* A name without its NUL. */
  n = header (buf, "070701", 4, 0, "abcd", 4);
  assert_fails (raw_image ("nonul.img", buf, n), "format",
                "no terminating NUL");
  /* Name sizes 0 and over PATH_MAX. */
  n = header (buf, "070701", 0, 0, "", 0);
  assert_fails (raw_image ("name0.img", buf, n), "format", "name size 0");
  n = header (buf, "070701", 5000, 0, "a", 2);
  assert_fails (raw_image ("namebig.img", buf, n + 5000), "format",
                "name size 5000");
  /* Not hex; old odc; junk after a good archive; a lone byte. */
  n = header (buf, "070701", 2, 0, "a", 2);
  buf[20] = 'x';
  assert_fails (raw_image ("hex.img", buf, n), "format", "not hexadecimal");
  memcpy (buf, "070707", 6);
  assert_fails (raw_image ("odc.img", buf, n), "format", "old odc format");
  assert_fails (raw_image ("nul.img", "\0\0\0\0\0\0\0\0", 8), "format",
                "only NUL bytes");
  assert_fails (raw_image ("one.img", "x", 1), "format", "junk at offset 0");
}

static void
test_junk_after (void **state)
{
  const char *img = make_image ("junk.img", "zstd");
  struct scan s;

  append_bytes (img, "JUNK", 4);
  scan (img, &s);
  assert_int_equal (s.r, -1);
  assert_non_null (strstr (s.events, "junk at offset"));
  scan_free (&s);
  /* A '0' at an odd offset after a compressed segment is junk too. */
  img = path ("odd.img");
  unlink (img);
  append_archive (img, "gzip", main_members, ARRAY_SIZE (main_members));
  {
    struct stat st;
    assert_int_equal (stat (img, &st), 0);
    if (st.st_size % 4 == 0)
      append_bytes (img, "\0", 1);
  }
  {
    size_t len;
    uint8_t *b = archive_bytes (NULL, tail, 1, &len);
    append_bytes (img, b, len);
    free (b);
  }
  assert_fails (img, "format", "junk at offset");
}

/* A compressed stream that ends inside a member, and one holding junk
 * between members. */
static void
test_bad_stream (void **state)
{
  char buf[256] = { 0 }, cmd[1024];
  size_t n = header (buf, "070701", 2, 100, "a", 2);

  raw_image ("short.cpio", buf, n + 10);
  snprintf (cmd, sizeof cmd, "zstd -q -c '%s' > '%s'", path ("short.cpio"),
            path ("short.img"));
  run (cmd);
  assert_fails (path ("short.img"), "format",
                "segment 1 (zstd at offset 0): truncated inside a");
  n = header (buf, "070701", 2, 0, "a", 2);
  memcpy (buf + n, "XXXX", 4);
  raw_image ("junkin.cpio", buf, n + 4);
  snprintf (cmd, sizeof cmd, "xz -q -c '%s' > '%s'", path ("junkin.cpio"),
            path ("junkin.img"));
  run (cmd);
  assert_fails (path ("junkin.img"), "format", "junk at cpio offset 112");
}

/* 80 MiB of zeros in one member, with the limit at 16 MiB. */
static void
test_bomb (void **state)
{
  char cmd[1024];
  uint64_t saved = irfs_output_limit;

  snprintf (cmd, sizeof cmd, "cd '%s' && rm -rf bomb && mkdir bomb && "
            "head -c 83886080 /dev/zero > bomb/zeros && "
            "cd bomb && echo zeros | cpio -o -H newc --quiet | "
            "zstd -q -c > ../bomb.img && cd .. && rm -rf bomb", dir);
  run (cmd);
  irfs_output_limit = 16 * MiB;
  assert_fails (path ("bomb.img"), "too-large",
                "decompresses to more than 16");
  irfs_output_limit = saved;
}

/* ------------------------------------------------------------------ */
/* Module lists and the paths of add that need no depmod. */

static void
write_text (const char *file, const char *text)
{
  unlink (file);
  append_bytes (file, text, strlen (text));
}

static void
test_module_names (void **state)
{
  static const char *const cases[][2] = {
    { "hv-vmbus", "hv_vmbus" },
    { "kernel/drivers/hv/hv_vmbus.ko", "hv_vmbus" },
    { "kernel/drivers/pci/controller/pci-hyperv.ko.xz", "pci_hyperv" },
    { "kernel/x/crc32c-intel.ko.zst", "crc32c_intel" },
  };

  for (size_t i = 0; i < ARRAY_SIZE (cases); i++) {
    char *n = irfs_module_name (cases[i][0]);
    assert_string_equal (n, cases[i][1]);
    free (n);
  }
  assert_true (irfs_is_module_path ("a/b.ko.gz"));
  assert_false (irfs_is_module_path ("modules.dep"));
}

static const char dep_text[] =
  "kernel/drivers/hv/hv_vmbus.ko:\n"
  "kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_mod.ko "
  "kernel/drivers/hv/hv_vmbus.ko\n"
  "kernel/drivers/scsi/scsi_mod.ko:\n"
  "kernel/drivers/ata/ata_piix.ko: kernel/drivers/scsi/scsi_mod.ko\n";

static void
test_modules_read (void **state)
{
  struct irfs_modules m;
  const struct irfs_module *x;

  write_text (path ("modules.dep"), dep_text);
  write_text (path ("modules.builtin"), "kernel/drivers/hv/hv_utils.ko\n");
  assert_int_equal (irfs_modules_read (&m, path ("modules.dep"),
                                       path ("modules.builtin")), 0);
  assert_int_equal (m.n, 4);
  x = irfs_modules_find (&m, "hv_storvsc");
  assert_non_null (x);
  assert_string_equal (x->path, "kernel/drivers/scsi/hv_storvsc.ko");
  assert_string_equal (x->deps[0], "scsi_mod");
  assert_string_equal (x->deps[1], "hv_vmbus");
  assert_null (x->deps[2]);
  assert_true (irfs_modules_builtin (&m, "hv_utils"));
  assert_false (irfs_modules_builtin (&m, "hv_vmbus"));
  assert_null (irfs_modules_find (&m, "hv_netvsc"));
  irfs_modules_free (&m);
  write_text (path ("bad.dep"), "kernel/a.ko:\nno colon here\n");
  assert_int_equal (irfs_modules_read (&m, path ("bad.dep"), NULL), -1);
}

static int
no_fetch (void *ctx, const char *relpath, const char *dest)
{
  fail_msg ("fetch %s was not expected", relpath);
  return -1;
}

/* The image holds hv_vmbus; hv_utils is built in; the wanted set is
 * otherwise missing from this kernel: nothing to write. */
static void
test_add_nothing_to_do (void **state)
{
  static char *const wanted[] = { "hv-vmbus", "hv_utils", "hv_sock", NULL };
  struct initramfs_result res;
  struct initramfs_request r = { .image = make_image ("add.img", "zstd"),
    .output = path ("add-out.img"), .kver = "6.1.0-test",
    .modules = wanted, .modules_dep = path ("modules.dep"),
    .modules_builtin = path ("modules.builtin"), .fetch = no_fetch };

  write_text (path ("modules.dep"), dep_text);
  write_text (path ("modules.builtin"), "kernel/drivers/hv/hv_utils.ko\n");
  unlink (r.output);
  assert_int_equal (initramfs_add_modules (&r, &res), 0);
  assert_false (res.changed);
  assert_string_equal (res.modules_dir, "usr/lib/modules/6.1.0-test");
  assert_int_equal (res.present.len, 1);
  assert_string_equal (res.present.ptr[0], "hv_vmbus");
  assert_int_equal (res.builtin.len, 1);
  assert_string_equal (res.builtin.ptr[0], "hv_utils");
  assert_int_equal (res.missing.len, 1);
  assert_string_equal (res.missing.ptr[0], "hv_sock");
  assert_int_equal (res.added.len, 0);
  assert_int_equal (access (r.output, F_OK), -1);
  initramfs_result_free (&res);
}

/* Refusals before anything is written: APPEND after LZ4 legacy, a
 * module path from the guest that leaves the tree, a bad version. */
static void
test_add_refused (void **state)
{
  static char *const wanted[] = { "hv_storvsc", NULL };
  struct initramfs_result res;
  struct initramfs_request r = { .image = make_lz4_image (),
    .output = path ("refused.img"), .kver = "6.1.0-test", .modules = wanted,
    .modules_dep = path ("modules.dep"), .fetch = no_fetch,
    .how = INITRAMFS_APPEND };

  write_text (path ("modules.dep"), dep_text);
  assert_int_equal (initramfs_add_modules (&r, &res), -1);
  assert_int_equal (access (r.output, F_OK), -1);
  /* REPACK cannot write lz4 either. */
  r.how = INITRAMFS_REPACK;
  assert_int_equal (initramfs_add_modules (&r, &res), -1);
  assert_int_equal (access (r.output, F_OK), -1);
  write_text (path ("modules.dep"), "../../../etc/evil.ko:\n"
              "kernel/drivers/scsi/hv_storvsc.ko: ../../../etc/evil.ko\n");
  r.image = make_image ("evil.img", "gzip");
  assert_int_equal (initramfs_add_modules (&r, &res), -1);
  assert_int_equal (access (r.output, F_OK), -1);
  r.kver = "../x";
  assert_int_equal (initramfs_add_modules (&r, &res), -1);
}

/* ------------------------------------------------------------------ */

static int
setup (void **state)
{
  snprintf (dir, sizeof dir, "%s/test-injectors-initramfs.XXXXXX",
            getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  if (mkdtemp (dir) == NULL)
    return -1;
  events_fd = open (path ("events"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (events_fd == -1)
    return -1;
  events_open (events_fd);
  return 0;
}

static int
teardown (void **state)
{
  char cmd[512];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system (cmd) == 0 ? 0 : -1;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_three_segments),
    cmocka_unit_test (test_lz4_legacy),
    cmocka_unit_test (test_archives_in_one_stream),
    cmocka_unit_test (test_truncated),
    cmocka_unit_test (test_bad_headers),
    cmocka_unit_test (test_junk_after),
    cmocka_unit_test (test_bad_stream),
    cmocka_unit_test (test_bomb),
    cmocka_unit_test (test_module_names),
    cmocka_unit_test (test_modules_read),
    cmocka_unit_test (test_add_nothing_to_do),
    cmocka_unit_test (test_add_refused),
  };

  return cmocka_run_group_tests (tests, setup, teardown);
}
