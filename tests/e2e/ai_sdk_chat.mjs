// A multi-turn chat with the Vercel AI SDK's default OpenAI provider (`openai(model)`: the Responses API, store
// true, earlier assistant output sent back as `item_reference`), driven by tests/e2e/test_ai_sdk.py.
// env: AI_SDK_NODE_MODULES (where `ai`, `@ai-sdk/openai`, `zod` are installed), GATEWAY_URL, GATEWAY_KEY.
// Prints one JSON line: what each turn answered and which tool calls ran.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.AI_SDK_NODE_MODULES;
const load = (entry) => import(pathToFileURL(join(modules, entry)).href);
const { generateText, streamText, tool, stepCountIs } = await load("ai/dist/index.js");
const { createOpenAI } = await load("@ai-sdk/openai/dist/index.js");
const { z } = await load("zod/index.js");

const sent = []; // every request body the SDK sent, to show which input items it used
const recording = async (url, init) => {
  sent.push(JSON.parse(init.body));
  return fetch(url, init);
};
const openai = createOpenAI({
  baseURL: `${process.env.GATEWAY_URL}/v1`,
  apiKey: process.env.GATEWAY_KEY,
  fetch: recording,
});
const model = openai("gpt-4o");
const ran = [];
const tools = {
  weather: tool({
    description: "The weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      ran.push(city);
      return { city, forecast: "sunny" };
    },
  }),
};
const failures = [];
const onError = ({ error }) => failures.push(String(error?.message ?? error));

// Turn 1: a tool loop (call, run the tool, answer) in one generateText.
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const first = await generateText({ model, tools, stopWhen: stepCountIs(5), messages });
messages.push(...first.response.messages);

// Turn 2: a second user turn reusing the messages, streamed (its assistant text goes back as item_reference).
messages.push({ role: "user", content: "What did I ask first?" });
const second = streamText({ model, tools, stopWhen: stepCountIs(5), messages, onError });
let secondText = "";
for await (const delta of second.textStream) secondText += delta;
messages.push(...(await second.response).messages);

// Turn 3: again, not streamed, referring to the streamed turn's stored output.
messages.push({ role: "user", content: "Anything else?" });
const third = await generateText({ model, tools, stopWhen: stepCountIs(5), messages });

console.log(
  JSON.stringify({
    ran,
    steps: first.steps.length,
    first: first.text,
    second: secondText,
    third: third.text,
    failures,
    requests: sent.map((body) => ({
      store: body.store ?? null,
      stream: body.stream ?? false,
      items: (Array.isArray(body.input) ? body.input : []).map((item) => item.type ?? `message:${item.role}`),
    })),
  }),
);
