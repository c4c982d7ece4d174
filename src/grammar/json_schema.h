// JSON schema -> GBNF (and Grammar), and the any-JSON-object grammar of response_format
// json_object.
//
// Supported: type (object, array, string, number, integer, boolean, null, and arrays of them),
// properties + required (keys in the json's iteration order - alphabetical for nlohmann::json;
// required keys always, optional keys may appear or not, in that order), additionalProperties
// (false; true or a schema: extra "key": value pairs after the declared ones; absent means false
// when properties are given, any object when not), items, prefixItems, minItems/maxItems,
// enum, const, anyOf/oneOf (as alternatives: oneOf's exclusivity is not enforced), allOf (object
// parts merged), $ref to #/$defs/... and #/definitions/... (recursion allowed), nullable,
// minLength/maxLength, pattern (the regex subset of regex.h, anchored; it matches the raw JSON
// string content), format date, time, date-time, uuid (other formats: any string), integer
// minimum/maximum/exclusiveMinimum/exclusiveMaximum (exact digit-range grammars), number bounds
// (integer bounds exact; a fractional bound is rounded inward, so some valid numbers near it are
// refused, never an invalid one accepted). Ignored: annotations (title, description, default,
// examples, $schema, $id, $comment), uniqueItems, minProperties, maxProperties. Refused with an
// error: not, if/then/else, patternProperties, contains, multipleOf, dependentRequired,
// dependentSchemas, propertyNames, unevaluatedProperties, external $refs.
//
// Whitespace between tokens is bounded: at most one space, or a newline and up to 20 indent
// spaces/tabs; integers have at most 16 digits (unless the bounds need more), fractions and
// exponents at most 16, so a schema with bounded strings and arrays always closes.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace tessera::grammar {

// The schema as a complete GBNF grammar with root rule "root".
Expected<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema);

// The schema's rules, every rule name starting with `prefix`, the schema's own rule being
// `<prefix>root`; the shared JSON rules (<prefix>ws, <prefix>string, ...) are included. Meant to
// be pasted into a larger grammar, e.g. root ::= "<tool_call>" tool0-root "</tool_call>".
Expected<std::string> json_schema_to_gbnf_rules(const nlohmann::ordered_json& schema, const std::string& prefix);

// The shared JSON rules under `prefix`: ws, value, object, array, string, number, integer,
// boolean, null (any JSON value of that kind, bounded whitespace).
std::string json_shared_rules(const std::string& prefix);

Expected<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema);

// Any JSON object (response_format json_object), bounded whitespace.
std::shared_ptr<const Grammar> json_object_grammar();

// The GBNF of an integer in [lo, hi] written without leading zeros ("-0" excluded); a missing
// bound is open (at most 16 digits on an open side, or the bound's digit count).
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace tessera::grammar
