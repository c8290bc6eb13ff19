/* hypervisor/: the report job's parts, shared by report-job.c (what the
 * job is and where it goes), report-job-debugfs.c (the fast way in:
 * FUSE export + debugfs) and report-job-guestfs.c (the general way:
 * libguestfs).  Not for other folders: they use hv_report_job_install()
 * in hypervisor.h. */
#ifndef HV_REPORT_JOB_H
#define HV_REPORT_JOB_H

#include <sys/types.h>

#include "hypervisor.h"

#define JOB_NAME "hvconvert-report"
#define JOB_PATH_MAX 256
#define JOB_STEPS_MAX 8

/* What a way in found in the guest's root file system. */
struct job_guest {
  /* Does PATH exist in the guest? */
  bool (*exists) (void *ctx, const char *path);
  /* Is /sbin/init systemd (a link to it)? */
  bool init_is_systemd;
  void *ctx;
};

/* One change to the guest, applied in order. */
enum job_step_kind { STEP_MKDIR, STEP_FILE, STEP_SYMLINK };
struct job_step {
  enum job_step_kind kind;
  char path[JOB_PATH_MAX];
  const char *content;          /* STEP_FILE: the text */
  mode_t mode;                  /* STEP_FILE */
  char target[JOB_PATH_MAX];    /* STEP_SYMLINK: what it points to */
};

/* The changes that put the job in, as data. */
struct job_plan {
  struct job_step steps[JOB_STEPS_MAX];
  size_t n;
  const char *job;              /* the job script's path in the guest */
  char script[4096];            /* the job script, with the nonce */
};

/* Decide where the job goes in guest G (J->how says where, or why
 * not) and fill PLAN.  Returns 0, or 1 when the guest has no init this
 * knows. */
int job_plan (const struct job_guest *g, struct hv_report_job *j,
              struct job_plan *plan);

/* The fast way: 0 installed, 1 not possible this way (J->how says
 * why), 2 not possible any way (nothing on the disk to put it on), -1
 * after reporting. */
int job_install_debugfs (const char *overlay, const char *workdir,
                         struct hv_report_job *j);

/* The general way, through the libguestfs appliance (about 15 to 30 s
 * under TCG): the same results. */
int job_install_guestfs (const char *overlay, struct hv_report_job *j);

#endif /* HV_REPORT_JOB_H */
