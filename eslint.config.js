// ESLint (flat config) for the browser code served from the static folders: plain ES modules,
// no build step. Run with tools/lint-js.sh (installs the pinned ESLint from package-lock.json).
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['node_modules/**', '.venv/**', 'var/**', 'build/**', 'dist/**', 'gateway/static/vendor/**']  // vendored, minified (tools/vendor-wall.sh)
  },
  {
    files: [
      'gateway/**/static/**/*.js',
      'channels/*/static/**/*.js',
      'knowledge_base/static/**/*.js'
    ],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser }
    },
    rules: {
      ...js.configs.recommended.rules,
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none' }],
      'no-undef': 'error',
      eqeqeq: ['error', 'always'],
      'prefer-const': 'error'
    }
  },
  {
    // This file (Node).
    files: ['eslint.config.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } }
  }
];
