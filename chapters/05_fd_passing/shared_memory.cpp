/// \file
/// \brief Anonymous shared mappings.
#include "shared_memory.hpp"

#include <sys/mman.h>

#include <string>

#include "forklab/error.hpp"

namespace forklab::ch05 {

void* map_shared(std::size_t size, const char* what) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw_errno(std::string("mmap ") + what);
    }
    return p;
}

void unmap_shared(void* p, std::size_t size) {
    ::munmap(p, size);  // fails only for an address that map_shared did not return
}

}  // namespace forklab::ch05
