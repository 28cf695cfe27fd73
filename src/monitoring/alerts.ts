/** POSTs the alert as JSON to a webhook; resolves to what happened, throws when it was not accepted. */
export function webhookAlert(url: string, timeoutMs = 5000): (payload: Record<string, unknown>) => Promise<string> {
  return async (payload) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`webhook ${new URL(url).host} answered ${response.status}`);
    return `webhook ${new URL(url).host} answered ${response.status}`;
  };
}

/** Several alert channels as one: each is tried; it fails only when all of them fail. */
export function allAlerts(
  channels: ((payload: Record<string, unknown>) => Promise<string>)[],
): ((payload: Record<string, unknown>) => Promise<string>) | undefined {
  if (channels.length === 0) return undefined;
  return async (payload) => {
    const outcomes = await Promise.allSettled(channels.map((send) => send(payload)));
    const text = outcomes.map((o) => (o.status === 'fulfilled' ? o.value : `failed: ${(o.reason as Error).message}`)).join('; ');
    if (outcomes.every((o) => o.status === 'rejected')) throw new Error(text);
    return text;
  };
}

/** Publishes the alert to an SNS topic (AWS): subscribers get e-mail, SMS, a queue, a Lambda… */
export function snsAlert(topicArn: string, region: string): (payload: Record<string, unknown>) => Promise<string> {
  return async (payload) => {
    const { SNSClient, PublishCommand } = await import('@aws-sdk/client-sns');
    const client = new SNSClient({ region });
    try {
      const out = await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: `Model ${String(payload.model)}: ${String(payload.trigger)} crossed`.slice(0, 100),
          Message: JSON.stringify(payload),
        }),
      );
      return `SNS message ${out.MessageId ?? '?'}`;
    } finally {
      client.destroy();
    }
  };
}
