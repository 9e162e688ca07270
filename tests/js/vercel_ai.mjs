// The Vercel AI SDK's default OpenAI provider (`@ai-sdk/openai`, which calls the Responses API)
// pointed at Warden: text, a stream, a tool call and a structured object, through the aliases
// given. Prints one JSON object with what came back and the paths the SDK called; the pytest in
// tests/python/test_vercel_ai_sdk.py starts the gateway, runs this and checks the result. Under
// WARDEN_SCAN_DIR every response the SDK read is appended to node-responses.log there, for
// scripts/scan_secrets.py.
//   node vercel_ai.mjs BASE_URL WARDEN_KEY ALIAS...
import { appendFileSync } from "node:fs";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, apiKey, ...aliases] = process.argv.slice(2);
const paths = [];
const openai = createOpenAI({
  baseURL,
  apiKey,
  fetch: async (url, init) => {
    paths.push(new URL(url).pathname);
    const response = await fetch(url, init);
    if (process.env.WARDEN_SCAN_DIR) keepForScan(url, response.clone()).catch((e) => console.error(`scan copy: ${e}`));
    return response;
  },
});

const results = {};
for (const alias of aliases) {
  const model = openai(alias);
  const text = await generateText({ model, prompt: `hello ${alias}` });
  const stream = streamText({ model, prompt: `one two three mock:chunks=4` });
  let streamed = "";
  for await (const piece of stream.textStream) streamed += piece;
  const called = await generateText({
    model,
    prompt: "weather? mock:tool=get_weather",
    tools: {
      get_weather: tool({
        description: "Current weather",
        inputSchema: z.object({ city: z.string().optional() }),
        execute: async () => ({ conditions: "sunny" }),
      }),
    },
  });
  const object = await generateObject({
    model,
    schema: z.object({ city: z.string(), temperature_c: z.number(), hourly: z.array(z.number()) }),
    prompt: "weather in Oslo?",
  });
  results[alias] = {
    text: text.text,
    usage: text.usage,
    streamed,
    toolCalls: called.toolCalls.map((c) => c.toolName),
    toolResults: called.toolResults.map((r) => r.output),
    object: object.object,
  };
}
console.log(JSON.stringify({ results, paths: [...new Set(paths)] }));

// The copy is read beside the SDK's own (a stream included) and written whole at its end.
async function keepForScan(url, response) {
  const body = Buffer.from(await response.arrayBuffer());
  const head = [`${url} -> ${response.status}`, ...[...response.headers].map(([k, v]) => `${k}: ${v}`)];
  appendFileSync(`${process.env.WARDEN_SCAN_DIR}/node-responses.log`, Buffer.concat([Buffer.from(head.join("\n") + "\n\n"), body, Buffer.from("\n\n")]));
}
