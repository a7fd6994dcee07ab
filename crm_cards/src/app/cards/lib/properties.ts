/**
 * The record properties each card shows. The card reads them on the record page
 * (`fetchCrmObjectProperties`, no API call of the app) and sends them with its view request, so
 * a card view costs the backend no HubSpot call. The lists are the backend's own
 * (`deal_card.CARD_PROPERTIES`, `company_card.CARD_PROPERTIES`); `tests/e2e/test_card_views.py`
 * fails when they differ.
 */
export const DEAL_CARD_PROPERTIES: readonly string[] = [
  'dealname',
  'dealstage',
  'pipeline',
  'amount',
  'closedate',
  'billwerk_deal_type',
  'billwerk_entity',
  'billwerk_start_date',
  'billwerk_payment_term_days',
  'billwerk_origin_deal_id',
  'billwerk_validation',
  'billwerk_validation_message',
  'billwerk_apply_changes',
  'billwerk_apply_message',
  'billwerk_customer_id',
  'billwerk_contract_id',
  'billwerk_order_id',
  'billwerk_sync_stopped',
  'billwerk_lifecycle_status',
  'billwerk_payment_provider',
  'billwerk_payment_method',
  'billwerk_currency',
  'billwerk_balance',
  'billwerk_billed_until',
  'billwerk_end_date',
  'billwerk_payment_escalated',
  'billwerk_last_invoice_id',
];

export const COMPANY_CARD_PROPERTIES: readonly string[] = [
  'name',
  'address',
  'address2',
  'city',
  'zip',
  'country',
  'state',
  'phone',
  'billwerk_house_number',
  'billwerk_vat_id',
  'billwerk_locale',
  'billwerk_default_bearer_medium',
  'billwerk_destination_country',
  'billwerk_einvoicing_receiver_id',
  'billwerk_buyer_reference',
  'billwerk_einvoicing_network',
  'billwerk_external_customer_id',
  'billwerk_entity',
  'billwerk_customer_id',
  'billwerk_import_status',
  'billwerk_import_errors',
];

/** The record's own id: proves the properties read are this record's. */
export const RECORD_ID_PROPERTY = 'hs_object_id';

export type RecordProperties = Record<string, string | null>;

/** What `fetchCrmObjectProperties` gives (a `Record<string, string>`; unset properties may be absent). */
type PropertyReader = (names: string[]) => Promise<Record<string, string | null | undefined>>;

/**
 * The record's card properties as the record page has them, or `null` when they cannot be read
 * (the reader fails, or answers for another record): the card then asks the backend without them
 * and the backend reads them from HubSpot itself.
 */
export const readRecordProperties = async (
  read: PropertyReader,
  names: readonly string[],
  objectId: string,
): Promise<RecordProperties | null> => {
  let values: Record<string, string | null | undefined>;
  try {
    values = await read([...names, RECORD_ID_PROPERTY]);
  } catch {
    return null;
  }
  if (!values || String(values[RECORD_ID_PROPERTY] ?? '') !== objectId) {
    return null;
  }
  const properties: RecordProperties = { [RECORD_ID_PROPERTY]: objectId };
  for (const name of names) {
    const value = values[name];
    properties[name] = typeof value === 'string' ? value : null;
  }
  return properties;
};
