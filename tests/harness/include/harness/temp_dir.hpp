/// \file
/// \brief A private temporary directory that a test cannot leave behind.
#pragma once

#include <string>

namespace forklab::test {

/// A new directory, mode 0700, under $TMPDIR (when it names an absolute path) or /tmp, removed
/// with everything in it when the object goes, whichever way the test ends (an ASSERT included).
class TempDir {
  public:
    /// Makes `<base>/<prefix>-XXXXXX`; throws std::system_error if it cannot.
    explicit TempDir(const std::string& prefix);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// The directory's path.
    [[nodiscard]] const std::string& path() const { return path_; }
    /// `path() + "/" + name`.
    [[nodiscard]] std::string operator/(const std::string& name) const {
        return path_ + "/" + name;
    }

  private:
    std::string path_;
};

}  // namespace forklab::test
