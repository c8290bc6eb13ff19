/* injectors/: the parts of the initramfs code, shared by
 * initramfs-codec.c (the compression methods), initramfs-walk.c (the
 * segments and cpio archives of an image, as the kernel unpacks them),
 * initramfs-modules.c (modules.dep and modules.builtin),
 * initramfs-stage.c (the staging tree and depmod) and initramfs.c
 * (adding modules).  Not for other files: they use the initramfs
 * section of injectors.h.
 *
 * Every input is hostile: the image comes out of a guest.  Sizes are
 * bounded below, and every error names the file and the segment.
 */
#ifndef HV_INITRAMFS_WALK_H
#define HV_INITRAMFS_WALK_H

#include <sys/types.h>

#include "injectors.h"

#define IRFS_PATH_MAX 4096            /* a name or link target: PATH_MAX */
#define IRFS_MEMBER_MAX (1 * GiB)     /* the data of one member */
#define IRFS_IMAGE_MAX (2 * GiB)      /* the image file */
#define IRFS_DICT_MAX (128 * MiB)     /* xz/lzma/zstd decoder memory */

/* Decompressed bytes one walk may produce (2 GiB); the fuzz target
 * lowers it so a bomb costs little time. */
extern uint64_t irfs_output_limit;

/* The segment formats, as the kernel's decompress_method() knows them. */
enum irfs_method {
  IRFS_CPIO,     /* uncompressed newc cpio, at a 4-byte aligned offset */
  IRFS_GZIP,
  IRFS_BZIP2,
  IRFS_LZMA,     /* the old .lzma ("alone") format */
  IRFS_XZ,
  IRFS_LZO,      /* lzop */
  IRFS_LZ4,      /* LZ4 legacy: the kernel reads it to the end */
  IRFS_ZSTD,
};

/* "cpio", "gzip", ... */
const char *irfs_method_name (enum irfs_method m);
/* The compression method whose magic starts P (LEN bytes), as the
 * kernel sees it; -1 if none. */
int irfs_method_of (const uint8_t *p, size_t len);

/* ------------------------------------------------------------------ */
/* Decoders (initramfs-codec.c): the decompressed bytes of the one
 * compressed stream that starts at IN (LEN bytes to the end of the
 * image).  WHAT names the segment in messages ("FILE: segment 2 (zstd
 * at offset 5120)"); it must live as long as the decoder. */

struct irfs_decoder;

struct irfs_decoder *irfs_decoder_new (enum irfs_method m, const uint8_t *in,
                                       size_t len, const char *what);
/* Up to N bytes into BUF: the count, 0 at the end of the stream, or -1
 * after reporting (corrupt or truncated data). */
ssize_t irfs_decoder_read (struct irfs_decoder *d, void *buf, size_t n);
/* At the end: how many input bytes the stream took; UINT64_MAX when the
 * method cannot tell and takes the rest of the image (bzip2, lzo, lz4
 * through libarchive). */
uint64_t irfs_decoder_consumed (const struct irfs_decoder *d);
void irfs_decoder_free (struct irfs_decoder *d);

/* Encoders: a stream written in pieces, compressed with M into the
 * host file FD from OFFSET on.  FILE names it in messages.  gzip, xz
 * (CRC32 check, as the kernel's decoder wants), lzma, zstd and cpio
 * (no compression); the others are refused as unsupported. */

struct irfs_encoder;

struct irfs_encoder *irfs_encoder_new (enum irfs_method m, int fd,
                                       uint64_t offset, const char *file);
int irfs_encoder_write (struct irfs_encoder *e, const void *buf, size_t len);
/* End the stream and free E; *END is the file offset after it.  -1
 * after reporting (E is freed either way). */
int irfs_encoder_finish (struct irfs_encoder *e, uint64_t *end);
void irfs_encoder_free (struct irfs_encoder *e);

/* ------------------------------------------------------------------ */
/* The walk (initramfs-walk.c): every segment and member in the order
 * the kernel unpacks them. */

struct irfs_member {
  const char *name;      /* without "./" or "/" in front; "." the root */
  const char *link;      /* a symbolic link's target, else NULL */
  uint32_t mode;         /* S_IFMT and permission bits */
  uint32_t mtime;
  uint64_t size;         /* bytes of data */
  size_t segment;        /* index in the layout */
};

/* What the member callback returns (or -1 to stop after reporting). */
#define IRFS_DROP 0      /* copy segment: leave the member out */
#define IRFS_KEEP 1      /* copy segment: copy it; elsewhere: no meaning */

struct irfs_walk {
  const char *image;
  /* Each member but the trailers, or NULL.  Setting *SAVE_TO (a
   * malloc'd host path, freed by the walk) writes a regular member's
   * data to that new file. */
  int (*member) (void *ctx, const struct irfs_member *m, char **save_to);
  void *ctx;
  /* Repack: segment COPY_SEGMENT (SIZE_MAX: none) goes to SINK as
   * uncompressed cpio, its members kept or dropped by the callback;
   * FINISH runs before the last trailer of the segment and may write
   * more members to the sink (irfs_newc_*). */
  size_t copy_segment;
  int (*sink) (void *ctx, const void *buf, size_t len);
  int (*finish) (void *ctx);
  /* Out: the segments, and whether the kernel unpacks a segment put
   * after them. */
  struct initramfs_layout layout;
};

/* Walk W->image.  Returns 0, or -1 after reporting (the layout holds
 * the segments seen so far; free it with initramfs_layout_free). */
int irfs_walk (struct irfs_walk *w);

/* ------------------------------------------------------------------ */
/* Writing newc members: header, name, data, each padded to 4 bytes.
 * INO numbers the members of one archive (nlink is 1, so the kernel
 * links nothing). */

struct irfs_newc {
  int (*write) (void *ctx, const void *buf, size_t len);
  void *ctx;
  uint32_t ino;
  uint32_t mtime;
};

int irfs_newc_dir (struct irfs_newc *w, const char *name, uint32_t mode);
/* A regular file with the contents of host file PATH. */
int irfs_newc_file (struct irfs_newc *w, const char *name, uint32_t mode,
                    const char *path);
int irfs_newc_trailer (struct irfs_newc *w);

/* ------------------------------------------------------------------ */
/* Kernel modules (initramfs-modules.c). */

struct irfs_module {
  char *name;            /* "hv_vmbus": dashes as underscores */
  char *path;            /* "kernel/drivers/hv/hv_vmbus.ko" */
  char **deps;           /* names, NULL-terminated */
};

struct irfs_modules {
  struct irfs_module *v; /* sorted by name */
  size_t n;
  char **builtin;        /* sorted names */
  size_t nbuiltin;
};

/* "hv-vmbus", "kernel/.../hv_vmbus.ko.xz" -> "hv_vmbus" (malloc'd);
 * NULL after reporting out of memory. */
char *irfs_module_name (const char *name_or_path);
/* Is PATH a module file (".ko", ".ko.xz", ".ko.zst", ".ko.gz")? */
bool irfs_is_module_path (const char *path);

/* Read the host copies of modules.dep and (if not NULL)
 * modules.builtin.  -1 after reporting. */
int irfs_modules_read (struct irfs_modules *m, const char *dep,
                       const char *builtin);
const struct irfs_module *irfs_modules_find (const struct irfs_modules *m,
                                             const char *name);
bool irfs_modules_builtin (const struct irfs_modules *m, const char *name);
void irfs_modules_free (struct irfs_modules *m);

/* ------------------------------------------------------------------ */
/* The staging tree (initramfs-stage.c): DIR/stage/lib/modules/KVER,
 * where the host's depmod writes the indexes.  DIR is private and
 * removed by irfs_stage_close. */

struct irfs_stage {
  char *dir;             /* private directory */
  char *base;            /* DIR/stage: depmod -b */
  char *moddir;          /* BASE/lib/modules/KVER */
  const char *kver;
};

/* "modules.order", "modules.builtin", "modules.builtin.modinfo":
 * what depmod reads besides the modules. */
extern const char *const irfs_input_lists[3];

/* Make the tree under WORKDIR (NULL: $TMPDIR).  -1 after reporting. */
int irfs_stage_open (struct irfs_stage *s, const char *workdir,
                     const char *kver);
/* MODDIR/REL with its parent directories made (malloc'd); NULL after
 * reporting, also when REL is not a plain relative path. */
char *irfs_stage_path (struct irfs_stage *s, const char *rel);
/* Copy the host files LISTS (in the order of irfs_input_lists; NULL:
 * none) into the tree and run depmod on it. */
int irfs_stage_depmod (struct irfs_stage *s, const char *const lists[3]);
/* The names of the modules.* files in MODDIR, sorted, into V. */
int irfs_stage_indexes (struct irfs_stage *s, struct string_vector *v);
void irfs_stage_close (struct irfs_stage *s);

/* Helpers: they report out of memory and I/O errors themselves. */
char *irfs_join (const char *a, const char *b);          /* "A/B" */
int irfs_push (struct string_vector *v, const char *s);  /* a copy */
int irfs_compare_str (const void *a, const void *b);     /* for qsort */
void irfs_free_strings (struct string_vector *v);
/* A relative path from the guest that stays inside its directory: no
 * "/" in front, no empty, "." or ".." component. */
bool irfs_safe_relpath (const char *p);
/* mkdir -p of the directories above FILE, below BASE. */
int irfs_make_parents (const char *base, const char *file);

#endif /* HV_INITRAMFS_WALK_H */
