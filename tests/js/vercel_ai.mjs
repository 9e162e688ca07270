// The Vercel AI SDK's default OpenAI provider (`@ai-sdk/openai`, which calls the Responses API)
// pointed at Warden: text, a stream, a tool call and a structured object, through the aliases
// given. Prints one JSON object with what came back and the paths the SDK called; the pytest in
// tests/python/test_vercel_ai_sdk.py starts the gateway, runs this and checks the result.
//   node vercel_ai.mjs BASE_URL WARDEN_KEY ALIAS...
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, apiKey, ...aliases] = process.argv.slice(2);
const paths = [];
const openai = createOpenAI({
  baseURL,
  apiKey,
  fetch: (url, init) => {
    paths.push(new URL(url).pathname);
    return fetch(url, init);
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
