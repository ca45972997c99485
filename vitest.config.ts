import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.js';

// Vitest 4 ignores vitest.workspace.ts on its own: import its list into test.projects.
export default defineConfig({
  test: {
    projects,
  },
});
