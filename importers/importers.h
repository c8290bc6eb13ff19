/* hvconvert: importers/, foreign disk images opened as a `struct disk`.
 *
 * The one header of importers/.  Every importer opens its source
 * read-only: the source of a conversion is never written to.  The
 * returned disk owns its file descriptor; disk_close (common.h) frees it.
 */
#ifndef HV_IMPORTERS_H
#define HV_IMPORTERS_H

#include "common.h"

/* One image format.  The table in formats.c lists them in probe order;
 * "raw" is last because every file is a valid raw image. */
struct importer_format {
  const char *name;   /* "vhd", "raw": what --format accepts */

  /* Does the open file FD of FILE_SIZE bytes look like this format?
   * Reads with pread only; never reports. */
  bool (*probe) (int fd, uint64_t file_size);

  /* Open FILENAME read-only as a disk.  FLAGS: IMPORTER_* below; pass
   * them on to importer_open_related for backing files.  Returns NULL
   * after reporting. */
  struct disk *(*open) (const char *filename, unsigned flags);
};

/* Flags of importer_open and importer_format.open.  The low bits count
 * how deep in a backing chain the image is (0 for the image the user
 * named); importer_open_related increments them. */
#define IMPORTER_DEPTH_MASK 0xffu
#define IMPORTER_DEPTH(flags) ((flags) & IMPORTER_DEPTH_MASK)
#define IMPORTER_MAX_DEPTH 64
enum {
  /* Files named by an image may be anywhere (--allow-outside-paths). */
  IMPORTER_ALLOW_OUTSIDE = 1u << 8,
};

/* Every disk an importer returns is safe to read from several threads
 * at once: pread and extents may run concurrently (the copy engine
 * decodes compressed sources on all cores), so any cache they keep is
 * protected by a lock or kept per call. */

/* Open a source image.  FORMAT names an entry of the table, or NULL to
 * detect the format by content (never by the file name).  Refuses
 * directories and anything that is neither a regular file nor a block
 * device.  Returns NULL after reporting. */
struct disk *importer_open (const char *filename, const char *format,
                            unsigned flags);

/* inflate.c: decode IN (LEN bytes: one whole deflate stream, raw or
 * zlib-wrapped, perhaps followed by padding) into exactly WANT bytes at
 * OUT, never writing past OUT + WANT.  The fast path only: returns -1,
 * reporting nothing, for anything but an exact fill, and the caller
 * decodes again with zlib for the verdict and the message. */
enum inflate_wrap { INFLATE_RAW, INFLATE_ZLIB };
int inflate_whole (enum inflate_wrap wrap, const void *in, size_t len,
                   void *out, size_t want);

/* related.c: files named inside an image (backing files, parents,
 * extents).  NAME is resolved against the directory of BASE, the image
 * that names it; a name that leads outside that directory (absolute,
 * "..", a symbolic link out) is refused with the code "unsafe" unless
 * FLAGS has IMPORTER_ALLOW_OUTSIDE.  WHAT ("backing file", "extent")
 * is for messages.  importer_related_path returns the malloc'd path;
 * importer_open_related opens it as FORMAT (NULL: detect) one level
 * deeper in the chain, refusing chains of IMPORTER_MAX_DEPTH images.
 * Both return NULL after reporting. */
char *importer_related_path (const char *base, const char *name,
                             unsigned flags, const char *what);
struct disk *importer_open_related (const char *base, const char *name,
                                    const char *format, unsigned flags,
                                    const char *what);
/* Would NAME lead outside the directory of the image naming it (an
 * absolute path or a ".." component)?  For formats that try several
 * names and want a safe one first; the open still checks. */
bool importer_name_leaves_directory (const char *name);

/* The table of formats, for --help and error messages; N gets its
 * length. */
const struct importer_format *importer_formats (size_t *n);

/* raw.c: a raw image file or block device.  Files are read with holes
 * reported as zero extents; a file whose size is not a multiple of 512
 * reads as if padded with zeros to the next sector (with a warning). */
bool raw_probe (int fd, uint64_t file_size);
struct disk *raw_open (const char *filename, unsigned flags);

/* qcow2.c: QCOW2 versions 2 and 3 (qemu), read-only, with backing
 * files; encrypted images, external data files, extended L2 entries
 * and zstd compression are refused by name. */
bool qcow2_probe (int fd, uint64_t file_size);
struct disk *qcow2_open (const char *filename, unsigned flags);
/* vmdk.c: VMware VMDK, a text descriptor or a KDMV sparse file
 * (monolithicSparse, monolithicFlat, twoGbMaxExtentSparse/Flat, vmfs,
 * streamOptimized, and delta disks of them). */
bool vmdk_probe (int fd, uint64_t file_size);
struct disk *vmdk_open (const char *filename, unsigned flags);
/* vhdx.c: Hyper-V VHDX (MS-VHDX): fixed, dynamic and differencing,
 * 512 or 4096-byte logical sectors; a log left by a crash is replayed
 * in memory.  The parent of a differencing disk is found through
 * importer_open_related and must be a VHDX whose DataWriteGuid matches
 * the child's parent_linkage. */
bool vhdx_probe (int fd, uint64_t file_size);
struct disk *vhdx_open (const char *filename, unsigned flags);

/* vdi.c: VirtualBox VDI 0.2 and 1.x: normal, fixed and differencing
 * (the parent found by UUID in the same folder). */
bool vdi_probe (int fd, uint64_t file_size);
struct disk *vdi_open (const char *filename, unsigned flags);

/* The size of an open regular file or block device in bytes, and its
 * logical sector size (512 for files).  Reports with FILENAME and
 * returns -1 on failure. */
int raw_file_size (int fd, const char *filename, uint64_t *size,
                   uint32_t *sector_size);

/* ------------------------------------------------------------------ */
/* Machine descriptions (machines.c): a file read into the VM model. */

/* One description format; the table in machines.c lists them in probe
 * order, "disk" (a bare image or device) last. */
struct machine_format {
  const char *name;   /* "vmc", "disk": what --source-format accepts */
  /* Does the start of the file (HEAD, LEN bytes) look like this? */
  bool (*probe) (const char *head, size_t len);
  /* Read FILENAME into a model; FLAGS as for importer_open.  NULL after
   * reporting. */
  struct vm *(*load) (const char *filename, unsigned flags);
};

/* Read a machine description (FORMAT NULL: detect by content).  The
 * model's disks are resolved paths, checked to be regular files or
 * block devices; the images themselves are opened later. */
struct vm *importer_load_vm (const char *filename, const char *format,
                             unsigned flags);
const struct machine_format *machine_formats (size_t *n);

/* vmc.c: Virtual PC / Virtual Server machines. */
bool vmc_probe (const char *head, size_t len);
struct vm *vmc_load (const char *filename, unsigned flags);

/* ovf.c: OVF descriptors.  ovf_parse reads BUF (LEN bytes of the
 * descriptor FILENAME) into a model whose disks' `path` are the File
 * hrefs, unresolved; FALLBACK names a machine without a Name.
 * ovf_load reads a plain .ovf and resolves the hrefs beside it. */
bool ovf_probe (const char *head, size_t len);
struct vm *ovf_load (const char *filename, unsigned flags);
struct vm *ovf_parse (const char *filename, const char *buf, size_t len,
                      const char *fallback, const char *source_format);
char *ovf_default_name (const char *file);

/* ova.c: OVA packages read as a stream.  ova_next moves to the next
 * entry (1; 0 at the end; -1 after reporting an unsafe or duplicate
 * name, a link, a read error); ova_read reads its data (0 at its end,
 * when its digests are kept), ova_read_full exactly N bytes (as a
 * vmdk_read_fn), ova_drain the rest.  ova_digest: the hex SHA-1 and
 * SHA-256 of an entry read to its end, or NULL. */
struct ova;
struct ova_digest {
  const char *name;          /* owned by the ova */
  char sha1[41], sha256[65];
};
DEFINE_VECTOR (ova_digest_vector, struct ova_digest)
bool ova_probe (const char *head, size_t len);
struct vm *ova_load (const char *filename, unsigned flags);
struct ova *ova_open (const char *filename);
int ova_next (struct ova *o, const char **name, uint64_t *size);
ssize_t ova_read (struct ova *o, void *buf, size_t n);
int ova_read_full (void *opaque, void *buf, size_t n);
int ova_drain (struct ova *o);
const struct ova_digest *ova_digest (const struct ova *o, const char *name);
/* Hash the entries to come with only these (both at first); a digest
 * not computed is "". */
void ova_want_digests (struct ova *o, bool sha1, bool sha256);
const char *ova_filename (const struct ova *o);
void ova_close (struct ova *o);

/* vmdk-stream.c: a streamOptimized VMDK read front to back from READ,
 * which fills BUF with exactly N bytes (or returns -1 after reporting;
 * running out is an error), TOTAL bytes in all (0 if unknown: then it
 * must end with an end-of-stream marker, which qemu-img does not
 * write).  vmdk_stream_start reads the header;
 * vmdk_stream_copy writes every non-zero grain into DST (of at least
 * vmdk_stream_size bytes), *WRITTEN counting the bytes written. */
typedef int (*vmdk_read_fn) (void *opaque, void *buf, size_t n);
struct vmdk_stream;
struct vmdk_stream *vmdk_stream_start (const char *name, vmdk_read_fn read,
                                       void *opaque, uint64_t total);
uint64_t vmdk_stream_size (const struct vmdk_stream *s);
int vmdk_stream_copy (struct vmdk_stream *s, struct disk *dst,
                      uint64_t *written);
void vmdk_stream_free (struct vmdk_stream *s);

/* vmx.c: VMware machines. */
bool vmx_probe (const char *head, size_t len);
struct vm *vmx_load (const char *filename, unsigned flags);

/* xml.c: XML from hostile files (no network, no DOCTYPE, bounded size).
 * The node type is libxml2's; include <libxml/tree.h> to use them. */
struct _xmlDoc;
struct _xmlNode;
/* Read all of a regular file of at most MAX bytes, NUL-terminated. */
int importer_read_file (const char *filename, size_t max, char **buf,
                        size_t *len);
struct _xmlDoc *xml_read (const char *filename);
struct _xmlDoc *xml_parse (const char *filename, const char *buf,
                           size_t len);
/* The first child element named NAME (local name, any namespace), the
 * next sibling element so named, the element at "a/b/c" below N. */
struct _xmlNode *xml_child (const struct _xmlNode *parent, const char *name);
struct _xmlNode *xml_next (const struct _xmlNode *after, const char *name);
struct _xmlNode *xml_path (const struct _xmlNode *n, const char *path);
/* Text content trimmed, or an attribute (any namespace); malloc'd, NULL
 * if N or the attribute is absent. */
char *xml_text (const struct _xmlNode *n);
char *xml_attr (const struct _xmlNode *n, const char *name);

#endif /* HV_IMPORTERS_H */
