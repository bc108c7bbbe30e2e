// Issue 13 item 6 on the synthesized template: the fold Map ends each iteration in the fold's outcome
// (a failed fold job is caught inside the iteration), CheckFolds applies minFolds, the training queue and
// the checkpoint / minFolds defaults come from config.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/infra/config.ts';
import { type Cfn, definitionOf, resourcesOf, type Synth, synthEnv } from './synth.ts';

let spot: Synth;
let onDemand: Synth;

beforeAll(async () => {
  spot = await synthEnv('dev');
  onDemand = await synthEnv('dev', {
    config: { training: { queue: 'on-demand', minFolds: 3, checkpointEveryEpochs: 2 } },
  });
}, 240_000);
afterAll(() => {
  spot?.cleanup();
  onDemand?.cleanup();
});

function trainingMachine(s: Synth): Cfn {
  const found = resourcesOf(s.json, 'AWS::StepFunctions::StateMachine').find(([id]) => /Training/.test(id));
  if (!found) throw new Error('no training state machine');
  return found[1];
}

/** Logical ids the definition references (queues, job definitions, functions). */
function refsOf(sm: Cfn): string[] {
  const text = JSON.stringify(sm.Properties.DefinitionString);
  return [...text.matchAll(/"(?:Ref|Fn::GetAtt)":\[?"([A-Za-z0-9]+)"/g)].map((m) => m[1]);
}

function queueId(s: Synth, pattern: RegExp): string {
  const q = resourcesOf(s.json, 'AWS::Batch::JobQueue').find(([id]) => pattern.test(id));
  if (!q) throw new Error(`no queue ${pattern}`);
  return q[0];
}

function planEnv(s: Synth): Record<string, string> {
  const fn = resourcesOf(s.json, 'AWS::Lambda::Function').find(([id]) => /Trainingplan/i.test(id));
  if (!fn) throw new Error('no plan function');
  return fn[1].Properties.Environment.Variables;
}

describe('training workflow resilience (synthesized)', () => {
  it('catches a failed fold job inside its iteration: the outcome, not a failed Map', () => {
    const d = definitionOf(trainingMachine(spot));
    const map = d.States.Folds;
    const states = map.ItemProcessor.States;
    expect(map.ItemProcessor.StartAt).toBe('TrainFold');
    expect(states.TrainFold.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FoldFailed' },
    ]);
    expect(states.TrainFold.Next).toBe('FoldSucceeded');
    expect(states.FoldSucceeded).toMatchObject({
      Type: 'Pass',
      Parameters: { 'variant.$': '$.item.args.variant', 'fold.$': '$.item.args.fold', status: 'SUCCEEDED' },
    });
    expect(states.FoldFailed.Type).toBe('Task');
    expect(states.FoldFailed.Parameters).toEqual({
      'variant.$': '$.item.args.variant',
      'fold.$': '$.item.args.fold',
      'error.$': '$.error',
    });
    expect(states.FoldFailed.ResultPath).toBe('$.outcome');
    expect(states.FoldFailed.Next).toBe('FoldFailedOutcome');
    expect(states.FoldFailedOutcome).toMatchObject({ Type: 'Pass', InputPath: '$.outcome', End: true });
    expect(map.ResultPath).toBe('$.foldResults');
    expect(d.States.CheckFolds.Parameters).toMatchObject({
      'minFolds.$': '$.plan.minFolds',
      'outcomes.$': '$.foldResults',
      'evaluate.$': '$.plan.evaluate',
    });
    expect(d.States.EvaluateEnsemble.Parameters.Parameters['args.$']).toBe(
      'States.JsonToString($.checked.evaluate)',
    );
    expect(d.States.Register.Parameters['folds.$']).toBe('$.foldResults');
  });

  it('runs training on the Spot-first queue by default, on the on-demand queue by config', () => {
    const main = queueId(spot, /^ComputeGpuQueue/);
    const od = queueId(spot, /^ComputeOnDemandQueue/);
    expect(refsOf(trainingMachine(spot))).toContain(main);
    expect(refsOf(trainingMachine(spot))).not.toContain(od);
    const od2 = queueId(onDemand, /^ComputeOnDemandQueue/);
    expect(refsOf(trainingMachine(onDemand))).toContain(od2);
    expect(refsOf(trainingMachine(onDemand))).not.toContain(queueId(onDemand, /^ComputeGpuQueue/));
  });

  it('passes the checkpoint interval and minFolds defaults to Plan (empty minFolds: all folds)', () => {
    expect(planEnv(spot)).toMatchObject({ DEFAULT_CHECKPOINT_EVERY: '5', DEFAULT_MIN_FOLDS: '' });
    expect(planEnv(onDemand)).toMatchObject({ DEFAULT_CHECKPOINT_EVERY: '2', DEFAULT_MIN_FOLDS: '3' });
  });

  it('validates training.queue and training.minFolds', () => {
    expect(() => resolveConfig({ env: 'dev', config: { training: { queue: 'cheap' } } })).toThrow(
      /training\.queue/,
    );
    expect(() => resolveConfig({ env: 'dev', config: { training: { minFolds: 6 } } })).toThrow(
      /training\.minFolds: must not exceed training\.folds \(5\)/,
    );
    expect(resolveConfig({ env: 'dev', config: { training: { minFolds: 5 } } }).training.minFolds).toBe(5);
  });
});
