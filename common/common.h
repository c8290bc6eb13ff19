/* hvconvert: small shared helpers used by every folder.
 *
 * This is the one header of common/.  It holds the byte-order loads and
 * stores, overflow-checked arithmetic, cleanup attributes, a typed vector,
 * error and event reporting, full pread/pwrite, the `struct disk` interface
 * that every image format implements, UTF-16 conversion, UUIDs, size
 * parsing and progress output.
 */
#ifndef HV_COMMON_H
#define HV_COMMON_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Byte order.  On-disk structures are converted in one place per format
 * with these; no code casts a buffer to a struct. */

static inline uint16_t load_be16 (const void *p)
{
  const uint8_t *b = p;
  return (uint16_t) (b[0] << 8 | b[1]);
}
static inline uint32_t load_be32 (const void *p)
{
  const uint8_t *b = p;
  return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 |
         (uint32_t) b[2] << 8 | b[3];
}
static inline uint64_t load_be64 (const void *p)
{
  const uint8_t *b = p;
  return (uint64_t) load_be32 (b) << 32 | load_be32 (b + 4);
}
static inline uint16_t load_le16 (const void *p)
{
  const uint8_t *b = p;
  return (uint16_t) (b[1] << 8 | b[0]);
}
static inline uint32_t load_le32 (const void *p)
{
  const uint8_t *b = p;
  return (uint32_t) b[3] << 24 | (uint32_t) b[2] << 16 |
         (uint32_t) b[1] << 8 | b[0];
}
static inline uint64_t load_le64 (const void *p)
{
  const uint8_t *b = p;
  return (uint64_t) load_le32 (b + 4) << 32 | load_le32 (b);
}
static inline void store_be16 (void *p, uint16_t v)
{
  uint8_t *b = p;
  b[0] = v >> 8; b[1] = v;
}
static inline void store_be32 (void *p, uint32_t v)
{
  uint8_t *b = p;
  b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v;
}
static inline void store_be64 (void *p, uint64_t v)
{
  uint8_t *b = p;
  store_be32 (b, v >> 32); store_be32 (b + 4, (uint32_t) v);
}
static inline void store_le16 (void *p, uint16_t v)
{
  uint8_t *b = p;
  b[0] = v; b[1] = v >> 8;
}
static inline void store_le32 (void *p, uint32_t v)
{
  uint8_t *b = p;
  b[0] = v; b[1] = v >> 8; b[2] = v >> 16; b[3] = v >> 24;
}
static inline void store_le64 (void *p, uint64_t v)
{
  uint8_t *b = p;
  store_le32 (b, (uint32_t) v); store_le32 (b + 4, v >> 32);
}

/* ------------------------------------------------------------------ */
/* Arithmetic.  Values read from files go through the checked forms. */

#define ckd_add(r, a, b) __builtin_add_overflow ((a), (b), (r))
#define ckd_mul(r, a, b) __builtin_mul_overflow ((a), (b), (r))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ROUND_UP(n, d) (DIV_ROUND_UP ((n), (d)) * (d))
#define IS_POWER_OF_2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define TiB (1024ULL * GiB)

/* True if the buffer holds only zero bytes (the memcmp overlap trick). */
bool is_zero (const void *buf, size_t len);

/* CRC-32C (Castagnoli) of LEN bytes, continuing from CRC (0 to start):
 * crc32c (crc32c (0, a, n), b, m) is the CRC of a followed by b.  The
 * checksum of VHDX structures (crc32c.c). */
uint32_t crc32c (uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Cleanup attributes for locals; the unwind path of multi-step setup uses
 * goto labels instead. */

void cleanup_free (void *ptr);
void cleanup_close (int *fd);
#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (cleanup_close)))

/* Free a NULL-terminated list of malloc'd strings and the list (what
 * libguestfs returns for a list of strings); NULL is accepted. */
void strings_free (char **v);

/* ------------------------------------------------------------------ */
/* Typed vectors: DEFINE_VECTOR (name, type) gives struct name {ptr, len,
 * cap} and name_append() which returns -1 (errno ENOMEM) on failure.
 * The vector owns ptr; free it with free (v.ptr). */

int vector_grow (void **ptr, size_t *cap, size_t need, size_t elem);

#define DEFINE_VECTOR(name, type)                                       \
  struct name { type *ptr; size_t len; size_t cap; };                   \
  static inline int name##_append (struct name *v, type elem)           \
  {                                                                     \
    if (vector_grow ((void **) &v->ptr, &v->cap, v->len + 1,            \
                     sizeof (type)) == -1)                              \
      return -1;                                                        \
    v->ptr[v->len++] = elem;                                            \
    return 0;                                                           \
  }

DEFINE_VECTOR (string_vector, char *)

/* ------------------------------------------------------------------ */
/* Errors, warnings, debug and machine-readable events.
 *
 * Functions return -1 or NULL on failure and report the error once, where
 * it happens, with context.  Only main() exits.  Each error carries a
 * stable code that scripts can match; the names are part of the
 * --machine-readable interface (see hvconvert(1)). */

enum hv_code {
  HV_E_IO,            /* "io": a read, write or system call failed */
  HV_E_FORMAT,        /* "format": a field of an input file is invalid */
  HV_E_CHECKSUM,      /* "checksum": a stored checksum does not match */
  HV_E_TOO_LARGE,     /* "too-large": a size beyond what the format allows */
  HV_E_UNSUPPORTED,   /* "unsupported": valid input we do not handle */
  HV_E_PARENT,        /* "parent": a differencing parent missing/mismatched */
  HV_E_EXISTS,        /* "exists": output exists and --force not given */
  HV_E_USAGE,         /* "usage": bad command line */
  HV_E_INTERRUPTED,   /* "interrupted": SIGINT/SIGTERM received */
  HV_E_NOMEM,         /* "nomem": out of memory */
  HV_E_CHECK,         /* "check": vhd check found problems */
  HV_E_INTERNAL,      /* "internal": a bug */
  HV_E_UNSAFE,        /* "unsafe": input names a file outside its directory */
};

const char *hv_code_name (enum hv_code code);

/* Report an error: "hvconvert: MESSAGE" on stderr and an "error" event.
 * Keeps errno, so "%m" works in the format. */
void hv_error (enum hv_code code, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
void hv_warning (enum hv_code code, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Debug output for -v: "hvconvert: debug: WHERE: MESSAGE". */
#define hv_debug(fmt, ...)                                              \
  do { if (hv_verbose) hv_debug_print (__FILE__, fmt, ##__VA_ARGS__); } \
  while (0)
void hv_debug_print (const char *file, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

extern bool hv_verbose;
extern const char *hv_program_name;   /* "hvconvert" */

/* The first error code reported since start, for main() to pick an exit
 * code; -1 if none. */
int hv_last_error_code (void);

/* Set by the signal handlers of convert/; long loops check it and fail
 * with HV_E_INTERRUPTED. */
extern volatile sig_atomic_t hv_interrupted;
int hv_check_interrupted (void);   /* reports and returns -1 if set */

/* Machine-readable events: JSON objects, one per line, on a descriptor.
 * Off until events_open(); every event then carries "event" and "time". */
void events_open (int fd);
bool events_enabled (void);

/* A JSON object being built; the event is written in one write(2). */
struct json;
struct json *json_new (const char *event);
void json_str (struct json *j, const char *key, const char *value);
/* VALUE as a string, or null when VALUE is NULL (json_str gives ""). */
void json_str_or_null (struct json *j, const char *key, const char *value);
void json_u64 (struct json *j, const char *key, uint64_t value);
void json_double (struct json *j, const char *key, double value);
void json_bool (struct json *j, const char *key, bool value);
/* An array of strings. */
void json_str_array (struct json *j, const char *key,
                     char *const *items, size_t n);
/* A value that is already JSON text (a nested object or array). */
void json_raw (struct json *j, const char *key, const char *text);
/* Write it as an event (if events are on) and free it. */
void json_emit (struct json *j);
/* The text built so far, without emitting; the object keeps ownership.
 * json_end() closes the object and returns the text (caller frees). */
char *json_end (struct json *j);
/* Append a JSON string literal for S (quoted, escaped) to a buffer. */
int json_quote (char **buf, size_t *len, const char *s);

/* ------------------------------------------------------------------ */
/* Full I/O.  Return 0 on success, -1 with errno set on failure; a read
 * that hits end of file fails with errno ENODATA.  They retry on EINTR
 * unless hv_interrupted is set.  They do not report: the caller knows
 * the file and field and reports with them. */

int full_pread (int fd, void *buf, size_t count, uint64_t offset);
int full_pwrite (int fd, const void *buf, size_t count, uint64_t offset);
/* A then B, contiguous at OFFSET, in one vectored write if it can. */
int full_pwrite2 (int fd, const void *a, size_t alen, const void *b,
                  size_t blen, uint64_t offset);
/* Copy LEN bytes between files (or within one, ranges not overlapping)
 * in the kernel where it can. */
int full_copy_range (int in, uint64_t in_off, int out, uint64_t out_off,
                     uint64_t len);
/* [OFFSET, OFFSET+LEN) reads as zeros after it (a hole if it can). */
int full_zero_range (int fd, uint64_t offset, uint64_t len);
int full_ftruncate (int fd, uint64_t size);
int full_fsync (int fd);
int full_fdatasync (int fd);
/* The calls above are the only ones that write or sync a file, so the
 * fault injector in io.c (HVCONVERT_FAULT=write:N or exit:N, for crash
 * tests; see hvconvert-hacking(1)) sees every one. */
/* Sequential write to a pipe, terminal or file. */
int full_write (int fd, const void *buf, size_t count);

/* ------------------------------------------------------------------ */
/* struct disk: a virtual disk opened for reading (and for some formats
 * writing).  Every image format implements it; the copy engine sees only
 * this.  The disk owns its private data and filename; disk_close frees
 * everything and accepts NULL. */

enum extent_type {
  EXTENT_DATA,        /* allocated: must be read */
  EXTENT_ZERO,        /* reads as zeros (unallocated or known zero) */
};

struct extent {
  uint64_t offset;
  uint64_t length;
  enum extent_type type;
};
DEFINE_VECTOR (extent_vector, struct extent)
/* Append an extent, joined to the last one when it continues it with
 * the same type; a zero length adds nothing.  For formats' extents
 * functions.  Returns 0, or -1 after reporting (with FILE). */
int extent_add (struct extent_vector *out, uint64_t offset, uint64_t length,
                enum extent_type type, const char *file);

struct disk;

struct disk_ops {
  const char *name;   /* format name for messages: "raw", "vhd" */

  /* Read COUNT bytes at OFFSET (any alignment, within the disk size).
   * Returns 0 or -1 after reporting. */
  int (*pread) (struct disk *d, void *buf, size_t count, uint64_t offset);

  /* Write, like pread.  NULL for formats opened read-only. */
  int (*pwrite) (struct disk *d, const void *buf, size_t count,
                 uint64_t offset);

  /* Append extents describing [OFFSET, OFFSET+LENGTH) to OUT, in order,
   * contiguous, starting at OFFSET.  They may stop short of the end (the
   * caller asks again from where they stop) but must make progress.
   * NULL means "all data".  Returns 0 or -1 after reporting. */
  int (*extents) (struct disk *d, uint64_t offset, uint64_t length,
                  struct extent_vector *out);

  /* Make written data durable and the on-disk metadata complete.  NULL
   * for read-only formats.  Returns 0 or -1 after reporting. */
  int (*flush) (struct disk *d);

  /* Free the private part (called by disk_close). */
  void (*close) (struct disk *d);

  /* Optional: a pointer to COUNT bytes of the disk at OFFSET, valid
   * until close, or NULL when the range cannot be mapped (the caller
   * then uses pread).  A raw file maps its page cache, so the copy
   * engine reads it without copying it into a buffer first.  The bytes
   * may fault with SIGBUS if the file shrinks meanwhile. */
  const uint8_t *(*map) (struct disk *d, uint64_t offset, size_t count);
};

/* Base struct first; formats embed it as the first member of their own. */
struct disk {
  const struct disk_ops *ops;
  char *filename;         /* as given by the user, for messages */
  uint64_t size;          /* virtual size in bytes */
  uint32_t sector_size;   /* logical sector size, normally 512 */
  bool writable;
};

/* Wrappers that check bounds and dispatch. */
int disk_pread (struct disk *d, void *buf, size_t count, uint64_t offset);
int disk_pwrite (struct disk *d, const void *buf, size_t count,
                 uint64_t offset);
int disk_extents (struct disk *d, uint64_t offset, uint64_t length,
                  struct extent_vector *out);
int disk_flush (struct disk *d);
void disk_close (struct disk *d);
/* d->ops->map if the format has it and the range is inside the disk,
 * else NULL. */
const uint8_t *disk_map (struct disk *d, uint64_t offset, size_t count);

/* For formats' extents operations (with extent_add above): append the
 * extents of a disk that another one reads through (a parent, an extent
 * file): D's [AT, AT+LEN) moved by SHIFT bytes (OUT offset = offset in
 * D + SHIFT), zeros past D's end.  FILE names the disk being described
 * in messages.  Returns 0, or -1 after reporting. */
int extents_of_sub_disk (struct extent_vector *out, const char *file,
                         struct disk *d, uint64_t at, uint64_t len,
                         uint64_t shift);
/* Read from a disk another reads through: bytes past D's end, or all
 * of them when D is NULL (no parent), read as zeros. */
int disk_pread_padded (struct disk *d, void *buf, size_t count,
                       uint64_t offset);

/* ------------------------------------------------------------------ */
/* Text helpers. */

/* UTF-16 (little- or big-endian, LEN bytes, stops at a NUL unit) to a
 * newly allocated UTF-8 string.  Unpaired surrogates become U+FFFD.
 * Returns NULL with errno ENOMEM on allocation failure. */
char *utf16le_to_utf8 (const uint8_t *in, size_t len);
char *utf16be_to_utf8 (const uint8_t *in, size_t len);
/* UTF-8 to UTF-16 in OUT (at most OUTLEN bytes).  Returns the number of
 * bytes written, or -1 with errno EINVAL (bad UTF-8) or ENAMETOOLONG. */
ssize_t utf8_to_utf16le (const char *in, uint8_t *out, size_t outlen);
ssize_t utf8_to_utf16be (const char *in, uint8_t *out, size_t outlen);

/* 16 random bytes as an RFC 4122 version 4 UUID.  Returns 0 or -1. */
int uuid_generate_random (uint8_t uuid[16]);
/* Format as 36 characters + NUL, bytes in stored order (VHD style). */
void uuid_format (const uint8_t uuid[16], char out[37]);
/* The same for a GUID stored as Microsoft and VirtualBox (RTUUID) do:
 * the first three fields little-endian, so the text is what their tools
 * show. */
void guid_format (const uint8_t guid[16], char out[37]);

/* Parse a size: a number with optional suffix B, K, M, G, T (binary
 * multiples; KiB/MiB/... and k/m/g/t accepted) or s (512-byte sectors).  Returns 0 or -1 with
 * errno EINVAL or ERANGE; does not report. */
int parse_size (const char *s, uint64_t *out);
/* "127 GiB", "1.5 MiB", "512 B": human form of a size. */
void format_size (uint64_t n, char *out, size_t outlen);

/* ------------------------------------------------------------------ */
/* Progress: a bar on stderr when it is a terminal, "progress" events when
 * events are on, nothing otherwise.  Throttled internally. */

struct progress;
struct progress *progress_start (const char *what, uint64_t total);
void progress_update (struct progress *p, uint64_t done);
/* Final update and free; accepts NULL. */
void progress_end (struct progress *p, bool ok);

/* Seconds from a monotonic clock. */
double now_seconds (void);

/* ------------------------------------------------------------------ */
/* The VM model (vm.c): what importers read from a machine description
 * (.vmc, OVF, .vmx, or a bare disk) and what the writers of VM
 * definitions and the hypervisor use.  Neutral: no field belongs to one
 * source format.  Strings are malloc'd and owned by the model. */

enum vm_bus { VM_BUS_IDE, VM_BUS_SCSI, VM_BUS_SATA, VM_BUS_NVME };
enum vm_media { VM_MEDIA_DISK, VM_MEDIA_CDROM, VM_MEDIA_FLOPPY };
enum vm_firmware { VM_FIRMWARE_BIOS, VM_FIRMWARE_UEFI };

struct vm_disk {
  enum vm_media media;
  enum vm_bus bus;
  unsigned controller;        /* IDE: 0 primary, 1 secondary channel */
  unsigned slot;              /* IDE: 0 master, 1 slave; SCSI: unit */
  char *path;                 /* the image, resolved; NULL: empty drive */
  char *format;               /* importer format name, NULL: detect */
  char *host_drive;           /* a host drive the source names ("D") */
  char *undo;                 /* an uncommitted undo disk over PATH (a
                                 differencing VHD), or NULL */
  char *output;               /* the converted VHD, once written */
  uint64_t size;              /* its virtual size, once known */
};

struct vm_nic {
  char *mac;                  /* "00:03:ff:1a:2b:3c", NULL: generated */
  char *network;              /* network name in the source, or NULL */
  char *model;                /* as the source names it ("dec21140") */
  bool synthetic;             /* Hyper-V synthetic vs legacy adapter */
};

DEFINE_VECTOR (vm_disk_vector, struct vm_disk)
DEFINE_VECTOR (vm_nic_vector, struct vm_nic)

struct vm {
  char *name;
  char *source;               /* the file the model was read from */
  const char *source_format;  /* "vmc", "ovf", "ova", "vmx", "disk" */
  uint64_t memory;            /* bytes */
  unsigned vcpus;
  enum vm_firmware firmware;  /* BIOS: generation 1; UEFI: generation 2 */
  char *guest_os;             /* as the source names it, or NULL */
  char *guest_tools;          /* the other hypervisor's guest tools in the
                                 guest ("Virtual PC Additions 13.820"), or
                                 NULL: to remove after conversion */
  char *saved_state;          /* a saved memory state (.vsv), or NULL */
  struct vm_disk_vector disks;
  struct vm_nic_vector nics;
  struct string_vector warnings;  /* said to the user on the way */
};

#define VM_DEFAULT_MEMORY (1 * GiB)

/* A model with defaults (1 GiB, one vCPU, BIOS) named NAME, read from
 * SOURCE.  NULL after reporting. */
struct vm *vm_new (const char *name, const char *source,
                   const char *source_format);
/* A model for bare disks: named after the first file (without its
 * extension), the disks on IDE 0:0, 0:1, 1:0, 1:1 (at most four). */
struct vm *vm_from_disks (char *const *paths, size_t n);
/* Append a disk or NIC; the strings are copied.  -1 after reporting. */
int vm_add_disk (struct vm *vm, const struct vm_disk *d);
int vm_add_nic (struct vm *vm, const struct vm_nic *n);
/* Record a warning (also reported with hv_warning). */
void vm_warn (struct vm *vm, enum hv_code code, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
void vm_free (struct vm *vm);
const char *vm_bus_name (enum vm_bus bus);       /* "ide", "scsi", ... */
const char *vm_media_name (enum vm_media media); /* "disk", "cdrom", ... */

#endif /* HV_COMMON_H */
