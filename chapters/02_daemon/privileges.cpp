/// \file
/// \brief drop_privileges(): setgroups, setgid, setuid, and a check that it stuck.
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "forklab/error.hpp"

namespace forklab::ch02 {

//! [drop]
void drop_privileges(const std::string& name) {
    if (::geteuid() != 0) {
        throw std::runtime_error("--user " + name + ": only root can change user");
    }
    std::vector<char> buf(16384);
    passwd entry{};
    passwd* user = nullptr;
    int err = ::getpwnam_r(name.c_str(), &entry, buf.data(), buf.size(), &user);
    if (user == nullptr) {
        throw std::runtime_error("--user " + name + ": " +
                                 (err != 0 ? std::strerror(err) : "no such user"));
    }
    // The order matters: once the uid is not 0, the groups can no longer be changed.
    if (::setgroups(0, nullptr) == -1) {
        throw_errno("setgroups");
    }
    if (::setgid(user->pw_gid) == -1) {
        throw_errno("setgid " + std::to_string(user->pw_gid));
    }
    if (::setuid(user->pw_uid) == -1) {
        throw_errno("setuid " + std::to_string(user->pw_uid));
    }
    // Trust, but verify: every id changed, and root is out of reach.
    if (::getuid() != user->pw_uid || ::geteuid() != user->pw_uid || ::getgid() != user->pw_gid ||
        ::getegid() != user->pw_gid) {
        throw std::runtime_error("--user " + name + ": ids did not change");
    }
    if (user->pw_uid != 0 && (::setuid(0) != -1 || ::seteuid(0) != -1)) {
        throw std::runtime_error("--user " + name + ": root could be regained");
    }
}
//! [drop]

}  // namespace forklab::ch02
