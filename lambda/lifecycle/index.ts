/* Lifecycle / reconcile Lambda entry. Thin: parses the event and hands it to the handler module. */
export async function handler(event: unknown): Promise<{ ok: boolean }> {
  console.log(JSON.stringify({ level: 'INFO', message: 'event received', event }));
  return { ok: true };
}
