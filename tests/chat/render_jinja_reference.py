#!/usr/bin/env python3
"""Renders every template in ../shared/chat-templates/ with Python Jinja2 configured as Hugging Face
transformers' apply_chat_template configures it, for a few conversations, and writes the expected
renders as tests/chat/jinja_renders.json (checked in; jinja_template_test.cpp compares our
interpreter's output with them byte for byte). Run once when templates or conversations change:

    python3 tests/chat/render_jinja_reference.py ../shared/chat-templates > tests/chat/jinja_renders.json

The environment follows transformers (chat_template_utils.py): ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, the loopcontrols extension and the {% generation %} tag; its own tojson
(json.dumps with ensure_ascii=False); raise_exception and strftime_now globals; messages, tools
(None when absent), documents (None), add_generation_prompt, bos_token and eos_token as variables.
strftime_now uses a fixed clock (FIXED_NOW) so the renders do not change with the date.
"""
import datetime
import json
import os
import sys

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2026, 3, 7, 14, 5, 9)  # the C++ test passes the same time

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "description": "Forecast days", "minimum": 1},
            },
            "required": ["city"],
        },
    },
}]

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "Hello! How are you?"}
ASSISTANT = {"role": "assistant", "content": " I'm fine, thanks. "}
USER2 = {"role": "user", "content": "Tell me a joke about \"quotes\" and a café.\nTwo lines."}
TOOL_CALL = {"role": "assistant", "content": None, "tool_calls": [{
    "id": "call_1", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
               "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"}
ANSWER = {"role": "assistant", "content": "It is 21.5 °C and clear in Zürich."}
WEATHER = {"role": "user", "content": "What is the weather in Zürich?"}

# name -> (messages, tools)
CONVERSATIONS = {
    "system_user": ([SYSTEM, USER], None),
    "user_only": ([USER], None),
    "multi_turn": ([SYSTEM, USER, ASSISTANT, USER2], None),
    "tools_defined": ([SYSTEM, WEATHER], TOOLS),
    "tool_round_trip": ([SYSTEM, WEATHER, TOOL_CALL, TOOL_RESULT, ANSWER, USER], TOOLS),
}


class GenerationTag(Extension):
    """transformers' AssistantTracker without the tracking: {% generation %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def raise_exception(message):
    raise ValueError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
    return env


def render(env, source, messages, tools, add_generation_prompt):
    """The rendered text, or None when Jinja2 raises (at parse or render time)."""
    try:
        template = env.from_string(source)
        return template.render(messages=messages, tools=tools, documents=None,
                               add_generation_prompt=add_generation_prompt,
                               bos_token="<BOS>", eos_token="<EOS>")
    except Exception as e:  # noqa: BLE001 - any Jinja2 error means "the template raises"
        print(f"note: raises: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def main():
    template_dir = sys.argv[1]
    env = make_env()
    renders = []
    for name in sorted(os.listdir(template_dir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(template_dir, name), encoding="utf-8") as f:
            source = f.read()
        for conv_name, (messages, tools) in CONVERSATIONS.items():
            for agp in (True, False):
                text = render(env, source, messages, tools, agp)
                renders.append({"template": name, "conversation": conv_name, "add_generation_prompt": agp,
                                "expected": text})
    conversations = {k: {"messages": m, "tools": t} for k, (m, t) in CONVERSATIONS.items()}
    out = {"now": FIXED_NOW.isoformat(), "bos_token": "<BOS>", "eos_token": "<EOS>",
           "conversations": conversations, "renders": renders}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
