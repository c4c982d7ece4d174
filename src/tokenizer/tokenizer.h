// Tokenizer: text <-> token ids from the vocabulary stored in a GGUF file's `tokenizer.*` keys.
// Implements tokenizer.ggml.model = "llama" (SentencePiece-style BPE over scores with <0xXX>
// byte fallback) and "gpt2" (byte-level BPE with merges), matching llama.cpp token for token.
// Knows nothing about models or sampling.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace tessera {

using TokenId = int32_t;

// The `tokenizer.*` metadata of a GGUF file as plain data: what from_gguf() reads, and what tests
// build by hand for tiny synthetic vocabularies.
struct VocabSpec {
  std::string model;                   // tokenizer.ggml.model: "llama" (SPM) or "gpt2" (BPE)
  std::string pre;                     // tokenizer.ggml.pre; "" when missing (BPE only)
  std::string model_name;              // general.name ("phi-3" models strip spaces after specials)
  std::vector<std::string> tokens;     // [vocab_size] tokenizer.ggml.tokens
  std::vector<float> scores;           // [vocab_size] or empty (all 0): SPM merge priorities
  std::vector<int32_t> token_types;    // [vocab_size] or empty (all normal)
  std::vector<std::string> merges;     // BPE merges "left right", rank = index
  // Special ids exactly as stored (uint32 0xFFFFFFFF arrives as 4294967295); nullopt = key absent.
  std::optional<int64_t> bos_id, eos_id, eot_id, eom_id, unknown_id, separator_id, padding_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;  // nullopt -> llama.cpp's per-model default
  std::vector<int64_t> extra_eog_ids;  // tokenizer.ggml.eos_token_ids, if present
};

// Reads the tokenizer.* keys (and general.name) of a GGUF file; malformed arrays -> Status.
Expected<VocabSpec> read_vocab_spec(const gguf::GgufFile& file);

class Tokenizer {
 public:
  // Reads the vocabulary; unsupported/missing tokenizer model or malformed arrays -> Status.
  static Expected<std::unique_ptr<Tokenizer>> from_gguf(const gguf::GgufFile& file);
  // Same from metadata already extracted (tests, other file formats).
  static Expected<std::unique_ptr<Tokenizer>> from_spec(const VocabSpec& spec);
  virtual ~Tokenizer() = default;

  // add_special: prepend BOS (and append EOS) when the vocabulary asks for it
  // (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp's per-model defaults).
  // parse_special: recognise control/user-defined tokens written literally in the text.
  // (User-defined tokens are recognised even without parse_special, as in llama.cpp.)
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for when generated (byte tokens become their byte, SentencePiece's
  // U+2581 becomes a space, gpt2's byte-level chars map back to bytes). Control tokens -> "".
  // Unknown-type tokens (<unk>) also -> "", as llama.cpp's token_to_piece(special=false).
  std::string token_to_piece(TokenId id) const { return token_to_piece(id, /*special=*/false); }
  // special=true renders control/unknown tokens as their text (llama.cpp's `special` flag).
  // Ids outside the vocabulary give "".
  std::string token_to_piece(TokenId id, bool special) const;
  // Concatenated pieces (no leading-space stripping).
  std::string decode(const std::vector<TokenId>& ids) const;

  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& token_text(TokenId id) const { return pieces_.at(static_cast<size_t>(id)); }  // raw vocab string
  TokenId bos_id() const { return bos_id_; }   // -1 when none
  TokenId eos_id() const { return eos_id_; }   // -1 when none
  TokenId eot_id() const { return eot_id_; }   // -1 when none
  TokenId unknown_id() const { return unknown_id_; }  // -1 when none
  TokenId padding_id() const { return padding_id_; }  // -1 when none
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // Exact vocabulary lookup; -1 when `text` is not a token.
  TokenId find_token(std::string_view text) const;
  // End of generation: EOS, EOT, EOM, any id in tokenizer.ggml.eos_token_ids, and the tokens
  // llama.cpp recognises by their text (<|eot_id|>, <|im_end|>, </s>, <|fim_pad|>, ...).
  bool is_eog(TokenId id) const;
  // The whole end-of-generation set, ascending; what a generator must stop on.
  const std::vector<TokenId>& eog_ids() const { return eog_ids_; }

 protected:
  // Token attribute bits, derived from token_type the way llama.cpp does (plus its name-based
  // fixes: end-of-turn-looking tokens become control, phi-3 specials strip following spaces).
  enum TokenAttr : uint32_t {
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 6,  // partitioning drops whitespace before this special token
    kAttrRstrip = 1u << 7,  // ... and after it
  };

  Tokenizer() = default;
  // Fills every shared member from `spec`; is_spm selects llama.cpp's SPM vs BPE defaults;
  // default_add_bos applies when the file has no add_bos_token key (llama.cpp's per-model default).
  Status load_common(const VocabSpec& spec, bool is_spm, bool default_add_bos);
  // Renders every token's piece once (needs the subclass, so called after construction).
  void build_piece_cache();

  // Tokenizes one span of plain text (no special tokens inside). after_special: the span starts
  // the text or follows a special token (SPM then adds its leading-space prefix).
  virtual void encode_fragment(std::string_view text, bool after_special, std::vector<TokenId>& out) const = 0;
  // The bytes of a normal-attribute token (subclass-specific unescaping).
  virtual std::string normal_token_piece(TokenId id) const = 0;
  // <0xXX> token -> the byte XX (llama.cpp parses the two characters after "<0x").
  uint8_t byte_token_value(TokenId id) const;

  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PieceMap = std::unordered_map<std::string, TokenId, TransparentHash, std::equal_to<>>;

  std::vector<std::string> pieces_;   // [vocab_size] raw token strings from tokenizer.ggml.tokens
  std::vector<int32_t> token_types_;  // [vocab_size] tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte)
  std::vector<uint32_t> token_attrs_;  // [vocab_size] TokenAttr bits
  std::vector<float> scores_;          // [vocab_size] SPM merge priority (higher merges first)
  std::vector<std::string> piece_cache_;  // [vocab_size] token_to_piece(id, special=true)
  std::vector<TokenId> special_ids_;   // control/user-defined/unknown ids, longest text first
  PieceMap piece_to_id_;               // inverse of pieces_ (pieces are unique)
  std::vector<TokenId> eog_ids_;       // all end-of-generation ids
  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  TokenId eot_id_ = -1;
  TokenId eom_id_ = -1;
  TokenId unknown_id_ = -1;
  TokenId separator_id_ = -1;
  TokenId padding_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;  // SPM: prefix text (at start / after a special) with a space

 private:
  struct Fragment {
    TokenId token_id;  // >= 0: a special token; -1: raw text [offset, offset + length)
    size_t offset;
    size_t length;
  };
  // Splits text around special tokens in the text, llama.cpp's tokenizer_st_partition.
  std::vector<Fragment> partition_special(std::string_view text, bool parse_special) const;
  void resolve_special_ids(const VocabSpec& spec, bool is_spm);
  void detect_end_of_generation(const VocabSpec& spec);
  void drop_end_tokens_that_are_not_ends();
  void apply_name_based_attrs(const VocabSpec& spec);
};

// Turns a stream of token ids into text without ever emitting half a UTF-8 character:
// bytes of an incomplete sequence are held back until it completes (or flush()).
class StreamingDetokenizer {
 public:
  // render_control_tokens: control tokens other than end-of-generation ones become their text
  // ("[TOOL_CALLS]", "<|python_tag|>"), which a tool-call parser needs to see; else "".
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool render_control_tokens = false)
      : tokenizer_(tokenizer), render_control_tokens_(render_control_tokens) {}
  // Text that became complete with this token (may be empty).
  std::string push(TokenId id);
  // Whatever is held back (invalid/incomplete bytes are emitted as they are).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool render_control_tokens_ = false;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace tessera
