/// \file
/// \brief The shared-memory scoreboard.
#include "scoreboard.hpp"

#include <sys/mman.h>

#include <ctime>
#include <new>
#include <sstream>

#include "forklab/error.hpp"

namespace forklab::ch03 {

const char* to_string(SlotState state) {
    switch (state) {
        case SlotState::free:
            return "free";
        case SlotState::starting:
            return "starting";
        case SlotState::waiting:
            return "waiting for the lock";
        case SlotState::accepting:
            return "in accept";
        case SlotState::busy:
            return "busy";
        case SlotState::exiting:
            return "exiting";
    }
    return "?";
}

Scoreboard::Scoreboard(std::size_t slots) : size_(slots) {
    void* mem = ::mmap(nullptr, sizeof(Slot) * slots, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        throw_errno("mmap (scoreboard)");
    }
    slots_ = static_cast<Slot*>(mem);
    for (std::size_t i = 0; i < slots; ++i) {
        new (&slots_[i]) Slot();
    }
}

Scoreboard::~Scoreboard() {
    ::munmap(slots_, sizeof(Slot) * size_);
}

std::size_t Scoreboard::find_free() const {
    for (std::size_t i = 0; i < size_; ++i) {
        if (slots_[i].pid == 0) {
            return i;
        }
    }
    return size_;
}

long Scoreboard::now_ms() {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

std::string Scoreboard::render(bool json) const {
    std::ostringstream out;
    long now = now_ms();
    const char* sep = "";
    if (json) {
        out << "[";
    } else {
        out << "pid      state                 requests  age_s\n";
    }
    for (std::size_t i = 0; i < size_; ++i) {
        const Slot& s = slots_[i];
        pid_t pid = s.pid;
        if (pid == 0) {
            continue;
        }
        auto state = static_cast<SlotState>(s.state.load());
        double age = static_cast<double>(now - s.started_ms) / 1000.0;
        if (json) {
            out << sep << "{\"pid\":" << pid << ",\"state\":\"" << to_string(state)
                << "\",\"requests\":" << s.requests << ",\"age_s\":" << age
                << ",\"generation\":" << s.generation << ",\"open\":" << s.open
                << ",\"dispatched\":" << s.dispatched << "}";
            sep = ",";
        } else {
            std::string name = to_string(state);
            out << pid << std::string(pid < 10000000 ? 9 - std::to_string(pid).size() : 1, ' ')
                << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << s.requests
                << "  " << age;
            if (s.dispatched != 0 || s.open != 0) {
                out << "  open " << s.open << ", dispatched " << s.dispatched;
            }
            out << "\n";
        }
    }
    if (json) {
        out << "]";
    }
    return out.str();
}

}  // namespace forklab::ch03
