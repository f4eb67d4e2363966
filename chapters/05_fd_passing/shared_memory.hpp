/// \file
/// \brief One object in memory that the master and every worker it forks share.
#pragma once

#include <cstddef>
#include <new>

namespace forklab::ch05 {

/// Maps \p size bytes of anonymous shared memory, zeroed. Throws std::system_error naming mmap
/// and \p what.
void* map_shared(std::size_t size, const char* what);
/// Unmaps what map_shared() mapped.
void unmap_shared(void* p, std::size_t size);

/// A \p T in an anonymous shared mapping, made before the first fork, so that what one process
/// writes every other one reads; destroyed and unmapped by the destructor. \p T holds lock-free
/// atomics only: they work across processes in shared memory, a mutex would need more care.
template <typename T>
class Shared {
  public:
    /// Maps and constructs the object; \p what names it in an error.
    explicit Shared(const char* what) : object_(new (map_shared(sizeof(T), what)) T) {}
    ~Shared() {
        object_->~T();
        unmap_shared(object_, sizeof(T));
    }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

    /// The shared object.
    [[nodiscard]] T& get() const { return *object_; }

  private:
    T* object_;
};

}  // namespace forklab::ch05
