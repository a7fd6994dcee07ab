/** Display helpers shared by the cards. The cards speak English; amounts keep two decimals. */

/** `2026-11-21T10:00:00Z` → `2026-11-21 10:00 UTC`; anything unparsable is shown as sent. */
export const formatTimestamp = (at: string): string => {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) {
    return at;
  }
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};

/** A calendar date (`2026-12-01`) stays as it is; a moment is shown like formatTimestamp. */
export const formatDate = (value: string | null | undefined): string => {
  if (!value) {
    return '–';
  }
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : formatTimestamp(value);
};

const AMOUNT = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** `1234.5, 'EUR'` → `1,234.50 EUR`; a missing amount is a dash. */
export const formatMoney = (amount: number | null | undefined, currency: string | null | undefined): string => {
  if (amount === null || amount === undefined || Number.isNaN(amount)) {
    return '–';
  }
  const text = AMOUNT.format(amount);
  return currency ? `${text} ${currency}` : text;
};

/** Like formatMoney, with a sign also for a rise (`+10.00 EUR`), for differences. */
export const formatDifference = (amount: number, currency: string | null | undefined): string =>
  amount > 0 ? `+${formatMoney(amount, currency)}` : formatMoney(amount, currency);

const PERIOD_NOUNS: Readonly<Record<string, string>> = {
  P1D: 'day',
  P7D: 'week',
  P1W: 'week',
  P14D: '2 weeks',
  P2W: '2 weeks',
  P1M: 'month',
  P2M: '2 months',
  P3M: 'quarter',
  P6M: 'half-year',
  P1Y: 'year',
  P12M: 'year',
  P2Y: '2 years',
  P3Y: '3 years',
};

/** `P1M` → `month`, `P3M` → `quarter`; an unknown period is shown as sent. */
export const periodNoun = (period: string): string => PERIOD_NOUNS[period] ?? period;
