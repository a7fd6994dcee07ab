import { describe, expect, it, vi } from 'vitest';
import { hubspot } from '@hubspot/ui-extensions';
import type { ReactElement } from 'react';

describe('CompanyCard.tsx', () => {
  it('registers the card with hubspot.extend (not export default)', async () => {
    const extend = vi.spyOn(hubspot, 'extend').mockImplementation(() => undefined);

    const module = await import('../CompanyCard');

    expect(extend).toHaveBeenCalledTimes(1);
    const callback = extend.mock.calls[0]?.[0] as unknown as () => ReactElement;
    expect(callback().type).toBe(module.CompanyCard);
    expect('default' in module).toBe(false);
  });
});
