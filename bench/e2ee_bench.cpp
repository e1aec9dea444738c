// Frame encryption hot path: our cryptor (reused contexts, caller buffers) vs a naive version that
// creates a cipher context and an output vector per frame, in the same binary. Also counts heap
// allocations per frame (must be 0 for ours).
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "mxrtc/e2ee/frame_cryptor.hpp"

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}  // namespace

// Counting allocator (GCC cannot see that operator new below is malloc-backed).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

using namespace mxrtc;
using namespace mxrtc::e2ee;

const std::uint8_t kRaw[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

FrameInfo infoFor(std::size_t size) {
    // 100 B: an Opus frame; larger: VP8 delta frames.
    if (size <= 100) return FrameInfo{MediaKind::Audio, VideoCodec::Unknown, false, 0x11223344, 1000};
    return FrameInfo{MediaKind::Video, VideoCodec::VP8, false, 0x11223344, 1000};
}

std::vector<std::uint8_t> payload(std::size_t n) {
    std::vector<std::uint8_t> p(n);
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint8_t>(i * 31 + 7);
    return p;
}

void BM_Encrypt(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    FrameEncryptor enc([] { return std::uint16_t{1}; });
    enc.setKey(0, kRaw);
    const auto in = payload(size);
    std::vector<std::uint8_t> out(maxEncryptedSize(size));
    FrameInfo info = infoFor(size);
    enc.encrypt(info, in, out);  // warm-up: first SSRC registers its counter
    const auto before = g_allocs.load();
    for (auto _ : state) {
        ++info.rtpTimestamp;
        auto r = enc.encrypt(info, in, out);
        benchmark::DoNotOptimize(r);
    }
    state.counters["allocs/frame"] =
        static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void BM_Decrypt(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    FrameEncryptor enc([] { return std::uint16_t{1}; });
    enc.setKey(0, kRaw);
    const auto in = payload(size);
    std::vector<std::uint8_t> sealed(maxEncryptedSize(size));
    const FrameInfo info = infoFor(size);
    sealed.resize(enc.encrypt(info, in, sealed).size);
    FrameDecryptor dec;
    dec.keys().setKey(0, kRaw);
    std::vector<std::uint8_t> out(sealed.size());
    dec.decrypt(info, sealed, out);
    const auto before = g_allocs.load();
    for (auto _ : state) {
        auto r = dec.decrypt(info, sealed, out);
        benchmark::DoNotOptimize(r);
    }
    state.counters["allocs/frame"] =
        static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// The naive way: a fresh cipher context, key schedule and output vector per frame.
std::vector<std::uint8_t> naiveSeal(const std::array<std::uint8_t, 16>& key, const std::uint8_t* iv,
                                    const std::vector<std::uint8_t>& in, std::size_t clear) {
    std::vector<std::uint8_t> out(in.size() + kFrameOverhead);
    std::copy(in.begin(), in.begin() + static_cast<long>(clear), out.begin());
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key.data(), iv);
    int n = 0;
    EVP_EncryptUpdate(ctx, nullptr, &n, in.data(), static_cast<int>(clear));
    EVP_EncryptUpdate(ctx, out.data() + clear, &n, in.data() + clear, static_cast<int>(in.size() - clear));
    EVP_EncryptFinal_ex(ctx, out.data() + in.size(), &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + in.size());
    EVP_CIPHER_CTX_free(ctx);
    std::copy(iv, iv + 12, out.begin() + static_cast<long>(in.size() + 16));
    out[out.size() - 2] = 12;
    out[out.size() - 1] = 0;
    return out;
}

void BM_NaiveEncrypt(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto key = deriveKeyMaterial(kRaw)->aesKey;
    const auto in = payload(size);
    const std::size_t clear = size <= 100 ? 1 : 3;
    std::uint8_t iv[12] = {0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0, 0, 0, 2};
    const auto before = g_allocs.load();
    for (auto _ : state) {
        ++iv[7];
        auto out = naiveSeal(key, iv, in, clear);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["allocs/frame"] =
        static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void BM_NaiveDecrypt(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto key = deriveKeyMaterial(kRaw)->aesKey;
    const auto in = payload(size);
    const std::size_t clear = size <= 100 ? 1 : 3;
    const std::uint8_t iv[12] = {0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0, 0, 0, 2};
    const auto sealed = naiveSeal(key, iv, in, clear);
    const auto before = g_allocs.load();
    for (auto _ : state) {
        const std::size_t ct = sealed.size() - kFrameOverhead - clear;
        std::vector<std::uint8_t> out(clear + ct);
        std::copy(sealed.begin(), sealed.begin() + static_cast<long>(clear), out.begin());
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key.data(), sealed.data() + clear + ct + 16);
        int n = 0;
        EVP_DecryptUpdate(ctx, nullptr, &n, sealed.data(), static_cast<int>(clear));
        EVP_DecryptUpdate(ctx, out.data() + clear, &n, sealed.data() + clear, static_cast<int>(ct));
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                            const_cast<std::uint8_t*>(sealed.data() + clear + ct));
        const int ok = EVP_DecryptFinal_ex(ctx, out.data() + clear + ct, &n);
        EVP_CIPHER_CTX_free(ctx);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["allocs/frame"] =
        static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void BM_EncryptH264(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    FrameEncryptor enc([] { return std::uint16_t{1}; });
    enc.setKey(0, kRaw);
    std::vector<std::uint8_t> in = {0, 0, 0, 1, 0x65, 0x88};
    const auto body = payload(size - in.size());
    in.insert(in.end(), body.begin(), body.end());
    std::vector<std::uint8_t> out(maxEncryptedSize(size));
    FrameInfo info{MediaKind::Video, VideoCodec::H264, true, 0x11223344, 1000};
    enc.encrypt(info, in, out);
    const auto before = g_allocs.load();
    for (auto _ : state) {
        auto r = enc.encrypt(info, in, out);
        benchmark::DoNotOptimize(r);
    }
    state.counters["allocs/frame"] =
        static_cast<double>(g_allocs.load() - before) / static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

}  // namespace

BENCHMARK(BM_Encrypt)->Arg(100)->Arg(1200)->Arg(10000);
BENCHMARK(BM_NaiveEncrypt)->Arg(100)->Arg(1200)->Arg(10000);
BENCHMARK(BM_Decrypt)->Arg(100)->Arg(1200)->Arg(10000);
BENCHMARK(BM_NaiveDecrypt)->Arg(100)->Arg(1200)->Arg(10000);
BENCHMARK(BM_EncryptH264)->Arg(1200)->Arg(10000);
