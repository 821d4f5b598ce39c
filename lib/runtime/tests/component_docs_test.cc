// docs/components.md lists every FLARE class path the registry accepts (so a user can look up
// what each does here); a path added to the registry without a line there fails this test.
#include <gtest/gtest.h>

#include "base/files.h"
#include "runtime/job_app.h"

namespace nvf::runtime {
namespace {

TEST(ComponentDocsTest, EveryFlareClassPathIsInDocsComponents) {
  auto registry = full_registry();
  ASSERT_TRUE(registry.ok()) << registry.status().to_string();
  auto doc = base::read_file(std::string(NVF_SOURCE_DIR) + "/docs/components.md");
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  int listed = 0;
  for (const auto& name : registry->names()) {
    const fl::ComponentEntry* e = registry->find(name);
    ASSERT_NE(e, nullptr);
    for (const auto& alias : e->aliases) {
      if (alias.rfind("nvflare.", 0) != 0) continue;
      EXPECT_NE(doc->find("`" + alias + "`"), std::string::npos) << alias << " (" << name << ") is not in docs/components.md";
      ++listed;
    }
  }
  EXPECT_GE(listed, 39);  // the registry as it is today: fewer means the scan itself broke
}

}  // namespace
}  // namespace nvf::runtime
