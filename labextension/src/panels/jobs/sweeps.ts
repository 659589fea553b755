import { IJob, JobState } from '../../api';

/**
 * Parameter names taken for seeds: the defaults of `[run] seed_params` in `mlops.toml`. Only
 * used to decide whether a sweep's comparison opens grouped by seed; the server then finds the
 * seed parameter itself among the configured names.
 */
export const SEED_PARAMS: ReadonlyArray<string> = [
  'seed',
  'random_state',
  'random_seed'
];

const FINISHED: ReadonlySet<JobState> = new Set([
  'succeeded',
  'failed',
  'cancelled'
]);

/** The jobs of one sweep, as listed (newest first), and where they stand together. */
export interface ISweepGroup {
  /** The sweep's name (e.g. `sweep-ab12cd34`, or the one its author gave). */
  name: string;
  jobs: IJob[];
  /** How many jobs are in each state. */
  counts: Record<JobState, number>;
  /** The MLflow runs of the succeeded jobs, oldest job first (the order they were queued). */
  succeededRunIds: string[];
  /** Share of the sweep's work done, from 0 to 1: finished jobs, and the cells run of the others. */
  progress: number;
  /** The first parameter of the sweep's jobs that is a seed, if any. */
  seedParam: string | null;
}

/** A row of the job list: a job on its own, or a sweep with its jobs. */
export type JobListItem =
  { kind: 'job'; job: IJob } | { kind: 'sweep'; sweep: ISweepGroup };

/**
 * The jobs with the ones of a sweep put together, in the order of the list: a sweep stands
 * where its newest job would.
 */
export function groupJobs(jobs: ReadonlyArray<IJob>): JobListItem[] {
  const sweeps = new Map<string, IJob[]>();
  for (const job of jobs) {
    if (job.sweep) {
      const members = sweeps.get(job.sweep);
      if (members) {
        members.push(job);
      } else {
        sweeps.set(job.sweep, [job]);
      }
    }
  }
  const items: JobListItem[] = [];
  const placed = new Set<string>();
  for (const job of jobs) {
    if (!job.sweep) {
      items.push({ kind: 'job', job });
    } else if (!placed.has(job.sweep)) {
      placed.add(job.sweep);
      items.push({
        kind: 'sweep',
        sweep: sweepGroup(job.sweep, sweeps.get(job.sweep) ?? [])
      });
    }
  }
  return items;
}

/** Where the jobs of one sweep stand together. */
export function sweepGroup(name: string, jobs: IJob[]): ISweepGroup {
  const counts: Record<JobState, number> = {
    queued: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0
  };
  let done = 0;
  for (const job of jobs) {
    counts[job.state] += 1;
    if (FINISHED.has(job.state)) {
      done += 1;
    } else if (job.cells_total > 0) {
      done += Math.min(job.cells_done, job.cells_total) / job.cells_total;
    }
  }
  const succeededRunIds = jobs
    .filter(job => job.state === 'succeeded' && job.run_id)
    .map(job => job.run_id as string)
    .reverse();
  const names = new Set(jobs.flatMap(job => Object.keys(job.parameters)));
  return {
    name,
    jobs,
    counts,
    succeededRunIds,
    progress: jobs.length > 0 ? done / jobs.length : 0,
    seedParam: SEED_PARAMS.find(seed => names.has(seed)) ?? null
  };
}
