import { describe, expect, it, vi } from 'vitest';
import { hubspot } from '@hubspot/ui-extensions';
import type { ReactElement } from 'react';

describe.each([
  ['CompanyCard.tsx', () => import('../CompanyCard'), 'CompanyCard'],
  ['DealCard.tsx', () => import('../DealCard'), 'DealCard'],
] as const)('%s', (_file, load, name) => {
  it('registers the card with hubspot.extend (not export default)', async () => {
    vi.resetModules();
    const extend = vi.spyOn(hubspot, 'extend').mockImplementation(() => undefined);

    const module = (await load()) as Record<string, unknown>;

    expect(extend).toHaveBeenCalledTimes(1);
    const callback = extend.mock.calls[0]?.[0] as unknown as () => ReactElement;
    expect(callback().type).toBe(module[name]);
    expect('default' in module).toBe(false);
    extend.mockRestore();
  });
});
