/* libFuzzer target for the device name rewriters (injectors/devnames.c,
 * make fuzz-devnames).  The first byte of an input picks the syntax
 * (fstab, crypttab, GRUB, ...), the rest is the file.  A fake appliance
 * knows a stable name for some device names, an unusable one (a label
 * with a blank) for others, and nothing for the rest, decided by a hash
 * of the name.  Checked for every input:
 *
 *   - every name found is unstable, and every replacement is a usable
 *     stable name;
 *   - the text changes exactly when something was replaced, and keeps
 *     its number of lines;
 *   - the result rewritten again does not change (nothing unstable is
 *     left that could be replaced, and no replacement makes a new one).
 *
 * Linked with fuzz-replay.c it replays tests/fuzz-corpus-devnames/ in
 * make check (test-devnames-fuzz-corpus.sh).
 */
#include <config.h>

#include <stdio.h>

#include "injectors.h"

static void
die (const char *what)
{
  dprintf (STDERR_FILENO, "fuzz-devnames: %s\n", what);
  abort ();
}

/* Messages are expected for bad input; keep them off the terminal
 * unless FUZZ_VERBOSE is set. */
static void
quiet (void)
{
  FILE *null;

  if (getenv ("FUZZ_VERBOSE"))
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

static const char *
fake_lookup (void *ctx, const char *device)
{
  uint32_t h = 2166136261u;

  for (const char *p = device; *p; p++)
    h = (h ^ (uint8_t) *p) * 16777619u;
  switch (h % 4) {
  case 0: return "UUID=0a1b2c3d-1111-4222-8333-444455556666";
  case 1: return "LABEL=/boot";
  case 2: return "LABEL=my data";
  default: return NULL;
  }
}

static size_t
count_lines (const char *p, size_t n)
{
  size_t lines = 0;

  for (size_t i = 0; i < n; i++)
    lines += p[i] == '\n';
  return lines;
}

static void
check_changes (const struct devname_result *res)
{
  bool replaced = false;

  for (size_t i = 0; i < res->changes.len; i++) {
    const struct devname_change *c = &res->changes.ptr[i];
    if (!devname_unstable (c->old, strlen (c->old)))
      die ("a stable name was reported as found");
    if (c->new && !devname_stable_ok (c->new))
      die ("an unusable stable name was written");
    if (c->role == NULL)
      die ("a name without a role");
    replaced |= c->new != NULL;
  }
  if (replaced != (res->text != NULL))
    die ("the text changed without a replacement, or the reverse");
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  quiet ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct devname_result res, again;
  enum devname_syntax syntax;
  const char *text = (const char *) data + 1;
  size_t len = size - 1;

  if (size == 0)
    return 0;
  syntax = (enum devname_syntax) (data[0] % (DEVNAME_RESUME + 1));
  if (devnames_rewrite (syntax, "fuzz", text, len, fake_lookup, NULL,
                        &res) == -1)
    return 0;
  check_changes (&res);
  if (res.text) {
    if (count_lines (res.text, res.len) != count_lines (text, len))
      die ("the number of lines changed");
    if (devnames_rewrite (syntax, "fuzz", res.text, res.len, fake_lookup,
                          NULL, &again) == -1)
      die ("the rewritten text cannot be read again");
    if (again.text)
      die ("the rewritten text changes when rewritten again");
    devname_result_free (&again);
  }
  devname_result_free (&res);
  return 0;
}
