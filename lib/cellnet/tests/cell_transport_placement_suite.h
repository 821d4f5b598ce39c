// The cell-over-real-transport suite, part 2: replies read straight into memory the requester
// named (ReplyPlacement). Included, like cell_transport_suite.h, by each transport's test file.
#pragma once

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "cellnet/tests/cell_transport_suite.h"

namespace nvf::cellnet::transport_suite {

// ---------------------------------------------------------------- 6. replies read in place

// Proves: a reply whose requester named memory for it (ReplyPlacement) is read straight into that
// memory by drivers that read payloads themselves (uds, tcp: the reply's one slice IS the memory),
// and arrives intact everywhere; placement is not asked for small replies (under kPlaceMinBytes),
// nor for streamed ones; a placement that declines leaves the driver to allocate.
TEST_P(CellTransportTest, ReplyIsReadIntoTheMemoryItsRequesterNamed) {
  Cell* server = make("server");
  std::string url = listen(server);
  server->register_request_handler("dl", "get", [](const Message& m) -> Result<Message> {
    size_t n = std::stoul(m.payload.to_string());
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 7 + 3) & 0xff);
    return Message::of(std::move(bytes));
  });
  Cell* site = make("site-1");
  link(site, url, server);
  auto expected = [](size_t n) {
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 7 + 3) & 0xff);
    return bytes;
  };

  struct Outcome {
    Message reply;
    int asked = 0;            // placement calls
    uint64_t asked_len = 0;   // the payload size it was asked for
    const std::byte* memory = nullptr;
  };
  // One request for `n` bytes with a placement that offers `offer` bytes (0: declines).
  auto fetch = [&](size_t n, size_t offer) -> Outcome {
    auto memory = std::make_shared<std::vector<std::byte>>(std::max<size_t>(offer, 1));
    auto asked = std::make_shared<std::atomic<int>>(0);
    auto asked_len = std::make_shared<std::atomic<uint64_t>>(0);
    std::promise<Result<Message>> done;
    auto reply = done.get_future();
    site->request_async(
        "server", "dl", "get", Message::of(std::to_string(n)), kWait,
        [&done](Result<Message> r) { done.set_value(std::move(r)); },
        [memory, offer, asked, asked_len](const Headers&, uint64_t len) -> PayloadTarget {
          ++*asked;
          *asked_len = len;
          if (offer == 0 || len > offer) return {};
          return PayloadTarget{memory->data(), memory};
        });
    EXPECT_EQ(reply.wait_for(kWait), std::future_status::ready);
    Result<Message> r = reply.get();
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    Outcome out;
    if (r.ok()) out.reply = std::move(*r);
    out.asked = *asked;
    out.asked_len = *asked_len;
    out.memory = memory->data();
    return out;
  };

  const size_t big = 256u << 10;
  Outcome placed = fetch(big, big);
  EXPECT_EQ(placed.reply.payload.to_string(), expected(big));
  if (GetParam().raw_socket) {
    EXPECT_EQ(placed.asked, 1);
    EXPECT_EQ(placed.asked_len, big);
    ASSERT_EQ(placed.reply.payload.slices().size(), 1u);
    EXPECT_EQ(placed.reply.payload.slices()[0].data, placed.memory);
  } else {
    EXPECT_EQ(placed.asked, 0);  // gRPC reads into its own slices
  }

  Outcome declined = fetch(big, 0);
  EXPECT_EQ(declined.reply.payload.to_string(), expected(big));
  EXPECT_NE(declined.reply.payload.slices()[0].data, declined.memory);

  Outcome small = fetch(1000, 4096);
  EXPECT_EQ(small.reply.payload.to_string(), expected(1000));
  EXPECT_EQ(small.asked, 0);

  const size_t streamed = (1u << 20) + 4096;  // over the 1 MiB streaming chunk size
  Outcome chunks = fetch(streamed, streamed);
  EXPECT_EQ(chunks.reply.payload.to_string(), expected(streamed));
  EXPECT_EQ(chunks.asked, 0);
}

// Proves: a reply arriving through a connection accepted by a filtered listener is never read
// into requester memory (its headers are checked only after the frame is read).
TEST_P(CellTransportTest, RepliesThroughAFilteredListenerAreNotPlaced) {
  if (!GetParam().raw_socket) GTEST_SKIP() << "placement is only asked by socket drivers";
  Cell* site = make("site-1");
  auto url = site->listen(GetParam().listen_url(dir_, "site-1"),
                          [](const Headers&, const PeerInfo&) -> Result<std::string> { return std::string(); });
  ASSERT_TRUE(url.ok()) << url.status().to_string();
  Cell* server = make("server");
  server->register_request_handler("dl", "get", [](const Message&) -> Result<Message> {
    return Message::of(std::string(256u << 10, 'x'));
  });
  link(server, *url, site);
  auto asked = std::make_shared<std::atomic<int>>(0);
  std::promise<Result<Message>> done;
  auto reply = done.get_future();
  site->request_async(
      "server", "dl", "get", Message::of("?"), kWait,
      [&done](Result<Message> r) { done.set_value(std::move(r)); },
      [asked](const Headers&, uint64_t) -> PayloadTarget {
        ++*asked;
        return {};
      });
  ASSERT_EQ(reply.wait_for(kWait), std::future_status::ready);
  Result<Message> r = reply.get();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), std::string(256u << 10, 'x'));
  EXPECT_EQ(*asked, 0);
}

}  // namespace nvf::cellnet::transport_suite
