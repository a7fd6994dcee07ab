import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The ui-extensions testing renderer needs no DOM: it renders into @remote-ui's tree.
    environment: 'node',
    include: ['**/__tests__/**/*.test.{ts,tsx}'],
    exclude: ['**/node_modules/**'],
    restoreMocks: true,
    watch: false,
  },
});
