// Lint, including the layer boundaries of docs/architecture.md (CONVENTIONS 12): data moves one way,
// collect -> record -> read -> analyse -> render, and only cli/ may touch everything.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (folder, forbidden) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({
        group: [`../${f}`, `../${f}/*`, `../../${f}`, `../../${f}/*`],
        message: `src/${folder} may not import src/${f} (see docs/architecture.md, layers)`,
      })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['src/contract/validators.generated.ts', 'src/contract/validators-records.generated.ts', 'dist/**', 'node_modules/**', 'runtimes/**', 'bench/**', 'scripts/**', 'fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
        message: 'Only src/cli may call process.exit (CONVENTIONS 10).',
      }, {
        selector: 'ThrowStatement > Literal',
        message: 'Throw Error subclasses, never strings.',
      }],
    },
  },
  { files: ['src/cli/**/*.ts'], rules: { 'no-restricted-syntax': 'off' } },
  // contract/ is the one declaration of what crosses a boundary: everyone may import it, it imports nothing.
  layer('contract', ['cli', 'procfs', 'sampler', 'recording', 'model', 'formats', 'analysis', 'render', 'agents']),
  layer('model', ['cli', 'procfs', 'sampler', 'recording', 'formats', 'analysis', 'render', 'agents']),
  layer('procfs', ['cli', 'sampler', 'recording', 'model', 'formats', 'analysis', 'render', 'agents']),
  // sampler/ starts the agent server of a run and records what agents report (src/sampler/agents.ts).
  layer('sampler', ['cli', 'formats', 'analysis', 'render']),
  layer('recording', ['cli', 'procfs', 'sampler', 'formats', 'analysis', 'render', 'agents']),
  layer('formats', ['cli', 'procfs', 'sampler', 'analysis', 'render', 'agents']),
  layer('analysis', ['cli', 'procfs', 'sampler', 'recording', 'formats', 'render', 'agents']),
  layer('render', ['cli', 'procfs', 'sampler', 'recording', 'formats', 'agents']),
  layer('agents', ['cli', 'procfs', 'sampler', 'recording', 'formats', 'analysis', 'render']),
  // Tests check whole flows (record, then read and analyse), so they may cross layers; they match
  // terminal escape sequences on purpose.
  { files: ['src/**/*.test.ts', 'src/test-support.ts'], rules: { 'no-restricted-imports': 'off', 'no-control-regex': 'off' } },
);
