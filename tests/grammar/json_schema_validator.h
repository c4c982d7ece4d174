// A JSON schema validator for the subset json_schema.h supports, written independently of the
// grammar, so that tests can prove that text generated through the mask validates.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tessera::testing {

// "" when `value` satisfies `schema` (refs resolve against `root`), else why not. With
// `no_extra_keys_by_default`, an object schema with properties and no additionalProperties
// refuses other keys (the grammar's reading); JSON schema's own default allows them.
std::string validate_json(const nlohmann::json& value, const nlohmann::json& schema, const nlohmann::json& root,
                          bool no_extra_keys_by_default = true);

}  // namespace tessera::testing
