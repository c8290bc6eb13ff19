/* tests/: guest trees for the injector unit tests.  A test builds the
 * files a guest would have in a temporary directory, runs an injector
 * on it through inj_fs_dir (fs-dir.c), and can perform the plan's
 * writes, links and removals on the tree (tree_apply) to check that a
 * second run plans nothing.  Include after <cmocka.h>: failures are
 * cmocka failures.
 */
#ifndef HV_INJECTORS_TREE_H
#define HV_INJECTORS_TREE_H

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "injectors.h"

/* A new empty tree (caller frees with tree_free). */
static inline char *
tree_new (void)
{
  char *root = strdup ("/tmp/hvconvert-tree.XXXXXX");

  assert_non_null (root);
  assert_non_null (mkdtemp (root));
  return root;
}

static inline void
tree_host_path (const char *root, const char *path, char *host)
{
  assert_true (snprintf (host, PATH_MAX, "%s%s", root, path) < PATH_MAX);
}

/* mkdir -p the parent of guest PATH. */
static inline void
tree_parents (const char *root, const char *path)
{
  char host[PATH_MAX];

  tree_host_path (root, path, host);
  for (char *p = host + strlen (root) + 1; (p = strchr (p, '/')); p++) {
    *p = '\0';
    assert_true (mkdir (host, 0755) == 0 || errno == EEXIST);
    *p = '/';
  }
}

static inline void
tree_write_n (const char *root, const char *path, const void *data,
              size_t len)
{
  char host[PATH_MAX];
  int fd;

  tree_parents (root, path);
  tree_host_path (root, path, host);
  unlink (host);
  fd = open (host, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true (fd >= 0);
  assert_int_equal (full_write (fd, data, len), 0);
  close (fd);
}

static inline void
tree_write (const char *root, const char *path, const char *text)
{
  tree_write_n (root, path, text, strlen (text));
}

static inline void
tree_mkdir (const char *root, const char *path)
{
  char host[PATH_MAX];

  tree_parents (root, path);
  tree_host_path (root, path, host);
  assert_true (mkdir (host, 0755) == 0 || errno == EEXIST);
}

/* Guest PATH becomes a link to TARGET (replacing what was there). */
static inline void
tree_symlink (const char *root, const char *target, const char *path)
{
  char host[PATH_MAX];

  tree_parents (root, path);
  tree_host_path (root, path, host);
  unlink (host);
  assert_int_equal (symlink (target, host), 0);
}

static inline bool
tree_exists (const char *root, const char *path)
{
  char host[PATH_MAX];
  struct stat st;

  tree_host_path (root, path, host);
  return lstat (host, &st) == 0;
}

/* What apply would do with the plan, enough for a second run. */
static inline void
tree_apply (const char *root, const struct inj_plan *p)
{
  char host[PATH_MAX];

  for (size_t i = 0; i < p->steps.len; i++) {
    const struct inj_step *s = &p->steps.ptr[i];
    tree_host_path (root, s->path, host);
    switch (s->kind) {
    case INJ_STEP_WRITE:
      tree_write_n (root, s->path, s->content, s->len);
      break;
    case INJ_STEP_SYMLINK:
      tree_symlink (root, s->target, s->path);
      break;
    case INJ_STEP_REMOVE:
      assert_int_equal (unlink (host), 0);
      break;
    case INJ_STEP_MKDIR:
      tree_mkdir (root, s->path);
      break;
    default:
      fail_msg ("tree_apply: step %zu of an unexpected kind", i);
    }
  }
}

static inline int
tree_rm (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove (path);
}

static inline void
tree_free (char *root)
{
  nftw (root, tree_rm, 16, FTW_DEPTH | FTW_PHYS);
  free (root);
}

/* A guest over ROOT for an injector: inj_fs_dir and the given facts. */
static inline void
tree_guest (const char *root, struct inj_guest *g, const char *distro,
            int major)
{
  *g = (struct inj_guest) { .type = (char *) "linux",
                            .distro = (char *) distro, .major = major };
  assert_int_equal (inj_fs_dir (root, &g->fs), 0);
}

/* The step for PATH of kind KIND, or NULL. */
static inline const struct inj_step *
plan_step (const struct inj_plan *p, enum inj_step_kind kind,
           const char *path)
{
  for (size_t i = 0; i < p->steps.len; i++)
    if (p->steps.ptr[i].kind == kind &&
        strcmp (p->steps.ptr[i].path, path) == 0)
      return &p->steps.ptr[i];
  return NULL;
}

/* The number of notes of LEVEL whose text contains WHAT. */
static inline size_t
plan_notes_with (const struct inj_plan *p, enum inj_note_level level,
                 const char *what)
{
  size_t n = 0;

  for (size_t i = 0; i < p->notes.len; i++)
    if (p->notes.ptr[i].level == level &&
        strstr (p->notes.ptr[i].text, what) != NULL)
      n++;
  return n;
}

#endif /* HV_INJECTORS_TREE_H */
