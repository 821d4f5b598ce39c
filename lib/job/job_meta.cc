#include "job/job_meta.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "base/strings.h"

namespace nvf::job {
namespace {

using config::Value;

void read_site_list(const Value& v, const std::string& field, std::vector<std::string>* out,
                    FindingSink& sink) {
  if (!v.is_array()) {
    sink.error(field, "sites must be a list of site names but got " + py_type_name(v),
               "write the sites as a list, e.g. [\"server\", \"site-1\"]");
    return;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      sink.error(field + "[" + std::to_string(i) + "]",
                 "site name must be str but got " + py_type_name(v[i]), "quote the site name");
      continue;
    }
    out->push_back(v[i].get<std::string>());
  }
}

// A deploy_map value: a list of sites, or a dict with "targets" and/or "sites" lists.
DeployEntry read_deploy_entry(const std::string& app, const Value& v, FindingSink& sink) {
  DeployEntry entry{app, {}};
  std::string field = "deploy_map." + app;
  if (v.is_array()) {
    read_site_list(v, field, &entry.sites, sink);
  } else if (v.is_object()) {
    bool any = false;
    for (const char* key : {"targets", "sites"}) {
      if (!v.contains(key)) continue;
      any = true;
      read_site_list(v[key], field + "." + key, &entry.sites, sink);
    }
    if (!any) {
      sink.error(field,
                 "deployment must be a list of sites or a dict with \"targets\" or \"sites\"",
                 "write e.g. \"" + app + "\": [\"@ALL\"]");
    }
  } else {
    sink.error(field, "deployment must be a list of sites but got " + py_type_name(v),
               "write e.g. \"" + app + "\": [\"@ALL\"]");
  }
  return entry;
}

void read_min_clients(const Value& v, JobMeta* meta, FindingSink& sink) {
  if (v.is_null()) return;
  if (v.is_number_integer() || v.is_number_unsigned()) {
    meta->min_clients = v.get<int64_t>();
    return;
  }
  if (v.is_string()) {  // FLARE converts with int(v)
    const std::string s{base::trim(v.get<std::string>())};
    try {
      size_t used = 0;
      int64_t n = std::stoll(s, &used);
      if (used == s.size()) {
        meta->min_clients = n;
        return;
      }
    } catch (const std::exception&) {
    }
  }
  if (v.is_number_float()) {  // int(2.0) == 2 in Python
    const double d = v.get<double>();
    // Only values an int64 holds (a cast of anything else is undefined; found by fuzz_job_meta).
    if (std::isfinite(d) && d > -9.2e18 && d < 9.2e18) {
      meta->min_clients = static_cast<int64_t>(d);
      return;
    }
  }
  sink.error("min_clients", "invalid data type for " + py_str(v) + ",can't not convert to Int",
             "write min_clients as a whole number, e.g. 2");
}

}  // namespace

bool is_all_sites(std::string_view site) { return base::to_lower(site) == "@all"; }

bool is_valid_client_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool JobMeta::deploys_to_all() const {
  for (const auto& e : deploy_map) {
    for (const auto& s : e.sites) {
      if (is_all_sites(s)) return true;
    }
  }
  return false;
}

std::vector<std::string> JobMeta::explicit_clients() const {
  std::vector<std::string> out;
  for (const auto& e : deploy_map) {
    for (const auto& s : e.sites) {
      if (s == kServerSite || is_all_sites(s)) continue;
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
  }
  return out;
}

std::string missing_meta_message(std::string_view job_name) {
  return "meta.[json|conf|yml] not existing for job " + std::string(job_name) +
         ", possible in legacy job format.  Please upgrade the job structure.";
}

JobMeta parse_job_meta(const Value& meta, std::string file, FindingSink& sink) {
  JobMeta out;
  out.raw = meta;
  out.file = std::move(file);
  if (!meta.is_object()) {
    sink.error("", "meta must be a dict but got " + py_type_name(meta),
               "write the meta as an object with name, deploy_map, min_clients");
    return out;
  }
  for (const auto& [key, v] : meta.items()) {
    if (key == "name") {
      if (v.is_string())
        out.name = v.get<std::string>();
      else
        sink.error("name", "name must be str but got " + py_type_name(v), "quote the job name");
    } else if (key == "deploy_map") {
      if (v.is_object()) {
        for (const auto& [app, dep] : v.items())
          out.deploy_map.push_back(read_deploy_entry(app, dep, sink));
      } else if (!v.is_null()) {
        sink.error("deploy_map", "deploy_map must be a dict but got " + py_type_name(v),
                   "write e.g. \"deploy_map\": {\"app\": [\"@ALL\"]}");
      }
    } else if (key == "min_clients") {
      read_min_clients(v, &out, sink);
    } else if (key == "mandatory_clients") {
      if (v.is_array())
        read_site_list(v, "mandatory_clients", &out.mandatory_clients, sink);
      else if (!v.is_null())
        sink.error("mandatory_clients",
                   "mandatory_clients must be a list of site names but got " + py_type_name(v));
    } else if (key == "resource_spec") {
      out.resource_spec = v;
    } else {
      out.extra[key] = v;
    }
  }
  return out;
}

namespace {

// Returns the flat site list, or empty after reporting FLARE's deploy_map errors.
void validate_deploy_map(const JobMeta& meta, std::string_view job, FindingSink& sink) {
  const std::string job_name(job);
  if (meta.deploy_map.empty()) {
    sink.error("deploy_map", "deploy_map is empty for job " + job_name,
               "add e.g. \"deploy_map\": {\"app\": [\"@ALL\"]}");
    return;
  }
  std::vector<std::string> sites;
  for (const auto& e : meta.deploy_map) sites.insert(sites.end(), e.sites.begin(), e.sites.end());
  if (sites.empty()) {
    sink.error("deploy_map", "No site is specified in deploy_map for job " + job_name,
               "list the sites of each app, or [\"@ALL\"]");
    return;
  }
  if (meta.deploys_to_all()) {
    if (sites.size() > 1) {
      sink.error("deploy_map", "No other site can be specified if @ALL is used for job " + job_name,
                 "use [\"@ALL\"] alone, or list \"server\" and each client explicitly");
    }
    return;
  }
  for (const auto& e : meta.deploy_map) {
    for (size_t i = 0; i < e.sites.size(); ++i) {
      const auto& s = e.sites[i];
      if (s != kServerSite && !is_valid_client_name(s)) {
        sink.error("deploy_map." + e.app + "[" + std::to_string(i) + "]",
                   "site name '" + s +
                       "' is ill-formatted: client names may contain only letters, "
                       "digits, '-' and '_'",
                   "use \"server\" for the server and the clients' provisioned names");
      }
    }
  }
  if (std::find(sites.begin(), sites.end(), kServerSite) == sites.end()) {
    sink.error("deploy_map", "Missing server site in deploy_map for job " + job_name,
               "add \"server\" to the sites of the app the server runs");
    return;
  }
  std::map<std::string, int> counts;
  std::vector<std::string> dups;
  for (const auto& s : sites) {
    if (++counts[s] == 2) dups.push_back(s);
  }
  if (!dups.empty()) {
    sink.error("deploy_map",
               "Multiple apps to be deployed to following sites " + py_list_repr(dups) +
                   " for job " + job_name,
               "a site may appear in only one app");
  }
}

void validate_min_clients(const JobMeta& meta, std::string_view job, FindingSink& sink) {
  if (!meta.min_clients) return;
  const int64_t n = *meta.min_clients;
  const std::string job_name(job);
  if (n <= 0) {
    sink.error("min_clients",
               "min_clients " + std::to_string(n) + " must be positive for job " + job_name,
               "set min_clients to 1 or more");
    return;
  }
  if (n > kMaxClients) {
    sink.error("min_clients", "min_clients " + std::to_string(n) + " must be less than " +
                                  std::to_string(kMaxClients) + "  for job " + job_name);
    return;
  }
  if (!meta.deploys_to_all() && !meta.deploy_map.empty()) {
    const size_t found = meta.explicit_clients().size();
    if (found < static_cast<size_t>(n)) {
      sink.error("min_clients",
                 "min " + std::to_string(n) + " clients required for job " + job_name + ", found " +
                     std::to_string(found) + ".",
                 "lower min_clients or deploy to more clients");
    }
  }
}

void validate_resource_spec(const JobMeta& meta, std::string_view job, FindingSink& sink) {
  const Value& spec = meta.resource_spec;
  const bool truthy =
      !(spec.is_null() || (spec.is_object() && spec.empty()) || (spec.is_array() && spec.empty()) ||
        (spec.is_string() && spec.get<std::string>().empty()) ||
        (spec.is_boolean() && !spec.get<bool>()) || (spec.is_number() && spec.get<double>() == 0));
  if (!truthy) return;
  if (!spec.is_object()) {
    sink.error("resource_spec", "Invalid resource_spec for job " + std::string(job),
               "write resource_spec as {site: {num_of_gpus: N, mem_per_gpu_in_GiB: M}}");
    return;
  }
  for (const auto& [site, v] : spec.items()) {
    const bool empty = v.is_null() || (v.is_object() && v.empty());
    if (!empty && !v.is_object()) {
      sink.error("resource_spec." + site,
                 "value for key " + site + " in resource spec is expecting a dictionary",
                 "write e.g. {\"num_of_gpus\": 1, \"mem_per_gpu_in_GiB\": 8}");
    }
  }
}

void validate_mandatory_clients(const JobMeta& meta, std::string_view job, FindingSink& sink) {
  if (meta.deploys_to_all() || meta.deploy_map.empty() || meta.mandatory_clients.empty()) return;
  const auto clients = meta.explicit_clients();
  std::set<std::string> missing;
  for (const auto& m : meta.mandatory_clients) {
    if (std::find(clients.begin(), clients.end(), m) == clients.end()) missing.insert(m);
  }
  if (!missing.empty()) {
    sink.error("mandatory_clients",
               "Mandatory clients " + py_set_repr({missing.begin(), missing.end()}) +
                   " are not in the deploy_map for job " + std::string(job),
               "add them to deploy_map or remove them from mandatory_clients");
  }
}

}  // namespace

void validate_job_meta(const JobMeta& meta, std::string_view job_name, FindingSink& sink) {
  validate_deploy_map(meta, job_name, sink);
  validate_min_clients(meta, job_name, sink);
  validate_resource_spec(meta, job_name, sink);
  validate_mandatory_clients(meta, job_name, sink);
}

}  // namespace nvf::job
