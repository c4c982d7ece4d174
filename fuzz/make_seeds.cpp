// Writes the seed corpora of the fuzz targets into <out>/<target>/ (built at fuzz time, never
// committed): small GGUFs rebuilt from the real files under ../shared/models (every metadata key,
// long arrays cut, every tensor kept in the directory but shrunk to one block), truncated real
// files, tokenizer test strings, valid server requests, and the real chat templates.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/dtype.h"

namespace fs = std::filesystem;
using namespace tessera;

namespace {

constexpr size_t kMaxArrayElements = 600;  // keeps the 512-token toy vocabularies whole
constexpr size_t kTruncatedBytes = 3000;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

gguf::MetadataValue shortened(gguf::MetadataValue value) {
  if (value.type != gguf::ValueType::kArray) return value;
  auto& array = std::get<gguf::ArrayValue>(value.data);
  if (array.ints.size() > kMaxArrayElements) array.ints.resize(kMaxArrayElements);
  if (array.floats.size() > kMaxArrayElements) array.floats.resize(kMaxArrayElements);
  if (array.strings.size() > kMaxArrayElements) array.strings.resize(kMaxArrayElements);
  return value;
}

// The file's metadata and tensor directory with every tensor one block long.
bool write_shrunk_gguf(const fs::path& source, const fs::path& out) {
  auto file = gguf::GgufFile::open(source.string());
  if (!file.ok()) {
    std::fprintf(stderr, "skipping %s: %s\n", source.c_str(), file.status().message().c_str());
    return false;
  }
  gguf::GgufWriter writer((*file)->alignment());
  for (const auto& entry : (*file)->metadata()) writer.set(entry.key, shortened(entry.value));
  for (const auto& info : (*file)->tensors()) {
    const int64_t elements = dtype_block_size(info.type);
    const std::string zeros(row_bytes(info.type, elements), '\0');
    if (!writer.add_tensor(info.name, info.type, {elements}, zeros.data(), zeros.size()).ok()) return false;
  }
  write_file(out, writer.to_bytes());
  return true;
}

void gguf_seeds(const fs::path& models, const fs::path& out) {
  int count = 0;
  for (const fs::path& dir : {models, models / "synthetic", models / "vocab"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".gguf") continue;
      const std::string stem = dir.filename().string() + "-" + entry.path().stem().string();
      if (write_shrunk_gguf(entry.path(), out / (stem + ".gguf"))) ++count;
      std::string prefix = read_file(entry.path());
      prefix.resize(std::min(prefix.size(), kTruncatedBytes));
      write_file(out / (stem + ".truncated"), prefix);
      ++count;
    }
  }
  std::printf("gguf: %d seeds\n", count);
}

// A whole model file rewritten with `edit` applied to its metadata (false: drop the key) and
// tensors (false: drop the tensor; a changed shape keeps the bytes that still fit, zero-padded).
template <typename MetadataEdit, typename TensorEdit>
bool write_edited_gguf(const fs::path& source, const fs::path& out, MetadataEdit metadata_edit, TensorEdit tensor_edit) {
  auto file = gguf::GgufFile::open(source.string());
  if (!file.ok()) return false;
  gguf::GgufWriter writer((*file)->alignment());
  for (gguf::MetadataEntry entry : (*file)->metadata()) {
    if (metadata_edit(entry)) writer.set(entry.key, entry.value);
  }
  for (gguf::TensorInfo info : (*file)->tensors()) {
    const uint8_t* data = (*file)->tensor_data(info);
    const size_t stored = info.num_bytes;
    if (!tensor_edit(info)) continue;
    size_t bytes = row_bytes(info.type, info.shape[0]);
    for (size_t d = 1; d < info.shape.size(); ++d) bytes *= static_cast<size_t>(info.shape[d]);
    std::string copy(reinterpret_cast<const char*>(data), std::min(bytes, stored));
    copy.resize(bytes, '\0');
    if (!writer.add_tensor(info.name, info.type, info.shape, copy.data(), copy.size()).ok()) return false;
  }
  write_file(out, writer.to_bytes());
  return true;
}

// Whole small models of every dense architecture (so the fuzzer starts inside the weight
// loader), and each with one thing wrong: a missing tensor, a misshapen one, a hyper-parameter
// of the wrong type, an absurd one.
void model_seeds(const fs::path& synthetic, const fs::path& out) {
  int count = 0;
  for (const char* name : {"synth-qwen2-d128-Q8_0", "synth-qwen3-d128-Q8_0", "synth-gemma3-d64-swa16-Q8_0",
                           "synth-phi3-d128-Q8_0", "synth-llama-mqa-d128-Q8_0"}) {
    const fs::path source = synthetic / (std::string(name) + ".gguf");
    if (!fs::exists(source)) continue;
    auto keep_all = [](auto&) { return true; };
    const std::string stem = out / (std::string("model-") + name);
    count += write_edited_gguf(source, stem + ".gguf", keep_all, keep_all);
    count += write_edited_gguf(source, stem + "-missing-tensor.gguf", keep_all,
                               [](gguf::TensorInfo& t) { return t.name.find("blk.1.") != 0; });
    count += write_edited_gguf(source, stem + "-misshapen.gguf", keep_all, [](gguf::TensorInfo& t) {
      if (t.shape.size() == 2 && t.name.find("blk.0.") == 0) t.shape[1] -= 1;
      return true;
    });
    count += write_edited_gguf(source, stem + "-typed-hparam.gguf", [](gguf::MetadataEntry& e) {
      if (e.key.find(".block_count") != std::string::npos) e.value = gguf::MetadataValue::string("2");
      return true;
    }, keep_all);
    count += write_edited_gguf(source, stem + "-absurd-hparam.gguf", [](gguf::MetadataEntry& e) {
      if (e.key.find(".block_count") != std::string::npos) e.value = gguf::MetadataValue::u32(1u << 24);
      if (e.key.find(".sliding_window") != std::string::npos) e.value = gguf::MetadataValue::i32(-1);
      return true;
    }, keep_all);
  }
  std::printf("gguf (models): %d seeds\n", count);
}

// Splits llama.cpp's vocab test inputs (separated by "\n__ggml_vocab_test__\n").
void tokenizer_seeds(const fs::path& vocab_dir, const fs::path& out) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  int count = 0;
  for (const char* name : {"ggml-vocab-llama-spm.gguf.inp", "ggml-vocab-gpt-2.gguf.inp"}) {
    const std::string all = read_file(vocab_dir / name);
    size_t start = 0;
    while (start < all.size()) {
      size_t end = all.find(separator, start);
      if (end == std::string::npos) end = all.size();
      const char flags = static_cast<char>(count % 4);  // add_special / parse_special
      write_file(out / ("text-" + std::to_string(count++)), flags + all.substr(start, end - start));
      start = end + separator.size();
    }
  }
  write_file(out / ("special-" + std::to_string(count++)), "\x03<s>Hello</s> <|endoftext|> <unk>");
  std::printf("tokenizer: %d seeds\n", count);
}

// Valid requests of every endpoint; byte 0 of each seed selects the endpoint (see serve_fuzz.cpp).
void serve_seeds(const fs::path& out) {
  const std::vector<std::string> requests = {
      "0{\"prompt\": \"Once upon a time\", \"max_tokens\": 16}",
      "0{\"prompt\": [1, 2, 3], \"max_tokens\": 4, \"temperature\": 0, \"n\": 2, \"stop\": [\"\\n\"]}",
      "0{\"model\": \"m\", \"prompt\": \"Hi\", \"stream\": true, \"top_p\": 0.9, \"top_k\": 5, \"seed\": 7,"
      " \"logprobs\": 2, \"presence_penalty\": 0.5, \"frequency_penalty\": 0.5, \"echo\": false}",
      "1{\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], \"max_tokens\": 8}",
      "1{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
      " {\"role\": \"assistant\", \"content\": \"Hello\"}], \"stream\": true, \"stream_options\": {\"include_usage\": true},"
      " \"max_completion_tokens\": 4, \"stop\": \"x\", \"logprobs\": true, \"top_logprobs\": 3}",
      "0{\"prompt\": [\"a\", \"b\"], \"min_p\": 0.1, \"repetition_penalty\": 1.1, \"stop_token_ids\": [2]}",
      "0{\"prompt\": [[1, 2], [3]], \"max_tokens\": 2}",
      "1{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hi\"}]}]}",
      "2{\"prompt\": \"Hello world\", \"add_special_tokens\": true}",
      "2{\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}",
      "3{\"tokens\": [1, 2, 3]}",
  };
  for (size_t i = 0; i < requests.size(); ++i) write_file(out / ("request-" + std::to_string(i)), requests[i]);
  std::printf("serve: %zu seeds\n", requests.size());
}

// The real chat templates, each as it ships (the Jinja fuzzer renders them).
void jinja_seeds(const fs::path& template_dir, const fs::path& out) {
  int count = 0;
  if (fs::exists(template_dir)) {
    for (const auto& entry : fs::directory_iterator(template_dir)) {
      if (entry.path().extension() != ".jinja") continue;
      write_file(out / entry.path().filename(), read_file(entry.path()));
      ++count;
    }
  }
  std::printf("jinja: %d seeds\n", count);
}

// One well-formed output per tool-call format; byte 0 is the format, byte 1 the options and
// the stream's piece size (see tool_calls_fuzz.cpp).
void tool_call_seeds(const fs::path& out) {
  const std::string args = R"({"city": "Zürich", "days": 3})";
  const std::string json_call = R"({"name": "get_weather", "arguments": )" + args + "}";
  const std::vector<std::pair<int, std::string>> outputs = {
      {1, R"({"tool_calls": [)" + json_call + "]}"},
      {2, "Sure.\n<tool_call>\n" + json_call + "\n</tool_call>\n<tool_call>\n" + json_call + "\n</tool_call>"},
      {3, R"(<|python_tag|>{"name": "get_weather", "parameters": )" + args + "}; " + R"({"name": "f", "parameters": {}})"},
      {4, "[TOOL_CALLS][" + json_call + ", " + json_call + "]"},
      {5, "[TOOL_CALLS]get_weather[ARGS]" + args + "[TOOL_CALLS]f[CALL_ID]abcdefghi[ARGS]{}"},
      {6, R"(<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_weather", "parameters": )" + args + "}]<|END_ACTION|>"},
      {12, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + args +
               "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
      {14, "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>" + args +
               "<|tool_call_end|><|tool_calls_section_end|>"},
      {15, "<tool_call>\n<function=get_weather>\n<parameter=city>\nZürich\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>"},
      {16, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Zürich</arg_value>\n</tool_call>"},
      {17, "<minimax:tool_call>\n<invoke name=\"get_weather\">\n<parameter name=\"city\">Zürich</parameter>\n</invoke>\n</minimax:tool_call>"},
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const char options = static_cast<char>((i % 4) | ((i * 7 % 64) << 2));
    write_file(out / ("output-" + std::to_string(i)), std::string(1, static_cast<char>(outputs[i].first)) + options +
                                                          "<think>why</think>" + outputs[i].second);
  }
  std::printf("tool_calls: %zu seeds\n", outputs.size());
}

void grammar_seeds(const fs::path& out) {
  const char* seeds[] = {
      "root ::= object\nvalue ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
      "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
      "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
      "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
      "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ws\nws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
      "root ::= expr \"=\"\nexpr ::= term ((\"+\" | \"-\") term)*\nterm ::= [0-9]+ | \"(\" expr \")\"\n",
      "# comment\nroot ::= \"(\" root \")\" | \"\"\n",
      "root ::= [a-z\\u00e9-\\u00ff]{2,5} . [^\\n]? (\"x\"? \"y\"?)*\n",
      "root ::= a b\na ::= \"1\" | \"\"\nb ::= a \"2\" a\n",
      "#regex\n^[A-Z]{2}-\\d{3,}(?:\\.[a-f]+)?|x*$",
      "#schema\n{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":300},"
      "\"b\":{\"type\":\"array\",\"items\":{\"enum\":[\"x\",1,null]},\"maxItems\":3},\"c\":{\"type\":[\"string\",\"null\"],\"maxLength\":4}},"
      "\"required\":[\"a\"]}",
  };
  int count = 0;
  for (const char* seed : seeds) write_file(out / ("seed" + std::to_string(count++) + ".txt"), seed);
  std::printf("grammar: %d seeds\n", count);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 1;
  }
  const fs::path out = argv[1];
  const fs::path models = fs::path(TESSERA_SHARED_DIR) / "models";
  for (const char* target : {"gguf", "tokenizer", "serve", "jinja", "tool_calls", "grammar"}) fs::create_directories(out / target);
  gguf_seeds(models, out / "gguf");
  model_seeds(models / "synthetic", out / "gguf");
  tokenizer_seeds(models / "vocab", out / "tokenizer");
  serve_seeds(out / "serve");
  jinja_seeds(fs::path(TESSERA_SHARED_DIR) / "chat-templates", out / "jinja");
  tool_call_seeds(out / "tool_calls");
  grammar_seeds(out / "grammar");
  return 0;
}
