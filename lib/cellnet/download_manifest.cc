#include "cellnet/download_manifest.h"

#include <nlohmann/json.hpp>
#include <set>

#include "cellnet/fqcn.h"

namespace nvf::cellnet {

using nlohmann::json;

namespace {

constexpr int kVersion = 1;

Status field_error(const std::string& path, const std::string& what) {
  return InvalidArgumentError("download manifest: field '" + path + "' " + what);
}

Result<const json*> member(const json& obj, const std::string& key, const std::string& path,
                           bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return field_error(path, "is missing");
    return static_cast<const json*>(nullptr);
  }
  return &*it;
}

Result<uint64_t> as_u64(const json& v, const std::string& path) {
  if (!v.is_number_integer() && !v.is_number_unsigned())
    return field_error(path, "must be an integer");
  if (v.is_number_integer() && v.get<int64_t>() < 0)
    return field_error(path, "must not be negative");
  return v.get<uint64_t>();
}

Result<std::string> as_string(const json& v, const std::string& path) {
  if (!v.is_string()) return field_error(path, "must be a string");
  return v.get<std::string>();
}

Result<DownloadItem> decode_item(const json& j, const std::string& path) {
  if (!j.is_object()) return field_error(path, "must be an object");
  DownloadItem item;
  NVF_ASSIGN_OR_RETURN(const json* name, member(j, "name", path + ".name", true));
  NVF_ASSIGN_OR_RETURN(item.name, as_string(*name, path + ".name"));
  NVF_ASSIGN_OR_RETURN(const json* size, member(j, "size", path + ".size", true));
  NVF_ASSIGN_OR_RETURN(item.size, as_u64(*size, path + ".size"));
  NVF_ASSIGN_OR_RETURN(const json* dtype, member(j, "dtype", path + ".dtype", false));
  NVF_ASSIGN_OR_RETURN(const json* shape, member(j, "shape", path + ".shape", false));
  if ((dtype == nullptr) != (shape == nullptr)) {
    return field_error(path, "must have both 'dtype' and 'shape' (a tensor) or neither");
  }
  if (dtype != nullptr) {
    NVF_ASSIGN_OR_RETURN(std::string name_text, as_string(*dtype, path + ".dtype"));
    auto parsed = tensor::parse_safetensors_dtype(name_text);
    if (!parsed.ok()) return field_error(path + ".dtype", parsed.status().message());
    item.dtype = *parsed;
    if (!shape->is_array()) return field_error(path + ".shape", "must be an array of integers");
    for (size_t i = 0; i < shape->size(); ++i) {
      const json& d = (*shape)[i];
      if (!d.is_number_integer())
        return field_error(path + ".shape[" + std::to_string(i) + "]", "must be an integer");
      item.shape.push_back(d.get<int64_t>());
    }
  }
  return item;
}

Status validate_item(const DownloadItem& item, const std::string& path) {
  if (item.name.empty()) return field_error(path + ".name", "must not be empty");
  if (!item.dtype) {
    if (!item.shape.empty()) return field_error(path + ".shape", "is set but 'dtype' is not");
    return Status::OK();
  }
  auto bytes = tensor::shape_nbytes(*item.dtype, item.shape);
  if (!bytes.ok()) return field_error(path + ".shape", bytes.status().message());
  if (*bytes != item.size) {
    return field_error(path + ".size", "is " + std::to_string(item.size) + " but a " +
                                           std::string(tensor::safetensors_name(*item.dtype)) +
                                           " tensor of shape " +
                                           tensor::shape_to_string(item.shape) + " has " +
                                           std::to_string(*bytes) + " bytes");
  }
  return Status::OK();
}

}  // namespace

bool is_valid_download_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Manifest Manifest::of(const Downloadable& object, std::string source, std::string ref_id,
                      uint64_t chunk_size) {
  Manifest m;
  m.source = std::move(source);
  m.ref_id = std::move(ref_id);
  m.chunk_size = chunk_size;
  m.items.reserve(object.item_count());
  for (size_t i = 0; i < object.item_count(); ++i) m.items.push_back(object.item(i));
  return m;
}

uint64_t Manifest::total_bytes() const {
  uint64_t total = 0;
  for (const auto& item : items) total += item.size;
  return total;
}

bool Manifest::all_tensors() const {
  for (const auto& item : items) {
    if (!item.dtype) return false;
  }
  return true;
}

std::string Manifest::encode() const {
  json items_json = json::array();
  for (const auto& item : items) {
    json j = {{"name", item.name}, {"size", item.size}};
    if (item.dtype) {
      j["dtype"] = std::string(tensor::safetensors_name(*item.dtype));
      j["shape"] = item.shape;
    }
    items_json.push_back(std::move(j));
  }
  json out = {{"version", kVersion},
              {"source", source},
              {"ref", ref_id},
              {"chunk_size", chunk_size},
              {"items", std::move(items_json)}};
  return out.dump();
}

Result<Manifest> Manifest::decode(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("download manifest: not valid JSON");
  if (!j.is_object()) return InvalidArgumentError("download manifest: expected a JSON object");
  Manifest m;
  NVF_ASSIGN_OR_RETURN(const json* version, member(j, "version", "version", true));
  NVF_ASSIGN_OR_RETURN(uint64_t v, as_u64(*version, "version"));
  if (v != kVersion) {
    return field_error("version", "is " + std::to_string(v) + "; this build reads version " +
                                      std::to_string(kVersion));
  }
  NVF_ASSIGN_OR_RETURN(const json* source, member(j, "source", "source", true));
  NVF_ASSIGN_OR_RETURN(m.source, as_string(*source, "source"));
  NVF_ASSIGN_OR_RETURN(const json* ref, member(j, "ref", "ref", true));
  NVF_ASSIGN_OR_RETURN(m.ref_id, as_string(*ref, "ref"));
  NVF_ASSIGN_OR_RETURN(const json* chunk, member(j, "chunk_size", "chunk_size", false));
  if (chunk != nullptr) {
    NVF_ASSIGN_OR_RETURN(m.chunk_size, as_u64(*chunk, "chunk_size"));
  }
  NVF_ASSIGN_OR_RETURN(const json* items, member(j, "items", "items", true));
  if (!items->is_array()) return field_error("items", "must be an array");
  for (size_t i = 0; i < items->size(); ++i) {
    NVF_ASSIGN_OR_RETURN(DownloadItem item,
                         decode_item((*items)[i], "items[" + std::to_string(i) + "]"));
    m.items.push_back(std::move(item));
  }
  NVF_RETURN_IF_ERROR(m.validate());
  return m;
}

Status Manifest::validate() const {
  if (Status s = fqcn::validate(source); !s.ok()) return field_error("source", s.message());
  if (!is_valid_download_id(ref_id)) {
    return field_error(
        "ref", "'" + ref_id + "' is not a download ref id ([A-Za-z0-9_-], 1..128 characters)");
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string path = "items[" + std::to_string(i) + "]";
    NVF_RETURN_IF_ERROR(validate_item(items[i], path));
    if (!names.insert(items[i].name).second) {
      return field_error(path + ".name", "'" + items[i].name + "' repeats an earlier item's name");
    }
  }
  return Status::OK();
}

}  // namespace nvf::cellnet
