// Tool calls and structured output through the official OpenAI Node client against a running
// `tessera serve` (started with some model's chat template, so some tool-call format): forced
// calls come back as tool_calls with parsed JSON arguments, non-streaming and streaming (the
// client's own stream helper assembles delta.tool_calls), and a json_schema reply parses.
// Usage: node tools_test.mjs BASE_URL
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
let checks = 0;
async function check(name, body) {
  await body();
  checks += 1;
  console.log(`ok ${checks} ${name}`);
}

const model = (await client.models.list()).data[0].id;
const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['celsius', 'fahrenheit'] } },
        required: ['city', 'unit'],
      },
    },
  },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];
const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];

function checkWeatherCall(call) {
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.ok(call.id.length > 0);
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.ok(args.city.length <= 12);
  assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
  return args;
}

let plainArguments = '';
await check('tool_choice naming a function: message.tool_calls with JSON arguments', async () => {
  const r = await client.chat.completions.create({
    model, messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    max_tokens: 300, temperature: 0.7, seed: 7,
  });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(r.choices[0].message.tool_calls.length, 1);
  checkWeatherCall(r.choices[0].message.tool_calls[0]);
  plainArguments = r.choices[0].message.tool_calls[0].function.arguments;
});

await check('the same call streamed: the client assembles delta.tool_calls into the same arguments', async () => {
  const stream = client.beta.chat.completions.stream({
    model, messages, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    max_tokens: 300, temperature: 0.7, seed: 7,
  });
  const final = await stream.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  const call = final.choices[0].message.tool_calls[0];
  checkWeatherCall(call);
  assert.equal(call.function.arguments, plainArguments);
});

await check('tool_choice required: one of the tools is called', async () => {
  const r = await client.chat.completions.create({
    model, messages, tools, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 300, temperature: 1, seed: 3,
  });
  const calls = r.choices[0].message.tool_calls;
  assert.equal(calls.length, 1);
  assert.ok(['get_weather', 'get_time'].includes(calls[0].function.name));
  assert.equal(typeof JSON.parse(calls[0].function.arguments), 'object');
});

await check('a tool result renders back through the template', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc123xyz', type: 'function',
        function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' } }] },
      { role: 'tool', tool_call_id: 'call_abc123xyz', content: '{"temperature": 21}' },
    ],
    tools, max_tokens: 8,
  });
  assert.equal(r.choices.length, 1);
});

await check('response_format json_schema: the reply parses', async () => {
  const r = await client.chat.completions.create({
    model, messages, max_tokens: 300, temperature: 1, seed: 5,
    response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema: tools[0].function.parameters } },
  });
  const value = JSON.parse(r.choices[0].message.content);
  assert.ok(['celsius', 'fahrenheit'].includes(value.unit));
});

await check('a tool whose parameters are not an object schema is a BadRequestError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages, max_tokens: 4,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tools');
});

console.log(`all ${checks} checks passed`);
