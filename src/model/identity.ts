/**
 * Where a recording ran (issue 14): the container/task identity that cluster platforms put in the
 * environment of the processes they start, read once at the start of `run`/`attach` and kept in
 * the header's `labels`. Pure: tests give it fixture environments of each platform.
 *
 * Sources (what each platform sets; docs/cluster.md shows the launch lines):
 * - AWS Batch: AWS_BATCH_JOB_ID ("<uuid>" or "<uuid>:<index>" for an array child),
 *   AWS_BATCH_JOB_ARRAY_INDEX, AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JQ_NAME, AWS_BATCH_CE_NAME.
 * - YARN (Spark on YARN, Hadoop): CONTAINER_ID ("container_<clusterTs>_<app>_<attempt>_<n>",
 *   also "container_e<epoch>_…"), NM_HOST; the application id is derived from the container id.
 * - Spark on Kubernetes executors: SPARK_EXECUTOR_ID, SPARK_APPLICATION_ID,
 *   SPARK_EXECUTOR_POD_NAME (Python workers started by the executor inherit them).
 * - Kubernetes: KUBERNETES_SERVICE_HOST says it is a pod; the pod name is POD_NAME, MY_POD_NAME
 *   or K8S_POD_NAME when the pod spec passes it through the downward API, else HOSTNAME (a pod's
 *   host name is its name unless the spec sets one); POD_NAMESPACE likewise.
 * - Dask: a worker's name is not in its environment: the agent of the worker's process reports it
 *   (a `worker` record) and identityText names the recording after it; --label name=… still wins.
 * - Any platform: MEMHUNT_LABEL_<KEY>=value (e.g. from a job template) and `--label key=value`.
 */

export interface RunIdentity {
  /** Header labels: platform, ids, and the user's own. */
  labels: Record<string, string>;
  /**
   * A short name for the container/task, safe in a file name (e.g. "batch-1b2c…-7", the YARN
   * container id, the pod name), or null when nothing names it beyond the host.
   */
  tag: string | null;
}

/** Longest label value kept (an environment can hold anything). */
const MAX_VALUE = 200;
const USER_LABEL_PREFIX = 'MEMHUNT_LABEL_';

const clean = (v: string | undefined): string | null => {
  if (v === undefined) return null;
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return s ? s.slice(0, MAX_VALUE) : null;
};

/** A file-name-safe form of an identity: letters, digits, '.', '_', '-' only, at most 80 characters. */
export function fileTag(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 80);
}

/** "container_e17_1700000000000_0042_01_000003" → "application_1700000000000_0042". */
export function yarnApplicationId(containerId: string): string | null {
  const m = /^container_(?:e\d+_)?(\d+)_(\d+)_\d+_\d+$/.exec(containerId);
  return m ? `application_${m[1]}_${m[2]}` : null;
}

/**
 * Reads the identity from an environment. `userLabels` (from --label, "key=value") win over the
 * environment's; keys are kept as given (letters, digits, '.', '_', '-').
 */
export function identityFromEnv(env: NodeJS.ProcessEnv, userLabels: Record<string, string> = {}): RunIdentity {
  const labels: Record<string, string> = {};
  const set = (k: string, v: string | undefined) => {
    const c = clean(v);
    if (c !== null) labels[k] = c;
  };
  let tag: string | null = null;

  const batchJob = clean(env.AWS_BATCH_JOB_ID);
  const yarnContainer = clean(env.CONTAINER_ID);
  const sparkExecutor = clean(env.SPARK_EXECUTOR_ID);
  const inKubernetes = clean(env.KUBERNETES_SERVICE_HOST) !== null;
  const podName = clean(env.POD_NAME) ?? clean(env.MY_POD_NAME) ?? clean(env.K8S_POD_NAME) ?? clean(env.SPARK_EXECUTOR_POD_NAME);

  if (batchJob !== null) {
    labels.platform = 'aws-batch';
    set('awsBatchJobId', batchJob);
    set('awsBatchArrayIndex', env.AWS_BATCH_JOB_ARRAY_INDEX);
    set('awsBatchAttempt', env.AWS_BATCH_JOB_ATTEMPT);
    set('awsBatchQueue', env.AWS_BATCH_JQ_NAME);
    set('awsBatchComputeEnv', env.AWS_BATCH_CE_NAME);
    // An array child's id already ends in ":<index>"; add the index only when it does not.
    const idx = clean(env.AWS_BATCH_JOB_ARRAY_INDEX);
    tag = `batch-${batchJob}${idx !== null && !batchJob.endsWith(`:${idx}`) ? `-${idx}` : ''}`;
  } else if (yarnContainer !== null && yarnContainer.startsWith('container_')) {
    labels.platform = 'yarn';
    set('yarnContainerId', yarnContainer);
    const app = yarnApplicationId(yarnContainer);
    if (app) labels.yarnApplicationId = app;
    set('yarnNodeManager', env.NM_HOST);
    tag = yarnContainer;
  } else if (inKubernetes || sparkExecutor !== null) {
    labels.platform = inKubernetes ? 'kubernetes' : 'spark';
    const pod = podName ?? (inKubernetes ? clean(env.HOSTNAME) : null);
    if (pod !== null) labels.podName = pod;
    set('podNamespace', env.POD_NAMESPACE ?? env.MY_POD_NAMESPACE);
    tag = pod;
  }
  if (sparkExecutor !== null) {
    set('sparkExecutorId', sparkExecutor);
    set('sparkApplicationId', env.SPARK_APPLICATION_ID);
    if (tag === null) tag = `executor-${sparkExecutor}`;
  }
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(USER_LABEL_PREFIX) || k.length === USER_LABEL_PREFIX.length) continue;
    const key = k.slice(USER_LABEL_PREFIX.length).toLowerCase();
    if (/^[a-z0-9._-]+$/.test(key)) set(key, v);
  }
  for (const [k, v] of Object.entries(userLabels)) set(k, v);
  if (labels.name !== undefined) tag = labels.name;
  return { labels, tag: tag === null ? null : fileTag(tag) || null };
}

/** `--label key=value` (repeatable) → a record; throws a message for a malformed one. */
export function parseLabel(spec: string): [string, string] {
  const eq = spec.indexOf('=');
  const key = eq < 0 ? '' : spec.slice(0, eq).trim();
  if (eq < 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(key)) {
    throw new Error(`--label ${spec}: give KEY=VALUE (KEY of letters, digits, '.', '_', '-'), e.g. --label worker=3`);
  }
  return [key, spec.slice(eq + 1)];
}

/**
 * A one-line description of where a recording ran, for tables: "aws-batch 1b2c…:7", "pod web-0", or
 * the host. `workers`: the cluster workers its agents named ("worker tcp://… (name)"): a recording of
 * one `dask worker` is that worker (a `name` label still wins).
 */
export function identityText(labels: Record<string, string> | undefined, host: string | null, workers: readonly string[] = []): string {
  const l = labels ?? {};
  if (l.name) return l.name;
  if (workers.length) {
    // One worker, restarted by its nanny (a new address, the same name), is still that worker; a
    // recording of several (a LocalCluster under one `memhunt run`) is the cluster, not its first
    // worker "+3 more" (trial 4: the table then read as one worker's peak against its own limit).
    const n = daskWorkerCount(workers);
    if (n === 1) return workers[0]!;
    return `${placeText(l, host)}: ${n} Dask workers`;
  }
  return placeText(l, host);
}

/** Distinct cluster workers by name ("worker tcp://… (0)": a worker restarted by its nanny keeps its name). */
export function daskWorkerCount(workers: readonly string[]): number {
  return new Set(workers.map((w) => /\(([^()]*)\)$/.exec(w)?.[1] ?? w)).size;
}

/** Where a recording ran by its labels and host alone (identityText without cluster workers). */
function placeText(l: Record<string, string>, host: string | null): string {
  switch (l.platform) {
    case 'aws-batch':
      return `batch ${l.awsBatchJobId ?? '?'}${l.awsBatchArrayIndex && !(l.awsBatchJobId ?? '').endsWith(`:${l.awsBatchArrayIndex}`) ? `:${l.awsBatchArrayIndex}` : ''}`;
    case 'yarn':
      return l.yarnContainerId ?? 'yarn container';
    case 'kubernetes':
    case 'spark':
      if (l.sparkExecutorId) return `executor ${l.sparkExecutorId}${l.podName ? ` (${l.podName})` : ''}`;
      return l.podName ? `pod ${l.podName}` : (host ?? 'kubernetes pod');
    default: {
      // No platform: the host, and the user's own labels (`--label task=3`, MEMHUNT_LABEL_*) that
      // tell the recordings of one host apart.
      const own = Object.entries(l).filter(([k]) => !PLATFORM_KEYS.has(k)).slice(0, 2).map(([k, v]) => `${k}=${v}`);
      return `${host ?? 'unknown host'}${own.length ? ` ${own.join(' ')}` : ''}`;
    }
  }
}

/** The labels identityFromEnv reads from the platforms' environments (the rest are the user's). */
const PLATFORM_KEYS = new Set([
  'platform', 'podName', 'podNamespace', 'yarnApplicationId', 'yarnContainerId', 'yarnNodeManager', 'awsBatchArrayIndex',
  'awsBatchAttempt', 'awsBatchComputeEnv', 'awsBatchJobId', 'awsBatchQueue', 'sparkApplicationId', 'sparkExecutorId',
]);
