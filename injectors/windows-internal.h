/* Shared by injectors/windows*.c only: the hives being edited and the
 * parts of inject_windows.  Others include injectors.h.
 *
 *   windows.c        the order: systemroot, hibernation, hives, parts,
 *                    commit and the planned uploads
 *   windows-path.c   case-insensitive guest paths over inj_fs
 *   windows-hive.c   hivex: download, open, read and change values,
 *                    each change a note of the plan
 *   windows-boot.c   boot-start drivers, StartOverride, the
 *                    CriticalDeviceDatabase (pre-Windows 8)
 *   windows-tools.c  other hypervisors' tools: disabled, out of the
 *                    class filters, uninstalled at first logon
 *   windows-ics.c    XP/2003: the integration services from an ISO
 *
 * Registry paths in this code are relative to a hive's root and use
 * "\\" ("ControlSet001\\Services\\vmbus"); hivex matches names case-
 * insensitively, as Windows does.
 */
#ifndef HV_WINDOWS_INTERNAL_H
#define HV_WINDOWS_INTERNAL_H

#include <hivex.h>

#include "injectors.h"

/* Hives above this are refused before they are downloaded: a large
 * SOFTWARE hive is a few hundred MiB, and hivex reads it into memory. */
#define WIN_HIVE_MAX (512 * MiB)

/* A hive being edited: the guest's file, its copy on the host. */
struct win_hive {
  hive_h *h;
  const char *name;          /* "SYSTEM", "SOFTWARE": for messages */
  char *guest_path;          /* as found in the guest (case preserved) */
  char *host_path;           /* the downloaded copy hivex edits */
  unsigned changes;          /* keys and values changed */
  struct inj_plan *plan;     /* each change becomes a note here */
};

/* What the parts share. */
struct win {
  struct inj_guest *g;
  const struct inj_opts *o;
  struct inj_plan *plan;
  char *sysroot;             /* "/WINDOWS" as found in the guest */
  struct win_hive system;
  struct win_hive software;
  char ccs[32];              /* "ControlSet001": Select\Current */
  char drive[3];             /* "C:": SystemRoot's drive letter */
};

/* ------------------------------------------------------------------ */
/* windows-path.c */

/* Resolve the absolute guest PATH ("/windows/system32/config/system")
 * one component at a time, matching names case-insensitively where
 * the exact name is missing.  1 and *OUT the path as the guest spells
 * it (caller frees); 0 not found; -1 after reporting. */
int win_resolve (struct inj_fs *fs, const char *path, char **out);

/* ------------------------------------------------------------------ */
/* windows-hive.c */

/* Download the guest's hive PATH (resolved) into g->workdir and open
 * it for writing.  -1 after reporting (missing, too large, not a hive:
 * the message names the hive and the file). */
int win_hive_open (struct win *w, struct win_hive *hv, const char *name,
                   const char *path);
/* Write the edited hive to a new host file and plan its upload, the
 * old one kept as <path>.pre-hvconvert; nothing if nothing changed.
 * WHAT says what the changes are for. */
int win_hive_plan (struct win *w, struct win_hive *hv, const char *what);
void win_hive_close (struct win_hive *hv);

/* The key at PATH: 1 and *NODE, 0 missing, -1 after reporting. */
int win_node (struct win_hive *hv, const char *path, hive_node_h *node);

/* The subkeys of PATH, for loops over them: *OUT (N entries; free with
 * win_subkeys_free) and 1; 0 and none if PATH is missing; -1 after
 * reporting. */
struct win_subkey {
  hive_node_h node;
  char *name;
};
int win_subkeys (struct win_hive *hv, const char *path,
                 struct win_subkey **out, size_t *n);
void win_subkeys_free (struct win_subkey *v, size_t n);

/* Values of the key at PATH.  1 and the value, 0 when the key or the
 * value is missing or has another type, -1 after reporting.  The _at
 * forms take the key's node, PATH naming it in messages: finding a key
 * by name scans its siblings, so loops over subkeys use these. */
int win_get_dword (struct win_hive *hv, const char *path, const char *name,
                   uint32_t *out);
int win_get_sz (struct win_hive *hv, const char *path, const char *name,
                char **out);
int win_get_sz_at (struct win_hive *hv, hive_node_h node, const char *path,
                   const char *name, char **out);
int win_get_multi_sz (struct win_hive *hv, const char *path,
                      const char *name, char ***out);
int win_get_multi_sz_at (struct win_hive *hv, hive_node_h node,
                         const char *path, const char *name, char ***out);

/* Changes.  Each does nothing when the hive already says so (strings
 * compared ignoring case, as Windows compares these names); otherwise
 * it creates the missing keys of PATH, changes the hive, counts the
 * change and notes "HIVE\PATH: NAME OLD -> NEW (WHY)".  0 or -1 after
 * reporting. */
int win_set_dword (struct win_hive *hv, const char *path, const char *name,
                   uint32_t v, const char *why);
int win_set_sz (struct win_hive *hv, const char *path, const char *name,
                const char *v, const char *why);
int win_set_expand_sz (struct win_hive *hv, const char *path,
                       const char *name, const char *v, const char *why);
/* V NULL-terminated; an empty V removes the value. */
int win_set_multi_sz_at (struct win_hive *hv, hive_node_h node,
                         const char *path, const char *name,
                         char *const *v, const char *why);
int win_delete_key (struct win_hive *hv, const char *path, const char *why);

/* ------------------------------------------------------------------ */
/* The parts, in the order windows.c runs them.  Each returns 0 or -1
 * after reporting. */

/* windows-tools.c: disable other hypervisors' drivers and services,
 * strip them from the class filters, schedule their uninstallers. */
int win_remove_foreign_tools (struct win *w);
/* windows-boot.c: the Hyper-V and IDE boot drivers for Vista/2008 and
 * later. */
int win_boot_drivers (struct win *w);
/* windows-boot.c: XP/2003: IDE boot-start and the mergeide entries.  HAVE_ICS: the integration
 * services will be installed at first logon. */
int win_boot_legacy (struct win *w, bool have_ics);
/* windows-ics.c: copy the integration services of o->drivers_iso into
 * the guest and run their setup at first logon.  1 planned, 0 no ISO
 * (the plan says what is missing), -1 after reporting. */
int win_integration_services (struct win *w);
/* windows-tools.c: a RunOnce value of SOFTWARE (first logon). */
int win_run_once (struct win *w, const char *name, const char *command,
                  const char *why);

#endif /* HV_WINDOWS_INTERNAL_H */
