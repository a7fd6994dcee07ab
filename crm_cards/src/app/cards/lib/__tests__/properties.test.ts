import { describe, expect, it } from 'vitest';

import { DEAL_CARD_PROPERTIES, readRecordProperties } from '../properties';

describe('readRecordProperties', () => {
  it("asks for the card's properties and the record id, names each one, unset ones null", async () => {
    const asked: string[][] = [];
    const read = async (names: string[]) => {
      asked.push(names);
      return { hs_object_id: '7001', dealname: 'ACME – Pro', amount: '', billwerk_balance: undefined } as Record<
        string,
        string | undefined
      >;
    };
    const properties = await readRecordProperties(read, ['dealname', 'amount', 'billwerk_balance', 'dealstage'], '7001');
    expect(asked).toEqual([['dealname', 'amount', 'billwerk_balance', 'dealstage', 'hs_object_id']]);
    expect(properties).toEqual({
      hs_object_id: '7001',
      dealname: 'ACME – Pro',
      amount: '',
      billwerk_balance: null,
      dealstage: null,
    });
  });

  it('gives null when the page fails, answers nothing, or answers for another record', async () => {
    const failing = async (): Promise<Record<string, string>> => {
      throw new Error('no');
    };
    expect(await readRecordProperties(failing, DEAL_CARD_PROPERTIES, '7001')).toBeNull();
    expect(await readRecordProperties(async () => ({}), DEAL_CARD_PROPERTIES, '7001')).toBeNull();
    expect(
      await readRecordProperties(async () => ({ hs_object_id: '7002', dealname: 'Other' }), DEAL_CARD_PROPERTIES, '7001'),
    ).toBeNull();
    const nothing = async () => undefined as unknown as Record<string, string>;
    expect(await readRecordProperties(nothing, DEAL_CARD_PROPERTIES, '7001')).toBeNull();
  });
});
