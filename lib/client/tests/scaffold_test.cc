// nvflare::Scaffold, the client's half of SCAFFOLD, against numbers computed by hand.
#include "nvflare/scaffold.h"

#include <gtest/gtest.h>

namespace nvflare {
namespace {

Tensor vec(std::vector<float> v) { return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v); }

TEST(ScaffoldHelperTest, CorrectsStepsAndComputesTheControlVariateChange) {
  Scaffold s;
  FLModel task;
  ASSERT_TRUE(task.params.insert("w", vec({1, 2})).ok());
  ASSERT_TRUE(task.params.insert("scaffold_c_global.w", vec({0.5, -1})).ok());
  ASSERT_TRUE(s.begin_round(task).ok());
  EXPECT_EQ(task.params.size(), 1u);  // c_global is taken out of the model
  EXPECT_EQ(s.correction().find("w")->to_doubles(), (std::vector<double>{0.5, -1}));  // c_local = 0
  // Two steps at lr 0.1, each moving w by +1 before the correction −0.1·[0.5, −1].
  TensorDict w;
  ASSERT_TRUE(w.insert("w", vec({1, 2})).ok());
  for (int step = 0; step < 2; ++step) {
    for (float& x : w.find("w")->mutable_view<float>()) x += 1;
    ASSERT_TRUE(s.correct(w, 0.1).ok());
  }
  const auto trained = w.find("w")->to_doubles();  // [2.9, 4.2]
  EXPECT_NEAR(trained[0], 2.9, 1e-6);
  EXPECT_NEAR(trained[1], 4.2, 1e-6);
  FLModel out;
  ASSERT_TRUE(s.end_round(w, 2, 0.1, out).ok());
  // Δc = (w_g − w)/(2·0.1) − c_global = [−1.9/0.2 − 0.5, −2.2/0.2 + 1] = [−10, −10].
  const auto dc = out.params.find("scaffold_c_diff.w")->to_doubles();
  EXPECT_NEAR(dc[0], -10.0, 1e-5);
  EXPECT_NEAR(dc[1], -10.0, 1e-5);
  EXPECT_NEAR(s.c_local().find("w")->to_doubles()[0], -10.0, 1e-5);
  // The next round's correction uses the new c_local: c_global − c_local.
  FLModel next;
  ASSERT_TRUE(next.params.insert("w", vec({0, 0})).ok());
  ASSERT_TRUE(next.params.insert("scaffold_c_global.w", vec({0, 0})).ok());
  ASSERT_TRUE(s.begin_round(next).ok());
  EXPECT_NEAR(s.correction().find("w")->to_doubles()[0], 10.0, 1e-5);
}

TEST(ScaffoldHelperTest, ATaskWithoutAControlVariateIsRefusedClearly) {
  Scaffold s;
  FLModel task;
  ASSERT_TRUE(task.params.insert("w", vec({1})).ok());
  Status st = s.begin_round(task);
  EXPECT_EQ(st.code(), nvf::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("does not run SCAFFOLD"), std::string::npos) << st.message();
  FLModel bad;
  ASSERT_TRUE(bad.params.insert("w", vec({1})).ok());
  ASSERT_TRUE(bad.params.insert("scaffold_c_global.w", vec({1, 2})).ok());
  EXPECT_NE(s.begin_round(bad).message().find("shape"), std::string::npos);
  FLModel out;
  EXPECT_FALSE(s.end_round(TensorDict(), 0, 0.1, out).ok());
}

}  // namespace
}  // namespace nvflare
