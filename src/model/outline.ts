import type { AttentionModuleInfo } from '../analysis/attention_modules.ts';
import type { GpuContext } from '../gpu/context.ts';
import { resolveModules } from '../hooks/registry.ts';
import { type Module, ShapeRecorder } from '../nn/module.ts';
import { PlanBuilder } from '../scheduler/plan.ts';
import type { ModelConfig } from './config.ts';
import { Feeder } from './feeder.ts';
import { checkInputNames, type ModelInputs } from './inputs.ts';
import { kindOf } from './kinds/index.ts';

/**
 * A model's module tree without a GPU: the tree its kind builds against a ShapeRecorder. It names the modules,
 * resolves hook targets and checks a forward's inputs exactly as the GPU model will (the same kind's `feed`), so
 * a tool can reject a bad input or module pattern before it asks for an adapter.
 */
export class ModelOutline {
  private readonly built;
  readonly modules: ReadonlyMap<string, Module>;

  constructor(readonly config: ModelConfig) {
    this.built = kindOf(config).build(new ShapeRecorder(), config);
    this.modules = new Map([...this.built.root.modules()].map((m) => [m.path, m]));
  }

  /** The input names forward accepts. */
  get inputNames(): readonly string[] {
    return kindOf(this.config).inputs;
  }

  /** Every attention module in forward order, with its role, layer and heads. */
  attentionModules(): AttentionModuleInfo[] {
    return this.built.attentionModules();
  }

  /** Module paths a target names (an exact path or a glob); throws on no match. */
  modulesMatching(target: string): string[] {
    return resolveModules(this.modules, target);
  }

  /** Validates a forward's inputs (names, dtypes, shapes, token ids, masks); returns the output's shape. */
  checkInputs(inputs: ModelInputs): number[] {
    checkInputNames(inputs, this.inputNames, this.config.kind);
    // Feeding only records inputs into the builder; no plan is compiled, so the builder never touches a device.
    return this.built.feed(new Feeder(new PlanBuilder(null as unknown as GpuContext)), inputs).shape;
  }
}
