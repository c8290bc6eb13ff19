/* TEMPORARY (removed when the injector branches merge): keeps main
 * linking while linux.c, initramfs*.c, linux-devices.c, linux-tools.c
 * are on their branches.  Every entry fails loudly. */
#include <config.h>

#include "injectors.h"

int
inject_linux (struct inj_guest *g, const struct inj_opts *o,
              struct inj_plan *plan)
{
  hv_error (HV_E_UNSUPPORTED, "%s: the Linux injector is not merged yet",
            g->root);
  return -1;
}
