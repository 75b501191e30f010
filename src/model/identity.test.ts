/**
 * Where a recording ran (issue 14): the identity each platform's environment gives, as fixture
 * environments of AWS Batch, YARN, Spark on Kubernetes, a plain pod, and the user's own labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileTag, identityFromEnv, identityText, parseLabel, yarnApplicationId } from './identity';

test('AWS Batch: job id, array index, queue; the tag names the array child once', () => {
  const id = identityFromEnv({
    AWS_BATCH_JOB_ID: '4c6f2a7e-1b2c-4d5e-8f90-123456789abc:17', AWS_BATCH_JOB_ARRAY_INDEX: '17',
    AWS_BATCH_JOB_ATTEMPT: '2', AWS_BATCH_JQ_NAME: 'ml-queue', AWS_BATCH_CE_NAME: 'spot-ce', HOSTNAME: 'ip-10-0-0-1',
  });
  assert.deepEqual(id.labels, {
    platform: 'aws-batch', awsBatchJobId: '4c6f2a7e-1b2c-4d5e-8f90-123456789abc:17', awsBatchArrayIndex: '17',
    awsBatchAttempt: '2', awsBatchQueue: 'ml-queue', awsBatchComputeEnv: 'spot-ce',
  });
  assert.equal(id.tag, 'batch-4c6f2a7e-1b2c-4d5e-8f90-123456789abc-17');
  assert.equal(identityText(id.labels, 'ip-10-0-0-1'), 'batch 4c6f2a7e-1b2c-4d5e-8f90-123456789abc:17');
  // A parent job id without the index in it gets the index added.
  const child = identityFromEnv({ AWS_BATCH_JOB_ID: 'abc', AWS_BATCH_JOB_ARRAY_INDEX: '3' });
  assert.equal(child.tag, 'batch-abc-3');
  assert.equal(identityText(child.labels, null), 'batch abc:3');
});

test('YARN: the container id, its application derived, the node manager', () => {
  const id = identityFromEnv({ CONTAINER_ID: 'container_e17_1700000000000_0042_01_000003', NM_HOST: 'worker-7.example' });
  assert.equal(id.labels.platform, 'yarn');
  assert.equal(id.labels.yarnApplicationId, 'application_1700000000000_0042');
  assert.equal(id.labels.yarnNodeManager, 'worker-7.example');
  assert.equal(id.tag, 'container_e17_1700000000000_0042_01_000003');
  assert.equal(yarnApplicationId('container_1700000000000_0042_01_000003'), 'application_1700000000000_0042');
  assert.equal(yarnApplicationId('not a container'), null);
  // CONTAINER_ID set by something else (Docker images sometimes do) is not YARN.
  assert.equal(identityFromEnv({ CONTAINER_ID: 'f00ba4' }).labels.platform, undefined);
});

test('Spark on Kubernetes executor: executor id, application, pod name', () => {
  const id = identityFromEnv({
    KUBERNETES_SERVICE_HOST: '10.96.0.1', HOSTNAME: 'etl-1a2b-exec-3', SPARK_EXECUTOR_ID: '3',
    SPARK_APPLICATION_ID: 'spark-0123abcd', SPARK_EXECUTOR_POD_NAME: 'etl-1a2b-exec-3',
  });
  assert.equal(id.labels.platform, 'kubernetes');
  assert.equal(id.labels.sparkExecutorId, '3');
  assert.equal(id.labels.sparkApplicationId, 'spark-0123abcd');
  assert.equal(id.labels.podName, 'etl-1a2b-exec-3');
  assert.equal(id.tag, 'etl-1a2b-exec-3');
  assert.equal(identityText(id.labels, 'x'), 'executor 3 (etl-1a2b-exec-3)');
});

test('Kubernetes: the downward-API pod name wins over HOSTNAME; the namespace is kept', () => {
  const viaApi = identityFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', HOSTNAME: 'custom-host', POD_NAME: 'train-7f9c-0', POD_NAMESPACE: 'ml' });
  assert.deepEqual(viaApi.labels, { platform: 'kubernetes', podName: 'train-7f9c-0', podNamespace: 'ml' });
  assert.equal(identityText(viaApi.labels, 'custom-host'), 'pod train-7f9c-0');
  const viaHost = identityFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', HOSTNAME: 'train-7f9c-1' });
  assert.equal(viaHost.labels.podName, 'train-7f9c-1');
});

test('no platform: no labels, no tag; the host names it', () => {
  const id = identityFromEnv({ HOME: '/root', HOSTNAME: 'laptop' });
  assert.deepEqual(id.labels, {});
  assert.equal(id.tag, null);
  assert.equal(identityText(undefined, 'laptop'), 'laptop');
  // The user's own labels tell the recordings of one host apart (fleet's "where").
  assert.equal(identityText(identityFromEnv({ MEMHUNT_LABEL_TASK: 't3' }, { stage: 'train' }).labels, 'vm'), 'vm task=t3 stage=train');
});

test('the user labels: MEMHUNT_LABEL_* and --label, --label winning; "name" names the row and the file', () => {
  const id = identityFromEnv({ MEMHUNT_LABEL_STAGE: 'etl', MEMHUNT_LABEL_NAME: 'from-env', AWS_BATCH_JOB_ID: 'j1' }, { name: 'worker-3', team: 'ml' });
  assert.equal(id.labels.stage, 'etl');
  assert.equal(id.labels.name, 'worker-3');
  assert.equal(id.labels.team, 'ml');
  assert.equal(id.tag, 'worker-3');
  assert.equal(identityText(id.labels, null), 'worker-3');
  assert.deepEqual(parseLabel('a.b-c=x=y'), ['a.b-c', 'x=y']);
  assert.throws(() => parseLabel('novalue'), /KEY=VALUE/);
  assert.throws(() => parseLabel('=x'), /KEY=VALUE/);
  assert.throws(() => parseLabel('sp ace=x'), /KEY=VALUE/);
});

test('hostile values: control characters removed, long values cut, file tags safe', () => {
  const id = identityFromEnv({ AWS_BATCH_JOB_ID: `../../etc/\u001b[31mjob${'x'.repeat(500)}` });
  assert.ok(!/[\u0000-\u001f]/.test(id.labels.awsBatchJobId!));
  assert.ok(id.labels.awsBatchJobId!.length <= 200);
  assert.match(id.tag!, /^[A-Za-z0-9._-]+$/);
  assert.ok(!id.tag!.includes('..') || !id.tag!.includes('/'));
  assert.ok(id.tag!.length <= 80);
  assert.equal(fileTag('/../'), '');
});
