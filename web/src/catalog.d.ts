/** The virtual module web/build.ts compiles into the bundle: environments, presets, hyperparameter schema. */
declare module "proxima:catalog" {
  export interface CatalogEnv {
    id: string;
    observationShape: number[];
    actionSpace: string;
    maxEpisodeSteps: number;
    rewardThreshold?: number;
    /** Preset name → the full hyperparameters it gives for this env. */
    presets: Record<string, Record<string, unknown>>;
  }
  export interface JsonSchemaProperty {
    type?: string | string[];
    description?: string;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    enum?: string[];
    anyOf?: JsonSchemaProperty[];
  }
  const catalog: {
    envs: CatalogEnv[];
    presets: string[];
    hyperparameters: { properties: Record<string, JsonSchemaProperty> };
  };
  export default catalog;
}

/** Stylesheets imported for their side effect: esbuild bundles them into the hashed .css file. */
declare module "*.css" {}
