#include "kdf.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <array>

namespace mxrtc::e2ee::detail {
namespace {

const char* digestName(Hash h) {
    return h == Hash::Sha256 ? "SHA256" : "SHA512";
}

bool runHkdf(Hash hash, int mode, std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
             std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (kdf == nullptr) return false;
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == nullptr) return false;
    // OpenSSL rejects a zero-length key for HKDF-Extract with an empty IKM; our callers never pass one.
    static const std::uint8_t kEmpty[1] = {0};
    auto ptr = [](std::span<const std::uint8_t> s) {
        return const_cast<void*>(static_cast<const void*>(s.empty() ? kEmpty : s.data()));
    };
    std::array<OSSL_PARAM, 6> params{};
    std::size_t n = 0;
    params[n++] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digestName(hash)), 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(key), key.size());
    if (mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY) {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ptr(salt), salt.size());
    }
    if (mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY) {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ptr(info), info.size());
    }
    params[n] = OSSL_PARAM_construct_end();
    const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params.data()) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

}  // namespace

bool hkdf(Hash hash, std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
          std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
    return runHkdf(hash, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, salt, info, out);
}

bool hkdfExtract(Hash hash, std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm,
                 std::span<std::uint8_t> prk) {
    return runHkdf(hash, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, {}, prk);
}

bool hkdfExpand(Hash hash, std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info,
                std::span<std::uint8_t> out) {
    return runHkdf(hash, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, {}, info, out);
}

bool pbkdf2Sha256(std::string_view password, std::span<const std::uint8_t> salt, unsigned iterations,
                  std::span<std::uint8_t> out) {
    return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                             static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                             static_cast<int>(out.size()), out.data()) == 1;
}

}  // namespace mxrtc::e2ee::detail
