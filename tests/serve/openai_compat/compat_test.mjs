// The official OpenAI Node client against a running `tessera serve`: completions, chat,
// streaming, n > 1, stop, logprobs, usage and error mapping. Usage: node compat_test.mjs BASE_URL
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
let checks = 0;
async function check(name, body) {
  await body();
  checks += 1;
  console.log(`ok ${checks} ${name}`);
}

const models = await client.models.list();
const model = models.data[0].id;
const prompt = 'Once upon a time';

let greedy = '';
await check('models.list', async () => {
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].object, 'model');
});

await check('completions.create', async () => {
  const r = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 24);
  greedy = r.choices[0].text;
  assert.ok(greedy.length > 20);
});

await check('completions stream equals the plain result', async () => {
  const stream = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, greedy);
  assert.equal(finish, 'length');
});

await check('stop strings are cut and hidden', async () => {
  const stop = greedy.slice(12, 16);
  const r = await client.completions.create({ model, prompt, max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].text, greedy.slice(0, greedy.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');
});

await check('n > 1 with a seed', async () => {
  const r = await client.completions.create({ model, prompt, max_tokens: 8, n: 3, seed: 1, temperature: 1 });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  assert.equal(r.usage.completion_tokens, 24);
});

await check('completion logprobs', async () => {
  const r = await client.completions.create({ model, prompt, max_tokens: 5, temperature: 0, logprobs: 2 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 5);
  assert.equal(lp.tokens.join(''), r.choices[0].text);
  for (const [i, top] of lp.top_logprobs.entries()) {
    assert.ok(lp.token_logprobs[i] <= 0);
    assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 2);
  }
});

await check('chat.completions.create with logprobs', async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 6, temperature: 0,
    logprobs: true, top_logprobs: 2,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(r.choices[0].logprobs.content.length >= 1);
  assert.equal(r.choices[0].logprobs.content[0].top_logprobs.length, 2);
});

await check('chat stream with usage', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6, temperature: 0, stream: true,
    stream_options: { include_usage: true }, n: 2, ignore_eos: true,
  });
  const texts = ['', ''];
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(texts[0], texts[1], 'greedy choices agree');
  assert.equal(usage.completion_tokens, 12);
});

await check('a bad parameter is a BadRequestError', async () => {
  await assert.rejects(client.completions.create({ model, prompt, temperature: 7 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, 'temperature');
    return true;
  });
  await assert.rejects(client.completions.create({ model: 'no-such-model', prompt }), (e) => e.status === 404);
});

console.log(`all ${checks} checks passed`);
