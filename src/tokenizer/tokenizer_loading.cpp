// Tokenizer construction: GGUF metadata -> VocabSpec -> the shared vocabulary state (special ids,
// token attributes, end-of-generation set) with llama.cpp's defaults and name-based fixes.
#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tessera {
namespace {

// Token texts that llama.cpp treats as end of turn (eot), in its order.
constexpr std::array<std::string_view, 11> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "<end_of_utterance>"};
// Texts of every token llama.cpp adds to the end-of-generation set.
// ("<eos>" came with Gemma 4 but matches Gemma 3's id 1 too.)
constexpr std::array<std::string_view, 22> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~["};
// Fill-in-the-middle tokens: llama.cpp marks them control; pad/repo/file-separator also end generation.
constexpr std::array<std::string_view, 24> kFimTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>",
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>",
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>",
    "<|prefix|>", "<|suffix|>", "<|middle|>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>"};
constexpr std::array<std::string_view, 11> kFimEogTexts = {
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",                            // pad
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>"};  // repo, file sep

template <size_t N>
bool listed(const std::array<std::string_view, N>& texts, std::string_view text) {
  return std::find(texts.begin(), texts.end(), text) != texts.end();
}

// tokenizer.ggml.token_type values (llama_token_type) -> attribute bits.
uint32_t attr_of_type(int32_t type) {
  switch (type) {
    case 1: return 1u << 2;  // normal
    case 2: return 1u << 0;  // unknown
    case 3: return 1u << 3;  // control
    case 4: return 1u << 4;  // user-defined
    case 5: return 1u << 1;  // unused
    case 6: return 1u << 5;  // byte
    default: return 0;       // undefined: rendered as nothing, never matched
  }
}

}  // namespace

Expected<VocabSpec> read_vocab_spec(const gguf::GgufFile& file) {
  VocabSpec spec;
  const std::optional<std::string> model = file.get_string("tokenizer.ggml.model");
  if (!model) return unsupported("no tokenizer.ggml.model key: the file carries no vocabulary");
  spec.model = *model;
  spec.pre = file.get_string("tokenizer.ggml.pre").value_or("");
  spec.model_name = file.get_string("general.name").value_or("");

  const gguf::ArrayValue* tokens = file.get_array("tokenizer.ggml.tokens");
  if (!tokens) return not_found("no tokenizer.ggml.tokens array");
  if (tokens->element_type != gguf::ValueType::kString) return corrupt_data("tokenizer.ggml.tokens is not a string array");
  spec.tokens = tokens->strings;

  if (const gguf::ArrayValue* scores = file.get_array("tokenizer.ggml.scores")) {
    if (!scores->floats.empty() || scores->size() == 0) {
      spec.scores.assign(scores->floats.begin(), scores->floats.end());
    } else if (!scores->ints.empty()) {
      spec.scores.assign(scores->ints.begin(), scores->ints.end());
    } else {
      return corrupt_data("tokenizer.ggml.scores is not a numeric array");
    }
  }
  if (const gguf::ArrayValue* types = file.get_array("tokenizer.ggml.token_type")) {
    if (types->ints.size() != types->size()) return corrupt_data("tokenizer.ggml.token_type is not an integer array");
    spec.token_types.assign(types->ints.begin(), types->ints.end());
  }
  if (const gguf::ArrayValue* merges = file.get_array("tokenizer.ggml.merges")) {
    if (merges->strings.size() != merges->size()) return corrupt_data("tokenizer.ggml.merges is not a string array");
    spec.merges = merges->strings;
  }
  spec.bos_id = file.get_int("tokenizer.ggml.bos_token_id");
  spec.eos_id = file.get_int("tokenizer.ggml.eos_token_id");
  spec.eot_id = file.get_int("tokenizer.ggml.eot_token_id");
  spec.eom_id = file.get_int("tokenizer.ggml.eom_token_id");
  spec.unknown_id = file.get_int("tokenizer.ggml.unknown_token_id");
  spec.separator_id = file.get_int("tokenizer.ggml.seperator_token_id");  // sic: the GGUF key's spelling
  spec.padding_id = file.get_int("tokenizer.ggml.padding_token_id");
  spec.add_bos = file.get_bool("tokenizer.ggml.add_bos_token");
  spec.add_eos = file.get_bool("tokenizer.ggml.add_eos_token");
  spec.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix");
  if (const gguf::ArrayValue* eos_ids = file.get_array("tokenizer.ggml.eos_token_ids")) {
    spec.extra_eog_ids = eos_ids->ints;
  }
  return spec;
}

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  Expected<VocabSpec> spec = read_vocab_spec(file);
  if (!spec.ok()) return Status(spec.status().code(), file.path() + ": " + spec.status().message());
  Expected<std::unique_ptr<Tokenizer>> tokenizer = from_spec(*spec);
  if (!tokenizer.ok()) return Status(tokenizer.status().code(), file.path() + ": " + tokenizer.status().message());
  return tokenizer;
}

Expected<std::unique_ptr<Tokenizer>> Tokenizer::from_spec(const VocabSpec& spec) {
  if (spec.model == "llama") return SpmTokenizer::create(spec);
  if (spec.model == "gpt2") return BpeTokenizer::create(spec);
  return unsupported("tokenizer.ggml.model '" + spec.model + "' is not supported (supported: llama, gpt2)");
}

Status Tokenizer::load_common(const VocabSpec& spec, bool is_spm, bool default_add_bos) {
  const size_t num_tokens = spec.tokens.size();
  if (num_tokens == 0) return corrupt_data("tokenizer.ggml.tokens is empty");
  if (num_tokens > static_cast<size_t>(INT32_MAX)) return corrupt_data("tokenizer.ggml.tokens is too large");
  if (!spec.scores.empty() && spec.scores.size() < num_tokens) {
    return corrupt_data("tokenizer.ggml.scores has fewer entries than tokenizer.ggml.tokens");
  }
  if (!spec.token_types.empty() && spec.token_types.size() < num_tokens) {
    return corrupt_data("tokenizer.ggml.token_type has fewer entries than tokenizer.ggml.tokens");
  }
  pieces_.resize(num_tokens);
  scores_.assign(num_tokens, 0.0f);
  token_types_.assign(num_tokens, 1);
  token_attrs_.assign(num_tokens, kAttrNormal);
  piece_to_id_.reserve(num_tokens);
  for (size_t i = 0; i < num_tokens; ++i) {
    const TokenId id = static_cast<TokenId>(i);
    // llama.cpp renames empty tokens so that every text is unique and non-empty.
    pieces_[i] = spec.tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : spec.tokens[i];
    const auto [it, inserted] = piece_to_id_.emplace(pieces_[i], id);
    if (!inserted) {
      return corrupt_data("duplicate token in vocabulary: '" + pieces_[i] + "' has ids " + std::to_string(it->second) +
                          " and " + std::to_string(i));
    }
    if (!spec.scores.empty()) scores_[i] = spec.scores[i];
    if (!spec.token_types.empty()) {
      token_types_[i] = spec.token_types[i];
      token_attrs_[i] = attr_of_type(spec.token_types[i]);
    }
  }

  add_space_prefix_ = spec.add_space_prefix.value_or(is_spm);
  add_bos_ = spec.add_bos.value_or(default_add_bos);
  add_eos_ = spec.add_eos.value_or(false);
  resolve_special_ids(spec, is_spm);
  if (add_bos_ && bos_id_ < 0) return corrupt_data("tokenizer.ggml.add_bos_token is true, but there is no BOS token");
  if (add_eos_ && eos_id_ < 0) return corrupt_data("tokenizer.ggml.add_eos_token is true, but there is no EOS token");

  detect_end_of_generation(spec);
  for (size_t i = 0; i < num_tokens; ++i) {
    if (token_attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_ids_.push_back(static_cast<TokenId>(i));
  }
  // Longest first, so that a special token containing another one wins; ties by id.
  std::stable_sort(special_ids_.begin(), special_ids_.end(), [&](TokenId a, TokenId b) {
    return pieces_[static_cast<size_t>(a)].size() > pieces_[static_cast<size_t>(b)].size();
  });
  apply_name_based_attrs(spec);
  return Status::ok_status();
}

void Tokenizer::resolve_special_ids(const VocabSpec& spec, bool is_spm) {
  const int64_t num_tokens = vocab_size();
  // NOTE: as llama.cpp, a stored id outside the vocabulary (e.g. uint32 0xFFFFFFFF) keeps the
  // model's default id, which is "none" for every id whose default is none; a negative stored
  // id (int32 -1) means none.
  const auto resolve = [&](const std::optional<int64_t>& stored, TokenId default_id) -> TokenId {
    TokenId id = default_id < num_tokens ? default_id : -1;
    if (!stored) return id;
    if (*stored < 0) return -1;
    return *stored < num_tokens ? static_cast<TokenId>(*stored) : id;
  };
  bos_id_ = resolve(spec.bos_id, is_spm ? 1 : 11);
  eos_id_ = resolve(spec.eos_id, is_spm ? 2 : 11);
  eot_id_ = resolve(spec.eot_id, -1);
  eom_id_ = resolve(spec.eom_id, -1);
  unknown_id_ = resolve(spec.unknown_id, is_spm ? 0 : -1);
  separator_id_ = resolve(spec.separator_id, -1);
  padding_id_ = resolve(spec.padding_id, -1);
}

void Tokenizer::detect_end_of_generation(const VocabSpec& spec) {
  const auto make_control = [&](size_t i) { token_attrs_[i] |= kAttrControl; };
  const auto add_eog = [&](TokenId id) {
    if (id >= 0 && id < vocab_size() && std::find(eog_ids_.begin(), eog_ids_.end(), id) == eog_ids_.end()) {
      eog_ids_.push_back(id);
    }
  };
  // NOTE: llama.cpp scans an unordered map here; we scan in id order so that the first matching
  // id wins deterministically when a vocabulary has several end-of-turn tokens.
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const std::string& text = pieces_[i];
    if (eot_id_ < 0 && listed(kEotTexts, text)) {
      eot_id_ = static_cast<TokenId>(i);
      make_control(i);
    }
    if (eom_id_ < 0 && text == "<|eom_id|>") {
      eom_id_ = static_cast<TokenId>(i);
      make_control(i);
    }
    if (listed(kFimTexts, text)) make_control(i);
    if (listed(kFimEogTexts, text) || listed(kEogTexts, text)) {
      make_control(i);
      add_eog(static_cast<TokenId>(i));
    }
  }
  add_eog(eos_id_);
  add_eog(eot_id_);
  add_eog(eom_id_);
  for (const int64_t id : spec.extra_eog_ids) {
    if (id >= 0 && id < vocab_size()) add_eog(static_cast<TokenId>(id));
  }
  drop_end_tokens_that_are_not_ends();
  std::sort(eog_ids_.begin(), eog_ids_.end());
}

// llama.cpp's two exceptions to "matched by text ends generation": in o200k_harmony (and
// solar-open) <|end|> ends a message, not the turn, when <|return|> and <|call|> (<|calls|> and
// <|flush|>) exist; with Gemma 4's <|tool_response>, </s> is an HTML tag.
void Tokenizer::drop_end_tokens_that_are_not_ends() {
  const auto eog_with_text = [&](std::string_view text) {
    const TokenId id = find_token(text);
    return std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end() ? id : -1;
  };
  const auto drop = [&](TokenId id, uint32_t new_attr) {
    eog_ids_.erase(std::find(eog_ids_.begin(), eog_ids_.end(), id));
    token_attrs_[static_cast<size_t>(id)] = new_attr;
  };
  const TokenId end_id = eog_with_text("<|end|>");
  const bool has_call = eog_with_text("<|call|>") >= 0 || eog_with_text("<|calls|>") >= 0;
  const bool has_return_or_flush = eog_with_text("<|return|>") >= 0 || eog_with_text("<|flush|>") >= 0;
  if (end_id >= 0 && has_call && has_return_or_flush) drop(end_id, kAttrUserDefined);
  const TokenId end_tag_id = eog_with_text("</s>");
  if (end_tag_id >= 0 && eog_with_text("<|tool_response>") >= 0) drop(end_tag_id, kAttrNormal);
}

void Tokenizer::apply_name_based_attrs(const VocabSpec& spec) {
  std::string name = spec.model_name;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
  // Phi-3's special tokens swallow the whitespace after them (llama.cpp sets RSTRIP).
  for (const TokenId id : special_ids_) token_attrs_[static_cast<size_t>(id)] |= kAttrRstrip;
  const auto set_rstrip = [&](std::string_view text, bool on) {
    const TokenId id = find_token(text);
    if (id < 0) return;
    uint32_t& attr = token_attrs_[static_cast<size_t>(id)];
    attr = on ? (attr | kAttrRstrip) : (attr & ~kAttrRstrip);
  };
  set_rstrip("</s>", true);
  set_rstrip("<unk>", false);
  set_rstrip("<s>", false);
  set_rstrip("<|endoftext|>", false);
}

void Tokenizer::build_piece_cache() {
  piece_cache_.resize(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const uint32_t attr = token_attrs_[i];
    const TokenId id = static_cast<TokenId>(i);
    if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      piece_cache_[i] = pieces_[i];
    } else if (attr & kAttrNormal) {
      piece_cache_[i] = normal_token_piece(id);
    } else if (attr & kAttrByte) {
      piece_cache_[i] = std::string(1, static_cast<char>(byte_token_value(id)));
    }  // unused / undefined tokens render as nothing
  }
}

uint8_t Tokenizer::byte_token_value(TokenId id) const {
  // llama.cpp: strtol(text.substr(3, 2), 16), i.e. the hex digits after "<0x", stopping early.
  const std::string& text = pieces_[static_cast<size_t>(id)];
  unsigned value = 0;
  for (size_t i = 3; i < 5 && i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i])); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return static_cast<uint8_t>(value);
}

}  // namespace tessera
