/* tests/: initramfs-add, the initramfs code of injectors/ on the command
 * line, for test-initramfs-add.sh:
 *
 *   initramfs-add list IMAGE        every member, one a line
 *   initramfs-add layout IMAGE      "segment N METHOD OFFSET LENGTH
 *                                   MEMBERS" lines, "appendable yes|no"
 *   initramfs-add add [-v] [--append] [--gzip] IMAGE OUT KVER MODDIR
 *                 MODULE...
 *
 * add takes the module lists from MODDIR (a /lib/modules/KVER tree on
 * the host) and fetches module files from there, as the inject glue
 * fetches them from the guest, and prints what it did: "modules_dir
 * D", "added PATH", "present NAME", "builtin NAME", "missing NAME",
 * "changed yes|no", "seconds S".  Exit status 0, or 1 after an error.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "injectors.h"

static int
list (const char *image)
{
  struct string_vector v = { 0 };
  int r = initramfs_list (image, &v);

  for (size_t i = 0; i < v.len; i++) {
    if (r == 0)
      printf ("%s\n", v.ptr[i]);
    free (v.ptr[i]);
  }
  free (v.ptr);
  return r;
}

static int
layout (const char *image)
{
  struct initramfs_layout l = { 0 };
  int r = initramfs_scan (image, NULL, &l);

  for (size_t i = 0; r == 0 && i < l.segments.len; i++) {
    const struct initramfs_segment *s = &l.segments.ptr[i];
    printf ("segment %zu %s %llu %llu %zu\n", i + 1, s->method,
            (unsigned long long) s->offset, (unsigned long long) s->length,
            s->members);
  }
  if (r == 0)
    printf ("appendable %s\n", l.appendable ? "yes" : "no");
  initramfs_layout_free (&l);
  return r;
}

/* The fetch callback: a copy from the host's module tree. */
static int
fetch (void *ctx, const char *relpath, const char *dest)
{
  char src[4096];
  struct stat st;
  int in, out, r = -1;

  snprintf (src, sizeof src, "%s/%s", (const char *) ctx, relpath);
  in = open (src, O_RDONLY | O_CLOEXEC);
  out = open (dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in >= 0 && out >= 0 && fstat (in, &st) == 0 &&
      full_copy_range (in, 0, out, 0, st.st_size) == 0)
    r = 0;
  else
    hv_error (HV_E_IO, "fetch %s: %m", src);
  if (in >= 0)
    close (in);
  if (out >= 0)
    close (out);
  return r;
}

/* MODDIR/NAME if it exists, else NULL (in BUF). */
static const char *
list_file (char *buf, size_t len, const char *moddir, const char *name)
{
  snprintf (buf, len, "%s/%s", moddir, name);
  return access (buf, R_OK) == 0 ? buf : NULL;
}

static void
print_all (const char *what, const struct string_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    printf ("%s %s\n", what, v->ptr[i]);
}

static int
add (int argc, char **argv)
{
  char dep[4096], order[4096], builtin[4096], modinfo[4096];
  struct initramfs_request r = { .fetch = fetch };
  struct initramfs_result res;
  double t;
  int i = 0;

  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp (argv[i], "-v") == 0)
      hv_verbose = true;
    else if (strcmp (argv[i], "--append") == 0)
      r.how = INITRAMFS_APPEND;
    else if (strcmp (argv[i], "--gzip") == 0)
      r.gzip = true;
    else
      return -1;
  }
  if (argc - i < 5)
    return -1;
  r.image = argv[i];
  r.output = argv[i + 1];
  r.kver = argv[i + 2];
  r.fetch_ctx = argv[i + 3];
  r.modules = argv + i + 4;
  r.modules_dep = list_file (dep, sizeof dep, argv[i + 3], "modules.dep");
  r.modules_order = list_file (order, sizeof order, argv[i + 3],
                               "modules.order");
  r.modules_builtin = list_file (builtin, sizeof builtin, argv[i + 3],
                                 "modules.builtin");
  r.modules_builtin_modinfo = list_file (modinfo, sizeof modinfo,
                                         argv[i + 3],
                                         "modules.builtin.modinfo");
  t = now_seconds ();
  if (initramfs_add_modules (&r, &res) == -1)
    return 1;
  printf ("modules_dir %s\n", res.modules_dir);
  print_all ("added", &res.added);
  print_all ("present", &res.present);
  print_all ("builtin", &res.builtin);
  print_all ("missing", &res.missing);
  printf ("changed %s\nseconds %.2f\n", res.changed ? "yes" : "no",
          now_seconds () - t);
  initramfs_result_free (&res);
  return 0;
}

int
main (int argc, char **argv)
{
  int r = -1;

  if (argc >= 3 && strcmp (argv[1], "list") == 0)
    r = list (argv[2]);
  else if (argc >= 3 && strcmp (argv[1], "layout") == 0)
    r = layout (argv[2]);
  else if (argc >= 2 && strcmp (argv[1], "add") == 0)
    r = add (argc - 2, argv + 2);
  if (r == -1 && hv_last_error_code () == -1)
    fprintf (stderr, "usage: initramfs-add list|layout IMAGE\n"
             "       initramfs-add add [-v] [--append] [--gzip] IMAGE OUT "
             "KVER MODDIR MODULE...\n");
  return r == 0 ? 0 : 1;
}
