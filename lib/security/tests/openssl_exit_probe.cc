// A process that ends while two of its threads are still inside OpenSSL, as `nvflare job submit`
// ends with gRPC's threads running: the race of decision 026. Exit code 0 when the process got
// through its exit; a crash shows as a signal.
//   openssl_exit_probe              with security::init_openssl_for_process() first, as our mains
//   openssl_exit_probe --plain      without it (OpenSSL's exit handler frees what the threads use)
#include <openssl/err.h>
#include <openssl/evp.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "security/openssl_process.h"

int main(int argc, char** argv) {
  const bool plain = argc > 1 && std::strcmp(argv[1], "--plain") == 0;
  if (!plain && !nvf::security::init_openssl_for_process()) return 2;
  std::atomic<int> running{0};
  for (int t = 0; t < 2; ++t) {
    std::thread([&running] {
      unsigned char digest[EVP_MAX_MD_SIZE];
      running.fetch_add(1);
      for (;;) {  // until the process ends
        EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        unsigned int n = 0;
        EVP_DigestInit_ex(ctx, md, nullptr);
        EVP_DigestUpdate(ctx, "nvflare", 7);
        EVP_DigestFinal_ex(ctx, digest, &n);
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
        ERR_clear_error();
      }
    }).detach();
  }
  while (running.load() < 2) std::this_thread::yield();
  return 0;  // exit() runs the exit handlers while both threads are busy
}
