/* Whole-buffer inflate: the fast path of compressed grains and clusters.
 *
 * A streamOptimized VMDK grain and a compressed qcow2 cluster are each
 * one complete deflate stream whose output size is known before
 * decoding.  libdeflate decodes such a buffer in one call, two to three
 * times as fast as zlib's streaming inflate, and decoding is the whole
 * cost of converting a compressed image.
 *
 * It is only the fast path.  Anything but a stream that fills OUT
 * exactly returns -1 without reporting, and the caller decodes again
 * with zlib: zlib stays the reference for what is accepted (qemu also
 * takes a qcow2 stream cut off after its last output byte) and for the
 * messages.  A decompressor is allocated per call (one malloc, no table
 * set-up), so no state is shared between the copy engine's threads.
 */
#include <config.h>

#include <libdeflate.h>

#include "importers.h"

int
inflate_whole (enum inflate_wrap wrap, const void *in, size_t len, void *out,
               size_t want)
{
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor ();
  enum libdeflate_result r = LIBDEFLATE_BAD_DATA;
  size_t used;

  if (d == NULL)
    return -1;
  if (wrap == INFLATE_ZLIB)
    r = libdeflate_zlib_decompress_ex (d, in, len, out, want, &used, NULL);
  else
    r = libdeflate_deflate_decompress_ex (d, in, len, out, want, &used,
                                          NULL);
  libdeflate_free_decompressor (d);
  return r == LIBDEFLATE_SUCCESS ? 0 : -1;
}
