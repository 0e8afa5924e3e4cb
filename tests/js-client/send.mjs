// Sends N CloudEvents to the sidecar with the CloudEvents JavaScript SDK, in binary or structured mode,
// and prints one JSON line per response: {"status": ..., "body": ...}.
// Usage: node send.mjs URL binary|structured N
import { CloudEvent, HTTP } from "cloudevents";

const [url, mode, count] = process.argv.slice(2);
for (let i = 0; i < Number(count); i++) {
  const event = new CloudEvent({
    type: "order.created",
    source: "/shop/checkout",
    id: `js-${i}`,
    subject: 'caf\u00e9 "real"',
    datacontenttype: "application/json",
    data: { order_id: `A${i}`, total: 1000 + i },
  });
  const message = mode === "binary" ? HTTP.binary(event) : HTTP.structured(event);
  const response = await fetch(url, {
    method: "POST",
    headers: message.headers,
    body: message.body,
    signal: AbortSignal.timeout(10000),
  });
  console.log(JSON.stringify({ status: response.status, body: await response.json() }));
}
