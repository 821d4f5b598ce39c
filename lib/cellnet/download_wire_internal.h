// Private to the cellnet module: the wire vocabulary shared by DownloadService (the source) and
// Downloader (the receiver). One request pulls one range of one item of one ref; the reply's
// payload is the range's bytes (slices shared with the source object, never copied by us).
//
// Request headers: kOp (get | manifest | done), kRef, kItem, kOffset, kLength, kReceiver and, for
// done, kResult (ok | failed). Reply headers: kCode (a StatusCode number; 0 = ok), kError,
// kOffset, kLength, kEof ("1" on an item's last range). Application errors travel in kCode so the
// receiver sees the source's exact StatusCode (the cell's return codes would fold NOT_FOUND and
// UNAVAILABLE into coarser ones); transport errors arrive as the request's Status.
#pragma once

#include <string_view>

namespace nvf::cellnet::download_wire {

inline constexpr std::string_view kChannel = "download_service__";
inline constexpr std::string_view kTopic = "download";

inline constexpr std::string_view kOp = "dl__op";
inline constexpr std::string_view kRef = "dl__ref";
inline constexpr std::string_view kItem = "dl__item";
inline constexpr std::string_view kOffset = "dl__offset";
inline constexpr std::string_view kLength = "dl__length";
inline constexpr std::string_view kReceiver = "dl__receiver";
inline constexpr std::string_view kResult = "dl__result";
inline constexpr std::string_view kCode = "dl__code";
inline constexpr std::string_view kError = "dl__error";
inline constexpr std::string_view kEof = "dl__eof";

inline constexpr std::string_view kOpGet = "get";
inline constexpr std::string_view kOpManifest = "manifest";
inline constexpr std::string_view kOpDone = "done";

}  // namespace nvf::cellnet::download_wire
