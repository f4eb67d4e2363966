/// \file
/// \brief TempDir: mkdtemp on the way in, remove_all on the way out.
#include "harness/temp_dir.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "forklab/error.hpp"

namespace forklab::test {

TempDir::TempDir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base != nullptr && base[0] == '/' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
        throw_errno("mkdtemp " + templ);
    }
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ignored;  // a destructor reports nothing; a leftover is only a leftover
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace forklab::test
