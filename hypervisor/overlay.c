/* Throw-away overlays: a qcow2 file whose backing file is the disk being
 * verified or run.  QEMU writes only to the overlay, so the disk itself
 * never changes.  Made by qemu-img from an argv array. */
#include <config.h>

#include <stdio.h>

#include "hypervisor.h"

/* qemu-img create of an overlay reads the backing file's header only. */
#define QEMU_IMG_TIMEOUT 60.0

int
hv_overlay_create (const char *backing, const char *backing_format,
                   const char *overlay)
{
  CLEANUP_FREE char *abs = realpath (backing, NULL);
  CLEANUP_FREE char *out = NULL;
  const char *qemu_img = getenv ("QEMU_IMG");
  char *argv[] = {
    (char *) (qemu_img && *qemu_img ? qemu_img : "qemu-img"),
    "create", "-q", "-f", "qcow2", "-F", (char *) backing_format,
    "-b", abs, (char *) overlay, NULL,
  };
  int r;

  /* The backing file is recorded by absolute name: the overlay lives
   * in another directory. */
  if (abs == NULL) {
    hv_error (HV_E_IO, "%s: %m", backing);
    return -1;
  }
  r = hv_run (argv, QEMU_IMG_TIMEOUT, &out);
  if (r != 0) {
    if (r > 0)
      hv_error (HV_E_IO, "%s: qemu-img cannot make an overlay of it: %s",
                backing, out ? out : "");
    return -1;
  }
  return 0;
}
