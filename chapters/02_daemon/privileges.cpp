/// \file
/// \brief drop_privileges(): setgroups, setgid, setuid, and a check that it stuck.
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
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
        // getpwnam(3): "not found" may come as 0 or as one of these, depending on the source.
        bool not_found = err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
        throw std::runtime_error("--user " + name + ": " +
                                 (not_found ? "no such user" : std::strerror(err)));
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
    // Trust, but verify: real, effective and saved ids all changed, no group is left, and root
    // is out of reach.
    uid_t ruid = 0;
    uid_t euid = 0;
    uid_t suid = 0;
    gid_t rgid = 0;
    gid_t egid = 0;
    gid_t sgid = 0;
    if (::getresuid(&ruid, &euid, &suid) == -1 || ::getresgid(&rgid, &egid, &sgid) == -1 ||
        ruid != user->pw_uid || euid != user->pw_uid || suid != user->pw_uid ||
        rgid != user->pw_gid || egid != user->pw_gid || sgid != user->pw_gid ||
        ::getgroups(0, nullptr) != 0) {
        throw std::runtime_error("--user " + name + ": the ids did not all change");
    }
    if (user->pw_uid != 0 && (::setuid(0) != -1 || ::seteuid(0) != -1)) {
        throw std::runtime_error("--user " + name + ": root could be regained");
    }
}
//! [drop]

}  // namespace forklab::ch02
